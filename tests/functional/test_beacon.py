"""The public beacon: answers, what it stores, what it refuses."""

import json
import re
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select

from tracking.ingest.pipeline import Pipeline
from tracking.ingest.sites import SiteDirectory
from tracking.ingest.store import Store
from tracking.interfaces import IDatabase, IHitPipeline, IHitStore, ISiteDirectory
from tracking.models import Database, Hit, Visit
from tracking.models.meta import Base

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture
def beacon(testapp, site):
    url = f"/sites/{site.id}/hit"

    def send(method="GET", params=None, body=None, content_type="text/plain;charset=UTF-8", headers=None, status="*"):
        headers = {"User-Agent": CHROME, **(headers or {})}
        if method == "GET":
            return testapp.get(url, params=params or {}, headers=headers, status=status)
        if body is not None:
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            return testapp.request(url, method=method, body=body.encode() if isinstance(body, str) else body,
                                   headers={"Content-Type": content_type, **headers}, status=status)
        return testapp.request(url, method=method, headers=headers, status=status)

    return send


def stored_hits(dbsession):
    return list(dbsession.scalars(select(Hit).order_by(Hit.id)))


def test_the_widest_viewport_taken_is_stored(beacon, stored, dbsession):
    """The bound on ``width`` is what the column holds: a wider one would fail its batch on
    PostgreSQL at every retry, and keep every later hit waiting."""
    assert beacon(params={"url": "https://blog.example.com/", "width": "32767"}).status_code == 204
    assert stored() == 1
    assert [hit.width for hit in stored_hits(dbsession)] == [32767]


def test_get_stores_an_enriched_pageview(beacon, stored, dbsession, site):
    res = beacon(params={
        "url": "https://blog.example.com/posts/1?utm_source=newsletter&utm_medium=email&utm_campaign=launch&x=1#top",
        "referrer": "https://www.google.co.uk/search?q=analytics",
        "width": "1280",
    }, headers={"X-Forwarded-For": "8.8.8.8"})
    assert res.status_code == 204
    assert res.body == b""
    assert res.headers["Cache-Control"] == "no-store"
    assert res.headers["Access-Control-Allow-Origin"] == "*"
    assert "Set-Cookie" not in res.headers
    assert "X-Tracking-Ignored" not in res.headers
    assert stored() == 1
    [hit] = stored_hits(dbsession)
    assert (hit.site_id, hit.event, hit.host, hit.path, hit.query) == (site.id, "pageview", "blog.example.com", "/posts/1", "x=1")
    assert (hit.utm_source, hit.utm_medium, hit.utm_campaign) == ("newsletter", "email", "launch")
    assert hit.source == "email"  # the UTM medium wins over the search referrer
    assert hit.ref_host == "google.co.uk"
    assert (hit.browser, hit.browser_version, hit.os, hit.device) == ("Chrome", "124", "Windows", "desktop")
    assert hit.width == 1280 and hit.bot == ""
    # The client address is REMOTE_ADDR (203.0.113.7 in these tests), never a forwarded header.
    assert hit.ip == "203.0.113.0"
    assert hit.visit_id is not None


def test_post_json_as_send_beacon_sends_it(beacon, stored, dbsession):
    res = beacon("POST", body={"url": "https://blog.example.com/pricing", "event": "signup", "props": {"plan": "pro", "seats": 3, "trial": True}})
    assert res.status_code == 204
    stored()
    [hit] = stored_hits(dbsession)
    assert hit.event == "signup" and hit.path == "/pricing"
    assert hit.props == {"plan": "pro", "seats": "3", "trial": "true"}


def test_a_page_view_carries_the_variants_the_tracker_adds(beacon, stored, dbsession):
    # tracking.variant('checkout', 'B'): the longest key the tracker sends is 11 + 53 = 64 characters.
    longest = "experiment:" + "k" * 53
    res = beacon("POST", body={"url": "https://blog.example.com/", "props": {"experiment:checkout": "B", longest: "v" * 256}})
    assert res.status_code == 204
    stored()
    [hit] = stored_hits(dbsession)
    assert hit.event == "pageview"
    assert hit.props == {"experiment:checkout": "B", longest: "v" * 256}


def test_post_form_and_referer_fallback(beacon, stored, dbsession):
    res = beacon("POST", body="event=pageview", content_type="application/x-www-form-urlencoded",
                 headers={"Referer": "https://blog.example.com/from-referer"})
    assert res.status_code == 204
    stored()
    assert stored_hits(dbsession)[0].path == "/from-referer"


def test_noscript_pixel_without_parameters_uses_the_referer(beacon, stored, dbsession):
    assert beacon(headers={"Referer": "https://blog.example.com/"}).status_code == 204
    stored()
    assert stored_hits(dbsession)[0].path == "/"


def test_beacon_never_touches_the_session(beacon, testapp, owner):
    testapp.login(owner.email)
    res = beacon(params={"url": "https://blog.example.com/"})
    assert res.status_code == 204 and "Set-Cookie" not in res.headers


def test_cors_preflight(beacon):
    res = beacon("OPTIONS", headers={"Origin": "https://blog.example.com", "Access-Control-Request-Method": "POST"})
    assert res.status_code == 204
    assert res.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in res.headers["Access-Control-Allow-Methods"]
    assert res.headers["Access-Control-Allow-Headers"] == "Content-Type"


@pytest.mark.parametrize(("header", "reason"), [("DNT", "dnt"), ("Sec-GPC", "gpc")])
def test_privacy_signals_are_honoured(beacon, stored, dbsession, header, reason):
    res = beacon(params={"url": "https://blog.example.com/"}, headers={header: "1"})
    assert res.status_code == 204
    assert res.headers["X-Tracking-Ignored"] == reason
    assert stored() == 0 and stored_hits(dbsession) == []


@pytest.mark.parametrize(("header", "setting"), [("DNT", "honor_dnt"), ("Sec-GPC", "honor_gpc")])
def test_privacy_signals_can_be_switched_off_per_site(app, beacon, stored, dbsession, site, header, setting):
    change_site(app, dbsession, site, **{setting: False})
    res = beacon(params={"url": "https://blog.example.com/"}, headers={header: "1"})
    assert "X-Tracking-Ignored" not in res.headers
    assert stored() == 1


def test_settings_page_changes_reach_the_beacon_at_once(testapp, beacon, stored, owner, site):
    assert beacon(params={"url": "https://blog.example.com/"}, headers={"DNT": "1"}).headers["X-Tracking-Ignored"] == "dnt"
    testapp.login(owner.email)
    form = testapp.get(f"/sites/{site.id}/edit").forms["edit-site"]
    form["honor_dnt"] = False
    form.submit("submit")
    assert "X-Tracking-Ignored" not in beacon(params={"url": "https://blog.example.com/"}, headers={"DNT": "1"}).headers
    assert stored() == 1


@pytest.mark.parametrize("url", ["https://evil.example/", "https://blog.example.com.evil.net/", "https://evilblog.example.com/"])
def test_foreign_hosts_are_ignored(beacon, stored, url):
    res = beacon(params={"url": url})
    assert res.status_code == 204 and res.headers["X-Tracking-Ignored"] == "foreign-host"
    assert stored() == 0


def change_site(app, dbsession, site, **values):
    """Change the row behind the beacon's back: the process's site cache must be told."""
    for key, value in values.items():
        setattr(site, key, value)
    dbsession.flush()
    app.registry.getUtility(ISiteDirectory).forget(site.id)


def test_subdomains_count_and_the_check_can_be_switched_off(app, beacon, stored, dbsession, site):
    assert "X-Tracking-Ignored" not in beacon(params={"url": "https://www.blog.example.com/x"}).headers
    change_site(app, dbsession, site, restrict_hosts=False)
    assert "X-Tracking-Ignored" not in beacon(params={"url": "https://elsewhere.example/"}).headers
    assert stored() == 2


@pytest.mark.parametrize(("ua", "reason"), [
    (GOOGLEBOT, "crawler"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36", "headless"),
    ("curl/8.5.0", "tool"),
    ("", "empty-ua"),
])
def test_bots_are_stored_apart_with_their_reason(beacon, stored, dbsession, ua, reason):
    res = beacon(params={"url": "https://blog.example.com/"}, headers={"User-Agent": ua})
    assert res.status_code == 204 and res.headers["X-Tracking-Ignored"] == "bot"
    stored()
    [hit] = stored_hits(dbsession)
    assert hit.bot == reason and hit.device == "bot" and hit.visit_id is None
    assert dbsession.scalar(select(func.count(Visit.id))) == 0


BAD = [
    ({"params": {}}, "url"),
    ({"params": {"url": "javascript:alert(1)"}}, "url"),
    ({"params": {"url": "/relative"}}, "url"),
    ({"params": {"url": "https://blog.example.com/" + "a" * 3000}}, "url"),
    ({"params": {"url": "https://blog.example.com/", "event": "e" * 65}}, "event"),
    ({"params": {"url": "https://blog.example.com/", "width": "wide"}}, "width"),
    ({"params": {"url": "https://blog.example.com/", "width": "-5"}}, "width"),
    ({"params": {"url": "https://blog.example.com/", "width": "32768"}}, "width"),  # wider than a SMALLINT
    ({"params": {"url": "https://blog.example.com/", "props": "[1,2]"}}, "props"),
    ({"params": {"url": "https://blog.example.com/", "props": "{not json"}}, "props"),
    ({"method": "POST", "body": "{not json"}, "body"),
    ({"method": "POST", "body": "[1, 2, 3]"}, "body"),
    ({"method": "POST", "body": b"\xff\xfe\x00garbage"}, "body"),
    ({"method": "POST", "body": {"url": 42}}, "url"),
    ({"method": "POST", "body": {"url": "https://blog.example.com/", "width": True}}, "width"),
    ({"method": "POST", "body": {"url": "https://blog.example.com/", "props": {"k": {"nested": 1}}}}, "props"),
    ({"method": "POST", "body": {"url": "https://blog.example.com/", "props": {str(i): i for i in range(31)}}}, "props"),
    ({"method": "POST", "body": {"url": "https://blog.example.com/", "props": {"k" * 65: 1}}}, "props"),
    ({"method": "POST", "body": {"url": "https://blog.example.com/", "props": {"k": "v" * 257}}}, "props"),
    ({"method": "POST", "body": {"url": "https://blog.example.com/", "event": ["a"]}}, "event"),
    ({"method": "POST", "body": "url=1&" * 30, "content_type": "application/x-www-form-urlencoded"}, "query"),
]


@pytest.mark.parametrize(("request_args", "field"), BAD)
def test_bad_input_is_a_400_with_json_errors(beacon, stored, request_args, field):
    res = beacon(**request_args)
    assert res.status_code == 400
    assert res.content_type == "application/json"
    assert field in res.json["errors"]
    assert stored() == 0


def test_nul_bytes_and_unicode_are_cleaned_not_fatal(beacon, stored, dbsession):
    res = beacon("POST", body={"url": "https://blog.example.com/caf\u00e9\x00/\u202e", "event": "clic\x00k \U0001f600"})
    assert res.status_code == 204
    stored()
    [hit] = stored_hits(dbsession)
    assert "\x00" not in hit.path and "\x00" not in hit.event
    assert hit.event == "click \U0001f600"


@pytest.mark.parametrize("size", [8193, 10 * 1024 * 1024])
def test_large_bodies_are_413(beacon, stored, size):
    res = beacon("POST", body=b"{" + b" " * (size - 2) + b"}")
    assert res.status_code == 413 and "body" in res.json["errors"]


def test_long_query_is_414(beacon):
    res = beacon(params={"url": "https://blog.example.com/", "pad": "x" * 9000})
    assert res.status_code == 414


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(beacon, method):
    res = beacon(method)
    assert res.status_code == 405 and "method" in res.json["errors"]


def test_head_is_405_and_not_a_visit(beacon, stored):
    res = beacon("HEAD", headers={"Referer": "https://blog.example.com/"})
    assert res.status_code == 405
    assert res.headers["Allow"] == "GET, POST, OPTIONS"
    assert stored() == 0


@pytest.mark.parametrize("path", ["/sites/999999/hit", "/sites/abc/hit", "/sites/-1/hit", "/sites/99999999999999999999999/hit"])
def test_unknown_sites_are_404_json(testapp, path):
    res = testapp.get(path, params={"url": "https://blog.example.com/"}, status=404)
    assert res.json == {"errors": {"site": "no such site"}}
    assert res.headers["Access-Control-Allow-Origin"] == "*"


def test_full_buffer_answers_503_and_keeps_what_it_has(app, beacon, stored, db_service):
    app.registry.registerUtility(Store(db_service.session_factory, max_pending=2), IHitStore)
    assert beacon(params={"url": "https://blog.example.com/1"}).status_code == 204
    assert beacon(params={"url": "https://blog.example.com/2"}).status_code == 204
    res = beacon(params={"url": "https://blog.example.com/3"})
    assert res.status_code == 503 and res.headers["Retry-After"] == "10"
    assert stored() == 2


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def unreachable_database(tmp_path):
    """A database whose every query fails to connect, as when it is down."""
    engine = create_engine(f"sqlite:///{tmp_path}/missing-directory/tracking.sqlite")
    return Database(engine), engine


def test_an_unreachable_database_keeps_known_sites_counting_and_others_503(
    app, testapp, beacon, stored, make_site, owner, monkeypatch, tmp_path, caplog
):
    clock = Clock()
    directory = SiteDirectory(ttl=30, retry_seconds=5, clock=clock)
    app.registry.registerUtility(directory, ISiteDirectory)
    other = make_site(owner, name="Shop", url="https://shop.example.com")
    assert beacon(params={"url": "https://blog.example.com/before"}).status_code == 204  # the site is known

    broken, engine = unreachable_database(tmp_path)
    working = app.registry.getUtility(IDatabase)
    app.registry.registerUtility(broken, IDatabase)
    clock.now += 60  # the site's entry has expired: the directory tries the database, and fails
    res = beacon(params={"url": "https://blog.example.com/during"})
    assert res.status_code == 204 and "X-Tracking-Ignored" not in res.headers
    assert "sites cannot be loaded" in caplog.text

    res = testapp.get(f"/sites/{other.id}/hit", params={"url": "https://shop.example.com/"}, status=503)
    assert res.json == {"errors": {"server": "the database is unreachable; retry later"}}
    assert res.headers["Retry-After"] == "10" and res.headers["Access-Control-Allow-Origin"] == "*"
    assert "Set-Cookie" not in res.headers

    app.registry.registerUtility(working, IDatabase)  # the database is back
    res = testapp.get(f"/sites/{other.id}/hit", params={"url": "https://shop.example.com/"}, status=503)
    clock.now += 5  # loads are tried again once the retry interval has passed
    assert testapp.get(f"/sites/{other.id}/hit", params={"url": "https://shop.example.com/"}).status_code == 204
    assert stored() == 3
    engine.dispose()


def test_neither_the_user_agent_nor_the_address_is_stored(app, beacon, stored, dbsession, connection, monkeypatch):
    """With ``store_ip = none``, no column of any table holds the visitor's address or user agent
    (or any recognisable part of them): only their parsed classes and the day's visitor id."""
    pipeline = app.registry.getUtility(IHitPipeline)
    app.registry.registerUtility(Pipeline(pipeline.geo, store_ip="none", visitor_keys=pipeline.visitor_key), IHitPipeline)
    agent = CHROME + " Marker/7.7.7"
    res = beacon(params={"url": "https://blog.example.com/p"}, headers={"User-Agent": agent})
    assert res.status_code == 204 and stored() == 1
    [hit] = stored_hits(dbsession)
    assert hit.browser == "Chrome" and hit.ip is None
    needles = ("203.0.113.7", "203.0.113", "Marker/7.7.7", "Mozilla/5.0")
    found = []
    for table in Base.metadata.sorted_tables:
        for row in connection.execute(table.select()):
            for column, value in row._mapping.items():
                text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                found += [(table.name, column, needle) for needle in needles if needle in text]
    assert found == []


field_values = st.text(max_size=300) | st.integers() | st.booleans() | st.none() | st.lists(st.integers(), max_size=3) | st.dictionaries(st.text(max_size=70), st.text(max_size=300) | st.integers() | st.none(), max_size=35)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    query=st.dictionaries(st.sampled_from(["url", "event", "referrer", "width", "props", "x"]), st.text(max_size=300), max_size=6),
    body=st.dictionaries(st.sampled_from(["url", "event", "referrer", "width", "props"]), field_values, max_size=5),
    raw=st.binary(max_size=300),
)
def test_no_input_yields_a_5xx(beacon, stored, query, body, raw):
    for res in (
        beacon(params=query),
        beacon("POST", body=body),
        beacon("POST", body=raw),
        beacon("POST", body=raw, content_type="application/x-www-form-urlencoded"),
    ):
        assert res.status_code < 500, res.text
        if res.status_code >= 400:
            assert "errors" in res.json
    stored()


class BrokenPipeline:
    def process(self, *args, **kwargs):
        raise RuntimeError("database on fire")

    def warm_up(self):
        pass


def test_a_fault_on_our_side_is_json_without_a_cookie(app, beacon, caplog):
    app.registry.registerUtility(BrokenPipeline(), IHitPipeline)
    res = beacon(params={"url": "https://blog.example.com/"})
    assert res.status_code == 500
    assert res.json == {"errors": {"server": "internal error"}}
    assert "Set-Cookie" not in res.headers
    assert "database on fire" in caplog.text


def test_query_fields_first_of_each_name_encoded_names_decoded_others_ignored():
    from tracking.ingest.hit import BadHit
    from tracking.views.beacon import MAX_FIELDS, _parse_qs

    assert _parse_qs("%75rl=https%3A%2F%2Fa.example%2F%E2%82%AC&url=second&other=x&width=&event=sign+up%ff") == {
        "url": "https://a.example/€", "width": "", "event": "sign up\ufffd",
    }
    with pytest.raises(BadHit) as refused:
        _parse_qs("&".join(["other=1"] * (MAX_FIELDS + 1)))
    assert "query" in refused.value.errors


_QUERY_PIECES = st.sampled_from(
    ["=", "+", "%", "%2", "%41", "%e2%82%ac", "%ff", "%C3", "é", "x" * 300, ";", "?", "#", "\x00"]
)
_QUERY_NAMES = st.sampled_from(["url", "event", "referrer", "width", "props", "other", "%75rl", "wid%74h", "ev+ent", ""])
_QUERY_PAIRS = st.tuples(
    _QUERY_NAMES | st.text(max_size=5),
    st.sampled_from(["=", ""]),
    st.lists(_QUERY_PIECES | st.text(max_size=6), max_size=5).map("".join),
).map("".join)


@given(st.lists(_QUERY_PAIRS, max_size=24).map("&".join))
@example("&".join(["width=1"] * 20))  # the most fields allowed
@example("&".join(["width=1"] * 21))
@example("%75rl=a&url=b&&event=%ff+x")
@settings(max_examples=400, deadline=None)
def test_query_fields_are_what_the_standard_library_reads(query):
    from urllib.parse import parse_qsl

    from tracking.ingest.hit import FIELDS, BadHit
    from tracking.views.beacon import MAX_FIELDS, _parse_qs

    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="replace", max_num_fields=MAX_FIELDS)
    except ValueError:
        with pytest.raises(BadHit):
            _parse_qs(query)
        return
    expected = {}
    for name, value in pairs:
        if name in FIELDS:
            expected.setdefault(name, value)
    assert _parse_qs(query) == expected


def test_requests_share_one_class_with_the_request_properties(app, testapp, beacon, stored):
    """``add_request_method`` properties live on the request factory's class, not on a class
    Pyramid would derive for each request; requests still have them."""
    from pyramid.interfaces import IRequestExtensions, IRequestFactory

    factory = app.registry.queryUtility(IRequestFactory)
    assert app.request_factory is factory
    assert {"dbsession", "tm", "csp_nonce"} <= set(vars(factory))
    assert not app.registry.queryUtility(IRequestExtensions).descriptors
    page = testapp.get("/login")  # renders with request.csp_nonce, reads with request.dbsession
    assert re.search(r"'nonce-[\w-]{22}'", page.headers["Content-Security-Policy"])
    assert beacon(params={"url": "https://blog.example.com/"}).status_int == 204
    assert stored() == 1


# -- revenue: a custom event's exact amount and currency; anything else a 400 naming the field --

CHECKOUT = "https://blog.example.com/checkout"


@pytest.mark.parametrize(("revenue", "amount", "currency"), [
    ({"amount": "29.90", "currency": "EUR"}, Decimal("29.9"), "EUR"),
    ({"amount": 29.9, "currency": "EUR"}, Decimal("29.9"), "EUR"),  # a JSON number, read from its text
    ({"amount": "1500", "currency": "JPY"}, Decimal("1500"), "JPY"),
    ({"amount": "0.125", "currency": "KWD"}, Decimal("0.125"), "KWD"),
    ({"amount": "999999999999.99", "currency": "USD"}, Decimal("999999999999.99"), "USD"),
    ({"amount": "0", "currency": "USD"}, Decimal("0"), "USD"),
    ({"amount": "29.90", "currency": "eur"}, Decimal("29.9"), "EUR"),  # as the goal form takes it
    # A JSON number is a float in the page that sent it (19.99 * 3): rounded to the currency's decimals.
    ({"amount": 59.97000000000001, "currency": "EUR"}, Decimal("59.97"), "EUR"),
    ({"amount": 0.125, "currency": "EUR"}, Decimal("0.12"), "EUR"),  # half to even
    ({"amount": 1499.6, "currency": "JPY"}, Decimal("1500"), "JPY"),
])
def test_a_custom_event_carries_an_exact_revenue(beacon, stored, dbsession, revenue, amount, currency):
    res = beacon("POST", body={"url": CHECKOUT, "event": "Purchase", "revenue": revenue})
    assert res.status_code == 204
    stored()
    [hit] = stored_hits(dbsession)
    assert (hit.revenue_amount, hit.revenue_currency) == (amount, currency)
    assert isinstance(hit.revenue_amount, Decimal)


def test_revenue_in_a_query_string_is_the_object_as_json(beacon, stored, dbsession):
    res = beacon(params={"url": CHECKOUT, "event": "Purchase", "revenue": json.dumps({"amount": "5.5", "currency": "GBP"})})
    assert res.status_code == 204
    stored()
    [hit] = stored_hits(dbsession)
    assert (hit.revenue_amount, hit.revenue_currency) == (Decimal("5.5"), "GBP")


@pytest.mark.parametrize(("revenue", "field"), [
    ({"amount": "29.90", "currency": "EURO"}, "revenue.currency"),
    ({"amount": "29.90", "currency": "XYZ"}, "revenue.currency"),
    ({"amount": "29.90", "currency": 978}, "revenue.currency"),
    ({"amount": "-1", "currency": "EUR"}, "revenue.amount"),
    ({"amount": "abc", "currency": "EUR"}, "revenue.amount"),
    ({"amount": "NaN", "currency": "EUR"}, "revenue.amount"),
    ({"amount": "Infinity", "currency": "EUR"}, "revenue.amount"),
    ({"amount": "1e12", "currency": "EUR"}, "revenue.amount"),
    ({"amount": "1" * 41, "currency": "EUR"}, "revenue.amount"),
    ({"amount": "29.901", "currency": "EUR"}, "revenue.amount"),  # a string is taken as written
    ({"amount": 1e12, "currency": "EUR"}, "revenue.amount"),
    ({"amount": -0.001, "currency": "EUR"}, "revenue.amount"),
    ({"amount": "1.5", "currency": "JPY"}, "revenue.amount"),
    ({"amount": True, "currency": "EUR"}, "revenue.amount"),
    ({"amount": None, "currency": "EUR"}, "revenue.amount"),
    ({"amount": ["1"], "currency": "EUR"}, "revenue.amount"),
    ({"amount": "1"}, "revenue"),
    ({"amount": "1", "currency": "EUR", "extra": 1}, "revenue"),
    ("29.90 EUR", "revenue"),
    ([1, 2], "revenue"),
])
def test_a_wrong_revenue_is_a_400_naming_the_field(beacon, stored, dbsession, revenue, field):
    res = beacon("POST", body={"url": CHECKOUT, "event": "Purchase", "revenue": revenue})
    assert res.status_code == 400 and res.content_type == "application/json"
    assert field in res.json["errors"]
    assert stored() == 0 and dbsession.scalars(select(Hit)).all() == []


def test_a_page_view_carries_no_revenue(beacon, stored, dbsession):
    res = beacon("POST", body={"url": CHECKOUT, "revenue": {"amount": "1", "currency": "EUR"}})
    assert res.status_code == 400 and "revenue" in res.json["errors"]
    assert stored() == 0
