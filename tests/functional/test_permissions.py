"""Who may see and do what: anonymous, owner, another user and an admin against every page.

A refused GET answers with the login page (anonymous), 404 (someone else's site or account:
its existence is not revealed) or 403 (admin pages). A refused POST changes nothing.
"""

import pytest
from sqlalchemy import func, select

from tracking.models import Site, User

ROLES = ("anonymous", "owner", "other", "admin")
LOGIN = 303


@pytest.fixture
def as_role(testapp, owner, other, admin):
    def login(role):
        if role != "anonymous":
            testapp.login({"owner": owner, "other": other, "admin": admin}[role].email)
        return testapp

    return login


# page → expected status for anonymous, owner, other, admin
PAGES = {
    "/sites/": (LOGIN, 200, 200, 200),
    "/sites/{site}/": (LOGIN, 200, 404, 404),
    "/sites/{site}/edit": (LOGIN, 200, 404, 404),
    "/sites/{site}/delete": (LOGIN, 200, 404, 404),
    "/users/": (LOGIN, 403, 403, 200),
    "/users/{owner}/": (LOGIN, 200, 404, 404),
    "/users/{owner}/delete": (LOGIN, 200, 404, 404),
    "/": (200, 303, 303, 303),
    "/login": (200, 200, 200, 200),
    "/register": (200, 200, 200, 200),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", PAGES)
def test_get_matrix(as_role, owner, site, role, page):
    app = as_role(role)
    url = page.format(site=site.id, owner=owner.id)
    res = app.get(url, status="*")
    expected = PAGES[page][ROLES.index(role)]
    assert res.status_code == expected, f"{role} GET {url}"
    if expected == LOGIN and page != "/":
        assert "/login?next=" in res.location
    if expected == 404:
        assert "Page not found" in res.text and site.name not in res.text
    if expected == 403:
        assert "This page is for administrators." in res.text


def snapshot(dbsession, owner_id, site_id):
    dbsession.expire_all()
    user = dbsession.get(User, owner_id)
    row = dbsession.get(Site, site_id)
    return (
        user and (user.name, user.password_hash),
        row and (row.name, row.url),
        dbsession.scalar(select(func.count(Site.id))),
    )


def posts(owner, site):
    """Each unsafe action with valid data: (url, form fields)."""
    return {
        "edit site": (f"/sites/{site.id}/edit", {"__formid__": "edit-site", "name": "Hacked", "url": "https://evil.example", "timezone": "UTC"}),
        "delete site": (f"/sites/{site.id}/delete", {"__formid__": "delete-site", "confirm": "true"}),
        "rename owner": (f"/users/{owner.id}/", {"__formid__": "name", "name": "Hacked"}),
        "delete owner": (f"/users/{owner.id}/delete", {"__formid__": "delete-account", "current_password": "correct horse battery staple"}),
    }


@pytest.mark.parametrize("role", ("anonymous", "other", "admin"))
@pytest.mark.parametrize("action", ("edit site", "delete site", "rename owner", "delete owner"))
def test_refused_posts_change_nothing(as_role, dbsession, owner, site, role, action):
    app = as_role(role)
    url, fields = posts(owner, site)[action]
    ids = owner.id, site.id
    before = snapshot(dbsession, *ids)
    fields = dict(fields, csrf_token=app.csrf_token("/login" if role == "anonymous" else "/sites/"))
    res = app.post(url, fields, status="*")
    assert res.status_code == (LOGIN if role == "anonymous" else 404)
    assert snapshot(dbsession, *ids) == before


@pytest.mark.parametrize("action", ("edit site", "delete site", "rename owner", "delete owner"))
def test_owner_posts_are_accepted(as_role, dbsession, owner, site, action):
    app = as_role("owner")
    url, fields = posts(owner, site)[action]
    ids = owner.id, site.id  # kept: the rows may be deleted
    before = snapshot(dbsession, *ids)
    res = app.post(url, dict(fields, csrf_token=app.csrf_token("/sites/")), status="*")
    assert res.status_code == 303
    assert snapshot(dbsession, *ids) != before


@pytest.mark.parametrize("action", ("edit site", "delete site", "rename owner", "delete owner"))
def test_posts_without_csrf_token_are_refused(as_role, dbsession, owner, site, action):
    app = as_role("owner")
    url, fields = posts(owner, site)[action]
    ids = owner.id, site.id
    before = snapshot(dbsession, *ids)
    res = app.post(url, fields, status="*")
    assert res.status_code == 400
    assert "Reload the page and try again." in res.text
    assert snapshot(dbsession, *ids) == before


@pytest.mark.parametrize(
    ("url", "fields"),
    [
        ("/sites/", {"__formid__": "add-site", "name": "x", "url": "example.org", "timezone": "UTC"}),
        ("/login", {"__formid__": "login", "email": "owner@example.com", "password": "correct horse battery staple"}),
        ("/register", {"__formid__": "register", "name": "x", "email": "x@example.org"}),
        ("/logout", {}),
    ],
)
def test_other_forms_need_csrf_too(as_role, dbsession, owner, url, fields):
    app = as_role("owner")
    count = dbsession.scalar(select(func.count(Site.id)))
    assert app.post(url, fields, status="*").status_code == 400
    assert dbsession.scalar(select(func.count(Site.id))) == count


def test_admin_sees_the_user_list(as_role, owner, other, admin):
    page = as_role("admin").get("/users/")
    for user in (owner, other, admin):
        assert user.email in page.text


@pytest.mark.parametrize(
    "url",
    [
        "/sites/abc/",
        "/sites/-1/",
        "/sites/0/",
        "/sites/01/",
        "/sites/1.0/",
        "/sites/99999999999999999999/",
        "/sites/9223372036854775808/",
        "/sites/%00/",
        "/sites/1%20/",
        "/sites/123456/",
        "/sites/{site}/visits/abc",
        "/sites/{site}/visits/0",
        "/sites/{site}/bots/abc",
        "/sites/{site}/bots/1",
        "/sites/{site}/nothing-here",
        "/users/abc/",
        "/users/99999999999999999999999/",
        "/nothing",
    ],
)
def test_malformed_or_missing_names_are_404(as_role, site, url):
    res = as_role("owner").get(url.format(site=site.id), status="*")
    assert res.status_code == 404
    assert "Page not found" in res.text
