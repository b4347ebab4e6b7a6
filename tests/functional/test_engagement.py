"""Plausible's ``engagement`` events are measurements of the page view before them: kept, never
counted as page views, visits, visitors or events; they keep the visit going (its duration), and
the details of the Pages panel show each page's time on page and scroll depth from them."""

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.apiclient import bearer, make_key
from tests.hits import CHROME, segment_summaries
from tracking.ingest.spool import claim, spool_hits
from tracking.models import Engagement, Goal, Hit, IgnoredHits, Visit
from tracking.reports import api
from tracking.reports.periods import Period
from tracking.reports.query import Filter, SiteRef, StatsQuery
from tracking.summaries.dimensions import GOAL
from tracking.summaries.goals import rebuild_goals

T = datetime(2026, 6, 2, 9, 0)
DAY = {"period": "custom", "from": "2026-06-02", "to": "2026-06-02"}
PERIOD = Period("custom", T.date(), T.date() + timedelta(days=1))
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture
def clock(monkeypatch):
    """The drop-in's clock, set by the test: ``clock(seconds)`` is ``T`` plus that many seconds."""
    now = [T]
    monkeypatch.setattr("tracking.views.dropins.utcnow", lambda: now[0])

    def at(seconds: float) -> None:
        now[0] = T + timedelta(seconds=seconds)

    return at


def send(testapp, body, status=202, user_agent=CHROME, address="192.0.2.10", **headers):
    body = {"d": "blog.example.com", **body}
    return testapp.post("/api/event", json.dumps(body).encode(), status=status, extra_environ={"REMOTE_ADDR": address},
                        headers={"User-Agent": user_agent, "Content-Type": "text/plain", **headers})


def page_view(testapp, path, **kw):
    return send(testapp, {"n": "pageview", "u": f"https://blog.example.com{path}"}, **kw)


def engagement(testapp, path, e=None, sd=None, status=202, **kw):
    body = {"n": "engagement", "u": f"https://blog.example.com{path}", "p": {}, "v": 27}
    body.update({key: value for key, value in (("e", e), ("sd", sd)) if value is not None})
    return send(testapp, body, status, **kw)


def counts(dbsession, site) -> tuple:
    return (dbsession.scalar(select(func.count()).select_from(Hit).where(Hit.site_id == site.id)),
            dbsession.scalar(select(func.count()).select_from(Visit).where(Visit.site_id == site.id)),
            dbsession.scalar(select(func.count()).select_from(Engagement).where(Engagement.site_id == site.id)))


def totals(dbsession, site, filters=()):
    query = StatsQuery(SiteRef(site.id, site.timezone), PERIOD, filters)
    return api.aggregate(dbsession, query).totals


def details(testapp, site, **filters) -> dict[str, dict[str, str]]:
    """The Pages panel's details: each page's cells, by heading."""
    page = testapp.get(f"/sites/{site.id}/panel", params={**DAY, "dim": "page", **filters})
    headings = [th.text.strip() for th in page.html.select("table thead th")]
    rows = {}
    for tr in page.html.select("table tbody tr"):
        cells = [td.text.strip() for td in tr.select("td")]
        rows[cells[0]] = dict(zip(headings[1:], cells[1:], strict=True))
    return rows


@pytest.fixture
def visit(testapp, dbsession, site, owner, clock, stored):
    """One visit: /pricing read 35 s and scrolled to 60 %, then /docs read 1 min 10 s in two
    reports, scrolled to the end (its second report says 120 %: the page shrank)."""
    clock(0)
    page_view(testapp, "/pricing")
    clock(40)
    engagement(testapp, "/pricing", e=35_000, sd=60)
    clock(50)
    page_view(testapp, "/docs")
    clock(120)
    engagement(testapp, "/docs", e=60_000, sd=100)
    clock(180)
    engagement(testapp, "/docs", e=10_000, sd=120)
    assert stored() == 5
    testapp.login(owner.email)
    return dbsession.scalars(select(Visit).where(Visit.site_id == site.id)).one()


def test_engagements_count_nothing_and_keep_the_visit_going(dbsession, site, visit):
    assert counts(dbsession, site) == (2, 1, 3)
    assert (visit.pageviews, visit.events, visit.exit_path, visit.is_bounce) == (2, 0, "/docs", False)
    assert visit.ended_at == T + timedelta(seconds=180) and visit.duration == 180
    stored = dbsession.scalars(select(Engagement).order_by(Engagement.ts)).all()
    assert [(e.visit_id, e.path, e.engaged_ms, e.scroll_depth) for e in stored] == [
        (visit.id, "/pricing", 35_000, 60), (visit.id, "/docs", 60_000, 100), (visit.id, "/docs", 10_000, 100),
    ]
    for filters in ((), (Filter("source", "direct"),)):  # the summaries, then the raw visits
        shown = totals(dbsession, site, filters)
        assert (shown.visitors, shown.visits, shown.pageviews, shown.events, shown.bounces) == (1, 1, 2, 0, 0)
        assert shown.average_duration == 180


def test_a_single_page_visit_with_an_engagement_has_a_duration_and_still_bounces(
        testapp, dbsession, site, clock, stored):
    clock(0)
    page_view(testapp, "/")
    clock(95)
    engagement(testapp, "/", e=90_000, sd=30)
    stored()
    [visit] = dbsession.scalars(select(Visit).where(Visit.site_id == site.id)).all()
    assert (visit.duration, visit.pageviews, visit.is_bounce) == (95, 1, True)
    shown = totals(dbsession, site)
    assert (shown.visits, shown.pageviews, shown.bounces, shown.duration) == (1, 1, 1, 95)


@pytest.mark.parametrize("filters", [{}, {"source": "direct"}, {"page": "/docs"}], ids=["summaries", "source", "page"])
def test_the_pages_details_show_time_on_page_and_scroll_depth(testapp, site, visit, filters):
    rows = details(testapp, site, **filters)
    assert {page: (row["Time on page"], row["Scroll depth"]) for page, row in rows.items()} == {
        "/pricing": ("35s", "60%"), "/docs": ("1m 10s", "100%"),
    }
    assert rows["/docs"]["Page views"] == "1" and rows["/docs"]["Visits"] == "1"


def test_a_list_of_more_pages_than_are_looked_up_by_name_has_the_same_figures(testapp, site, visit, monkeypatch):
    monkeypatch.setattr("tracking.reports.engagement.MAX_NAMED", 1)
    rows = details(testapp, site)
    assert {page: (row["Time on page"], row["Scroll depth"]) for page, row in rows.items()} == {
        "/pricing": ("35s", "60%"), "/docs": ("1m 10s", "100%"),
    }


def test_the_averages_are_per_visit_and_a_page_without_measurement_has_none(
        testapp, dbsession, site, visit, clock, stored):
    # A second visitor reads /pricing for 25 s without scrolling report; /about is never measured.
    clock(300)
    page_view(testapp, "/pricing", address="198.51.100.7")
    clock(330)
    engagement(testapp, "/pricing", e=25_000, address="198.51.100.7")
    page_view(testapp, "/about", address="198.51.100.7")
    stored()
    rows = details(testapp, site)
    # (35 + 25) / 2 visits = 30 s; the depth of the one visit that reported one.
    assert (rows["/pricing"]["Time on page"], rows["/pricing"]["Scroll depth"]) == ("30s", "60%")
    assert (rows["/about"]["Time on page"], rows["/about"]["Scroll depth"]) == ("—", "—")
    csv = testapp.get(f"/sites/{site.id}/export.csv", params={**DAY, "dim": "page"}).text.splitlines()
    assert csv[0] == "Page,visitors,visits,pageviews,entries,bounce_rate,average_duration,time_on_page,scroll_depth,share"
    by_page = {line.split(",")[0]: line.split(",") for line in csv[1:]}
    assert by_page["/pricing"][7:9] == ["30", "60.0"] and by_page["/about"][7:9] == ["", ""]


def test_the_api_breakdown_of_pages_has_them(testapp, dbsession, owner, site, visit):
    key = make_key(dbsession, owner)
    body = testapp.get(f"/api/v1/sites/{site.id}/breakdown", params={**DAY, "dimension": "page"}, headers=bearer(key)).json
    assert {row["value"]: (row["time_on_page"], row["scroll_depth"]) for row in body["results"]} == {
        "/pricing": (35.0, 60.0), "/docs": (70.0, 100.0),
    }


@pytest.mark.parametrize(("e", "sd", "field"), [
    (-1, 50, "e"), (86_400_001, 50, "e"), (1.5, 50, "e"), ("12000", 50, "e"), (True, 50, "e"), ([1], 50, "e"),
    (1000, -1, "sd"), (1000, 50.5, "sd"), (1000, "80", "sd"), (1000, False, "sd"), (1000, {"x": 1}, "sd"),
    (None, None, "e"),
])
def test_a_bad_measurement_is_a_400_naming_the_field(testapp, dbsession, site, clock, stored, e, sd, field):
    page_view(testapp, "/")
    res = engagement(testapp, "/", e=e, sd=sd, status=400)
    assert res.content_type == "application/json" and list(res.json["errors"]) == [field]
    assert stored() == 1 and counts(dbsession, site) == (1, 1, 0)


def test_an_engagement_without_its_page_view_is_not_kept(testapp, dbsession, site, clock, stored):
    clock(0)
    engagement(testapp, "/", e=5_000, sd=10)  # no page view before it
    assert stored() == 1 and counts(dbsession, site) == (0, 0, 0)
    clock(10)
    page_view(testapp, "/")
    clock(3 * 3600)
    engagement(testapp, "/", e=5_000, sd=10)  # hours after the visit ended
    assert stored() == 2
    assert counts(dbsession, site) == (1, 1, 0)
    assert dbsession.scalars(select(Visit.duration)).one() == 0


def test_a_long_read_reported_late_still_belongs_to_its_visit(testapp, dbsession, site, clock, stored):
    """Focused for 45 minutes on one page: the report comes 45 minutes after the page view, and
    the visit was active all along."""
    clock(0)
    page_view(testapp, "/long-read")
    clock(45 * 60)
    engagement(testapp, "/long-read", e=45 * 60_000, sd=100)
    stored()
    assert counts(dbsession, site) == (1, 1, 1)
    assert dbsession.scalars(select(Visit.duration)).one() == 45 * 60


def test_ignored_engagements_are_not_kept_nor_counted_as_ignored_hits(testapp, dbsession, site, clock, stored):
    page_view(testapp, "/", user_agent=GOOGLEBOT)
    engagement(testapp, "/", e=5_000, sd=10, user_agent=GOOGLEBOT)
    page_view(testapp, "/", DNT="1")
    engagement(testapp, "/", e=5_000, sd=10, DNT="1")
    stored()
    assert counts(dbsession, site) == (1, 0, 0)  # the bot's page view, kept as a bot hit
    [ignored] = dbsession.scalars(select(IgnoredHits)).all()
    assert (ignored.reason, ignored.count) == ("dnt", 1)


def test_an_engagement_survives_the_spool(tmp_path, app, testapp, dbsession, site, clock, stored):
    from tracking.interfaces import IHitStore

    page_view(testapp, "/")
    stored()
    clock(20)
    engagement(testapp, "/", e=19_000, sd=40)
    store = app.registry.getUtility(IHitStore)
    with store._cond:
        held = list(store._queue)
        store._queue.clear()
    spool_hits(tmp_path, held)
    [(file, again)] = claim(tmp_path)
    file.release()
    assert [(hit.event, hit.engaged_ms, hit.scroll_depth) for hit in again] == [("engagement", 19_000, 40)]
    store.submit_many(again)
    stored()
    assert counts(dbsession, site) == (1, 1, 1)
    assert dbsession.scalars(select(Visit.duration)).one() == 20


def test_the_time_engagements_add_counts_in_the_segment_of_a_goal_the_visit_converted_on(
        testapp, dbsession, site, clock, stored):
    pricing = Goal(site_id=site.id, name="Pricing", kind="page", pattern="/pricing")
    dbsession.add(pricing)
    dbsession.flush()
    clock(0)
    page_view(testapp, "/pricing")
    clock(40)
    engagement(testapp, "/pricing", e=35_000, sd=60)
    stored()
    clock(100)
    engagement(testapp, "/pricing", e=55_000, sd=80)
    stored()
    total = (GOAL, str(pricing.id), "", T.date(), "")
    kept = segment_summaries(dbsession, site.id)
    assert kept[total] == (1, 1, 1, 1, 100, 0)  # one visit of one page, 100 s long
    rebuild_goals(dbsession, site.id)
    assert segment_summaries(dbsession, site.id) == kept
