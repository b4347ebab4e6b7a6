"""Hits the beacon ignores are counted per site and reason, and the dashboard says why."""

import json
from datetime import datetime

import pytest
from sqlalchemy import select

from tests.apiclient import bearer, make_key
from tests.hits import GOOGLEBOT
from tracking.ingest.ignored import IgnoredCounter
from tracking.interfaces import IDatabase, IHitStore, IIgnoredHits
from tracking.models import IgnoredHits

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(app):
    """The app's counter, on a clock the test moves."""
    clock = Clock()
    counter = IgnoredCounter(app.registry.getUtility(IDatabase).session_factory, interval=10, clock=clock)
    app.registry.registerUtility(counter, IIgnoredHits)
    return clock


@pytest.fixture
def send(testapp, site):
    def send(url="https://blog.example.com/", **headers):
        res = testapp.get(f"/sites/{site.id}/hit", params={"url": url}, headers={"User-Agent": CHROME, **headers})
        assert res.status_code == 204
        return res.headers.get("X-Tracking-Ignored")

    return send


def counts(dbsession, site):
    dbsession.expire_all()
    rows = dbsession.scalars(select(IgnoredHits).where(IgnoredHits.site_id == site.id))
    return {row.reason: (row.count, row.last_host) for row in rows}


def test_the_first_of_each_reason_is_written_at_once_the_rest_in_batches(clock, send, dbsession, site):
    assert send(DNT="1") == "dnt"
    assert counts(dbsession, site) == {"dnt": (1, "")}
    assert send(DNT="1") == send(DNT="1") == "dnt"
    assert counts(dbsession, site) == {"dnt": (1, "")}  # within the interval: kept in memory
    assert send(url="http://localhost:8000/") == "foreign-host"  # a new reason: written at once, with the rest
    assert counts(dbsession, site) == {"dnt": (3, ""), "foreign-host": (1, "localhost")}
    send(**{"Sec-GPC": "1"})
    send(DNT="1")
    clock.now += 10
    send(url="http://127.0.0.1/")
    assert counts(dbsession, site) == {"dnt": (4, ""), "foreign-host": (2, "127.0.0.1"), "gpc": (1, "")}
    assert send() is None and counts(dbsession, site)["dnt"][0] == 4  # a counted hit is not an ignored one


def test_the_peers_trackers_count_what_they_ignore_as_the_beacon_does(clock, testapp, dbsession, site):
    site.umami_website_id = "4fb7fa4c-5b46-438d-94b3-3a8fb9bc2e8b"
    dbsession.flush()
    headers = {"User-Agent": CHROME, "Content-Type": "text/plain"}
    plausible = {"n": "pageview", "u": "https://blog.example.com/", "d": "blog.example.com"}
    testapp.post("/api/event", json.dumps(plausible).encode(), headers={**headers, "DNT": "1"}, status=202)
    umami = {"type": "event", "payload": {"website": site.umami_website_id, "url": "http://localhost:8000/"}}
    testapp.post("/api/send", json.dumps(umami).encode(), headers=headers, status=200)
    assert counts(dbsession, site) == {"dnt": (1, ""), "foreign-host": (1, "localhost")}


def test_a_failed_write_keeps_its_counts(app, dbsession, site):
    calls = []

    def broken():
        calls.append(1)
        raise RuntimeError("database is locked")

    counter = IgnoredCounter(broken, interval=10, clock=Clock())
    counter.add(site.id, "dnt", datetime(2026, 3, 1, 12))
    counter.add(site.id, "dnt", datetime(2026, 3, 1, 13))
    counter.session_factory = app.registry.getUtility(IDatabase).session_factory
    counter.flush()
    assert calls == [1, 1] and counts(dbsession, site) == {"dnt": (2, "")}  # tried at once, kept, written
    assert dbsession.scalar(select(IgnoredHits.last_seen)) == datetime(2026, 3, 1, 13)


def test_the_dashboard_says_why_hits_were_ignored(clock, send, testapp, owner, site):
    send(url="http://localhost:8000/<b>x</b>")
    send(DNT="1")
    testapp.login(owner.email)
    page = testapp.get(f"/sites/{site.id}/")
    ignored = page.html.select_one("#ignored")
    assert ignored.has_attr("open")  # the site has no visit yet: shown unfolded, under the snippet
    assert ignored.find_previous(id="setup") is not None
    assert " ".join(ignored.select_one("summary").text.split()) == "2 hits ignored: why"
    rows = [[" ".join(td.get_text(" ").split()) for td in tr.select("td")] for tr in ignored.select("tbody tr")]
    assert {row[0].split(":")[0].split(",")[0] for row in rows} == {
        "the browser asks not to be tracked (Do Not Track)", "the page is not on the site's host or one of its sub-domains",
    }
    assert any("the last was on localhost" in row[0] for row in rows)
    assert [row[1] for row in rows] == ["1", "1"]
    live = testapp.get(f"/sites/{site.id}/live").json
    assert live["ignored"] == 2 and live["has_data"] is False


def test_deleting_a_site_deletes_its_counts(clock, send, testapp, owner, site, dbsession):
    send(DNT="1")
    testapp.login(owner.email)
    form = testapp.get(f"/sites/{site.id}/delete").forms["delete-site"]
    form["confirm"] = True
    form.submit("submit", status=303)
    dbsession.expire_all()
    assert dbsession.scalars(select(IgnoredHits)).all() == []


def test_the_apis_ignored_hits_are_counted_for_the_owner_and_shown(testapp, dbsession, owner, site):
    """A back end's batch (``POST /api/v1/events``) is counted as the beacon's hits are: each
    reason once per batch, with its count, written in the request (the first of a reason is
    written at once), and the owner's dashboard says why."""
    key = make_key(dbsession, owner, scopes=("events:write",))
    visitor = {"site_id": site.id, "ip": "203.0.113.50", "user_agent": CHROME}
    page = {**visitor, "url": "https://blog.example.com/"}
    batch = [{**page, "dnt": True}, {**page, "dnt": True}, {**page, "gpc": True},
             {**visitor, "url": "http://localhost:8000/a"}, {**visitor, "url": "http://127.0.0.1/b"},
             {**page, "user_agent": GOOGLEBOT}, page]
    res = testapp.post_json("/api/v1/events", {"hits": batch}, headers=bearer(key), status=202)
    assert res.json == {"accepted": 1, "ignored": {"dnt": 2, "gpc": 1, "foreign-host": 2, "bot": 1}}
    assert counts(dbsession, site) == {"dnt": (2, ""), "gpc": (1, ""), "foreign-host": (2, "127.0.0.1")}
    testapp.login(owner.email)
    ignored = testapp.get(f"/sites/{site.id}/").html.select_one("#ignored")
    assert " ".join(ignored.select_one("summary").text.split()) == "5 hits ignored: why"
    rows = [[" ".join(td.get_text(" ").split()) for td in tr.select("td")] for tr in ignored.select("tbody tr")]
    assert sorted(row[1] for row in rows) == ["1", "2", "2"]
    assert any("the last was on 127.0.0.1" in row[0] for row in rows)
    assert testapp.get(f"/sites/{site.id}/live").json["ignored"] == 5


def test_a_refused_batch_counts_nothing(app, testapp, dbsession, owner, site):
    """A batch refused whole (the buffer full: ``503``) is sent again by its sender: its
    ignored hits are counted then, not twice."""
    key = make_key(dbsession, owner, scopes=("events:write",))
    page = {"site_id": site.id, "ip": "203.0.113.50", "user_agent": CHROME, "url": "https://blog.example.com/"}
    app.registry.getUtility(IHitStore).max_pending = 0
    testapp.post_json("/api/v1/events", {"hits": [{**page, "dnt": True}, page]}, headers=bearer(key), status=503)
    assert counts(dbsession, site) == {}


def test_a_batch_for_two_sites_counts_each_sites_own(testapp, dbsession, owner, site, make_site):
    shop = make_site(owner, name="Shop", url="https://shop.example.com")
    key = make_key(dbsession, owner, scopes=("events:write",))
    visitor = {"ip": "203.0.113.50", "user_agent": CHROME, "dnt": True}
    batch = [{**visitor, "site_id": site.id, "url": "https://blog.example.com/"}] * 2
    batch += [{**visitor, "site_id": shop.id, "url": "https://shop.example.com/"}] * 3
    res = testapp.post_json("/api/v1/events", {"hits": batch}, headers=bearer(key), status=202)
    assert res.json == {"accepted": 0, "ignored": {"dnt": 5}}
    assert counts(dbsession, site) == {"dnt": (2, "")} and counts(dbsession, shop) == {"dnt": (3, "")}
