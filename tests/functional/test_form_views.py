"""A page with forms: each form is posted to a view of its own, with its own permission.

A POST its sender may not make is refused (403 for someone who may see the page), and a POST of
a form the page does not have is no view at all (404): neither is ever answered with the page,
as if it were a GET.
"""

import pytest
from pyramid.authorization import Allow
from sqlalchemy import func, select

from tracking.models import Site, User
from tracking.resources import UserResource
from tracking.security import Permission, user_principal


@pytest.fixture
def view_only_account(monkeypatch):
    """An account its own user may view but not change: the permission of the page and that of
    its forms apart."""
    monkeypatch.setattr(UserResource, "__acl__", lambda self: [(Allow, user_principal(self.user.id), Permission.VIEW)])


def account(dbsession, user_id):
    dbsession.expire_all()
    user = dbsession.get(User, user_id)
    return user.name, user.password_hash


def test_the_account_page_is_shown_to_who_may_only_view_it(testapp, owner, view_only_account):
    testapp.login(owner.email)
    page = testapp.get(f"/users/{owner.id}/")
    assert {"name", "password"} <= set(page.forms)
    assert testapp.head(f"/users/{owner.id}/").status_code == 200


@pytest.mark.parametrize(
    "fields",
    [
        {"__formid__": "name", "name": "Renamed"},
        {
            "__formid__": "password",
            "current_password": "correct horse battery staple",
            "new_password": "another-long-password",
            "new_password-confirm": "another-long-password",
        },
    ],
    ids=["name", "password"],
)
def test_a_form_who_may_only_view_the_account_posts_is_refused(testapp, dbsession, owner, view_only_account, fields):
    testapp.login(owner.email)
    before = account(dbsession, owner.id)
    token = testapp.csrf_token(f"/users/{owner.id}/")
    res = testapp.post(f"/users/{owner.id}/", dict(fields, csrf_token=token), status="*")
    assert res.status_code == 403
    assert "You may see this page, but not change it." in res.text
    assert 'id="name"' not in res.text  # not the account page with its forms
    assert account(dbsession, owner.id) == before


@pytest.mark.parametrize(
    ("url", "fields"),
    [
        ("/users/{owner}/", {"__formid__": "add-site", "name": "x", "url": "example.org", "timezone": "UTC"}),
        ("/users/{owner}/", {"name": "Renamed"}),
        ("/sites/", {"__formid__": "name", "name": "Renamed"}),
        ("/sites/", {"name": "x", "url": "example.org", "timezone": "UTC"}),
    ],
    ids=["account, another page's form", "account, no form", "sites, another page's form", "sites, no form"],
)
def test_a_post_of_a_form_the_page_does_not_have_is_not_the_page(testapp, dbsession, owner, url, fields):
    testapp.login(owner.email)
    before = account(dbsession, owner.id), dbsession.scalar(select(func.count(Site.id)))
    token = testapp.csrf_token("/sites/")
    res = testapp.post(url.format(owner=owner.id), dict(fields, csrf_token=token), status="*")
    assert res.status_code == 404
    assert "Page not found" in res.text
    assert (account(dbsession, owner.id), dbsession.scalar(select(func.count(Site.id)))) == before


def test_the_sites_page_and_its_add_form(testapp, dbsession, owner):
    testapp.login(owner.email)
    assert testapp.head("/sites/").status_code == 200
    form = testapp.get("/sites/").forms["add-site"]
    form["name"] = ""
    res = form.submit("submit")
    assert res.status_code == 200 and "Enter a name for the site." in res.text  # the page again, with the form's error
    form = res.forms["add-site"]
    form["name"] = "Shop"
    form["url"] = "https://shop.example.com"
    assert form.submit("submit").status_code == 303
    assert dbsession.scalar(select(func.count(Site.id)).where(Site.owner_id == owner.id)) == 1
