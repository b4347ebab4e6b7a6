"""A site's common referrers, campaigns, regions, cities and entry pages get summary rows of their
own, chosen once a day by a job the writer queues, counted whole when chosen, and read by a
filter on one of them."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.hits import make_hit, segment_summaries
from tests.reading import SiteReports
from tracking.ingest.store import Store
from tracking.interfaces import IDatabase
from tracking.models import Job, SegmentStat, SegmentValue, Site
from tracking.reports.periods import Period
from tracking.reports.planner import plan
from tracking.summaries import jobs, segments
from tracking.summaries.rebuild import rebuild

T = datetime(2026, 6, 10, 12, 0)


@pytest.fixture
def factory(app):
    return app.registry.getUtility(IDatabase).session_factory


def visits(site, start: datetime, referrers: dict[str, int], path: str = "/", first_ip: int = 0) -> list:
    """One single-page visit per visitor: ``n`` of them from each referrer (``""``: none)."""
    hits = []
    n = first_ip
    for referrer, count in referrers.items():
        for _ in range(count):
            url = f"https://{referrer}/" if referrer else ""
            hits.append(make_hit(site, start + timedelta(seconds=n), path, referrer=url, ip=f"10.0.{n // 250}.{n % 250}"))
            n += 1
    return hits


def numbers(overview):
    """What a dashboard shows: totals (now and before), the chart, every panel's rows."""
    return (overview.totals, overview.before, overview.series,
            {dim: panel.rows for dim, panel in overview.panels.items()})


def chosen(dbsession, site_id: int) -> set[tuple[str, str]]:
    dbsession.expire_all()
    return set(dbsession.execute(select(SegmentValue.segment, SegmentValue.value).where(SegmentValue.site_id == site_id)).tuples())


def test_the_common_values_are_chosen_and_counted_from_the_raw_rows(dbsession, make_site, owner):
    site = make_site(owner, url="https://example.com", timezone="UTC")
    # 200 visits: 1 % is 2 visits. A referrer of one visit is rare; no referrer is never chosen.
    Store(None).write_batch(dbsession, visits(site, T, {"google.com": 120, "bing.com": 40, "rare.example": 1, "": 39}))
    added = segments.choose_values(dbsession, site.id, T.date())
    assert added == {"referrer": ["google.com", "bing.com"], "entry": ["/"], "exit": ["/"], "page": ["/"]}
    assert chosen(dbsession, site.id) == {("referrer", "google.com"), ("referrer", "bing.com"), ("entry", "/"),
                                          ("exit", "/"), ("page", "/")}
    assert dbsession.get(Site, site.id).values_chosen_on == T.date()
    rows = segment_summaries(dbsession, site.id)
    # The site's total row of each value: its visitors, visits, page views, bounces, duration, events.
    assert rows[("referrer", "google.com", "", T.date(), "")] == (120, 120, 120, 120, 0, 0)
    assert rows[("referrer", "bing.com", "page", T.date(), "/")] == (40, 0, 40, 0, 0, 0)
    assert not any(key[:2] == ("referrer", "rare.example") for key in rows)
    assert rows[("page", "/", "", T.date(), "")] == (200, 200, 200, 200, 0, 0)
    counted = {key: counts for key, counts in rows.items() if key[0] in ("referrer", "entry", "page")}
    rebuild(dbsession, site.id)  # recounts the chosen values with the rest: the same rows
    assert {key: counts for key, counts in segment_summaries(dbsession, site.id).items()
            if key[0] in ("referrer", "entry", "page")} == counted
    # Nothing new the next day: nothing counted again.
    assert segments.choose_values(dbsession, site.id, T.date() + timedelta(days=1)) == {}
    assert segment_summaries(dbsession, site.id) == rows


def test_a_chosen_value_is_kept_up_by_the_writer_and_read_by_its_filter(dbsession, make_site, owner):
    site = make_site(owner, url="https://example.com", timezone="UTC")
    Store(None).write_batch(dbsession, visits(site, T, {"google.com": 30, "bing.com": 10}))
    segments.choose_values(dbsession, site.id, T.date())
    # The next day: more visits, and one of yesterday's visitors' visit continues.
    later = T + timedelta(days=1)
    Store(None).write_batch(dbsession, [make_hit(site, T + timedelta(minutes=10), "/pricing", ip="10.0.0.0"),
                                        *visits(site, later, {"google.com": 5}, first_ip=100)])
    period = Period("custom", T.date() - timedelta(days=5), T.date() + timedelta(days=2))
    values = frozenset(chosen(dbsession, site.id))
    summarized = SiteReports(dbsession, site.id, "UTC", segmented=True, values=values)
    raw = SiteReports(dbsession, site.id, "UTC")
    google = summarized.overview(period, {"referrer": "google.com"}, ("page", "entry", "exit", "country"), limit=50)
    assert (google.totals.visitors, google.totals.visits, google.totals.pageviews, google.totals.bounces) == (35, 35, 36, 34)
    assert {row.value: row.pageviews for row in google.panels["page"].rows} == {"/": 35, "/pricing": 1}
    assert {row.value: row.visits for row in google.panels["exit"].rows} == {"/": 34, "/pricing": 1}
    # The continued visit left the exit page "/"'s rows (its hits with it) and joined none.
    left = summarized.overview(period, {"exit": "/"}, ("page",), limit=50)
    assert (left.totals.visits, left.totals.pageviews) == (44, 44)
    assert {row.value for row in left.panels["page"].rows} == {"/"}
    for filters in ({"referrer": "google.com"}, {"referrer": "bing.com"}, {"entry": "/"}, {"exit": "/"}):
        assert plan(summarized.query(period, filters)).segment == next(iter(filters.items()))  # rule 9
        dims = ("page", "entry", "exit", "referrer", "source")
        assert numbers(summarized.overview(period, filters, dims, limit=50)) == numbers(
            raw.overview(period, filters, dims, limit=50))
    before = segment_summaries(dbsession, site.id)
    rebuild(dbsession, site.id)
    assert segment_summaries(dbsession, site.id) == before


def test_values_no_longer_common_make_room_when_a_dimension_is_full(dbsession, make_site, owner, monkeypatch):
    monkeypatch.setattr(segments, "MAX_PER_SEGMENT", 2)
    site = make_site(owner, url="https://example.com", timezone="UTC")
    Store(None).write_batch(dbsession, visits(site, T, {"a.example": 10, "b.example": 10}))
    segments.choose_values(dbsession, site.id, T.date())
    assert {value for segment, value in chosen(dbsession, site.id) if segment == "referrer"} == {"a.example", "b.example"}
    # Forty days later only c.example brings visits: it takes the place of the first stale value.
    later = T + timedelta(days=40)
    Store(None).write_batch(dbsession, visits(site, later, {"c.example": 10}, first_ip=100))
    assert segments.choose_values(dbsession, site.id, later.date()) == {"referrer": ["c.example"]}
    assert {value for segment, value in chosen(dbsession, site.id) if segment == "referrer"} == {"b.example", "c.example"}
    left = {key[1] for key in segment_summaries(dbsession, site.id) if key[0] == "referrer"}
    assert left == {"b.example", "c.example"}  # a.example's rows went with it
    stored = {row.segment_value for row in dbsession.scalars(
        select(SegmentStat).where(SegmentStat.site_id == site.id, SegmentStat.segment == "referrer"))}
    assert stored == {"b.example", "c.example"}


def test_the_writer_queues_one_choice_a_day_per_site_and_runs_it(dbsession, factory, make_site, owner):
    site = make_site(owner, url="https://example.com", timezone="UTC")
    other = make_site(owner, url="https://example.org", timezone="UTC")
    Store(None).write_batch(dbsession, visits(site, T, {"google.com": 20}))
    dbsession.flush()
    now = [T + timedelta(hours=1)]
    store = Store(factory, clock=lambda: now[0])
    store._run_jobs()  # the writer, between batches, on the day it started: nothing to queue
    dbsession.expire_all()
    assert dbsession.scalars(select(Job).where(Job.kind == jobs.VALUES)).all() == []
    now[0] = T + timedelta(days=1, hours=1)
    store._run_jobs()  # the next day: queues each site's choice, runs one
    store._run_jobs()
    dbsession.expire_all()
    done = dbsession.scalars(select(Job).where(Job.kind == jobs.VALUES).order_by(Job.site_id)).all()
    assert [(job.site_id, job.state) for job in done] == [(site.id, jobs.DONE), (other.id, jobs.DONE)]
    assert ("referrer", "google.com") in chosen(dbsession, site.id)
    assert dbsession.get(Site, other.id).values_chosen_on == now[0].date()
    # Chosen today: nothing more is queued today, by this writer or another.
    assert jobs.queue_values(factory, now[0] + timedelta(hours=5)) == 0
    # The day after, one each again, and a waiting one is not doubled.
    assert jobs.queue_values(factory, T + timedelta(days=2)) == 2
    assert jobs.queue_values(factory, T + timedelta(days=2, hours=1)) == 0


def test_a_visit_that_views_a_chosen_page_later_brings_its_earlier_hits_into_the_pages_rows(
        dbsession, make_site, owner):
    site = make_site(owner, url="https://example.com", timezone="UTC")
    # 200 visits of /pricing make it common; one visit of /a (0.5 %) does not make /a common.
    Store(None).write_batch(dbsession, [*visits(site, T, {"": 200}, path="/pricing"),
                                        make_hit(site, T, "/a", ip="192.0.2.1")])
    assert segments.choose_values(dbsession, site.id, T.date())["page"] == ["/pricing"]
    # In a later batch that visit goes on to /pricing: it joins the page's rows with its /a.
    Store(None).write_batch(dbsession, [make_hit(site, T + timedelta(minutes=3), "/pricing", ip="192.0.2.1")])
    rows = segment_summaries(dbsession, site.id)
    assert rows[("page", "/pricing", "page", T.date(), "/a")] == (1, 0, 1, 0, 0, 0)
    assert rows[("page", "/pricing", "", T.date(), "")] == (201, 201, 202, 200, 180, 0)
    assert rows[("page", "/pricing", "exit", T.date(), "/pricing")][1] == 201
    rebuild(dbsession, site.id)
    assert segment_summaries(dbsession, site.id) == rows


def test_a_visit_whose_exit_page_changes_moves_between_the_exit_pages_rows(dbsession, make_site, owner):
    """A chosen exit page's rows hold the visits that end on it: a visit continued in a later
    batch leaves the former exit page's rows with everything it counted there, its earlier hits
    read back, and joins the new one's with them; the filters read what the raw rows say."""
    site = make_site(owner, url="https://example.com", timezone="UTC")
    ips = {"a": "192.0.2.1", "b": "192.0.2.2", "c": "192.0.2.3"}
    Store(None).write_batch(dbsession, [
        *visits(site, T, {"": 60}), *visits(site, T, {"": 40}, path="/pricing", first_ip=100),
        make_hit(site, T, "/", ip=ips["a"]), make_hit(site, T + timedelta(minutes=1), "/docs", ip=ips["b"]),
        make_hit(site, T, "/", ip=ips["c"]),
        make_hit(site, T + timedelta(minutes=1), "/", event="Signup", ip=ips["c"], props={"plan": "pro"}),
    ])
    assert segments.choose_values(dbsession, site.id, T.date())["exit"] == ["/", "/pricing"]
    # a: "/" → "/pricing" (from one chosen exit page to another); b: "/docs" → "/" (joins one);
    # c: "/" → "/docs" (leaves one, with its event).
    Store(None).write_batch(dbsession, [
        make_hit(site, T + timedelta(minutes=4), "/pricing", ip=ips["a"]),
        make_hit(site, T + timedelta(minutes=4), "/", ip=ips["b"]),
        make_hit(site, T + timedelta(minutes=4), "/docs", ip=ips["c"]),
    ])
    rows = segment_summaries(dbsession, site.id)
    # "/": its 60 visits and b's; "/pricing": its 40 and a's, with a's page view of "/".
    assert rows[("exit", "/", "", T.date(), "")][:3] == (61, 61, 62)
    assert rows[("exit", "/", "page", T.date(), "/docs")][2] == 1
    assert rows[("exit", "/pricing", "", T.date(), "")][:3] == (41, 41, 42)
    assert rows[("exit", "/pricing", "page", T.date(), "/")][2] == 1
    assert ("exit", "/", "event", T.date(), "Signup") not in rows
    period = Period("custom", T.date() - timedelta(days=1), T.date() + timedelta(days=1))
    summarized = SiteReports(dbsession, site.id, "UTC", segmented=True, values=frozenset(chosen(dbsession, site.id)))
    raw = SiteReports(dbsession, site.id, "UTC")
    dims = ("page", "event", "prop", "entry", "exit", "country")
    for value in ("/", "/pricing"):
        filters = {"exit": value}
        assert plan(summarized.query(period, filters)).segment == ("exit", value)
        assert numbers(summarized.overview(period, filters, dims, limit=50)) == numbers(
            raw.overview(period, filters, dims, limit=50)), value
    rebuild(dbsession, site.id)
    assert segment_summaries(dbsession, site.id) == rows
