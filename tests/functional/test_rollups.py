"""The summary tables always agree with the raw tables."""

from datetime import datetime, timedelta
from itertools import pairwise, product

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from tests.hits import CHROME, FIREFOX_LINUX, GOOGLEBOT, IPHONE, make_hit, segment_summaries, summaries
from tests.reading import SiteReports
from tracking.ingest.store import Store
from tracking.models import DailySalt, DailyStat, Goal, Hit, HourlyStat, SegmentStat, SegmentValue, Visit
from tracking.reports import api
from tracking.reports.periods import Period
from tracking.reports.planner import plan
from tracking.summaries.dimensions import (
    HIT_DIMENSIONS,
    SEGMENTS,
    TOP_SEGMENTS,
    VISIT_DIMENSIONS,
    VISITOR_DIMENSIONS,
)
from tracking.summaries.goals import rebuild_goals
from tracking.summaries.rebuild import rebuild
from tracking.summaries.segments import choose_values
from tracking.timezones import local_day

UAS = [CHROME, IPHONE, FIREFOX_LINUX, GOOGLEBOT]
#: Each visitor's country, as the geo database would say of their address (none here).
COUNTRIES = ["DE", "FR", "DE", "", "US"]
START = datetime(2026, 3, 28, 20, 0)  # the night Paris moves to summer time
#: The day the common values are chosen: the hits' days are among its last 30.
CHOSEN_ON = START.date() + timedelta(days=3)

hit_strategy = st.fixed_dictionaries({
    "minute": st.integers(0, 60 * 30),
    "visitor": st.integers(0, 4),
    "ua": st.sampled_from(UAS),
    "path": st.sampled_from(["/", "/a", "/b", "/c?x=1"]),
    "event": st.sampled_from(["pageview", "pageview", "pageview", "signup", "outbound"]),
    "referrer": st.sampled_from(["", "https://www.google.com/", "https://news.ycombinator.com/", "https://example.com/a"]),
    "utm": st.sampled_from(["", "utm_source=newsletter&utm_medium=email&utm_campaign=spring"]),
    "plan": st.sampled_from([None, "pro", "free"]),
})


def make_hits(site, specs, start=START, countries=COUNTRIES):
    hits = []
    for spec in sorted(specs, key=lambda s: s["minute"]):
        path = spec["path"] + (("&" if "?" in spec["path"] else "?") + spec["utm"] if spec["utm"] else "")
        props = {"plan": spec["plan"]} if spec["plan"] and spec["event"] != "pageview" else None
        hit = make_hit(
            site, start + timedelta(minutes=spec["minute"]), path, event=spec["event"], referrer=spec["referrer"],
            ip=f"198.51.100.{spec['visitor']}", ua=spec["ua"], props=props,
        )
        hits.append(hit._replace(country=countries[spec["visitor"]]) if countries else hit)
    return hits



def forget(dbsession, site, *models) -> None:
    """Delete the rows of ``models``, the daily salts and ``site``: a property test's examples
    share one transaction."""
    for model in models:
        dbsession.execute(delete(model))
    dbsession.execute(delete(DailySalt))
    dbsession.delete(site)
    dbsession.flush()


def write_in_batches(dbsession, site_id: int, hits: list, cuts: list[int]) -> None:
    """``hits`` in batches cut at ``cuts``, each by a fresh store (as several server processes
    would write them); the common values are chosen after the first (counted from the raw rows,
    then kept by the writer: their visits that continue in later batches too)."""
    bounds = sorted({0, len(hits), *[c for c in cuts if c < len(hits)]})
    for start, end in pairwise(bounds):
        Store(None).write_batch(dbsession, hits[start:end])
        if start == 0:
            choose_values(dbsession, site_id, CHOSEN_ON)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    specs=st.lists(hit_strategy, min_size=1, max_size=40),
    cuts=st.lists(st.integers(1, 39), max_size=4),
    timezone=st.sampled_from(["UTC", "Europe/Paris", "America/St_Johns", "Asia/Kathmandu"]),
)
def test_summaries_equal_a_rebuild_from_raw_rows(dbsession, make_site, owner, specs, cuts, timezone):
    site = make_site(owner, url="https://example.com", timezone=timezone)
    hits = make_hits(site, specs)
    write_in_batches(dbsession, site.id, hits, cuts)
    incremental = summaries(dbsession, site.id), segment_summaries(dbsession, site.id)
    rebuild(dbsession, site.id)
    assert (summaries(dbsession, site.id), segment_summaries(dbsession, site.id)) == incremental
    forget(dbsession, site, DailyStat, SegmentStat, SegmentValue, HourlyStat, Hit, Visit)


def values_of(dbsession, site_id: int) -> frozenset[tuple[str, str]]:
    """The site's chosen common values, as ``SiteRef.values`` has them."""
    return frozenset(dbsession.execute(
        select(SegmentValue.segment, SegmentValue.value).where(SegmentValue.site_id == site_id)
    ).tuples())


def test_a_visit_continued_in_a_later_batch_moves_its_exit_page(dbsession, make_site, owner):
    site = make_site(owner, url="https://example.com", timezone="UTC")
    Store(None).write_batch(dbsession, [make_hit(site, START, "/a", ip="198.51.100.1")])
    Store(None).write_batch(dbsession, [make_hit(site, START + timedelta(minutes=5), "/b", ip="198.51.100.1")])
    daily, _ = summaries(dbsession, site.id)
    exits = {value: counts for (dim, _, value), counts in daily.items() if dim == "exit"}
    assert exits == {"/b": (1, 1, 2, 0, 300, 0)}  # one visit of two page views, five minutes
    segment_exits = {(segment, value): counts for (segment, _, dim, _, value), counts
                     in segment_summaries(dbsession, site.id).items() if dim == "exit"}
    assert segment_exits == {("country", "/b"): (1, 1, 2, 0, 300, 0), ("browser", "/b"): (1, 1, 2, 0, 300, 0),
                             ("os", "/b"): (1, 1, 2, 0, 300, 0), ("device", "/b"): (1, 1, 2, 0, 300, 0),
                             ("source", "/b"): (1, 1, 2, 0, 300, 0)}
    rebuild(dbsession, site.id)
    assert summaries(dbsession, site.id)[0] == daily

def _numbers(overview):
    panels = {
        dim: {row.value: (row.visitors, row.visits, row.pageviews, row.bounces, row.duration, row.events) for row in panel.rows}
        for dim, panel in overview.panels.items()
    }
    # The chart's counts that every interval's summaries hold (hourly_stats has no bounces or
    # durations: a chart of those reads the raw rows; test_chart_metrics checks them).
    series = [(p.start, p.visitors, p.pageviews, p.visits) for p in overview.series]
    return overview.totals, overview.before, series, overview.previous_visitors, panels


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    specs=st.lists(hit_strategy, min_size=1, max_size=40),
    timezone=st.sampled_from(["UTC", "Europe/Paris", "America/St_Johns", "Asia/Kathmandu"]),
)
def test_a_filter_every_visit_matches_changes_no_number(dbsession, make_site, owner, specs, timezone):
    """The filtered dashboard (raw rows, one pass per table) and the unfiltered one (summaries)
    are computed apart: with a filter that every visit matches they must show the same numbers,
    by day and by hour, in every panel."""
    site = make_site(owner, url="https://example.com", timezone=timezone)
    Store(None).write_batch(dbsession, make_hits(site, specs, countries=None))
    reports = SiteReports(dbsession, site.id, timezone)
    countries = {country for (country,) in dbsession.execute(select(Visit.country).where(Visit.site_id == site.id))}
    dims = (*VISIT_DIMENSIONS, *HIT_DIMENSIONS)
    first = local_day(START, timezone)
    for period in (Period("custom", first - timedelta(days=3), first + timedelta(days=4)),  # by day
                   Period("custom", first, first + timedelta(days=2))):  # by hour: when every hit is in it
        if period.hourly and any(local_day(hit.ts, timezone) >= period.end for hit in make_hits(site, specs, countries=None)):
            continue  # a visit crossing the end counts its later hits in panels, not in the chart
        for country in countries:
            assert _numbers(reports.overview(period, {"country": country}, dims, limit=100)) == _numbers(
                reports.overview(period, {}, dims, limit=100)
            )
    forget(dbsession, site, DailyStat, HourlyStat, Hit, Visit)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    specs=st.lists(hit_strategy, min_size=1, max_size=40),
    cuts=st.lists(st.integers(1, 39), max_size=3),
    timezone=st.sampled_from(["UTC", "Europe/Paris", "America/St_Johns"]),
)
def test_a_segment_filter_reads_its_summaries_and_shows_the_raw_rows_numbers(dbsession, make_site, owner, specs, cuts,
                                                                            timezone):
    """Filtered by one country, browser, operating system, device or source, or by a chosen
    common value of a referrer, a UTM parameter or an entry page, the dashboard reads that
    value's summaries (rule 9): every panel, the totals, the chart by day and the previous
    period's numbers are those the raw rows give for the same filter, whatever the batches."""
    site = make_site(owner, url="https://example.com", timezone=timezone)
    hits = make_hits(site, specs)
    write_in_batches(dbsession, site.id, hits, cuts)
    chosen = values_of(dbsession, site.id)
    summarized = SiteReports(dbsession, site.id, timezone, segmented=True, values=chosen)
    raw = SiteReports(dbsession, site.id, timezone)
    dims = (*VISIT_DIMENSIONS, *HIT_DIMENSIONS)
    first = local_day(START, timezone)
    period = Period("custom", first - timedelta(days=3), first + timedelta(days=4))
    values = {segment: {value for (value,) in dbsession.execute(
        select(getattr(Visit, VISIT_DIMENSIONS[segment])).where(Visit.site_id == site.id))} for segment in SEGMENTS}
    values |= {segment: {value for dim, value in chosen if dim == segment} for segment in TOP_SEGMENTS}
    for segment, found in values.items():
        for value in (*found, "nowhere"):
            filters = {segment: value}
            assert plan(summarized.query(period, filters)).segment == (
                (segment, value) if segment in SEGMENTS or value in found else None)
            assert _numbers(summarized.overview(period, filters, dims, limit=100)) == _numbers(
                raw.overview(period, filters, dims, limit=100)), (segment, value)
            for dim in ("page", "entry"):
                assert summarized.panel(dim, period, filters, limit=100, full=True).rows == raw.panel(
                    dim, period, filters, limit=100, full=True).rows, (segment, value, dim)
    forget(dbsession, site, DailyStat, SegmentStat, SegmentValue, HourlyStat, Hit, Visit)


#: The second filters of the pair test: dimensions of the visitor's and others, one value each.
SECONDS = ("country", "browser", "device", "source", "referrer", "exit")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    specs=st.lists(hit_strategy, min_size=1, max_size=40),
    cuts=st.lists(st.integers(1, 39), max_size=3),
    timezone=st.sampled_from(["UTC", "Europe/Paris", "America/St_Johns"]),
    pick=st.integers(0, 10),
)
def test_two_filters_read_the_totals_of_the_first_ones_rows_and_show_the_raw_rows_numbers(
    dbsession, make_site, owner, specs, cuts, timezone, pick,
):
    """Two filters, one by a value with rows of its own (a segment's, a chosen common value's,
    a goal's) and one by a visit dimension's value: the totals of both periods and the chart of
    the period before come from the first's rows of the second's value (rule 10) — when the
    first is a visit dimension, or the second a dimension of the visitor — and every number of
    the dashboard, of the totals' and the chart's reads is the raw rows'."""
    site = make_site(owner, url="https://example.com", timezone=timezone)
    hits = make_hits(site, specs)
    write_in_batches(dbsession, site.id, hits, cuts)
    goals = [Goal(site_id=site.id, name="Sign-up", kind="event", event="signup"),
             Goal(site_id=site.id, name="Pages", kind="page", pattern="/*")]
    dbsession.add_all(goals)
    dbsession.flush()
    rebuild_goals(dbsession, site.id, today=max(hit.ts for hit in hits).date())
    dbsession.expire_all()
    chosen = values_of(dbsession, site.id)
    summarized = SiteReports(dbsession, site.id, timezone, segmented=True, values=chosen)
    raw = SiteReports(dbsession, site.id, timezone)
    dims = (*VISIT_DIMENSIONS, *HIT_DIMENSIONS)
    first = local_day(START, timezone)
    # By day, the hits' last two days, the period before holding the first; by hour, one day.
    periods = (Period("custom", first + timedelta(days=1), first + timedelta(days=3)),
               Period("custom", first + timedelta(days=1), first + timedelta(days=2)))
    visits = dbsession.scalars(select(Visit).where(Visit.site_id == site.id)).all()
    seconds = []  # a value some visit has of each dimension of SECONDS
    for dim in SECONDS:
        found = sorted({getattr(visit, VISIT_DIMENSIONS[dim]) for visit in visits}) or ["nothing"]
        seconds.append((dim, found[pick % len(found)]))
    firsts = [*(("country", value) for value in COUNTRIES), *((dim, value) for dim, value in chosen),
              *(("goal", str(goal.id)) for goal in goals)]
    for period, rows, second in product(periods, firsts, seconds):
        if second[0] == rows[0]:
            continue
        filters = dict((rows, second))
        p = plan(summarized.query(period, filters))
        assert (p.within is not None) == (second[0] in VISITOR_DIMENSIONS or rows[0] in VISIT_DIMENSIONS), filters
        assert _numbers(summarized.overview(period, filters, dims, limit=100)) == _numbers(
            raw.overview(period, filters, dims, limit=100)), (period, filters)
        assert summarized.totals(period, filters) == raw.totals(period, filters), (period, filters)
        assert summarized.series(period, filters, pageviews=False) == raw.series(period, filters, pageviews=False)
        # With page views asked of the period before's chart, it reads the raw rows.
        shown = []
        for reports in (summarized, raw):
            query = reports.query(period, filters, dimensions=("country",), metrics=("pageviews",), compare=True)
            overview, chart = api.overview(dbsession, query), api.timeseries(dbsession, query)
            shown.append((overview.totals, overview.before, overview.series, overview.previous, chart))
        assert shown[0] == shown[1], (period, filters)
    forget(dbsession, site, Goal, DailyStat, SegmentStat, SegmentValue, HourlyStat, Hit, Visit)
