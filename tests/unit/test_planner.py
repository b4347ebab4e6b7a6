"""The query value and the planner's rules: which tables answer each part of a report."""

from datetime import date

import pytest

from tracking.goals import GoalSpec
from tracking.reports.periods import Period
from tracking.reports.planner import Source, plan
from tracking.reports.query import DETAILS, FILTERABLE, Filter, InvalidQuery, SiteRef, StatsQuery, filters_from
from tracking.summaries.dimensions import DIMENSIONS, SEGMENTS, VISIT_DIMENSIONS

SITE = SiteRef(1, "Europe/Paris")
WEEK = Period("custom", date(2026, 6, 1), date(2026, 6, 8))
DAY = Period("custom", date(2026, 6, 1), date(2026, 6, 2))
S, R = Source.SUMMARIES, Source.RAW


def query(**values) -> StatsQuery:
    return StatsQuery(SITE, values.pop("period", WEEK), **values)


def test_without_filters_the_summaries_answer_the_dashboard():
    p = plan(query(dimensions=DIMENSIONS, compare=True))
    assert (p.totals, p.series, p.bots) == (S, S, S)
    assert dict(p.breakdowns) == dict.fromkeys(DIMENSIONS, S)
    assert p.people == () and p.entries is None


@pytest.mark.parametrize("dim", FILTERABLE)
def test_any_filter_has_the_raw_rows_answer(dim):
    p = plan(query(filters=(Filter(dim, "7" if dim == "goal" else "x"),), dimensions=DIMENSIONS))
    assert (p.totals, p.series) == (R, R)
    assert dict(p.breakdowns) == dict.fromkeys(DIMENSIONS, R)
    assert p.bots is S  # bots have no visit: no filter applies to them


SEGMENTED = SiteRef(1, "Europe/Paris", segmented=True)


@pytest.mark.parametrize("dim", SEGMENTS)
def test_one_filter_by_a_segments_value_reads_its_summaries(dim):
    p = plan(StatsQuery(SEGMENTED, WEEK, (Filter(dim, "x"),), DIMENSIONS, DETAILS["page"], compare=True))
    assert p.segment == (dim, "x")
    assert (p.totals, p.series, p.entries, p.bots) == (S, S, S, S)
    assert dict(p.breakdowns) == dict.fromkeys(DIMENSIONS, S)
    assert dict(p.people) == {"page": R, "event": R}  # the visits of each: the summaries have none
    assert p.goals is R  # goal_stats has no segments
    # hourly_stats neither: a chart by hour reads the raw rows.
    assert plan(StatsQuery(SEGMENTED, DAY, (Filter(dim, "x"),))).series is R


@pytest.mark.parametrize("filters", [
    (Filter("country", "DE"), Filter("page", "/")),  # two filters, the second no visit dimension
    (Filter("referrer", "example.org"),),  # as many values as visitors bring: not a segment
    (Filter("city", "Berlin"),),
    (Filter("exit", "/"),),  # a visit moves from one exit page to the next
    (Filter("page", "/"),),
], ids=["two", "referrer", "city", "exit", "page"])
def test_other_filters_on_a_segmented_site_read_the_raw_rows(filters):
    p = plan(StatsQuery(SEGMENTED, WEEK, filters, DIMENSIONS))
    assert p.segment is None and (p.totals, p.series) == (R, R)


#: A site whose segments are counted, with common values of its own.
CHOSEN = SiteRef(1, "Europe/Paris", segmented=True,
                 values=frozenset({("page", "/"), ("event", "signup"), ("exit", "/"), ("referrer", "example.org")}))
GOAL = Filter("goal", "7", goal=GoalSpec(7, "Sign-up", "event", event="signup", summarized=True))


@pytest.mark.parametrize("rows, second, within", [
    # rows of a visit dimension: any second visit dimension (both count a visitor at their
    # first visit of the day, when it matches)
    (Filter("country", "DE"), Filter("browser", "Chrome"), True),
    (Filter("country", "DE"), Filter("source", "search"), True),
    (Filter("referrer", "example.org"), Filter("utm_campaign", "june"), True),
    (Filter("exit", "/"), Filter("entry", "/blog"), True),
    # a page's, an event's, a goal's: a dimension of the visitor's only
    (Filter("page", "/"), Filter("device", "mobile"), True),
    (Filter("event", "signup"), Filter("city", "Berlin"), True),
    (GOAL, Filter("os", "iOS"), True),
    (Filter("page", "/"), Filter("source", "search"), False),
    (Filter("event", "signup"), Filter("entry", "/"), False),
    (GOAL, Filter("referrer", "example.org"), False),
    # neither with rows, or a second filter that is no visit dimension
    (Filter("page", "/pricing"), Filter("device", "mobile"), False),
    (Filter("city", "Berlin"), Filter("region", "Berlin"), False),
    (Filter("country", "DE"), Filter("event", "outbound"), False),
    (Filter("page", "/"), Filter("event", "signup"), False),
], ids=lambda value: value if isinstance(value, bool) else f"{value.dimension}={value.value}")
def test_two_filters_take_their_totals_from_the_first_ones_rows_of_the_seconds_value(rows, second, within):
    for filters in ((rows, second), (second, rows)):  # in either order
        p = plan(StatsQuery(CHOSEN, WEEK, filters, DIMENSIONS, compare=True))
        if not within:
            assert (p.segment, p.within, p.totals, p.chart(False)) == (None, None, R, R)
            continue
        segment = (rows.dimension, rows.value) if rows is not GOAL else ("goal", "7")
        # When both have rows (two segments), the first filter's.
        swapped = (((second.dimension, second.value), (rows.dimension, rows.value))
                   if filters[0] is second and second.dimension in SEGMENTS and rows.dimension in VISIT_DIMENSIONS
                   else None)
        assert (p.segment, p.within) == (swapped or (segment, (second.dimension, second.value)))
        # The totals and the chart of the period before from those rows; the panels from the
        # raw rows, and a chart with page views (the rows count them on the day a visit began).
        assert (p.totals, p.chart(False), p.chart(True), p.series) == (S, S, R, R)
        assert dict(p.breakdowns) == dict.fromkeys(DIMENSIONS, R)
        assert p.goals is R
        assert plan(StatsQuery(CHOSEN, DAY, filters)).chart(False) is R  # hourly_stats has no segments


def test_a_site_whose_segments_are_not_counted_yet_reads_the_raw_rows():
    p = plan(query(filters=(Filter("country", "DE"),), dimensions=DIMENSIONS))
    assert p.segment is None and (p.totals, p.series) == (R, R)


def test_the_visits_of_pages_and_events_come_from_the_raw_hits():
    for dim in ("page", "event"):
        assert plan(query(dimensions=(dim,), metrics=DETAILS[dim])).people == ((dim, R),)
        assert plan(query(dimensions=(dim,))).people == ()  # a dashboard panel: its ranking metric only
    # Without filters a page's visitors are the summaries' (first views of the day); with, the raw hits'.
    assert plan(query(dimensions=("page",), metrics=("visitors",))).people == ()
    assert plan(query(dimensions=("page",), metrics=("visitors",), filters=(Filter("country", "DE"),))).people == (
        ("page", R),
    )
    assert plan(query(dimensions=("source",), metrics=DETAILS["source"])).people == ()


def test_the_entries_of_pages_come_from_where_the_rows_do():
    assert plan(query(dimensions=("page",), metrics=DETAILS["page"])).entries is S
    assert plan(query(dimensions=("page",), metrics=DETAILS["page"], filters=(Filter("device", "mobile"),))).entries is R
    assert plan(query(dimensions=("page",))).entries is None


def test_realtime_is_read_from_the_raw_visits():
    assert plan(query()).realtime is R


def test_the_interval_is_the_periods_unless_asked():
    assert query(period=DAY).bucket == "hour" and query().bucket == "day"
    assert query(period=DAY, interval="day").bucket == "day" and query(interval="hour").bucket == "hour"
    assert query(period=DAY, interval="day").previous().bucket == "day"


def test_the_previous_query_asks_the_same_of_the_period_before():
    asked = query(filters=(Filter("country", "DE"),), dimensions=("page",), limit=5, offset=5, compare=True)
    before = asked.previous()
    assert before.period == WEEK.previous() and before.filters == asked.filters
    assert (before.dimensions, before.limit, before.offset, before.compare) == (("page",), 5, 5, False)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"dimensions": ("colour",)}, "There is no dimension 'colour'."),
        ({"metrics": ("revenue",)}, "There is no metric 'revenue'."),
        ({"interval": "week"}, "There is no interval 'week': hour or day."),
        ({"limit": 0}, "A page of rows has 1 to 100000 rows and starts at 0 or later."),
        ({"limit": 100_001}, "A page of rows has 1 to 100000 rows and starts at 0 or later."),
        ({"offset": -1}, "A page of rows has 1 to 100000 rows and starts at 0 or later."),
        ({"filters": (Filter("country", "DE"), Filter("country", "FR"))}, "A dimension is filtered once."),
    ],
)
def test_a_query_that_cannot_be_answered_says_why(values, message):
    with pytest.raises(InvalidQuery) as raised:
        query(**values)
    assert str(raised.value) == message


def test_a_filter_names_a_filterable_dimension_and_a_known_operator():
    with pytest.raises(InvalidQuery, match="no filter by 'prop'"):
        Filter("prop", "x")
    with pytest.raises(InvalidQuery, match="no filter operator 'contains'"):
        Filter("page", "/x", "contains")


def test_filters_from_a_query_string():
    assert filters_from({"page": "/pricing", "country": "DE", "utm": "x", "period": "7d"}) == (
        Filter("country", "DE"), Filter("page", "/pricing"),
    )
    with pytest.raises(InvalidQuery, match="The page filter is longer than 1024 characters."):
        filters_from({"page": "/" * 1025})
    with pytest.raises(InvalidQuery, match="The country filter contains a control character."):
        filters_from({"country": "D\x00E"})
