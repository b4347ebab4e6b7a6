"""Sharing seen by someone trying to get more than they were given: roles, other sites' ids in
forms, tokens and secrets, share-link pages, disabled accounts and the last administrator."""

import logging
import re

import pytest
from sqlalchemy import func, select

from tests.support import PASSWORD, TestApp
from tracking import make_app
from tracking.models import Invitation, ShareLink, Site, SiteMember, User

HOST = {"HTTP_HOST": "tracking.example.org"}


@pytest.fixture
def browser(app):
    """A browser of its own (another client address) on the same application."""
    addresses = iter(f"198.51.100.{n}" for n in range(10, 250))
    return lambda: TestApp(app, extra_environ={**HOST, "REMOTE_ADDR": next(addresses)})


@pytest.fixture
def two_sites(make_user, make_site, dbsession, owner, site):
    """``site`` (owner's) with an admin and a viewer member; another site with its own owner,
    one member, one invitation and one share link."""
    admin_member = make_user(name="Alma Admin", email="alma@example.com")
    viewer = make_user(name="Vera Viewer", email="vera@example.com")
    site.members.append(SiteMember(user_id=admin_member.id, role="admin"))
    site.members.append(SiteMember(user_id=viewer.id, role="viewer"))
    stranger = make_user(name="Sam Stranger", email="sam@example.com")
    theirs = make_site(stranger, name="Sam's shop", url="https://shop.example.net")
    friend = make_user(name="Fay Friend", email="fay@example.com")
    theirs.members.append(SiteMember(user_id=friend.id, role="viewer"))
    dbsession.flush()
    from tracking import members
    from tracking.models.types import utcnow

    members.invite(dbsession, theirs, "guest@example.com", "viewer", stranger, utcnow())
    members.create_link(dbsession, theirs, label="Theirs", password=None, expires_at=None, include_visits=False,
                        origins=[], by=stranger)
    # The owner's own site has one of each too, so that its forms are shown.
    members.invite(dbsession, site, "pending@example.com", "viewer", owner, utcnow())
    members.create_link(dbsession, site, label="Ours", password=None, expires_at=None, include_visits=False,
                        origins=[], by=owner)
    dbsession.flush()
    return {"admin": admin_member, "viewer": viewer, "stranger": stranger, "theirs": theirs, "friend": friend}


def post(client, path, **fields):
    return client.post(path, {"csrf_token": client.csrf_token("/sites/"), **fields}, status="*")


def test_an_admin_member_cannot_delete_or_transfer_or_touch_the_owner(browser, dbsession, owner, site, two_sites):
    client = browser()
    client.login(two_sites["admin"].email)
    assert client.get(f"/sites/{site.id}/transfer", status=403)
    assert client.get(f"/sites/{site.id}/delete", status=403)
    viewer_member = next(m for m in site.members if m.user_id == two_sites["viewer"].id)
    res = post(client, f"/sites/{site.id}/transfer", __formid__="transfer", member=str(viewer_member.id), confirm="true")
    assert res.status_code == 403
    res = post(client, f"/sites/{site.id}/delete", __formid__="delete-site", confirm="true", name=site.name)
    assert res.status_code == 403
    # The owner is no member row: no form names them, and "owner" is no role to give.
    page = client.get(f"/sites/{site.id}/members")
    choices = [text for _, _, text in page.forms["member"]["member"].options]
    assert len(choices) == 3 and not any("owner@example.com" in text for text in choices), choices
    res = post(client, f"/sites/{site.id}/members", __formid__="member", member=str(viewer_member.id), role="owner")
    assert res.status_code == 200 and "is not one of" in res.text
    res = post(client, f"/sites/{site.id}/members", __formid__="invite", email="x@example.com", role="owner")
    assert res.status_code == 200 and "is not one of" in res.text
    dbsession.expire_all()
    assert dbsession.get(Site, site.id).owner_id == owner.id


def test_a_viewer_member_manages_nothing(browser, dbsession, site, two_sites):
    client = browser()
    client.login(two_sites["viewer"].email)
    for formid, fields in (("invite", {"email": "v@example.com", "role": "admin"}),
                           ("member", {"member": "1", "role": "admin"}),
                           ("revoke-invitation", {"invitation": "1"})):
        assert post(client, f"/sites/{site.id}/members", __formid__=formid, **fields).status_code == 403
    assert post(client, f"/sites/{site.id}/share", __formid__="share-link", label="mine").status_code == 403
    assert post(client, f"/sites/{site.id}/share", __formid__="revoke-link", link="1").status_code == 403
    assert dbsession.scalar(select(func.count(ShareLink.id)).where(ShareLink.site_id == site.id)) == 1


def test_another_sites_ids_in_forms_are_form_errors(testapp, dbsession, owner, site, two_sites):
    theirs = two_sites["theirs"]
    their_member = theirs.members[0]
    their_invitation = dbsession.scalar(select(Invitation).where(Invitation.site_id == theirs.id))
    their_link = dbsession.scalar(select(ShareLink).where(ShareLink.site_id == theirs.id))
    testapp.login(owner.email)
    for path, fields in (
        (f"/sites/{site.id}/members", {"__formid__": "member", "member": str(their_member.id), "role": "remove"}),
        (f"/sites/{site.id}/members", {"__formid__": "revoke-invitation", "invitation": str(their_invitation.id)}),
        (f"/sites/{site.id}/share", {"__formid__": "revoke-link", "link": str(their_link.id)}),
        (f"/sites/{site.id}/transfer", {"__formid__": "transfer", "member": str(their_member.id), "confirm": "true"}),
    ):
        res = post(testapp, path, **fields)
        assert res.status_code == 200 and "is not one of" in res.text, (path, fields)
    # Nor can the owner of one site reach another's pages.
    for name in ("members", "share", "transfer", "edit", "delete", ""):
        assert testapp.get(f"/sites/{theirs.id}/{name}", status=404)
    dbsession.expire_all()
    assert dbsession.get(SiteMember, their_member.id) is not None
    assert dbsession.get(Invitation, their_invitation.id) is not None
    assert dbsession.get(ShareLink, their_link.id) is not None


@pytest.mark.parametrize("value", ["abc", "-1", "0", "1e3", "99999999999999999999999", "１", "1 ", ""])
def test_malformed_ids_in_forms_are_form_errors(testapp, owner, site, two_sites, value):
    testapp.login(owner.email)
    for path, fields in (
        (f"/sites/{site.id}/members", {"__formid__": "member", "member": value, "role": "remove"}),
        (f"/sites/{site.id}/members", {"__formid__": "revoke-invitation", "invitation": value}),
        (f"/sites/{site.id}/share", {"__formid__": "revoke-link", "link": value}),
    ):
        res = post(testapp, path, **fields)
        assert res.status_code == 200 and ("is not one of" in res.text or "Required" in res.text), (path, fields)
    assert len(site.members) == 2


@pytest.mark.parametrize("token", ["x", "A" * 42, "A" * 44, "A" * 42 + "%00", "A" * 42 + "%FF", "A" * 42 + "%C3%A9",
                                   "A" * 5000, "A" * 42 + "%2F"])
@pytest.mark.parametrize("prefix", ["/share/", "/invitations/", "/password/"])
def test_malformed_tokens_are_404(browser, prefix, token):
    res = browser().get(prefix + token + "/", status="*")
    assert res.status_code in (400, 404), res.status
    assert "Set-Cookie" not in res.headers


def test_registration_query_strings_that_are_not_text_are_no_500(app_settings, db_service):
    for mode in ("open", "invite", "closed"):
        app = make_app({**app_settings, "tracking.registration": mode}, database=db_service)
        client = TestApp(app, extra_environ={**HOST, "REMOTE_ADDR": "198.51.100.3"})
        res = client.get("/register?invitation=%FF", status="*")
        assert res.status_code in (400, 404) or (mode == "open" and res.status_code == 200), (mode, res.status)


def test_invite_mode_registration_cannot_be_posted_around(app_settings, db_service, dbsession):
    app = make_app({**app_settings, "tracking.registration": "invite"}, database=db_service)
    client = TestApp(app, extra_environ={**HOST, "REMOTE_ADDR": "198.51.100.5"})
    token = client.csrf_token("/login")
    fields = {"csrf_token": token, "__formid__": "register", "name": "Eve", "email": "eve@example.com",
              "__start__": "password:mapping", "password": "a-long-password", "password-confirm": "a-long-password",
              "__end__": "password:mapping"}
    assert client.post("/register", fields, status="*").status_code == 404
    assert client.post("/register", {**fields, "invitation": "B" * 43}, status="*").status_code == 404
    assert dbsession.scalar(select(func.count(User.id)).where(User.email == "eve@example.com")) == 0


def test_an_invitation_is_single_use_and_needs_its_csrf_token(testapp, browser, dbsession, owner, other, site):
    testapp.login(owner.email)
    page = testapp.get(f"/sites/{site.id}/members").forms["invite"]
    page["email"], page["role"] = other.email, "admin"
    res = page.submit("submit")
    path = re.search(r'value="http://tracking\.example\.org(/invitations/[^"]+)"', res.text).group(1)
    client = browser()
    client.login(other.email)
    assert client.post(path, {"__formid__": "accept"}, status="*").status_code == 400  # no CSRF token
    assert dbsession.scalar(select(func.count(SiteMember.id)).where(SiteMember.site_id == site.id)) == 0
    assert client.get(path).forms["accept"].submit("submit").status_code == 303
    assert client.post(path, {"__formid__": "accept", "csrf_token": client.csrf_token("/sites/")}, status="*").status_code == 404
    # The inviter is not the addressee: the owner's own browser may not accept it either.
    testapp.login(owner.email)
    page = testapp.get(f"/sites/{site.id}/members").forms["invite"]
    page["email"] = "someone@example.com"
    path = re.search(r'value="http://tracking\.example\.org(/invitations/[^"]+)"', page.submit("submit").text).group(1)
    assert post(testapp, path, __formid__="accept").status_code == 403


def share(testapp, site, **fields):
    form = testapp.get(f"/sites/{site.id}/share").forms["share-link"]
    form["label"] = fields.pop("label", "L")
    for name, value in fields.items():
        form[name] = value
    res = form.submit("submit")
    return re.search(r'value="http://tracking\.example\.org(/share/[^"]+/)"', res.text).group(1)


@pytest.mark.parametrize("origins", [
    "https://a.example;script-src *", "https://a.example 'unsafe-inline'", "https://a.example\r\nX-Evil: 1",
    "https://*.example.com", "*", "https://a.example/path", "example.com", "https://user@a.example",
    "https://a.example,https://b.example", "data:", "'self'", "https://a.example:99999",
])
def test_frame_ancestors_take_only_plain_origins(testapp, owner, site, origins):
    testapp.login(owner.email)
    form = testapp.get(f"/sites/{site.id}/share").forms["share-link"]
    form["label"], form["origins"] = "Embed", origins
    res = form.submit("submit", status="*")
    assert res.status_code == 200 and 'aria-label="Share link"' not in res.text, origins


def test_share_pages_set_no_cookie_and_leak_no_secret(testapp, browser, owner, site):
    testapp.login(owner.email)
    path = share(testapp, site, include_visits=True, origins="https://intranet.example.org")
    client = browser()
    for sub in ("", "panel?dim=page", "export.csv?dim=page", "export.csv?dim=hits", "visits/", "bots/", "unlock"):
        res = client.get(path + sub, status="*")
        assert res.status_code in (200, 303), (sub, res.status)
        assert "Set-Cookie" not in res.headers, sub
        if res.content_type == "text/html":
            assert res.headers["Referrer-Policy"] == "same-origin"
    assert not client.cookies


def test_a_revoked_link_stops_for_a_browser_that_unlocked_it(testapp, browser, dbsession, owner, site):
    testapp.login(owner.email)
    path = share(testapp, site, password="link-password-1")
    client = browser()
    form = client.get(path + "unlock").forms["unlock"]
    form["password"] = "link-password-1"
    assert form.submit("submit").status_code == 303
    assert client.get(path).status_code == 200
    link = dbsession.scalar(select(ShareLink).where(ShareLink.site_id == site.id))
    form = testapp.get(f"/sites/{site.id}/share").forms["revoke-link"]
    form["link"] = str(link.id)
    assert form.submit("submit").status_code == 303
    for sub in ("", "panel?dim=page", "export.csv?dim=page", "unlock"):
        assert client.get(path + sub, status="*").status_code == 404, sub
    # Without its CSRF token, an unlock is refused before the password is looked at.
    other = share(testapp, site, label="M", password="link-password-2")
    assert browser().post(other + "unlock", {"__formid__": "unlock", "password": "link-password-2"}, status="*").status_code == 400


def test_a_locked_link_shows_nothing_before_its_password(testapp, browser, owner, site):
    testapp.login(owner.email)
    path = share(testapp, site, password="link-password-1", include_visits=True)
    client = browser()
    for sub in ("", "panel?dim=page", "export.csv?dim=page", "export.csv?dim=visits", "visits/", "bots/"):
        res = client.get(path + sub, status="*")
        assert res.status_code == 303 and res.location.endswith(path + "unlock"), sub
    # The owner's own session is not the link's password.
    assert testapp.get(path, status=303)


def test_a_secret_is_not_logged_whatever_the_path_looks_like(testapp, app, owner, site, caplog):
    from webtest import TestRequest

    testapp.login(owner.email)
    secret = share(testapp, site).split("/")[2]
    paths = ("/share//{}/", "/share/./{}/", "/share/x/../{}/", "//share/{}//panel?dim=page", "/share/.//{}")
    with caplog.at_level(logging.INFO, logger="tracking.requestlog"):
        for path in paths:
            # As sent (WebTest would tidy the path up): each of these opens the link.
            request = TestRequest.blank(path.format(secret), environ={"HTTP_HOST": "tracking.example.org"})
            assert request.get_response(app).status_code in (200, 301, 302, 303), path
    lines = [record.getMessage() for record in caplog.records if "path=/share" in record.getMessage()]
    assert len(lines) == len(paths) and all("/share/[redacted]" in line for line in lines), lines
    assert not any(secret in line for line in lines), lines


@pytest.mark.parametrize("text", ["\x00", "a\x00b", "line\nbreak", "bell\x07"])
def test_names_and_labels_with_control_characters_are_form_errors(testapp, browser, dbsession, owner, site, text):
    """PostgreSQL cannot store a NUL: every one-line text a form stores refuses control characters."""
    testapp.login(owner.email)
    csrf = testapp.csrf_token("/sites/")
    forms = (
        (f"/sites/{site.id}/share", {"__formid__": "share-link", "label": text}),
        (f"/users/{owner.id}/", {"__formid__": "name", "name": text}),
        (f"/sites/{site.id}/edit", {"__formid__": "edit-site", "name": text, "url": site.url, "timezone": "UTC"}),
        ("/sites/", {"__formid__": "add-site", "name": text, "url": "https://new.example.com", "timezone": "UTC"}),
    )
    for path, fields in forms:
        res = testapp.post(path, {"csrf_token": csrf, **fields}, status="*")
        assert res.status_code == 200 and "Remove the control characters" in res.text, (path, res.status)
    anonymous = browser()
    form = anonymous.get("/register").forms["register"]
    form["name"], form["email"] = text, "newcomer@example.com"
    form["password"] = form["password-confirm"] = "a-long-password"
    assert "Remove the control characters" in form.submit("submit").text
    dbsession.expire_all()
    assert dbsession.scalar(select(func.count(ShareLink.id))) == 0
    assert dbsession.scalar(select(func.count(User.id)).where(User.email == "newcomer@example.com")) == 0
    assert dbsession.get(User, owner.id).name == "Olivia Owner" and dbsession.get(Site, site.id).name == "Owner's blog"


@pytest.mark.parametrize("email", ["\x00", "a\x00@example.com"])
def test_addresses_with_a_nul_are_form_errors_not_queries(testapp, browser, dbsession, admin, other, email):
    """Each form that looks an address up refuses a NUL before the query (PostgreSQL cannot
    compare one)."""
    client = browser()
    form = client.get("/login").forms["login"]
    form["email"], form["password"] = email, PASSWORD
    assert "Remove the control characters" in form.submit("submit").text
    form = client.get("/register").forms["register"]
    form["name"], form["email"] = "Newcomer", email
    form["password"] = form["password-confirm"] = "a-long-password"
    assert "Remove the control characters" in form.submit("submit").text
    testapp.login(admin.email)
    form = testapp.get(f"/users/{other.id}/manage").forms["delete-user"]
    form["sites"], form["transfer_to"], form["confirm"] = "transfer", email, True
    assert "Remove the control characters" in form.submit("submit").text
    dbsession.expire_all()
    assert dbsession.get(User, other.id) is not None


def test_no_cache_keeps_a_share_links_pages(testapp, browser, owner, site):
    testapp.login(owner.email)
    path = share(testapp, site, include_visits=True)
    locked = share(testapp, site, label="Locked", password="link-password-1")
    client = browser()
    for url in [path + sub for sub in ("", "panel?dim=page", "export.csv?dim=page", "export.csv?dim=visits", "visits/", "bots/")] + [
            locked, locked + "unlock"]:
        res = client.get(url, status="*")
        assert res.status_code in (200, 303) and res.headers.get("Cache-Control") == "no-store", (url, res.headers)
    # The owner's own pages are not concerned.
    assert "Cache-Control" not in testapp.get(f"/sites/{site.id}/").headers


def test_every_sharing_and_account_form_needs_its_csrf_token(testapp, dbsession, admin, other, site, two_sites):
    """As the owner and an admin (who may post them all), each form without its token is a 400
    that changes nothing."""
    site.owner_id = admin.id
    dbsession.flush()
    testapp.login(admin.email)
    member = str(site.members[0].id)
    posts = [
        (f"/sites/{site.id}/members", {"__formid__": "invite", "email": "x@example.com", "role": "viewer"}),
        (f"/sites/{site.id}/members", {"__formid__": "member", "member": member, "role": "remove"}),
        (f"/sites/{site.id}/members", {"__formid__": "revoke-invitation", "invitation": "1"}),
        (f"/sites/{site.id}/share", {"__formid__": "share-link", "label": "x"}),
        (f"/sites/{site.id}/share", {"__formid__": "revoke-link", "link": "1"}),
        (f"/sites/{site.id}/transfer", {"__formid__": "transfer", "member": member, "confirm": "true"}),
    ] + [(f"/users/{other.id}/manage", {"__formid__": formid, "sites": "delete", "confirm": "true"})
         for formid in ("state", "admin", "password-link", "delete-user")]
    for path, fields in posts:
        assert testapp.post(path, fields, status="*").status_code == 400, (path, fields)
    dbsession.expire_all()
    assert dbsession.scalar(select(func.count(Invitation.id)).where(Invitation.site_id == site.id)) == 1
    assert dbsession.scalar(select(func.count(ShareLink.id)).where(ShareLink.site_id == site.id)) == 1
    assert len(dbsession.get(Site, site.id).members) == 2 and dbsession.get(Site, site.id).owner_id == admin.id
    changed = dbsession.get(User, other.id)
    assert changed is not None and not changed.is_disabled and not changed.is_admin


def test_a_member_cannot_pass_for_the_owner_in_the_history(browser, testapp, dbsession, owner, site, two_sites):
    client = browser()
    client.login(two_sites["admin"].email)
    form = client.get(f"/users/{two_sites['admin'].id}/").forms["name"]
    form["name"] = owner.name
    assert form.submit("submit").status_code == 303
    viewer_member = next(m for m in site.members if m.user_id == two_sites["viewer"].id)
    res = post(client, f"/sites/{site.id}/members", __formid__="member", member=str(viewer_member.id), role="remove")
    assert res.status_code == 303
    testapp.login(owner.email)
    history = re.search(r'<ul[^>]*id="history">(.*?)</ul>', testapp.get(f"/sites/{site.id}/members").text, re.S).group(1)
    line = next(line for line in history.split("<li>") if "removed vera@example.com" in line)
    assert "alma@example.com (Olivia Owner)" in line and "owner@example.com" not in line
