"""The read API: every report number a view, a command or an HTTP API shows comes from here.

Six functions, each taking a session and a query value (:class:`~.query.StatsQuery`):

* :func:`overview`: the dashboard — totals, chart and every panel of ``query.dimensions``,
  compared with the previous period, with the period's bot hits;
* :func:`aggregate`: the totals (and the previous period's, with ``compare``);
* :func:`timeseries`: visitors, page views, visits, bounces and visit duration per hour or day
  (and the previous period's, with ``compare``): every headline number's chart;
* :func:`breakdown`: the rows of one dimension, with the metrics asked for;
* :func:`realtime`: the visitors of the last 30 minutes (of the matching visits, with filters);
* :func:`bot_hits`: the period's bot hits (with filters, those the filters can apply to).

Each asks the planner (:func:`~.planner.plan`) where each part comes from and has the runner
of that source read it: :class:`~.summary_runner.SummaryRunner` for the summary tables,
:class:`~.raw_runner.RawRunner` for the raw rows (a scan answers every raw part of one period
at once). Nothing here writes.

The full list behind a panel (its details and CSV export: ``metrics=DETAILS[dim]``) shows the
metrics that have a meaning for its dimension:

* a **visit dimension** (source, country, entry page...): its visits — the visitors
  attributed to them, the visits, their page views, bounce rate, average duration and custom
  events;
* a **page**: the visitors who viewed it, the visits that viewed it and its page views, and —
  as entry-page figures, since a page view has no bounce or duration of its own — the visits
  that began on it (*entries*), their bounce rate and their average duration. Without filters
  these count the hits of the period by their own day, like the page's views in the
  summaries; with filters, the hits of the matching visits. Then its *time on page* and
  *scroll depth*, from the measurements of its views (:mod:`.engagement`);
* an **event**: the visitors who sent it, the visits that sent it, and the events;
* a **property**: the events that carried it.

A page's or an event's visitors are, as in the summaries, each visitor counted on the day of
their first view of it (first sending of it); with filters, the distinct visitors of the
matching visits that viewed it (sent it). Their visits come from the raw hits: one statement
over the period's hits, for the details only, never for the dashboard.
"""

from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func, literal_column, select

from ..models import Hit, IgnoredHits, Visit
from ..timezones import local_day
from . import engagement
from .engagement import ENGAGEMENT_METRICS
from .periods import Period
from .planner import Plan, Source, plan
from .query import InvalidQuery, StatsQuery
from .raw_runner import REALTIME_MINUTES, RawRunner, matching
from .results import Aggregate, Overview, Panel, Point, Row, Timeseries, Totals
from .summary_runner import SummaryRunner


class Runner(Protocol):
    """What every source answers, for any period of the query."""

    def totals(self, period: Period) -> Totals: ...

    def series(self, period: Period, pageviews: bool = True) -> list[Point]: ...

    def breakdown(self, dim: str, period: Period, totals: Totals | None = None) -> Panel: ...

    def entries(self, period: Period) -> dict[str, Row]: ...


class _Runners:
    """The runner of each source for one query."""

    def __init__(self, db, p: Plan) -> None:
        self.summaries = SummaryRunner(db, p.query, p.segment, p.within)
        self.raw = RawRunner(db, p.query)

    def of(self, source: Source) -> Runner:
        return self.raw if source is Source.RAW else self.summaries

    def raw_only(self, source: Source) -> RawRunner:
        """The runner of a part that only the raw rows hold."""
        if source is not Source.RAW:
            raise ValueError(f"the {source.value} rows cannot answer this part")
        return self.raw

    def summaries_only(self, source: Source) -> SummaryRunner:
        """The runner of a part that only the summaries hold."""
        if source is not Source.SUMMARIES:
            raise ValueError(f"the {source.value} rows cannot answer this part")
        return self.summaries


#: The headline metrics a time series has per bucket (the dashboard's chart draws each).
SERIES_METRICS = ("visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "average_duration")


def _pageviews(query: StatsQuery) -> bool:
    """Whether a series counts page views: unless ``query.metrics`` names visitors only."""
    return set(query.metrics) != {"visitors"}


def _previous_pageviews(query: StatsQuery) -> bool:
    """Whether the previous period's series counts page views: only when a metric of the query
    is made of them (they take a pass over the previous period's hits when filtered)."""
    return bool({"pageviews", "views_per_visit"} & set(query.metrics))


def overview(db, query: StatsQuery) -> Overview:
    """Totals, chart and the top ``query.limit`` rows of each of ``query.dimensions``, with the
    previous period's totals and counts per bucket (the dashboard always compares; page views
    only when ``query.metrics`` ask for them), the period's bot hits (:func:`bot_hits`) and
    whether the site has any data."""
    p = plan(query)
    run = _Runners(db, p)
    previous = query.period.previous()
    before_chart = p.chart(_previous_pageviews(query))
    if p.series is Source.RAW and len(p.raw_dimensions()) == len(p.breakdowns):
        # One scan of the period answers its chart and panels (two statements), and counts its
        # totals on the way: the same numbers the summaries hold, when they hold them (rule 10).
        now = run.raw.scan(query.period, query.dimensions)
        totals = now.totals
        panels = {dim: now.panel(dim, query.limit, query.offset) for dim in query.dimensions}
        series = now.series
        if before_chart is Source.RAW:  # one of the period before, for its chart and totals
            before = run.raw.scan(previous, pageviews=_previous_pageviews(query))
            before_totals, previous_series = before.totals, before.series
        else:  # its totals and chart from the rows of the first filter (rule 10)
            before_totals = run.of(p.totals).totals(previous)
            previous_series = run.of(before_chart).series(previous, pageviews=_previous_pageviews(query))
    else:
        totals = run.of(p.totals).totals(query.period)
        # The summaries' panels in one statement; the others (rule 3) one by one.
        summarized = [dim for dim, source in p.breakdowns if source is Source.SUMMARIES]
        found = run.summaries.breakdowns(summarized, query.period, totals=totals) if summarized else {}
        panels = {dim: found[dim] if source is Source.SUMMARIES else run.raw.breakdown(dim, query.period, totals=totals)
                  for dim, source in p.breakdowns}
        before_totals = run.of(p.totals).totals(previous)
        series = run.of(p.series).series(query.period)
        previous_series = run.of(before_chart).series(previous, pageviews=_previous_pageviews(query))
    bots = run.summaries_only(p.bots)
    return Overview(totals, before_totals, series, previous_series, panels,
                    bot_hits=bot_hits(db, query), has_data=bots.has_data())


def aggregate(db, query: StatsQuery) -> Aggregate:
    """The period's totals; with ``compare``, the previous period's."""
    p = plan(query)
    runner = _Runners(db, p).of(p.totals)
    return Aggregate(runner.totals(query.period), runner.totals(query.period.previous()) if query.compare else None)


def timeseries(db, query: StatsQuery) -> Timeseries:
    """Counts per bucket — visitors, visits, bounces, visit duration and page views (page views
    stay 0 when ``query.metrics`` names only visitors) — from which every headline metric of a
    bucket follows (:class:`~.results.Point`); with ``compare``, the previous period's per
    bucket (its page views only when ``query.metrics`` name page views or views per visit)."""
    p = plan(query)
    run = _Runners(db, p)
    points = run.of(p.chart(_pageviews(query))).series(query.period, pageviews=_pageviews(query))
    if not query.compare:
        return Timeseries(points)
    pageviews = _previous_pageviews(query)
    return Timeseries(points, run.of(p.chart(pageviews)).series(query.period.previous(), pageviews=pageviews))


def breakdown(db, query: StatsQuery) -> Panel:
    """Rows ``query.offset`` to ``offset + limit`` of ``query.dimensions[0]`` in its order (for
    ``prop`` with ``query.prop_event``, that event's properties), with shares.

    Shares of visit dimensions are of the period's totals: every visit has one value of each.
    Shares of pages, events and properties are of the panel's own total. Every metric of
    ``query.metrics`` is right, not only the one the rows are ranked by (see the module's
    docstring; pages and events take a few more statements for them)."""
    if len(query.dimensions) != 1:
        raise InvalidQuery("A breakdown is by one dimension.")
    p = plan(query)
    run = _Runners(db, p)
    (dim, source), = p.breakdowns
    panel = run.of(source).breakdown(dim, query.period)
    for _, people_source in p.people:
        people = run.raw_only(people_source).people(dim, query.period)
        for row in panel.rows:
            visitors, row.visits = people.get(row.value, (0, 0))
            if query.filters:
                row.visitors = visitors
    if p.entries is not None:
        entries = run.of(p.entries).entries(query.period)
        for row in panel.rows:
            entry = entries.get(row.value)
            row.entries, row.bounces, row.duration = (entry.visits, entry.bounces, entry.duration) if entry else (0, 0, 0)
    if dim == "page" and set(ENGAGEMENT_METRICS) & set(query.metrics):
        measured = engagement.pages(db, query, query.period, [row.value for row in panel.rows])
        for row in panel.rows:
            if row.value in measured:
                row.time_on_page = measured[row.value].time_on_page
                row.scroll_depth = measured[row.value].scroll_depth
    return panel


def realtime(db, query: StatsQuery, now: datetime) -> int:
    """Visitors with a hit in the 30 minutes before ``now`` (the query's period does not apply);
    with filters, the visitors of the matching visits among them (a page or event filter: the
    visits that viewed the page or sent the event, since the day before)."""
    p = plan(query)
    runner = _Runners(db, p).raw_only(p.realtime)
    if not query.filters:
        return runner.realtime(now)
    since = now - timedelta(minutes=REALTIME_MINUTES)
    first = local_day(since, query.site.timezone) - timedelta(days=1)
    days = Period("custom", first, local_day(now, query.site.timezone) + timedelta(days=1))
    conditions = matching(query.site, days, query.filters)
    return int(db.scalar(select(func.count(func.distinct(Visit.visitor))).where(*conditions, Visit.ended_at >= since)))


#: The filters a bot hit can match, by the column of ``hits`` they compare (bots have no
#: visit, hence no entry or exit page).
BOT_FILTERS = {
    "page": "path", "event": "event", "source": "source", "referrer": "ref_host", "utm_source": "utm_source",
    "utm_medium": "utm_medium", "utm_campaign": "utm_campaign", "country": "country", "region": "region",
    "city": "city", "browser": "browser", "os": "os", "device": "device",
}


def bot_hits(db, query: StatsQuery) -> int | None:
    """The period's bot hits: from the summaries without filters; with filters, the bot hits
    that match them, counted on the raw hits; ``None`` when a filter cannot apply to a bot hit
    (an entry or exit page)."""
    if not query.filters:
        p = plan(query)
        return _Runners(db, p).summaries_only(p.bots).bot_hits(query.period)
    if any(f.dimension not in BOT_FILTERS for f in query.filters):
        return None
    start, end = query.period.bounds(query.site.timezone)
    h = Hit
    # ``bot <> ''`` written out, not a parameter: the planner then knows, whatever plan it keeps
    # for the statement, that the partial index of the bot hits (``ix_hits_site_id_ts_bots``)
    # holds them all, and reads the period's bot hits only.
    conditions = [h.site_id == query.site.id, h.ts >= start, h.ts < end, h.bot != literal_column("''")]
    conditions += [getattr(h, BOT_FILTERS[f.dimension]) == f.value for f in query.filters]
    return int(db.scalar(select(func.count()).where(*conditions)))


def has_data(db, query: StatsQuery) -> bool:
    """Whether the site ever received a hit (people or bots)."""
    p = plan(query)
    return _Runners(db, p).summaries_only(p.bots).has_data()


def ignored(db, site_id: int) -> list[IgnoredHits]:
    """The hits the beacon ignored for the site, by reason, the latest reason first (counts
    lag up to :data:`tracking.ingest.ignored.INTERVAL` behind)."""
    rows = select(IgnoredHits).where(IgnoredHits.site_id == site_id).order_by(IgnoredHits.last_seen.desc())
    return list(db.scalars(rows))
