"""The numbers of a site's dashboard, for a period and optional filters.

Without filters every number comes from the summary tables (:mod:`.rollups`): a handful of
small indexed queries, whatever the traffic. With filters the numbers come from the raw
visits and hits of the period, exact for any combination of filters: one pass over the
matching visits for the totals, the chart and every visit panel (``GROUPING SETS`` on
PostgreSQL, one ``UNION ALL`` branch per panel on SQLite), and one over their hits for the
page, event and property panels and the page views of the chart. Slower on big sites than
the summaries — ``BENCHMARKS.md`` has the figures.

Visitors: ids rotate daily, so a "visitor" is one person on one day, and visitors over several
days are a sum of daily visitors. Each visitor is attributed to their first visit of the day:
the visitors of all sources add up to the total. When a page or event filter is active,
visitors are the distinct visitors whose visits match.

Chart buckets are local days, or for periods of two days or less the hours of UTC shown in
local time (the grain of the hourly summary; in zones half an hour off UTC, such as India's,
an "hour" runs from half past to half past), the same with filters or without.

The full list behind a panel (its details, and its CSV export: ``panel(..., full=True)``) shows
the metrics that have a meaning for its dimension (:data:`DETAILS`):

* a **visit dimension** (source, country, entry page...): its visits — the visitors
  attributed to them, the visits, their page views, bounce rate, average duration and custom
  events;
* a **page**: the visitors who viewed it, the visits that viewed it and its page views, and —
  as entry-page figures, since a page view has no bounce or duration of its own — the visits
  that began on it (*entries*), their bounce rate and their average duration. Without filters
  these count the hits of the period by their own day, like the page's views in the
  summaries; with filters, the hits of the matching visits;
* an **event**: the visitors who sent it, the visits that sent it, and the events;
* a **property**: the events that carried it.

A page's or an event's visitors are, as in the summaries, each visitor counted on the day of
their first view of it (first sending of it); with filters, the distinct visitors of the
matching visits that viewed it (sent it). Their visits come from the raw hits: one statement
over the period's hits, for the details only, never for the dashboard.
"""

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Text, and_, case, cast, func, literal, literal_column, null, select, text, tuple_, type_coerce, union_all

from ..models import DailyStat, Hit, HourlyStat, Visit
from .dimensions import BOT, HIT_DIMENSIONS, HITS, LABELS, PROP_SEPARATOR, TOTAL, VISIT_DIMENSIONS, prop_value
from .periods import Period, to_local
from .rollups import hour_expression

#: Filters that can be set from the query string: every dimension but properties.
FILTERABLE = (*VISIT_DIMENSIONS, "page", "event")
#: The longest stored value of any dimension (a page's path): a longer filter cannot match.
MAX_FILTER = 1024
REALTIME_MINUTES = 30

#: The metrics of each dimension's full list (details and CSV export), in order.
VISIT_METRICS = ("visitors", "visits", "pageviews", "bounce_rate", "average_duration", "events")
DETAILS: dict[str, tuple[str, ...]] = {
    **{dim: VISIT_METRICS for dim in VISIT_DIMENSIONS},
    "page": ("visitors", "visits", "pageviews", "entries", "bounce_rate", "average_duration"),
    "event": ("visitors", "visits", "events"),
    "prop": ("events",),
}
METRIC_LABELS = {
    "visitors": "Visitors",
    "visits": "Visits",
    "pageviews": "Page views",
    "entries": "Entries",
    "bounce_rate": "Bounce rate",
    "average_duration": "Visit duration",
    "events": "Events",
}


class InvalidQuery(ValueError):
    """A query string the reports cannot answer; the message tells a person why."""


@dataclass
class Totals:
    visitors: int = 0
    visits: int = 0
    pageviews: int = 0
    bounces: int = 0
    duration: int = 0
    events: int = 0

    @property
    def views_per_visit(self) -> float:
        return self.pageviews / self.visits if self.visits else 0.0

    @property
    def bounce_rate(self) -> float:
        return 100.0 * self.bounces / self.visits if self.visits else 0.0

    @property
    def average_duration(self) -> float:
        return self.duration / self.visits if self.visits else 0.0


@dataclass
class Row(Totals):
    value: str = ""
    share: float = 0.0
    #: Pages (full lists only): the visits that began on the page. The row's ``bounces`` and
    #: ``duration`` are theirs, and so are its bounce rate and average duration.
    entries: int | None = None

    def _rate_base(self) -> int:
        return self.visits if self.entries is None else self.entries

    @property
    def bounce_rate(self) -> float:
        return 100.0 * self.bounces / self._rate_base() if self._rate_base() else 0.0

    @property
    def average_duration(self) -> float:
        return self.duration / self._rate_base() if self._rate_base() else 0.0


@dataclass
class Point:
    start: datetime
    visitors: int
    pageviews: int


@dataclass
class Panel:
    dim: str
    rows: list[Row] = field(default_factory=list)
    more: bool = False

    @property
    def metric(self) -> str:
        return sort_metric(self.dim)

    @property
    def metric_label(self) -> str:
        return METRIC_LABELS[self.metric]

    @property
    def columns(self) -> list[tuple[str, str]]:
        """The metrics of the full list, as (attribute of a row, heading)."""
        return [(name, METRIC_LABELS[name]) for name in DETAILS[self.dim]]


@dataclass
class Overview:
    """What the dashboard shows: the period's numbers, and the previous period's totals and
    visitors per bucket (the chart draws those behind the period's)."""

    totals: Totals
    before: Totals
    series: list[Point]
    previous_visitors: list[int]
    panels: dict[str, Panel]


def sort_metric(dim: str) -> str:
    if dim == "page":
        return "pageviews"
    if dim in ("entry", "exit"):
        return "visits"
    if dim in ("event", "prop"):
        return "events"
    return "visitors"


COUNTS = ("visitors", "visits", "pageviews", "bounces", "duration", "events")


def _labelled(*columns):
    """The six counts of a panel query, named (so that queries over them pick the right one)."""
    return tuple(column.label(name) for column, name in zip(columns, COUNTS, strict=True))


def _sums(model):
    return _labelled(*(func.coalesce(func.sum(getattr(model, name)), 0) for name in COUNTS))


class Reports:
    """Report queries for one site, in its time zone."""

    def __init__(self, dbsession, site_id: int, timezone: str) -> None:
        self.db = dbsession
        self.site_id = site_id
        self.timezone = timezone

    @property
    def _postgresql(self) -> bool:
        return self.db.get_bind().dialect.name == "postgresql"

    # -- the whole dashboard ------------------------------------------------------------

    def overview(self, period: Period, filters: dict[str, str], dims: Iterable[str], limit: int = 10) -> Overview:
        """Totals, chart and the top ``limit`` rows of each of ``dims``, with the previous
        period's totals and chart: a few summary queries, or with filters two passes over the
        raw rows of each period."""
        dims = tuple(dims)
        previous = period.previous()
        if not filters:
            totals = self.totals(period, filters)
            panels = {dim: self.panel(dim, period, filters, limit, totals=totals) for dim in dims}
            return Overview(totals, self.totals(previous, filters), self.series(period, filters),
                            [point.visitors for point in self.series(previous, filters, pageviews=False)], panels)
        now = _Scan(self, period, filters, dims)
        before = _Scan(self, previous, filters, (), pageviews=False)
        return Overview(now.totals, before.totals, now.series, [point.visitors for point in before.series],
                        {dim: now.panel(dim, limit) for dim in dims})

    # -- totals -------------------------------------------------------------------------

    def totals(self, period: Period, filters: dict[str, str]) -> Totals:
        if not filters:
            row = self.db.execute(select(*_sums(DailyStat)).where(*self._daily(period, TOTAL))).one()
            return Totals(*map(int, row))
        return _Scan(self, period, filters, (), series=False).totals

    def has_data(self) -> bool:
        """Whether the site ever received a hit (people or bots)."""
        return self.db.scalar(select(DailyStat.day).where(DailyStat.site_id == self.site_id).limit(1)) is not None

    def bot_hits(self, period: Period) -> int:
        return int(self.db.scalar(select(func.coalesce(func.sum(DailyStat.pageviews), 0)).where(*self._daily(period, BOT))))

    def realtime(self, now: datetime) -> int:
        """Visitors with a hit in the last 30 minutes."""
        v = Visit
        return int(
            self.db.scalar(
                select(func.count(func.distinct(v.visitor))).where(
                    v.site_id == self.site_id, v.ended_at >= now - timedelta(minutes=REALTIME_MINUTES)
                )
            )
        )

    # -- panels -------------------------------------------------------------------------

    def panel(
        self,
        dim: str,
        period: Period,
        filters: dict[str, str],
        limit: int = 10,
        event: str = "",
        totals: Totals | None = None,
        full: bool = False,
    ) -> Panel:
        """The top ``limit`` values of ``dim`` (for ``prop``: the properties of ``event``).

        Shares of visit dimensions are of the period's ``totals`` (computed when not given):
        every visit has one value of each. Shares of pages, events and properties are of the
        panel's own total. ``full``: every metric of :data:`DETAILS` is right, not only the
        one the panel is sorted by (a few more statements for pages and events)."""
        panel = self._panel(dim, period, filters, limit, event, totals)
        if full and dim in ("page", "event"):
            people = self._people(dim, period, filters)
            for row in panel.rows:
                visitors, row.visits = people.get(row.value, (0, 0))
                if filters:
                    row.visitors = visitors
        if full and dim == "page":
            entries = self._entries(period, filters)
            for row in panel.rows:
                entry = entries.get(row.value)
                row.entries, row.bounces, row.duration = (entry.visits, entry.bounces, entry.duration) if entry else (0, 0, 0)
        return panel

    def _panel(self, dim: str, period: Period, filters: dict[str, str], limit: int, event: str, totals: Totals | None) -> Panel:
        if filters:
            return _Scan(self, period, filters, (dim,), series=False, event=event).panel(dim, limit)
        metric = sort_metric(dim)
        conditions = list(self._daily(period, dim))
        if dim == "prop" and event:
            conditions.append(DailyStat.value.startswith(event + PROP_SEPARATOR, autoescape=True))
        d = DailyStat
        query = (
            select(d.value, *_sums(d))
            .where(*conditions)
            .group_by(d.value)
            # A visit that moved on leaves a row of zeros behind (its former exit page).
            .having(func.sum(d.visits) + func.sum(d.pageviews) + func.sum(d.events) > 0)
        )
        if dim not in VISIT_DIMENSIONS:
            # The panel's own total, over all its values, in the same pass.
            query = query.add_columns(func.sum(func.sum(getattr(d, metric))).over())
        order = (literal_column(metric).desc(), literal_column("visits").desc(), literal_column("1").asc())
        found = self.db.execute(query.order_by(*order).limit(limit + 1)).all()
        rows = [Row(*map(int, r[1:7]), value=r[0]) for r in found]
        if dim in VISIT_DIMENSIONS:
            whole = getattr(totals if totals is not None else self.totals(period, filters), metric)
        else:
            whole = int(found[0][7]) if found else 0
        return _panel(dim, rows, limit, whole)

    def _people(self, dim: str, period: Period, filters: dict[str, str]) -> dict[str, tuple[int, int]]:
        """Pages or events: the visitors and visits of each, from the raw hits.

        With filters, the distinct visitors and visits among the hits of the matching visits.
        Without, the visits among the hits of the period (by their own day, as the summaries
        count the page views), and no visitors: the summaries' are right (a visitor counted on
        the day of their first view), and the one raw statement stays a hashed count of
        (value, visit) pairs, with no sort of the values."""
        h = Hit
        column, kind = (h.path, h.event == "pageview") if dim == "page" else (h.event, h.event != "pageview")
        if self._postgresql:  # as for _Scan: no JIT compilation, and room to hash the pairs
            self.db.execute(text("SET LOCAL jit = off"))
            self.db.execute(text("SET LOCAL work_mem = '32MB'"))
        if filters:
            start = period.bounds(self.timezone)[0]
            ids = select(Visit.id).where(*self._matching(period, filters))
            query = select(column, func.count(func.distinct(h.visitor)), func.count(func.distinct(h.visit_id))).where(
                h.visit_id.in_(ids), h.site_id == self.site_id, h.ts >= start, kind
            ).group_by(column)
        else:
            start, end = period.bounds(self.timezone)
            pairs = select(column.label("value"), h.visit_id).where(
                h.site_id == self.site_id, h.ts >= start, h.ts < end, h.bot == "", kind
            ).distinct().subquery()
            query = select(pairs.c.value, literal(0), func.count()).group_by(pairs.c.value)
        return {value: (int(visitors), int(visits)) for value, visitors, visits in self.db.execute(query)}

    def _entries(self, period: Period, filters: dict[str, str]) -> dict[str, Row]:
        """The visits that began on each page: their number, bounces and duration."""
        if filters:
            return _Scan(self, period, filters, ("entry",), series=False).rows["entry"]
        d = DailyStat
        query = select(d.value, *_sums(d)).where(*self._daily(period, "entry")).group_by(d.value)
        return {row[0]: Row(*map(int, row[1:]), value=row[0]) for row in self.db.execute(query)}

    # -- time series --------------------------------------------------------------------

    def series(self, period: Period, filters: dict[str, str], pageviews: bool = True) -> list[Point]:
        """Visitors and page views (left at 0 unless ``pageviews``) per hour (periods of two
        days or less) or per local day."""
        if filters:
            return _Scan(self, period, filters, (), pageviews=pageviews).series
        buckets = self._buckets(period)
        if period.hourly:
            start, end = period.bounds(self.timezone)
            h = HourlyStat
            rows = self.db.execute(
                select(h.hour, h.visitors, h.pageviews).where(h.site_id == self.site_id, h.hour >= start, h.hour < end)
            )
            for hour, visitors, pageviews in rows:
                key = self._bucket(period, hour)
                if key in buckets:
                    buckets[key][0] += visitors
                    buckets[key][1] += pageviews
        else:
            # By local day, exactly (UTC hours do not fall on local midnight in every zone):
            # visitors from the day's total, page views from the day's hits.
            d = DailyStat
            dims = (TOTAL, HITS) if pageviews else (TOTAL,)
            rows = self.db.execute(
                select(d.day, d.dim, d.visitors, d.pageviews).where(
                    d.site_id == self.site_id, d.dim.in_(dims), d.day >= period.start, d.day < period.end
                )
            )
            for day, dim, visitors, views in rows:
                bucket = buckets[datetime(day.year, day.month, day.day)]
                if dim == HITS:
                    bucket[1] += views
                else:
                    bucket[0] += visitors
        return [Point(start, visitors, pageviews) for start, (visitors, pageviews) in buckets.items()]

    def _buckets(self, period: Period) -> dict[datetime, list[int]]:
        """The chart's buckets (local, naive), each with [visitors, page views] at zero."""
        buckets: dict[datetime, list[int]] = {}
        if period.hourly:
            start, end = period.bounds(self.timezone)
            hour = start
            while hour < end:
                buckets[to_local(hour, self.timezone).replace(tzinfo=None)] = [0, 0]
                hour += timedelta(hours=1)
        else:
            day = period.start
            while day < period.end:
                buckets[datetime(day.year, day.month, day.day)] = [0, 0]
                day += timedelta(days=1)
        return buckets

    def _bucket(self, period: Period, ts: datetime) -> datetime:
        """The bucket of a UTC hour (hourly charts) or of a UTC instant."""
        local = to_local(ts, self.timezone).replace(tzinfo=None)
        return local.replace(minute=0, second=0, microsecond=0) if period.hourly else datetime(local.year, local.month, local.day)

    # -- building blocks ----------------------------------------------------------------

    def _daily(self, period: Period, dim: str):
        d = DailyStat
        return (d.site_id == self.site_id, d.dim == dim, d.day >= period.start, d.day < period.end)

    def visits(self, period: Period, filters: dict[str, str]):
        """The visits of the period that match ``filters``, as a subquery."""
        v = Visit
        return select(v).where(*self._matching(period, filters)).subquery()

    def _matching(self, period: Period, filters: dict[str, str]) -> list:
        """Conditions on ``visits`` for the visits of the period that match ``filters``."""
        v, h = Visit, Hit
        conditions = [v.site_id == self.site_id, v.day >= period.start, v.day < period.end]
        # The hits of the period's visits: from its start on (a bound the planner can use to
        # read the site's hits of the period once, rather than probe each visit's).
        hits = (h.site_id == self.site_id, h.ts >= period.bounds(self.timezone)[0])
        for dim, value in filters.items():
            if dim in VISIT_DIMENSIONS:
                conditions.append(getattr(v, VISIT_DIMENSIONS[dim]) == value)
            elif dim == "page":
                conditions.append(v.id.in_(select(h.visit_id).where(*hits, h.event == "pageview", h.path == value)))
            elif dim == "event":
                conditions.append(v.id.in_(select(h.visit_id).where(*hits, h.event == value)))
        return conditions


def _panel(dim: str, rows: list[Row], limit: int, whole: int) -> Panel:
    """A panel of ``rows`` (``limit + 1`` of them tell there is more), shares of ``whole``."""
    metric = sort_metric(dim)
    more = len(rows) > limit
    rows = rows[:limit]
    for row in rows:
        row.share = 100.0 * getattr(row, metric) / whole if whole else 0.0
    return Panel(dim, rows, more)


def _ranked(rows: Iterable[Row], metric: str, limit: int) -> list[Row]:
    """The top ``limit + 1`` rows by ``metric``, then visits, then value (as the SQL orders them)."""
    return sorted(rows, key=lambda row: (-getattr(row, metric), -row.visits, row.value))[: limit + 1]


class _Scan:
    """The numbers of one period with filters, from the raw rows of its matching visits.

    Two statements: one over the matching visits (totals, visitors per bucket, one grouping
    per visit panel) and, when a page, event or property panel or the chart's page views
    need them, one over those visits' hits. Each finds the matching visits itself, by the
    site and day index and the filters.
    """

    def __init__(
        self,
        reports: Reports,
        period: Period,
        filters: dict[str, str],
        dims: Iterable[str],
        *,
        series: bool = True,
        pageviews: bool = True,
        event: str = "",
    ) -> None:
        self.reports = reports
        self.period = period
        self.filters = filters
        self.event = event
        dims = tuple(dims)
        visit_dims = [dim for dim in dims if dim in VISIT_DIMENSIONS]
        if reports._postgresql:
            # Compiling these statements (PostgreSQL's JIT, on above a cost they reach) took
            # ~100 ms each, more than running them; and with the default 4 MB the grouping
            # sets of a few hundred thousand visits are sorted rather than hashed (5× slower).
            reports.db.execute(text("SET LOCAL jit = off"))
            reports.db.execute(text("SET LOCAL work_mem = '32MB'"))
        self.rows: dict[str, dict[str, Row]] = defaultdict(dict)
        self.props: Counter[str] = Counter()
        buckets = reports._buckets(period) if series else {}
        self.totals = self._visits(visit_dims, buckets, series)
        hit_dims = [dim for dim in dims if dim in HIT_DIMENSIONS]
        if hit_dims or (series and pageviews):
            self._hits(hit_dims, buckets, series and pageviews)
        self.series = [Point(start, visitors, pageviews) for start, (visitors, pageviews) in buckets.items()]

    def panel(self, dim: str, limit: int) -> Panel:
        metric = sort_metric(dim)
        if dim == "prop":
            rows = [Row(events=n, value=value) for value, n in self.props.items()]
            whole = sum(self.props.values())
        else:
            rows = list(self.rows[dim].values())
            whole = getattr(self.totals, metric) if dim in VISIT_DIMENSIONS else sum(getattr(row, metric) for row in rows)
        return _panel(dim, _ranked(rows, metric, limit), limit, whole)

    # -- the two passes -----------------------------------------------------------------

    def _grouped(self, source, sets: list[tuple], measures: tuple) -> list[tuple[int, tuple, tuple[int, ...]]]:
        """``measures`` of ``source`` grouped by each of ``sets`` (tuples of distinct columns;
        ``()`` is the grand total): rows of (index of the set, its columns' values, measures)."""
        columns = [column for group in sets for column in group]
        spans = []
        position = 0
        for group in sets:
            spans.append(range(position, position + len(group)))
            position += len(group)
        if not columns:  # the grand total alone
            found = ((0, row) for row in self.reports.db.execute(select(*measures).select_from(source)))
        elif self.reports._postgresql:
            query = select(func.grouping(*columns), *columns, *measures).select_from(source).group_by(
                func.grouping_sets(*(tuple_(*group) for group in sets))
            )
            # GROUPING(...) has a bit set for each column the row is not grouped by.
            masks = {
                sum(1 << (len(columns) - 1 - i) for i in range(len(columns)) if i not in span): index
                for index, span in enumerate(spans)
            }
            found = ((masks[row[0]], row[1:]) for row in self.reports.db.execute(query))
        else:
            branches = []
            for index, (group, span) in enumerate(zip(sets, spans, strict=True)):
                values = [c if i in span else type_coerce(null(), c.type) for i, c in enumerate(columns)]
                branch = select(literal(index), *values, *measures).select_from(source)
                branches.append(branch.group_by(*group) if group else branch)
            found = ((row[0], row[1:]) for row in self.reports.db.execute(union_all(*branches)))
        width = len(columns)
        return [
            (index, tuple(row[i] for i in spans[index]), tuple(int(n) for n in row[width:]))
            for index, row in found
        ]

    def _visits(self, dims: list[str], buckets: dict, series: bool) -> Totals:
        reports = self.reports
        v = reports.visits(self.period, self.filters)
        bucket = (self._hour(v.c.started_at) if self.period.hourly else v.c.day).label("bucket")
        sets: list[tuple] = [(), (bucket,)] if series else [()]
        sets += [(v.c[VISIT_DIMENSIONS[dim]],) for dim in dims]
        panels = dict(zip(range(len(sets) - len(dims), len(sets)), dims, strict=True))
        totals = Totals()
        for index, values, counts in self._grouped(v, sets, _visit_sums(v, self.filters)):
            if index == 0:
                totals = Totals(*counts)
            elif index in panels:
                self.rows[panels[index]][values[0]] = Row(*counts, value=values[0])
            else:
                key = self._key(values[0])
                if key in buckets:
                    buckets[key][0] += counts[0]
        return totals

    def _hits(self, dims: list[str], buckets: dict, series: bool) -> None:
        reports = self.reports
        start, end = self.period.bounds(reports.timezone)
        h = Hit
        ids = select(Visit.id).where(*reports._matching(self.period, self.filters))
        # Hits of the period's visits come at or after the period's start: a bound that lets
        # the planner choose between the visit index and the site's range of hits.
        hits = select(h).where(h.visit_id.in_(ids), h.site_id == reports.site_id, h.ts >= start).subquery("period_hits")
        is_page = hits.c.event == "pageview"
        measures = (
            func.coalesce(func.sum(case((hits.c.is_first, 1), else_=0)), 0),
            func.count(),
            # The chart counts the page views of the period only.
            func.coalesce(func.sum(case((and_(is_page, hits.c.ts < end), 1), else_=0)), 0),
        )
        sets: list[tuple] = []
        if dims:
            value = case((is_page, hits.c.path), else_=hits.c.event).label("value")
            group = (is_page.label("is_page"), value)
            sets.append(group + (cast(hits.c.props, Text).label("props"),) if "prop" in dims else group)
        if series:
            sets.append(((self._hour(hits.c.ts) if self.period.hourly else hits.c.day).label("bucket"),))
        for index, values, (firsts, count, charted) in self._grouped(hits, sets, measures):
            if dims and index == 0:
                page, name = values[0], values[1]
                if page:
                    self._add("page", Row(visitors=firsts, pageviews=count, value=name))
                    continue
                self._add("event", Row(visitors=firsts, events=count, value=name))
                if "prop" in dims and values[2] and (not self.event or name == self.event):
                    for key, prop in (json.loads(values[2]) or {}).items():
                        self.props[prop_value(name, key, prop)] += count
            else:
                key = self._key(values[0])
                if key in buckets:
                    buckets[key][1] += charted

    def _hour(self, column):
        return hour_expression("postgresql" if self.reports._postgresql else "sqlite", column)

    def _key(self, value) -> datetime:
        """The chart bucket of a grouped ``bucket`` value: a UTC hour or a local day."""
        if self.period.hourly:
            return self.reports._bucket(self.period, value if isinstance(value, datetime) else datetime.fromisoformat(value))
        if isinstance(value, str):  # SQLite, through UNION ALL
            value = date.fromisoformat(value)
        return datetime(value.year, value.month, value.day)

    def _add(self, dim: str, row: Row) -> None:
        """Add to a page or event row (an event comes once per distinct set of properties)."""
        known = self.rows[dim].get(row.value)
        if known is None:
            self.rows[dim][row.value] = row
        else:
            known.visitors += row.visitors
            known.pageviews += row.pageviews
            known.events += row.events


def _visit_sums(v, filters: dict[str, str]):
    hit_filter = any(dim in HIT_DIMENSIONS for dim in filters)
    visitors = func.count(func.distinct(v.c.visitor)) if hit_filter else func.sum(case((v.c.is_first, 1), else_=0))
    bounce = case((and_(v.c.pageviews <= 1, v.c.events == 0), 1), else_=0)
    return _labelled(
        func.coalesce(visitors, 0),
        func.count(),
        func.coalesce(func.sum(v.c.pageviews), 0),
        func.coalesce(func.sum(bounce), 0),
        func.coalesce(func.sum(v.c.duration), 0),
        func.coalesce(func.sum(v.c.events), 0),
    )


#: What no stored value holds (the beacon removes control characters and lone surrogates).
_UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def parse_filters(params) -> dict[str, str]:
    """Filters from the query string: ``?country=DE&page=/pricing``; unknown keys are ignored.

    A value no visit can have — longer than any stored value, or with a control character
    (which PostgreSQL would refuse outright, for a NUL) — raises :class:`InvalidQuery`."""
    filters = {}
    for dim in FILTERABLE:
        value = params.get(dim)
        if value is None:
            continue
        if len(value) > MAX_FILTER:
            raise InvalidQuery(f"The {LABELS[dim].lower()} filter is longer than {MAX_FILTER} characters.")
        if _UNSTORABLE.search(value):
            raise InvalidQuery(f"The {LABELS[dim].lower()} filter contains a control character.")
        filters[dim] = value
    return filters

