"""The one place that decides where each part of a report is read from.

:func:`plan` takes a query value (:class:`~.query.StatsQuery`) and names, for each part of the
answer, its source: the summary tables (:class:`Source.SUMMARIES`, :mod:`.summary_runner`) or
the raw rows (:class:`Source.RAW`, :mod:`.raw_runner`). The read API (:mod:`.api`) asks for a
plan and has the runners execute it; no other code chooses. Another event store (a column store
for the raw rows, say) plugs in here: a new source, chosen by these rules, and its runner.

The rules:

1. **Without filters, the summaries answer what they hold**: the totals, the chart (``hourly_stats``
   by hour, ``daily_stats``' day totals and ``hits`` rows by day), a breakdown by any one
   dimension, the entries of each page. A few small indexed queries, whatever the traffic.
2. **With any filter, the raw rows answer** (but see 9): each summary row holds one dimension's
   value, so it cannot say how many visits from Germany viewed ``/pricing``. Totals, chart and
   breakdowns come from the matching visits and their hits, in one scan per period (two statements).
   Every filter kind — a visit dimension, a page, an event — is a condition on the visit row
   (each visit lists the pages it viewed and the events it sent), so none reads hits to find
   its visits.
3. **The visits of each page or event come from the raw hits**, when a breakdown asks for
   them (its details): the summaries count a page's views and first views per day, not which
   visits viewed it. So do their visitors when filtered (the distinct visitors of the matching
   visits); unfiltered, a page's visitors are the summaries' (those who first viewed it that day).
   An **hourly chart of the bounce rate or the visit duration** comes from the raw visits
   too: ``hourly_stats`` counts visitors, visits and page views per hour, not bounces or
   durations (an hourly chart covers a day or two: one scan of their visits). Daily charts of
   every metric come from ``daily_stats``' day totals.
4. **Realtime comes from the raw visits**: the summaries go down to the hour, not to the last
   30 minutes.
5. **Bot hits come from the summaries**, filters or not: bots have no visit, so no visit filter
   applies to them; the number is the period's bot hits, shown beside the report.
6. With ``compare``, the previous period is planned by the same rules (the same filters), its
   totals and its visitors per bucket only (a chart without page views, which rule 10 reads
   from summaries).
7. **Goals' numbers come from their summaries without filters** (``goal_stats``,
   ``goal_revenue``: per goal and day), for each goal whose rows were recounted for its present
   rules; a goal just added or changed is counted from the raw rows until its recount is done
   (:mod:`.goals`). With filters, from the raw rows: the matching visits' conversions — for
   such a goal, those its list of converted visits (``goal_visits``, with their conversions)
   holds of the matching visits, and the revenue of their hits that carry any; under a filter
   by one such goal, the other goals' rows paired with it (``goal_pairs``: per day, the visitors
   who converted on both in one visit, the other goal's conversions in its visits).
8. **A funnel's numbers come from its visits' rows** (``funnel_visits``: how far each visit
   went), filters or not (with filters, the rows of the matching visits), once they were
   counted for its present steps and their goals' rules (:func:`funnel_source`); until then
   from the raw hits of the period's visits, walked in order (:mod:`.funnels`).
9. **One filter by a segment's value reads that value's summaries**: ``country is DE`` (or a
   browser, an operating system, a device, a source class:
   :data:`~tracking.summaries.dimensions.SEGMENTS`) alone is answered like an unfiltered
   query, from the rows ``segment_stats`` holds for the visits from Germany, once the site's
   segments hold all of its data (``SiteRef.segmented``). A visit has one value of each from
   its first hit to its last, and the summaries count visitors as rule 2 does under a visit
   filter (the first visit of the day, the first view of a page), so the numbers are the same.
   The same for one filter by a **common value** of a dimension with many values (a referrer,
   a UTM parameter, a region, a city, an entry or exit page, a page, an event) that has rows of
   its own (``SiteRef.values``, chosen and counted by :mod:`tracking.summaries.segments`; a
   visit moves to an exit page's rows when it ends on it, with what it counted, and leaves
   them when it goes on; a visit joins a page's rows at its first view of it, with what it
   counted before, and a visitor
   counts at their first visit of the day with the page, as rule 2 counts them under a page
   filter); any other value of theirs is read from the raw rows (rule 2). And for one filter
   by a **goal** whose rows were counted for its present rules (rule 7): the rows of the
   visits that converted on it (``goal_visits``), which count a visitor at their first visit
   of the day that converted, as the raw rows do under a goal filter.
   Not from them: an hourly chart (``hourly_stats`` has no segments), the goals panel (rule
   7), the visits of a page (rule 3) and the bot hits (rule 5), read as with any filter.
10. **Two filters, one of which has rows of its own (rule 9) and the other a visit
    dimension's value, take their totals from the first's rows of the second's value**:
    ``page is /`` and ``device is mobile`` are, in total and by day, the row of ``mobile`` in the
    device panel of the page's rows (:attr:`Plan.within`); so is a chart that counts no page
    views (:attr:`Plan.visit_series`: the dashboard's of the period before, a chart of
    visitors), not by hour (rule 9). The rows count a visit's page views on the day it began, a
    chart on the day of each view: a chart with page views reads the raw rows. The panels come
    from the raw rows (rule 2); on the dashboard their scan counts the period's chart and totals
    too, the same numbers (:func:`.api.overview`). A visit panel's row counts
    a visitor where the filter of the rows counts them; the raw rows count them at their first
    visit that matches both. These are one visit when the rows' filter is a visit dimension (a
    visitor counts at their first visit of the day, if it matches) or when the second dimension
    is one of the visitor's own (:data:`~tracking.summaries.dimensions.VISITOR_DIMENSIONS`: read
    from the address and the user agent the visitor's id is made of, so the same in each of their
    visits of the day); a page, an event or a goal with another second filter (a source) is read
    as in rule 2.
"""

from dataclasses import dataclass, replace
from enum import StrEnum

from ..summaries.dimensions import GOAL, LISTED, SEGMENTS, VISIT_DIMENSIONS, VISITOR_DIMENSIONS
from .query import StatsQuery


class Source(StrEnum):
    #: ``daily_stats`` and ``hourly_stats``
    SUMMARIES = "summaries"
    #: ``visits`` and ``hits``
    RAW = "raw"


#: Metrics of a page breakdown read from its entries (the visits that began on it).
_ENTRIES = frozenset(("entries", "bounce_rate", "average_duration"))
#: Metrics of a chart that ``hourly_stats`` cannot answer.
_NOT_HOURLY = frozenset(("bounce_rate", "average_duration"))


@dataclass(frozen=True)
class Plan:
    """Where each part of the answer to ``query`` comes from.

    ``breakdowns``: one source per dimension of the query, in its order. ``people``: per page or
    event dimension whose visitors and visits are asked (rule 3). ``entries``: the entries of
    pages, when a page breakdown asks for them; ``None`` when no part needs it."""

    query: StatsQuery
    totals: Source
    series: Source
    breakdowns: tuple[tuple[str, Source], ...]
    people: tuple[tuple[str, Source], ...]
    entries: Source | None
    bots: Source
    realtime: Source
    #: The goals panel's numbers (rule 7).
    goals: Source
    #: The segment whose summaries answer (rule 9): its dimension and value.
    segment: tuple[str, str] | None = None
    #: Of the segment's rows, the (visit dimension, value) whose rows stand for its totals:
    #: the second of two filters (rule 10); ``None``: its totals' own.
    within: tuple[str, str] | None = None
    #: Where a chart that counts no page views comes from (rule 10: the rows of the first
    #: filter, as the period before's on the dashboard); ``None``: from :attr:`series`.
    visit_series: Source | None = None

    def chart(self, pageviews: bool) -> Source:
        """The source of a chart, with or without page views."""
        return self.series if pageviews or self.visit_series is None else self.visit_series

    def raw_dimensions(self) -> tuple[str, ...]:
        return tuple(dim for dim, source in self.breakdowns if source is Source.RAW)


def summarized_goal(filters) -> int | None:
    """The goal of the one filter of ``filters``, when it is a goal whose rows were counted for
    its present rules (rules 7 and 9): read from its rows, its list of visits, its pairs."""
    if len(filters) != 1:
        return None
    (only,) = filters
    if only.dimension == GOAL and only.operator == "is" and only.goal is not None and only.goal.summarized:
        return only.goal.id
    return None


def segment_of(query: StatsQuery) -> tuple[str, str] | None:
    """The segment whose summaries answer ``query`` (rule 9), if any."""
    if len(query.filters) != 1:
        return None
    (only,) = query.filters
    key = (only.dimension, only.value)
    if only.operator != "is":
        return None
    if only.dimension in SEGMENTS:
        return key if query.site.segmented else None
    if only.dimension == GOAL:
        # The goal's visits' rows, once its rows were counted for its present rules.
        goal = summarized_goal(query.filters)
        return None if goal is None else (GOAL, str(goal))
    return key if key in query.site.values else None


def pair_of(query: StatsQuery) -> tuple[tuple[str, str], tuple[str, str]] | None:
    """The segment and the (visit dimension, value) within it whose rows hold the totals of
    ``query``'s two filters (rule 10), if any."""
    if len(query.filters) != 2 or any(f.operator != "is" for f in query.filters):
        return None
    first, second = query.filters
    for rows, other in ((first, second), (second, first)):
        segment = segment_of(replace(query, filters=(rows,)))
        if segment is None or other.dimension not in VISIT_DIMENSIONS:
            continue
        if (rows.dimension in LISTED or rows.dimension == GOAL) and other.dimension not in VISITOR_DIMENSIONS:
            continue  # the visitor's first visit with the page may not be their first that matches both
        return segment, (other.dimension, other.value)
    return None


def plan(query: StatsQuery) -> Plan:
    """The plan of ``query`` (see the module's docstring for the rules)."""
    pair = pair_of(query)
    if pair is not None:  # rule 10
        segment, within = pair
        hourly = query.bucket == "hour"
        return replace(
            _plan(query, None), totals=Source.SUMMARIES, segment=segment, within=within,
            visit_series=Source.RAW if hourly else Source.SUMMARIES,
        )
    return _plan(query, segment_of(query))


def _plan(query: StatsQuery, segment: tuple[str, str] | None) -> Plan:
    raw = bool(query.filters) and segment is None
    rows = Source.RAW if raw else Source.SUMMARIES  # rules 1, 2 and 9
    asked = set(query.metrics)
    people = tuple(
        (dim, Source.RAW)  # rule 3
        for dim in query.dimensions
        # Without filters a page's (an event's) visitors are the summaries' own: those who
        # first viewed it (sent it) that day; a segment's are its own too (rule 9).
        if dim in ("page", "event") and ("visits" in asked or ("visitors" in asked and raw))
    )
    entries = rows if "page" in query.dimensions and asked & _ENTRIES else None
    hourly = query.bucket == "hour" and (bool(asked & _NOT_HOURLY) or segment is not None)
    return Plan(
        query=query,
        totals=rows,
        series=Source.RAW if hourly else rows,  # rules 3 and 9
        breakdowns=tuple((dim, rows) for dim in query.dimensions),
        people=people,
        entries=entries,
        bots=Source.SUMMARIES,  # rule 5
        realtime=Source.RAW,  # rule 4
        goals=Source.RAW if query.filters else Source.SUMMARIES,  # rule 7
        segment=segment,
    )


def funnel_source(summarized: bool) -> Source:
    """Where a funnel's numbers are read (rule 8): ``summarized``, whether its rows were counted
    for its present definition (:func:`tracking.goals.funnel_definition`)."""
    return Source.SUMMARIES if summarized else Source.RAW
