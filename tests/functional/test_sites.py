"""The sites list with its add form; a site's page, settings and deletion."""

import pytest
from sqlalchemy import func, select

from tracking.models import Site
from tracking.schemas.sites import normalize_site_url


@pytest.fixture
def logged_in(testapp, owner):
    testapp.login(owner.email)
    return testapp


def add_site(testapp, name="My blog", url="https://blog.example.net", timezone=None):
    form = testapp.get("/sites/").forms["add-site"]
    form["name"] = name
    form["url"] = url
    if timezone:
        form["timezone"] = timezone
    return form.submit("submit")


def test_add_site_normalises_the_address(logged_in, dbsession, owner):
    res = add_site(logged_in, url="Blog.Example.NET/some/path?q=1#top", timezone="Europe/Paris")
    assert res.status_code == 303
    site = dbsession.scalar(select(Site))
    assert site.url == "https://blog.example.net"
    assert site.domain == "blog.example.net"
    assert site.owner_id == owner.id and site.timezone == "Europe/Paris"
    assert res.location.endswith(f"/sites/{site.id}/")
    page = res.follow()
    assert "My blog" in page.text and "https://blog.example.net" in page.text


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "address, e.g. https://example.com."),
        ("ftp://example.com", "Use an http or https address."),
        ("https://", "This address has no host name."),
        ("https://exa mple.com", "This host name is not valid."),
        ("https://user:pw@example.com", "A site address has no user name or password."),
        ("https://example.com:99999", "This is not a valid web address."),
    ],
)
def test_add_site_rejects_bad_addresses(logged_in, dbsession, url, message):
    res = add_site(logged_in, url=url)
    assert res.status_code == 200
    assert message in res.text
    assert dbsession.scalar(select(func.count(Site.id))) == 0


def test_add_site_rejects_unknown_timezone(logged_in, dbsession):
    form = logged_in.get("/sites/").forms["add-site"]
    form["name"] = "x"
    form["url"] = "example.org"
    form["timezone"].force_value("Mars/Olympus")
    assert form.submit("submit").status_code == 200
    assert dbsession.scalar(select(func.count(Site.id))) == 0


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("example.com", "https://example.com"),
        ("HTTP://EXAMPLE.com:80/x", "http://example.com"),
        ("https://example.com:8443/", "https://example.com:8443"),
        ("https://bücher.example/", "https://xn--bcher-kva.example"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://example.com.", "https://example.com"),
    ],
)
def test_normalize_site_url(raw, normalised):
    assert normalize_site_url(raw) == normalised


def test_sites_list_shows_only_mine(logged_in, make_site, owner, other):
    make_site(owner, name="Mine")
    make_site(other, name="Theirs")
    page = logged_in.get("/sites/")
    assert "Mine" in page.text
    assert "Theirs" not in page.text


def test_edit_site(logged_in, dbsession, site):
    form = logged_in.get(f"/sites/{site.id}/edit").forms["edit-site"]
    assert form["url"].value == "https://blog.example.com"
    form["name"] = "Renamed"
    form["url"] = "https://www.example.org/"
    form["honor_dnt"] = False
    res = form.submit("submit")
    assert res.status_code == 303
    dbsession.expire_all()
    site = dbsession.get(Site, site.id)
    assert (site.name, site.url, site.honor_dnt, site.honor_gpc) == ("Renamed", "https://www.example.org", False, True)


def test_edit_site_validation_error_keeps_the_row(logged_in, dbsession, site):
    form = logged_in.get(f"/sites/{site.id}/edit").forms["edit-site"]
    form["url"] = "javascript:alert(1)"
    res = form.submit("submit")
    assert res.status_code == 200 and "This is not a valid web address." in res.text
    dbsession.expire_all()
    assert dbsession.get(Site, site.id).url == "https://blog.example.com"


def test_delete_site_needs_the_confirmation(logged_in, dbsession, site):
    site_id = site.id
    form = logged_in.get(f"/sites/{site_id}/delete").forms["delete-site"]
    res = form.submit("submit")
    assert res.status_code == 200 and "Tick the box to confirm." in res.text
    assert dbsession.get(Site, site_id) is not None

    form = logged_in.get(f"/sites/{site_id}/delete").forms["delete-site"]
    form["confirm"] = True
    res = form.submit("submit")
    assert res.status_code == 303 and res.location.endswith("/sites/")
    dbsession.expire_all()
    assert dbsession.get(Site, site_id) is None
    logged_in.get(f"/sites/{site_id}/", status=404)


def test_deleting_a_site_deletes_its_visits(logged_in, dbsession, site):
    from datetime import date, datetime

    from tracking.models import Hit

    dbsession.add(Hit(site_id=site.id, ts=datetime(2026, 1, 1), day=date(2026, 1, 1), visitor=1))
    dbsession.flush()
    form = logged_in.get(f"/sites/{site.id}/delete").forms["delete-site"]
    form["confirm"] = True
    form.submit("submit")
    assert dbsession.scalar(select(func.count(Hit.id))) == 0


def test_the_add_form_defaults_to_utc_and_its_script_picks_the_browser_time_zone(logged_in):
    page = logged_in.get("/sites/")
    assert page.forms["add-site"]["timezone"].value == "UTC"  # without the script
    script = page.html.select_one("script[src$='/static/timezone.js']")
    assert script["nonce"] and script.has_attr("defer")
