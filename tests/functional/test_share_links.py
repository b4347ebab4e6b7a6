"""Share links: a read-only dashboard for whoever has the link, and nothing more."""

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.support import TestApp
from tracking.models import ShareLink, SiteEvent, SiteMember


@pytest.fixture
def fresh(app):
    """A browser with no account and no cookie."""
    return lambda: TestApp(app, extra_environ={"HTTP_HOST": "tracking.example.org", "REMOTE_ADDR": "198.51.100.4"})


def create(testapp, site, label="For the team", **fields):
    """As the signed-in owner or admin: a new link; returns its path (``/share/<secret>/``)."""
    form = testapp.get(f"/sites/{site.id}/share").forms["share-link"]
    form["label"] = label
    for name, value in fields.items():
        form[name] = value
    res = form.submit("submit")
    match = re.search(r'aria-label="Share link" value="http://tracking\.example\.org(/share/[^"]+/)"', res.text)
    assert match, res.text
    return match.group(1)


def test_a_link_shows_the_dashboard_filters_and_panel_exports_only(testapp, fresh, dbsession, owner, site, caplog):
    testapp.login(owner.email)
    path = create(testapp, site)
    secret = path.split("/")[2]
    assert len(secret) == 43
    link = dbsession.scalar(select(ShareLink).where(ShareLink.site_id == site.id))
    assert secret not in link.secret_hash and link.label == "For the team"
    browser = fresh()
    with caplog.at_level(logging.INFO, logger="tracking.requestlog"):
        page = browser.get(path)
    assert "Owner&#39;s blog" in page.text and 'id="headline"' in page.text
    assert "/edit" not in page.text and "/visits/" not in page.text and 'id="snippet"' not in page.text
    assert "Log in" in page.text  # no account involved
    assert "Set-Cookie" not in page.headers  # and no cookie
    assert browser.get(path + "?period=7d&country=FR").status_code == 200
    assert browser.get(path + "panel?dim=page").status_code == 200
    csv = browser.get(path + "export.csv?dim=page")
    assert csv.content_type == "text/csv"
    for hidden in ("export.csv?dim=hits", "export.csv?dim=visits", "visits/", "bots/", "edit", "delete", "members",
                   "share", "transfer", "hit", "visit"):
        assert browser.get(path + hidden, status="*").status_code == 404, hidden
    assert any("/share/[redacted]/" in record.getMessage() for record in caplog.records)
    assert not any(secret in record.getMessage() for record in caplog.records)
    assert page.headers["Content-Security-Policy"].count("frame-ancestors 'none'") == 1


def test_a_link_may_include_the_visit_log(testapp, fresh, owner, site):
    testapp.login(owner.email)
    path = create(testapp, site, include_visits=True)
    browser = fresh()
    assert "/visits/" in browser.get(path).text
    assert browser.get(path + "visits/").status_code == 200
    assert browser.get(path + "export.csv?dim=hits").content_type == "text/csv"
    assert browser.get(path + "edit", status=404)


def test_revoked_expired_and_unknown_links_are_404(testapp, fresh, dbsession, owner, site):
    testapp.login(owner.email)
    revoked, expired = create(testapp, site, label="A"), create(testapp, site, label="B")
    page = testapp.get(f"/sites/{site.id}/share")
    form = page.forms["revoke-link"]
    form["link"] = str(dbsession.scalar(select(ShareLink.id).where(ShareLink.label == "A")))
    assert form.submit("submit").status_code == 303
    row = dbsession.scalar(select(ShareLink).where(ShareLink.label == "B"))
    row.expires_at = row.created_at - timedelta(seconds=1)
    dbsession.flush()
    browser = fresh()
    for path in (revoked, revoked + "panel?dim=page", expired, "/share/" + "A" * 43 + "/", "/share/short/", "/share/"):
        res = browser.get(path, status="*")
        assert res.status_code == 404 and "Page not found" in res.text, path
    history = [event.what for event in dbsession.scalars(select(SiteEvent).where(SiteEvent.site_id == site.id))]
    assert "created the share link “A”" in history and "revoked the share link “A”" in history


def test_a_password_protected_link_asks_for_it_and_is_throttled(testapp, fresh, owner, site, monkeypatch):
    from tracking.views import auth

    now = auth.utcnow()
    monkeypatch.setattr(auth, "utcnow", lambda: now)  # the throttle's clock stands still
    testapp.login(owner.email)
    path = create(testapp, site, password="link-password-1")
    browser = fresh()
    res = browser.get(path)
    assert res.status_code == 303 and res.location.endswith(path + "unlock")
    assert browser.get(path + "export.csv?dim=page", status="*").status_code in (303, 404)

    def attempt(password):
        form = browser.get(path + "unlock").forms["unlock"]
        form["password"] = password
        return form.submit("submit", status="*")

    assert "Wrong password." in attempt("nope").text
    assert attempt("link-password-1").location.endswith(path)
    assert browser.get(path).status_code == 200
    # Another browser must give it too, and guessing is throttled like a log-in.
    browser = fresh()
    answers = [attempt("guess").status_code for _ in range(7)]
    assert answers[-1] == 429
    assert attempt("link-password-1").status_code == 429


def test_an_embeddable_link_may_be_framed_by_its_origins_only(testapp, fresh, owner, site):
    testapp.login(owner.email)
    form = testapp.get(f"/sites/{site.id}/share").forms["share-link"]
    form["label"], form["origins"] = "Embed", "ftp://example.com"
    assert "Use an http or https address." in form.submit("submit").text
    path = create(testapp, site, label="Embed", origins="https://Example.com\nhttps://intranet.example.org:8443")
    page = fresh().get(path)
    policy = page.headers["Content-Security-Policy"]
    assert "frame-ancestors https://example.com https://intranet.example.org:8443;" in policy
    assert "X-Frame-Options" not in page.headers
    # Only that response: the owner's own dashboard stays unframeable.
    own = testapp.get(f"/sites/{site.id}/")
    assert "frame-ancestors 'none'" in own.headers["Content-Security-Policy"] and own.headers["X-Frame-Options"] == "DENY"


def test_only_owners_and_admins_manage_links(testapp, dbsession, other, owner, site):
    site.members.append(SiteMember(user_id=other.id, role="viewer"))
    dbsession.flush()
    testapp.login(other.email)
    assert testapp.get(f"/sites/{site.id}/share", status=403)
    res = testapp.post(f"/sites/{site.id}/share", {"__formid__": "share-link", "label": "x",
                                                     "csrf_token": testapp.csrf_token("/sites/")}, status=403)
    assert res.status_code == 403
    assert dbsession.scalar(select(ShareLink).where(ShareLink.site_id == site.id)) is None
