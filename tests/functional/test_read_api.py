"""The read API beyond the dashboard: pages of rows, intervals, comparisons — the same numbers
from the summaries and from the raw rows — and the tables each report reads."""

import re
from datetime import date, datetime

import pytest
from sqlalchemy import event

from tests.hits import three_days_of_traffic
from tracking.reports import api
from tracking.reports.periods import Period
from tracking.reports.query import DETAILS, Filter, SiteRef, StatsQuery

START = datetime(2026, 6, 2, 9, 0)
WEEK = Period("custom", date(2026, 6, 1), date(2026, 6, 8))
#: A filter every visit of the traffic below matches: the raw rows answer, with the same numbers.
EVERYONE = (Filter("country", ""),)


@pytest.fixture
def site(dbsession, make_site, owner):
    """Over three days: visits to 7 pages of falling popularity, from three sources, some from a
    phone, with sign-ups and links out."""
    site = make_site(owner, url="https://example.com", timezone="America/New_York")
    three_days_of_traffic(dbsession, site, START)
    return site


def query(site, **values) -> StatsQuery:
    return StatsQuery(SiteRef(site.id, site.timezone), values.pop("period", WEEK), **values)


def numbers(panel):
    return [(row.value, row.visitors, row.visits, row.pageviews, row.events, round(row.share, 6)) for row in panel.rows]


@pytest.mark.parametrize("filters", [(), EVERYONE], ids=["summaries", "raw rows"])
@pytest.mark.parametrize("dim", ["page", "source", "device", "event", "prop"])
def test_pages_of_rows_follow_each_other(dbsession, site, dim, filters):
    whole = api.breakdown(dbsession, query(site, dimensions=(dim,), filters=filters, limit=100))
    assert len(whole.rows) >= 2 and not whole.more
    pages = [api.breakdown(dbsession, query(site, dimensions=(dim,), filters=filters, limit=2, offset=offset))
             for offset in range(0, len(whole.rows), 2)]
    assert [row for page in pages for row in numbers(page)] == numbers(whole)
    assert [page.more for page in pages] == [True] * (len(pages) - 1) + [False]


def test_a_page_past_the_end_is_empty(dbsession, site):
    for filters in ((), EVERYONE):
        assert api.breakdown(dbsession, query(site, dimensions=("page",), filters=filters, offset=1000)).rows == []


@pytest.mark.parametrize("filters", [(), EVERYONE], ids=["summaries", "raw rows"])
def test_the_interval_can_be_asked_for(dbsession, site, filters):
    days = api.timeseries(dbsession, query(site, filters=filters))
    hours = api.timeseries(dbsession, query(site, filters=filters, interval="hour"))
    assert len(days.points) == 7 and len(hours.points) == 7 * 24
    assert sum(p.pageviews for p in hours.points) == sum(p.pageviews for p in days.points) > 0
    one_day = Period("custom", date(2026, 6, 3), date(2026, 6, 4))
    [whole_day] = api.timeseries(dbsession, query(site, period=one_day, filters=filters, interval="day")).points
    by_hour = api.timeseries(dbsession, query(site, period=one_day, filters=filters)).points
    assert len(by_hour) == 24 and whole_day.start == datetime(2026, 6, 3)
    assert whole_day.pageviews == sum(p.pageviews for p in by_hour) > 0


def test_summaries_and_raw_rows_agree_on_every_part(dbsession, site):
    for period in (WEEK, Period("custom", date(2026, 6, 3), date(2026, 6, 4))):
        for interval in ("hour", "day"):
            both = [api.timeseries(dbsession, query(site, period=period, filters=f, interval=interval, compare=True))
                    for f in ((), EVERYONE)]
            if interval == "hour":  # hourly_stats holds no bounces or durations: those are asked for
                shown = [[(p.start, p.visitors, p.pageviews, p.visits) for p in s.points] for s in both]
                assert shown[0] == shown[1] and both[0].previous_visitors == both[1].previous_visitors
                assert {p.bounces for p in both[0].points} == {0}
                both = [api.timeseries(dbsession, query(site, period=period, filters=f, interval=interval,
                                                        compare=True, metrics=("bounce_rate", "average_duration")))
                        for f in ((), EVERYONE)]
            assert both[0] == both[1]
            assert sum(p.bounces for p in both[0].points) > 0 and sum(p.duration for p in both[0].points) > 0
        both = [api.aggregate(dbsession, query(site, period=period, filters=f, compare=True)) for f in ((), EVERYONE)]
        assert both[0] == both[1] and both[0].totals.visits > 0


def test_a_comparison_is_the_same_question_about_the_period_before(dbsession, site):
    later = Period("custom", date(2026, 6, 5), date(2026, 6, 8))  # the three days before hold the traffic
    compared = api.aggregate(dbsession, query(site, period=later, compare=True))
    assert compared.previous == api.aggregate(dbsession, query(site, period=later.previous())).totals
    assert compared.previous.visits > compared.totals.visits
    assert api.aggregate(dbsession, query(site, period=later)).previous is None
    series = api.timeseries(dbsession, query(site, period=later, compare=True))
    before = api.timeseries(dbsession, query(site, period=later.previous()))
    assert series.previous_visitors == [point.visitors for point in before.points]


def test_a_breakdown_is_by_one_dimension(dbsession, site):
    from tracking.reports.query import InvalidQuery

    with pytest.raises(InvalidQuery, match="by one dimension"):
        api.breakdown(dbsession, query(site, dimensions=("page", "source")))


# -- which tables each report reads ------------------------------------------------------------------

TABLES = re.compile(r"\b(?:FROM|JOIN)\s+(\w+)", re.I)


@pytest.fixture
def statements(dbengine):
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(dbengine, "before_cursor_execute", record)
    yield seen
    event.remove(dbengine, "before_cursor_execute", record)


def tables(statement: str) -> set[str]:
    return {name.lower() for name in TABLES.findall(statement)}


def test_the_unfiltered_dashboard_reads_the_summaries(testapp, owner, site, statements):
    """Its numbers come from ``daily_stats`` and ``hourly_stats``; the raw tables are read only
    for the visitors of the last 30 minutes (an index range of ``visits``)."""
    testapp.login(owner.email)
    for params in ({"period": "custom", "from": "2026-06-01", "to": "2026-06-07"},
                   {"period": "custom", "from": "2026-06-03", "to": "2026-06-03"}):
        statements.clear()
        testapp.get(f"/sites/{site.id}/", params=params)
        raw = [statement for statement in statements if tables(statement) & {"hits", "visits"}]
        assert len(raw) == 1 and "ended_at >=" in raw[0] and "hits" not in tables(raw[0])
        summaries = [statement for statement in statements if tables(statement) & {"daily_stats", "hourly_stats"}]
        # Totals, chart and bot hits of both periods, and every panel in one statement.
        assert 5 <= len(summaries) <= 10
        assert sum(1 for statement in summaries if "PARTITION BY daily_stats.dim" in statement) == 1


def test_a_filtered_dashboard_reads_the_raw_rows(testapp, owner, site, statements):
    testapp.login(owner.email)
    testapp.get(f"/sites/{site.id}/", params={"period": "custom", "from": "2026-06-01", "to": "2026-06-07", "referrer": "news.ycombinator.com"})
    # The period's two passes (its visits, their hits), the previous period's one (its visits),
    # and the bot hits that match the filters (from the hits: bots have no visit).
    assert sum(1 for statement in statements if "hits" in tables(statement)) == 2
    assert [tables(s) & {"daily_stats", "hourly_stats"} for s in statements if tables(s) & {"daily_stats", "hourly_stats"}] == [
        {"daily_stats"},  # whether the site has data
    ]


def test_a_dashboard_filtered_by_a_segment_reads_its_summaries(testapp, owner, site, statements):
    testapp.login(owner.email)
    testapp.get(f"/sites/{site.id}/", params={"period": "custom", "from": "2026-06-01", "to": "2026-06-07", "device": "mobile"})
    read = [tables(s) for s in statements]
    # Totals, panels and chart of both periods from the segment's rows. Raw rows only for the
    # visitors of the last 30 minutes (an index range of ``visits``) and the bot hits that
    # match the filter (bots have no visit, no segment).
    visits = [statement for statement in statements if "visits" in tables(statement)]
    assert len(visits) == 1 and "ended_at >=" in visits[0]
    assert sum(1 for found in read if "hits" in found) == 1
    assert sum(1 for found in read if "segment_stats" in found) >= 4


def test_the_details_of_pages_read_their_visits_from_the_raw_hits(dbsession, site, statements):
    api.breakdown(dbsession, query(site, dimensions=("page",), metrics=DETAILS["page"]))
    assert [tables(s) for s in statements if tables(s) & {"hits", "visits"}] == [{"hits"}]


@pytest.mark.parametrize(("limit", "offset"), [(10, 0), (2, 0), (2, 3), (1, 1)])
def test_every_panel_in_one_statement_is_each_panel_read_alone(dbsession, site, limit, offset):
    """The dashboard reads its unfiltered panels in one statement: each panel, its page of rows,
    whether there are more and each row's share, is the one its own statement gives."""
    from tracking.reports.summary_runner import SummaryRunner
    from tracking.summaries.dimensions import DIMENSIONS

    runner = SummaryRunner(dbsession, query(site, dimensions=DIMENSIONS, limit=limit, offset=offset))
    together = runner.breakdowns(DIMENSIONS, WEEK)
    alone = {dim: runner.breakdown(dim, WEEK) for dim in DIMENSIONS}
    assert together == alone
    assert sum(1 for panel in together.values() if panel.rows) >= (8 if offset == 0 else 2)
    assert limit > 1 or any(panel.more for panel in together.values())
