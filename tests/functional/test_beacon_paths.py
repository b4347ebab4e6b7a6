"""The beacon's two paths: ``/sites/<id>/hit``, the one the snippet gives, and ``/sites/<id>/visit``,
the path of earlier snippets still on customers' pages. Both are the same view and answer alike,
for every kind of request and error."""

import json
import logging

import pytest
from sqlalchemy import select

from tests.hits import CHROME, GOOGLEBOT
from tracking.ingest import BEACON_PATH, is_beacon
from tracking.ingest.limits import RateLimiter
from tracking.ingest.store import Store
from tracking.interfaces import IBeaconLimiter, IHitPipeline, IHitStore
from tracking.models import Hit

PATHS = ("hit", "visit")
PAGE = "https://blog.example.com/pricing?plan=pro"
#: Headers that differ from one response to the next whatever the path.
VARYING = {"date", "x-request-id"}


def answer(res) -> tuple:
    """What a client sees of a response: status, headers (those that vary on every response left
    out) and body."""
    headers = sorted((name.lower(), value) for name, value in res.headerlist if name.lower() not in VARYING)
    return res.status_code, headers, res.body


def both(testapp, request, *, site_id) -> dict[str, tuple]:
    """``request(testapp, url)`` sent to each path of the site; the answers by path."""
    return {name: answer(request(testapp, f"/sites/{site_id}/{name}")) for name in PATHS}


def ua(agent=CHROME, **more):
    return {"User-Agent": agent, **more}


#: kind → the request, sent to a path
REQUESTS = {
    "GET, stored": lambda t, url: t.get(url, params={"url": PAGE}, headers=ua(), status="*"),
    "POST JSON as sendBeacon sends it": lambda t, url: t.post(
        url, json.dumps({"url": PAGE, "event": "signup", "props": {"plan": "pro"}}),
        headers=ua(**{"Content-Type": "text/plain"}), status="*"),
    "POST form": lambda t, url: t.post(url, {"url": PAGE}, headers=ua(), status="*"),
    "pixel, from the Referer": lambda t, url: t.get(url, headers=ua(Referer=PAGE), status="*"),
    "bot": lambda t, url: t.get(url, params={"url": PAGE}, headers=ua(GOOGLEBOT), status="*"),
    "DNT": lambda t, url: t.get(url, params={"url": PAGE}, headers=ua(DNT="1"), status="*"),
    "foreign host": lambda t, url: t.get(url, params={"url": "https://elsewhere.example.net/"}, headers=ua(), status="*"),
    "400 bad input": lambda t, url: t.get(url, params={"url": "ftp://x", "width": "wide"}, headers=ua(), status="*"),
    "400 bad JSON": lambda t, url: t.post(url, "{not json", headers=ua(**{"Content-Type": "text/plain"}), status="*"),
    "405 PUT": lambda t, url: t.put(url, "", headers=ua(), status="*"),
    "405 DELETE": lambda t, url: t.delete(url, headers=ua(), status="*"),
    "405 HEAD": lambda t, url: t.head(url, headers=ua(), status="*"),
    "OPTIONS preflight": lambda t, url: t.options(url, headers=ua(Origin="https://blog.example.com"), status="*"),
    "413 body": lambda t, url: t.post(url, "x" * 9000, headers=ua(**{"Content-Type": "text/plain"}), status="*"),
    "414 query": lambda t, url: t.get(url + "?url=" + "a" * 9000, headers=ua(), status="*"),
}


STATUS = {
    "GET, stored": 204, "POST JSON as sendBeacon sends it": 204, "POST form": 204, "pixel, from the Referer": 204,
    "bot": 204, "DNT": 204, "foreign host": 204, "400 bad input": 400, "400 bad JSON": 400, "405 PUT": 405,
    "405 DELETE": 405, "405 HEAD": 405, "OPTIONS preflight": 204, "413 body": 413, "414 query": 414,
}


@pytest.mark.parametrize("kind", REQUESTS)
def test_both_paths_answer_alike(testapp, stored, dbsession, site, kind):
    answers = both(testapp, REQUESTS[kind], site_id=site.id)
    assert answers["hit"] == answers["visit"]
    assert answers["hit"][0] == STATUS[kind]
    assert "set-cookie" not in {name for name, _ in answers["hit"][1]}
    assert stored() == (2 if kind in ("GET, stored", "POST JSON as sendBeacon sends it", "POST form", "pixel, from the Referer", "bot") else 0)


def test_both_paths_store_the_same_hit(testapp, stored, dbsession, site):
    both(testapp, REQUESTS["POST JSON as sendBeacon sends it"], site_id=site.id)
    assert stored() == 2
    first, second = dbsession.scalars(select(Hit).where(Hit.site_id == site.id).order_by(Hit.id))
    fields = [column.key for column in Hit.__table__.columns if column.key not in ("id", "ts", "is_first")]
    assert [getattr(first, name) for name in fields] == [getattr(second, name) for name in fields]
    assert (first.event, first.path, first.props) == ("signup", "/pricing", {"plan": "pro"})
    assert first.visit_id is not None  # one visitor, one visit, whichever path the hits took


@pytest.mark.parametrize("site_name", ["999999", "abc", "-1", "99999999999999999999999"])
def test_an_unknown_site_is_the_same_json_404_on_both_paths(testapp, site_name):
    answers = both(testapp, REQUESTS["GET, stored"], site_id=site_name)
    assert answers["hit"] == answers["visit"]
    assert answers["hit"][0] == 404 and json.loads(answers["hit"][2]) == {"errors": {"site": "no such site"}}


def test_both_paths_share_one_allowance_and_answer_429_alike(app, testapp, site, monkeypatch):
    """The limit is per client and site, whichever path the hits take: a flood cannot double its
    allowance by alternating them."""
    app.registry.registerUtility(RateLimiter(0.001, 2, clock=lambda: 1000.0), IBeaconLimiter)
    send = REQUESTS["GET, stored"]
    assert [send(testapp, f"/sites/{site.id}/{name}").status_code for name in PATHS] == [204, 204]
    answers = both(testapp, send, site_id=site.id)
    assert answers["hit"] == answers["visit"]
    assert answers["hit"][0] == 429 and json.loads(answers["hit"][2]) == {"errors": {"rate": "too many hits; retry later"}}


def test_both_paths_answer_503_alike_when_the_buffer_is_full(app, testapp, site, db_service):
    app.registry.registerUtility(Store(db_service.session_factory, max_pending=0), IHitStore)
    answers = both(testapp, REQUESTS["GET, stored"], site_id=site.id)
    assert answers["hit"] == answers["visit"] and answers["hit"][0] == 503


class FailingPipeline:
    def process(self, *args, **kwargs):
        raise RuntimeError("boom")

    def warm_up(self):
        pass


def test_a_fault_is_the_same_json_500_on_both_paths(app, testapp, site):
    app.registry.registerUtility(FailingPipeline(), IHitPipeline)
    answers = both(testapp, REQUESTS["GET, stored"], site_id=site.id)
    assert answers["hit"] == answers["visit"]
    assert answers["hit"][0] == 500 and json.loads(answers["hit"][2]) == {"errors": {"server": "internal error"}}


@pytest.mark.parametrize("name", PATHS)
def test_both_paths_are_the_beacon_for_the_transaction_and_the_log(testapp, site, caplog, name):
    """No request transaction and no log line above DEBUG for either path; a page that merely
    starts like one is no beacon."""
    path = f"/sites/{site.id}/{name}"
    assert BEACON_PATH.match(path) and BEACON_PATH.match(path + "/")
    assert not BEACON_PATH.match(path + "s/") and not BEACON_PATH.match(f"/sites/{site.id}/{name}x")

    class Request:
        environ = {"PATH_INFO": path}

    assert is_beacon(Request)
    with caplog.at_level(logging.INFO, logger="tracking.requestlog"):
        testapp.get(path, params={"url": PAGE}, headers=ua())
    assert not [record for record in caplog.records if record.name == "tracking.requestlog"]

