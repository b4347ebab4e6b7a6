"""``POST /api/v1/events``: a back end's hits, through the beacon's pipeline and buffer."""

import pytest
from sqlalchemy import select

from tests.apiclient import bearer, error_of, make_key
from tests.hits import CHROME, GOOGLEBOT
from tracking.ingest.store import Store
from tracking.interfaces import IHitStore
from tracking.models import Hit, Visit

VISITOR = {"ip": "203.0.113.50", "user_agent": CHROME}


@pytest.fixture
def sender(dbsession, owner):
    return make_key(dbsession, owner, scopes=("events:write",))


def hit(site, path="/", **fields):
    return {"site_id": site.id, "url": f"https://blog.example.com{path}", **VISITOR, **fields}


def send(testapp, key, hits, status=202):
    return testapp.post_json("/api/v1/events", {"hits": hits}, headers=bearer(key), status=status)


def test_a_batch_is_stored_as_the_beacon_stores_hits(testapp, dbsession, site, sender, stored):
    batch = [hit(site, f"/p{n}", referrer="https://www.google.com/") for n in range(100)]
    batch.append(hit(site, "/", event="signup", props={"plan": "pro"}, width=1280))
    res = send(testapp, sender, batch)
    assert res.json == {"accepted": 101, "ignored": {}}
    assert stored() == 101
    hits = dbsession.scalars(select(Hit).where(Hit.site_id == site.id).order_by(Hit.id)).all()
    assert [h.path for h in hits[:3]] == ["/p0", "/p1", "/p2"]
    assert {h.browser for h in hits} == {"Chrome"} and {h.source for h in hits[:100]} == {"search"}
    assert hits[-1].event == "signup" and hits[-1].props == {"plan": "pro"} and hits[-1].width == 1280
    # The visitor's address is kept as the beacon keeps it (truncated), and they are one visitor.
    assert {h.ip for h in hits} == {"203.0.113.0"}
    assert len(dbsession.scalars(select(Visit).where(Visit.site_id == site.id)).all()) == 1


def test_the_same_hit_by_the_beacon_and_by_the_api_is_the_same_row(testapp, dbsession, site, sender, stored):
    url = "https://blog.example.com/pricing?utm_source=news&gclid=x"
    testapp.post_json(f"/sites/{site.id}/hit", {"url": url, "referrer": "https://t.co/a"},
                      headers={"User-Agent": CHROME}, extra_environ={"REMOTE_ADDR": VISITOR["ip"]}, status=204)
    send(testapp, sender, [hit(site, "/pricing?utm_source=news&gclid=x", referrer="https://t.co/a")])
    assert stored() == 2
    # The same visitor, in the same visit: only the hit's own time and place in the visit differ.
    columns = [c for c in Hit.__table__.columns.keys() if c not in ("id", "ts", "is_first")]
    first, second = (tuple(getattr(h, c) for c in columns) for h in dbsession.scalars(select(Hit).where(Hit.site_id == site.id)))
    assert first == second


def test_what_the_beacon_would_not_count_is_said(testapp, dbsession, site, sender, stored):
    res = send(testapp, sender, [
        hit(site, dnt=True), hit(site, gpc=True),
        {**hit(site), "url": "https://elsewhere.example.org/"},
        {**hit(site), "user_agent": GOOGLEBOT},
        hit(site),
    ])
    assert res.json == {"accepted": 1, "ignored": {"dnt": 1, "gpc": 1, "foreign-host": 1, "bot": 1}}
    assert stored() == 2  # the page view, and the bot's hit for the list of bot hits


@pytest.mark.parametrize(("item", "field"), [
    ({"url": "javascript:alert(1)"}, "hits[1].url"),
    ({"url": "https://blog.example.com/" + "x" * 3000}, "hits[1].url"),
    ({"event": "e" * 65}, "hits[1].event"),
    ({"width": -1}, "hits[1].width"),
    ({"props": {"k": {"nested": 1}}}, "hits[1].props"),
    ({"ip": "999.1.1.1"}, "hits[1].ip"),
    ({"ip": None}, "hits[1].ip"),
    ({"user_agent": 5}, "hits[1].user_agent"),
    ({"dnt": "yes"}, "hits[1].dnt"),
    ({"site_id": "1"}, "hits[1].site_id"),
    ({"site_id": 2**40}, "hits[1].site_id"),
    ({"colour": "red"}, "hits[1].colour"),
])
def test_one_bad_hit_refuses_the_batch_naming_it(testapp, site, sender, stored, item, field):
    res = send(testapp, sender, [hit(site), {**hit(site), **item}], status=400)
    assert error_of(res)["field"] == field and error_of(res)["code"] == "invalid"
    assert stored() == 0


@pytest.mark.parametrize(("good", "bad"), [
    ({"width": 1}, {"width": True}),  # equal in Python (1 == True), not in JSON
    ({"width": 0}, {"width": False}),
    ({"width": 32_767}, {"width": 32_768}),  # the page's checks are remembered, not its widths
    ({"url": "https://blog.example.com/a"}, {"url": "https://blog.example.com/a", "props": {"k": [1]}}),
])
def test_a_checked_hit_vouches_for_no_other(testapp, site, sender, stored, good, bad):
    """The checks of a page seen before are remembered; a value equal to one checked before but
    of another type, or the same page with other fields, is checked again."""
    assert send(testapp, sender, [{**hit(site), **good}] * 2).json["accepted"] == 2
    field = next(iter(bad.keys() - good.keys() or bad.keys()))
    assert error_of(send(testapp, sender, [{**hit(site), **bad}], status=400))["field"] == f"hits[0].{field}"
    assert stored() == 2


def test_a_width_sent_as_a_whole_float_is_the_same_width(testapp, dbsession, site, sender, stored):
    send(testapp, sender, [hit(site, "/w", width=1280), hit(site, "/w", width=1280.0)])
    assert stored() == 2
    assert dbsession.scalars(select(Hit.width).where(Hit.site_id == site.id)).all() == [1280, 1280]


def test_a_missing_url_is_named(testapp, site, sender):
    item = hit(site)
    del item["url"]
    assert error_of(send(testapp, sender, [item], status=400))["field"] == "hits[0].url"


@pytest.mark.parametrize("body", [{}, {"hits": []}, {"hits": {}}, {"hits": [1]}, {"hits": [], "more": 1}])
def test_the_body_must_hold_hits(testapp, sender, body):
    res = testapp.post_json("/api/v1/events", body, headers=bearer(sender), status=400)
    assert error_of(res)["code"] == "invalid"


def test_a_batch_holds_at_most_1000_hits(testapp, site, sender, stored):
    assert send(testapp, sender, [hit(site)] * 1000).json["accepted"] == 1000
    assert error_of(send(testapp, sender, [hit(site)] * 1001, status=400))["field"] == "hits"
    assert stored() == 1000


def test_only_an_events_key_of_the_sites_user_sends_hits(testapp, dbsession, owner, other, make_site, site, stored):
    reader = make_key(dbsession, owner, scopes=("stats:read", "sites:write"))
    assert error_of(send(testapp, reader, [hit(site)], status=403))["code"] == "insufficient_scope"
    stranger = make_key(dbsession, other, scopes=("events:write",))
    assert error_of(send(testapp, stranger, [hit(site)], status=400))["field"] == "hits[0].site_id"
    elsewhere = make_site(owner, name="Shop", url="https://shop.example.com")
    limited = make_key(dbsession, owner, scopes=("events:write",), sites=[elsewhere])
    assert error_of(send(testapp, limited, [hit(site)], status=400))["field"] == "hits[0].site_id"
    assert error_of(send(testapp, limited, [{**hit(site), "site_id": 999999}], status=400))["field"] == "hits[0].site_id"
    assert error_of(testapp.post_json("/api/v1/events", {"hits": [hit(site)]}, status=401))["code"] == "unauthorized"
    assert stored() == 0


def test_a_full_buffer_keeps_none_of_the_batch(app, testapp, db_service, site, sender):
    store = Store(db_service.session_factory, max_pending=5)
    app.registry.registerUtility(store, IHitStore)
    res = send(testapp, sender, [hit(site)] * 6, status=503)
    assert error_of(res)["code"] == "unavailable" and res.headers["Retry-After"] == "10"
    assert store.pending == 0
    assert send(testapp, sender, [hit(site)] * 5).json["accepted"] == 5 and store.pending == 5


def test_a_large_body_is_a_413(testapp, sender):
    res = testapp.post("/api/v1/events", b"{" + b" " * (4 * 1024 * 1024) + b"}",
                       headers={**bearer(sender), "Content-Type": "application/json"}, status=413)
    assert error_of(res)["code"] == "too_large"


def test_a_back_end_sends_revenue_as_the_beacon_takes_it(testapp, dbsession, site, sender, stored):
    from decimal import Decimal

    good = hit(site, "/checkout", event="Purchase", revenue={"amount": "19.99", "currency": "USD"})
    assert send(testapp, sender, [good]).json == {"accepted": 1, "ignored": {}}
    assert stored() == 1
    [row] = dbsession.scalars(select(Hit).where(Hit.site_id == site.id)).all()
    assert (row.revenue_amount, row.revenue_currency) == (Decimal("19.99"), "USD")
    bad = hit(site, "/checkout", event="Purchase", revenue={"amount": "-5", "currency": "USD"})
    res = send(testapp, sender, [good, bad], status=400)
    assert error_of(res)["field"] == "hits[1].revenue.amount"
