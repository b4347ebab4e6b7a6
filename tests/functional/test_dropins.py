"""The drop-in endpoints: what Plausible's and Umami's trackers send lands as the beacon's hits."""

import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.hits import CHROME
from tracking.models import Hit

UMAMI_ID = "4fb7fa4c-5b46-438d-94b3-3a8fb9bc2e8b"
HEADERS = {"User-Agent": CHROME, "Content-Type": "text/plain"}


@pytest.fixture
def umami_site(dbsession, site):
    site.umami_website_id = UMAMI_ID
    dbsession.flush()
    return site


def post(testapp, path, body, status, **headers):
    return testapp.post(path, json.dumps(body).encode(), headers={**HEADERS, **headers}, status=status)


def hits_of(dbsession, site):
    return dbsession.scalars(select(Hit).where(Hit.site_id == site.id).order_by(Hit.id)).all()


def test_plausibles_compact_page_view(testapp, dbsession, site, stored):
    res = post(testapp, "/api/event", {"n": "pageview", "u": "https://blog.example.com/pricing?utm_source=news",
                                       "d": "blog.example.com", "r": "https://www.google.com/", "h": 0}, 202)
    assert res.text == "ok" and res.headers["Access-Control-Allow-Origin"] == "*" and "Set-Cookie" not in res.headers
    assert stored() == 1
    [hit] = hits_of(dbsession, site)
    assert (hit.event, hit.path, hit.source, hit.utm_source, hit.browser) == ("pageview", "/pricing", "search", "news", "Chrome")


def test_plausibles_long_form_with_props_and_revenue(testapp, dbsession, site, stored):
    post(testapp, "/api/event", {"name": "Purchase", "url": "https://blog.example.com/checkout", "domain": "blog.example.com",
                                 "props": {"plan": "pro"}, "revenue": {"currency": "EUR", "amount": "29.90"}}, 202,
         **{"Content-Type": "application/json"})
    post(testapp, "/api/event", {"n": "Signup", "u": "https://blog.example.com/", "d": "blog.example.com",
                                 "p": json.dumps({"from": "footer"})}, 202)
    assert stored() == 2
    purchase, signup = hits_of(dbsession, site)
    assert purchase.event == "Purchase" and purchase.props == {"plan": "pro"}
    assert (purchase.revenue_amount, purchase.revenue_currency) == (Decimal("29.90"), "EUR")
    assert signup.event == "Signup" and signup.props == {"from": "footer"}


def test_plausibles_engagement_is_not_a_page_view(testapp, dbsession, site, stored):
    post(testapp, "/api/event", {"n": "engagement", "u": "https://blog.example.com/", "d": "blog.example.com", "sd": 80, "e": 12000}, 202)
    assert stored() == 1 and hits_of(dbsession, site) == []  # a measurement (tests/functional/test_engagement.py)


def test_plausible_several_domains_and_unknown_ones(testapp, dbsession, owner, make_site, site, stored):
    shop = make_site(owner, name="Shop", url="https://shop.example.com", restrict_hosts=False)
    post(testapp, "/api/event", {"n": "pageview", "u": "https://blog.example.com/", "d": "blog.example.com,shop.example.com"}, 202)
    assert stored() == 2 and len(hits_of(dbsession, site)) == len(hits_of(dbsession, shop)) == 1
    res = post(testapp, "/api/event", {"n": "pageview", "u": "https://nowhere.example.net/", "d": "nowhere.example.net"}, 404)
    assert res.json == {"errors": {"domain": "no site has this domain"}}


@pytest.mark.parametrize(("body", "field"), [
    ({"n": "pageview", "u": "javascript:alert(1)", "d": "blog.example.com"}, "url"),
    ({"u": "https://blog.example.com/", "d": "blog.example.com"}, "name"),
    ({"n": "pageview", "u": "https://blog.example.com/"}, "domain"),
    ({"n": "e" * 65, "u": "https://blog.example.com/", "d": "blog.example.com"}, "event"),
    ({"n": "pageview", "u": "https://blog.example.com/", "d": 5}, "domain"),
])
def test_plausible_bad_input_is_a_400(testapp, site, stored, body, field):
    assert field in post(testapp, "/api/event", body, 400).json["errors"]
    assert stored() == 0


def test_the_site_settings_are_honoured(testapp, site, stored):
    post(testapp, "/api/event", {"n": "pageview", "u": "https://blog.example.com/", "d": "blog.example.com"}, 202, DNT="1")
    post(testapp, "/api/event", {"n": "pageview", "u": "https://elsewhere.example.org/", "d": "blog.example.com"}, 202)
    assert stored() == 0


def test_umamis_page_view_and_event(testapp, dbsession, umami_site, stored):
    payload = {"website": UMAMI_ID, "hostname": "blog.example.com", "url": "/pricing?x=1", "referrer": "https://t.co/a",
               "title": "Pricing", "screen": "1920x1080", "language": "en-US"}
    res = post(testapp, "/api/send", {"type": "event", "payload": payload}, 200, **{"Content-Type": "application/json"})
    assert res.json == {} and res.headers["Access-Control-Allow-Origin"] == "*"
    post(testapp, "/api/send", {"type": "event", "payload": {**payload, "name": "signup", "data": {"plan": "pro"}}}, 200)
    post(testapp, "/api/send", {"type": "identify", "payload": {"website": UMAMI_ID, "data": {"user": "x"}}}, 200)
    # Web vitals and script errors, which Umami's script may send: answered, not hits.
    post(testapp, "/api/send", {"type": "performance", "payload": {"website": UMAMI_ID, "url": "/", "lcp": 1200}}, 200)
    post(testapp, "/api/send", {"type": "error", "payload": {"website": UMAMI_ID, "url": "/", "message": "x"}}, 200)
    assert stored() == 2
    view, signup = hits_of(dbsession, umami_site)
    assert (view.event, view.path, view.query, view.width, view.source) == ("pageview", "/pricing", "x=1", 1920, "social")
    assert signup.event == "signup" and signup.props == {"plan": "pro"}


@pytest.mark.parametrize(("body", "status"), [
    ({"type": "event", "payload": {"website": "00000000-0000-0000-0000-000000000000", "hostname": "blog.example.com", "url": "/"}}, 404),
    ({"type": "event", "payload": {"website": "x" * 100, "url": "/"}}, 404),
    ({"type": "event", "payload": "nope"}, 400),
    ({"type": "other", "payload": {"website": UMAMI_ID}}, 400),
    ({"type": "event", "payload": {"website": UMAMI_ID, "hostname": "blog.example.com", "url": "/", "data": [1]}}, 400),
])
def test_umami_bad_input(testapp, umami_site, stored, body, status):
    post(testapp, "/api/send", body, status)
    assert stored() == 0


def test_a_large_body_is_a_413(testapp, site):
    testapp.post("/api/event", b"{" + b" " * 9000 + b"}", headers=HEADERS, status=413)


def test_plausibles_revenue_from_javascript_arithmetic_is_rounded_to_the_currency(testapp, dbsession, site, stored):
    post(testapp, "/api/event", {"n": "Purchase", "u": "https://blog.example.com/", "d": "blog.example.com",
                                 "$": {"amount": 59.97000000000001, "currency": "EUR"}}, 202)
    assert stored() == 1
    [purchase] = hits_of(dbsession, site)
    assert (purchase.revenue_amount, purchase.revenue_currency) == (Decimal("59.97"), "EUR")


@pytest.mark.parametrize(("revenue", "field"), [
    ({"amount": "29.90", "currency": "XXY"}, "revenue.currency"),
    ({"amount": -1, "currency": "EUR"}, "revenue.amount"),
    ({"amount": "lots", "currency": "EUR"}, "revenue.amount"),
    ("29.90 EUR", "revenue"),
])
def test_plausibles_bad_revenue_is_a_400_naming_it(testapp, site, stored, revenue, field):
    res = post(testapp, "/api/event", {"n": "Purchase", "u": "https://blog.example.com/", "d": "blog.example.com",
                                       "$": revenue}, 400)
    assert field in res.json["errors"]
    assert stored() == 0


def test_preflight(testapp):
    res = testapp.options("/api/send", status=204)
    assert res.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert res.headers["Access-Control-Allow-Headers"] == "Content-Type"


@pytest.mark.parametrize(("asked", "allowed"), [
    ("content-type, x-umami-cache", "content-type, x-umami-cache"),  # what a tracker sends: allowed
    ("x-umami-cache\r\nSet-Cookie: a=b", "Content-Type"),  # not header names: not echoed
    ("a" * 300, "Content-Type"),  # too long
    ("x-a;b", "Content-Type"),
])
def test_a_preflight_allows_the_header_names_a_tracker_asks_for(testapp, asked, allowed):
    res = testapp.options("/api/send", headers={"Access-Control-Request-Headers": asked}, status=204)
    assert res.headers["Access-Control-Allow-Headers"] == allowed


def test_the_owner_sets_the_umami_website_id_on_the_settings_page(testapp, dbsession, owner, make_site, site):
    testapp.login(owner.email)
    form = testapp.get(f"/sites/{site.id}/edit").forms["edit-site"]
    assert form["umami_website_id"].value == ""
    form["umami_website_id"] = UMAMI_ID.upper().replace("-", "")
    form.submit("submit", status=303)
    dbsession.expire_all()
    assert site.umami_website_id == UMAMI_ID
    other_site = make_site(owner, name="Shop", url="https://shop.example.com")
    for value, message in ((UMAMI_ID, "Another site has this Umami website id."), ("not-a-uuid", "An Umami website id is a UUID")):
        form = testapp.get(f"/sites/{other_site.id}/edit").forms["edit-site"]
        form["umami_website_id"] = value
        assert message in form.submit("submit", status=200).text
    form = testapp.get(f"/sites/{site.id}/edit").forms["edit-site"]
    form["umami_website_id"] = ""
    form.submit("submit", status=303)
    dbsession.expire_all()
    assert site.umami_website_id is None


def test_the_api_sets_the_umami_website_id(testapp, dbsession, owner, make_site, site):
    from tests.apiclient import bearer, error_of, make_key

    key = make_key(dbsession, owner, scopes=("sites:write",))
    res = testapp.patch_json(f"/api/v1/sites/{site.id}", {"umami_website_id": UMAMI_ID.upper()}, headers=bearer(key))
    assert res.json["umami_website_id"] == UMAMI_ID
    other_site = make_site(owner, name="Shop", url="https://shop.example.com")
    for value in (UMAMI_ID, "nope", 5):
        res = testapp.patch_json(f"/api/v1/sites/{other_site.id}", {"umami_website_id": value}, headers=bearer(key), status=400)
        assert error_of(res)["field"] == "umami_website_id"
    assert testapp.patch_json(f"/api/v1/sites/{site.id}", {"umami_website_id": None}, headers=bearer(key)).json["umami_website_id"] is None


def test_umamis_path_without_a_hostname_is_a_page_of_the_site(testapp, dbsession, umami_site, stored):
    # @umami/node's own example, umami.track({url: "/home"}), sends no hostname.
    post(testapp, "/api/send", {"type": "event", "payload": {"website": UMAMI_ID, "url": "/home?x=1"}}, 200)
    post(testapp, "/api/send", {"type": "event", "payload": {"website": UMAMI_ID, "url": "/signup", "name": "signup"}}, 200)
    assert stored() == 2
    view, signup = hits_of(dbsession, umami_site)
    assert (view.event, view.host, view.path, view.query) == ("pageview", "blog.example.com", "/home", "x=1")
    assert (signup.event, signup.host, signup.path) == ("signup", "blog.example.com", "/signup")
    # Without a URL there is no page to count: the error names the field.
    res = post(testapp, "/api/send", {"type": "event", "payload": {"website": UMAMI_ID, "name": "signup"}}, 400)
    assert "url" in res.json["errors"]
    assert stored() == 0
