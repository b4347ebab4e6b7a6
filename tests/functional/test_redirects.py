"""After login, ``next`` only ever leads to a path on this site."""

import pytest

from tracking.views.redirects import safe_next

HOSTILE = [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example",
    "//evil.example/sites/",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "%2F%2Fevil.example",
    "/%2Fevil.example",
    "/%2F%2Fevil.example",
    "%2f%2fevil.example",
    "/%5Cevil.example",
    "/%252F%252Fevil.example",
    "/%09/evil.example",
    "/\t/evil.example",
    "/%0d%0aSet-Cookie:x=1",
    "https:evil.example",
    "sites/3/",
    "",
    "/" + "a" * 5000,
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_next_is_refused(value):
    assert safe_next(value) is None


@pytest.mark.parametrize("value", ["/", "/sites/3/", "/sites/3/edit?x=1", "/users/1/#name", "/sites/%C3%A9/"])
def test_local_paths_are_kept(value):
    assert safe_next(value) == value


def test_login_follows_a_local_next(testapp, owner):
    res = testapp.login(owner.email, next_url="/users/%d/" % owner.id)
    assert res.location == f"http://tracking.example.org/users/{owner.id}/"


@pytest.mark.parametrize("value", HOSTILE)
def test_login_ignores_a_hostile_next(testapp, owner, value):
    page = testapp.get("/login", params={"next": value})
    form = page.forms["login"]
    form["email"] = owner.email
    form["password"] = "correct horse battery staple"
    form["next"].force_value(value)
    res = form.submit("submit")
    assert res.status_code == 303
    assert res.location == "http://tracking.example.org/sites/"


def test_anonymous_is_sent_to_login_and_back(testapp, owner, site):
    res = testapp.get(f"/sites/{site.id}/edit")
    assert res.status_code == 303
    assert res.location == f"http://tracking.example.org/login?next=%2Fsites%2F{site.id}%2Fedit"
    login = res.follow()
    form = login.forms["login"]
    assert form["next"].value == f"/sites/{site.id}/edit"
    form["email"] = owner.email
    form["password"] = "correct horse battery staple"
    res = form.submit("submit")
    assert res.location == f"http://tracking.example.org/sites/{site.id}/edit"
    assert res.follow().status_code == 200
