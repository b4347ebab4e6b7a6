"""After login, ``next`` only ever leads to a path on this site."""

from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tracking.views.redirects import safe_next

HOSTILE = [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example",
    "///evil.example",
    "////evil.example",
    "//evil.example/sites/",
    "\\/evil.example",
    "\\\\/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "//\tevil.example",
    "/%2F/evil.example",
    "/%5C/evil.example",
    "/%0A/evil.example",
    "%2F%2F%2Fevil.example",
    "/%25%32%46/evil.example",
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
    res = testapp.login(owner.email, next_url=f"/users/{owner.id}/")
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


# -- any `next`: never a 500, always a Latin-1 header ---------------------------------------------


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("/。/x", "/%E3%80%82/x"),
        ("/sites/é/", "/sites/%C3%A9/"),
        ("/a b/<c>", "/a%20b/%3Cc%3E"),
        ("/x?q=ü&r=1#frag", "/x?q=%C3%BC&r=1#frag"),
        ("/100%", "/100%"),
        ("/%E3%80%82/x", "/%E3%80%82/x"),
    ],
)
def test_other_characters_are_percent_encoded(value, kept):
    assert safe_next(value) == kept
    assert safe_next(kept) == kept


def test_login_follows_a_next_that_is_not_latin_1(testapp, owner):
    """``/。/x`` was a 500 after the password was accepted: a Location header is Latin-1."""
    page = testapp.get("/login", params={"next": "/。/x"})
    assert page.forms["login"]["next"].value == "/%E3%80%82/x"
    form = page.forms["login"]
    form["email"], form["password"] = owner.email, "correct horse battery staple"
    form["next"].force_value("/。/x")
    res = form.submit("submit")
    assert res.status_code == 303
    assert res.location == "http://tracking.example.org/%E3%80%82/x"


@pytest.mark.parametrize("query", ["next=%FF", "next=/%FF%FE", "next=/ok&x=%C3"])
def test_a_query_that_is_not_utf8_is_ignored(testapp, owner, query):
    page = testapp.get("/login?" + query)
    assert page.status_code == 200 and page.forms["login"]["next"].value == ""


def test_a_form_that_is_not_utf8_still_logs_in_to_a_local_page(testapp, owner):
    body = (
        b"__formid__=login&csrf_token=" + testapp.csrf_token().encode()
        + b"&email=owner%40example.com&password=correct+horse+battery+staple&next=/%FF%FE/x"
    )
    res = testapp.post("/login", body, content_type="application/x-www-form-urlencoded", status="*")
    assert res.status_code == 303
    assert res.location.startswith("http://tracking.example.org/") and res.location.endswith("/x")


URLISH = st.text(alphabet=st.sampled_from("/\\%:.?#@ \t\n\r2F5Cae。é\x00\x7f\u2028/"), max_size=40)
ANY_TEXT = st.text(max_size=300)


@given(st.one_of(URLISH, ANY_TEXT))
@example("/。/x")
@example("///evil.example")
def test_whatever_it_keeps_is_a_local_latin_1_path(value):
    kept = safe_next(value)
    if kept is not None:
        kept.encode("latin-1")
        assert kept.isascii() and kept.startswith("/") and not kept.startswith("//")
        assert "\\" not in kept and not any(ord(c) < 33 or ord(c) == 127 for c in kept)
        assert unquote(kept) == unquote(value)
        assert safe_next(kept) == kept


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(URLISH, ANY_TEXT))
@example("/。/x")
def test_a_login_with_any_next_never_fails(testapp, owner, value):
    testapp.reset()
    page = testapp.get("/login", params={"next": value}, status="*")
    assert page.status_code == 200
    form = page.forms["login"]
    form["email"], form["password"] = owner.email, "correct horse battery staple"
    form["next"].force_value(value)
    res = form.submit("submit", status="*")
    assert res.status_code == 303
    assert res.location.startswith("http://tracking.example.org/")
    assert testapp.get("/sites/").status_code == 200
