"""Numbers read from the raw rows, ``visits`` and ``hits``: exact for any combination of filters.

:meth:`RawRunner.scan` answers one period in two passes: one over the matching visits for the
totals, the chart's visitors, visits, bounces and durations, and every visit panel
(``GROUPING SETS`` on PostgreSQL, one ``UNION ALL`` branch per panel on SQLite), and one over
their hits for the page, event and property panels and the chart's page views. Slower on big sites than the summaries —
``BENCHMARKS.md`` has the figures. Every filter is a condition on the visit row: a country,
region, city, referrer or entry page filter finds its visits through an index, a UTM filter
through the partial index of the visits that have a UTM parameter; the others read the period's visits, a page or event
filter in the list of pages and events each visit keeps (``visits.pages``,
``visits.event_names``), a goal filter through the goal's list of converted visits
(``goal_visits``) once its rows count its present rules, else by its rules
(:func:`tracking.goals.visit_converts`). With a page,
event or goal filter a visitor is counted at their first
matching visit of the day (one ranking of the matching visits, where distinct counts would
sort them once per panel).

Also from the raw rows, whatever the filters: the visitors and visits of each page or event
(:meth:`RawRunner.people`: the summaries keep no pairs of value and visit) and the visitors of
the last 30 minutes (:meth:`RawRunner.realtime`: the summaries are by hour and by day).

Read only: nothing here writes (``tests/unit/test_layers.py`` checks it).
"""

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import astuple
from datetime import date, datetime, timedelta

from sqlalchemy import (
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.sql.elements import ColumnClause
from sqlalchemy.sql.selectable import CTE, Subquery

from ..goals import visit_converts
from ..models import GoalVisit, Hit, Visit
from ..models.hits import listed
from ..summaries.dimensions import COUNT_FIELDS, HIT_DIMENSIONS, VISIT_DIMENSIONS, hour_expression, prop_value
from .periods import Period
from .planner import summarized_goal
from .query import HIT_FILTERS, Filter, InvalidQuery, SiteRef, StatsQuery, sort_metric
from .results import Panel, Point, Row, Totals, bucket_of, buckets, make_panel, points, ranked

REALTIME_MINUTES = 30
#: PostgreSQL: up to this many visits, their hits are read through the visit index (about 20 µs
#: a visit); past it, the site's range of hits from the period's start is hashed (about 3 µs a
#: hit): :meth:`RawRunner.probing`.
PROBE_LIMIT = 50_000
#: The filters a visit without UTM parameters cannot match, unless by the empty value.
UTM_DIMENSIONS = ("utm_source", "utm_medium", "utm_campaign")


def labelled(*columns):
    """The six counts of a panel query, named (so that queries over them pick the right one)."""
    return tuple(column.label(name) for column, name in zip(columns, COUNT_FIELDS, strict=True))


def matching(site: SiteRef, period: Period, filters: Iterable[Filter]) -> list:
    """Conditions on ``visits`` for the visits of the period that match ``filters``: each a
    condition on the visit row (its pages and events are listed on it)."""
    v = Visit
    conditions = [v.site_id == site.id, v.day >= period.start, v.day < period.end]
    if any(f.dimension in UTM_DIMENSIONS and f.value for f in filters):
        # Implied by the filter; written as the partial index of the visits with a UTM
        # parameter states it (literals, not parameters: the planner must know, for any plan
        # it keeps, that the index holds every row that can match).
        empty: ColumnClause[str] = literal_column("''")
        conditions.append(or_(v.utm_source != empty, v.utm_medium != empty, v.utm_campaign != empty))
    for f in filters:
        if f.dimension in VISIT_DIMENSIONS:
            conditions.append(getattr(v, VISIT_DIMENSIONS[f.dimension]) == f.value)
        elif f.dimension == "page":
            conditions.append(listed(v.pages, f.value))
        elif f.dimension == "event":
            conditions.append(listed(v.event_names, f.value))
        elif f.dimension == "goal":
            if f.goal is None:
                raise InvalidQuery("A goal filter without its goal's rules (tracking.goals.resolve_filters).")
            if f.goal.summarized:  # the visits listed as converted on it, through their index
                conditions.append(v.id.in_(_listed(site, period, f.goal.id)))
            else:
                conditions.append(visit_converts(f.goal, Visit.__table__))
    return conditions


def matching_ids(site: SiteRef, period: Period, filters: tuple[Filter, ...]):
    """The ids of the visits of the period that match ``filters``, as a select: for one filter
    by a goal counted for its present rules, its list of converted visits alone."""
    goal = summarized_goal(filters)
    if goal is not None:
        return _listed(site, period, goal)
    return select(Visit.id).where(*matching(site, period, filters))


def _listed(site: SiteRef, period: Period, goal_id: int):
    """The visits of the period that converted on a goal, from its list (``goal_visits``)."""
    gv = GoalVisit.__table__
    return select(gv.c.visit_id).where(gv.c.site_id == site.id, gv.c.goal_id == goal_id, gv.c.day >= period.start,
                                       gv.c.day < period.end)


def matching_visits(site: SiteRef, period: Period, filters: Iterable[Filter]):
    """The visits of the period that match ``filters``, as a subquery."""
    return select(Visit).where(*matching(site, period, filters)).subquery()


class RawRunner:
    """Queries over the raw rows of ``query.site``, with ``query.filters`` (and its interval,
    page of rows and ``prop_event``), for any period (the query's, or the one before)."""

    def __init__(self, db, query: StatsQuery) -> None:
        self.db = db
        self.query = query
        self.site = query.site

    @property
    def postgresql(self) -> bool:
        return self.db.get_bind().dialect.name == "postgresql"

    def tune(self) -> None:
        """PostgreSQL: compiling these statements (its JIT, on above a cost they reach) took
        ~100 ms each, more than running them; and with the default 4 MB the grouping sets of a
        few hundred thousand visits are sorted rather than hashed (5× slower)."""
        if self.postgresql:
            self.db.execute(text("SET LOCAL jit = off"))
            self.db.execute(text("SET LOCAL work_mem = '32MB'"))

    def probes(self, visits: int | None) -> bool:
        """PostgreSQL: whether the hits of some visits, found first (materialised), are read
        through the visit index, with no hash or merge join of the site's range of hits
        (:meth:`probing`): when the visits are known to be few (``visits``, at most
        :data:`PROBE_LIMIT`). The planner would choose by its guess of how many visits match, and
        it guesses a condition on a visit's pages or events keeps a third of them. Used by the
        goals panel (:func:`~.goals.goal_numbers`); the dashboard's hit pass, measured with it,
        was no faster (its statement finds the visits itself, and hashes them well)."""
        return self.postgresql and visits is not None and visits <= PROBE_LIMIT

    @contextmanager
    def probing(self, probe: bool):
        """Around one statement: no hash or merge join when ``probe`` (:meth:`probes`); the
        planner's defaults come back after it."""
        if probe:
            self.db.execute(text("SET LOCAL enable_hashjoin = off"))
            self.db.execute(text("SET LOCAL enable_mergejoin = off"))
        try:
            yield
        finally:
            if probe:
                self.db.execute(text("SET LOCAL enable_hashjoin TO DEFAULT"))
                self.db.execute(text("SET LOCAL enable_mergejoin TO DEFAULT"))

    def scan(self, period: Period, dims: Iterable[str] = (), *, series: bool = True, pageviews: bool = True) -> "Scan":
        """Everything of ``period`` at once: totals, chart (unless not ``series``; its page views
        unless not ``pageviews``) and the rows of ``dims``."""
        return Scan(self, period, dims, series=series, pageviews=pageviews)

    # The parts one at a time, as the summary runner answers them.

    def totals(self, period: Period) -> Totals:
        return self.scan(period, series=False).totals

    def series(self, period: Period, pageviews: bool = True) -> list[Point]:
        return self.scan(period, pageviews=pageviews).series

    def breakdown(self, dim: str, period: Period, totals: Totals | None = None) -> Panel:
        return self.scan(period, (dim,), series=False).panel(dim, self.query.limit, self.query.offset)

    def entries(self, period: Period) -> dict[str, Row]:
        """The visits that began on each page: their number, bounces and duration."""
        return self.scan(period, ("entry",), series=False).rows["entry"]

    def people(self, dim: str, period: Period) -> dict[str, tuple[int, int]]:
        """Pages or events: the visitors and visits of each, from the raw hits.

        With filters, the distinct visitors and visits among the hits of the matching visits.
        Without, the visits among the hits of the period (by their own day, as the summaries
        count the page views), and no visitors: the summaries' are right (a visitor counted on
        the day of their first view), and the one raw statement stays a hashed count of
        (value, visit) pairs, with no sort of the values."""
        h = Hit
        column, kind = (h.path, h.event == "pageview") if dim == "page" else (h.event, h.event != "pageview")
        filters = self.query.filters
        self.tune()  # as for the scans: no JIT compilation, and room to hash the pairs
        if filters:
            start = period.bounds(self.site.timezone)[0]
            ids = select(Visit.id).where(*matching(self.site, period, filters))
            query = select(column, func.count(func.distinct(h.visitor)), func.count(func.distinct(h.visit_id))).where(
                h.visit_id.in_(ids), h.site_id == self.site.id, h.ts >= start, kind
            ).group_by(column)
        else:
            start, end = period.bounds(self.site.timezone)
            pairs = select(column.label("value"), h.visit_id).where(
                h.site_id == self.site.id, h.ts >= start, h.ts < end, h.bot == "", kind
            ).distinct().subquery()
            query = select(pairs.c.value, literal(0), func.count()).group_by(pairs.c.value)
        return {value: (int(visitors), int(visits)) for value, visitors, visits in self.db.execute(query)}

    def realtime(self, now: datetime) -> int:
        """Visitors with a hit in the last 30 minutes."""
        v = Visit
        return int(
            self.db.scalar(
                select(func.count(func.distinct(v.visitor))).where(
                    v.site_id == self.site.id, v.ended_at >= now - timedelta(minutes=REALTIME_MINUTES)
                )
            )
        )


class Scan:
    """The numbers of one period with filters, from the raw rows of its matching visits.

    Two statements: one over the matching visits (totals, counts per bucket, one grouping
    per visit panel; none for the panels of pages, events or properties alone, without a
    chart: no number of theirs comes from it) and, when a page, event or property panel or
    the chart's page views need them, one over those visits' hits. Each finds the matching visits itself, by the
    site and day index and the filters.
    """

    def __init__(self, runner: RawRunner, period: Period, dims: Iterable[str], *, series: bool = True,
                 pageviews: bool = True) -> None:
        self.runner = runner
        self.site = runner.site
        self.period = period
        self.filters = runner.query.filters
        self.bucket = runner.query.bucket
        self.prop_event = runner.query.prop_event
        dims = tuple(dims)
        # A panel of a filtered visit dimension has one row, the filter's value, whose counts
        # are the totals: no grouping for it.
        fixed = {f.dimension: f.value for f in self.filters if f.dimension in VISIT_DIMENSIONS}
        visit_dims = [dim for dim in dims if dim in VISIT_DIMENSIONS and dim not in fixed]
        runner.tune()
        self.rows: dict[str, dict[str, Row]] = defaultdict(dict)
        self.props: Counter[str] = Counter()
        found = buckets(period, self.bucket, self.site.timezone) if series else {}
        if series or not dims or any(dim in VISIT_DIMENSIONS for dim in dims):
            self.totals = self._visits(visit_dims, found, series)
        else:  # pages, events or properties alone: their shares are of their own sum
            self.totals = Totals()
        for dim in dims:
            if dim in fixed and self.totals.visits:
                self.rows[dim][fixed[dim]] = Row.of(fixed[dim], astuple(self.totals))
        hit_dims = [dim for dim in dims if dim in HIT_DIMENSIONS]
        if hit_dims or (series and pageviews):
            self._hits(hit_dims, found, series and pageviews)
        self.series = points(found)

    def panel(self, dim: str, limit: int, offset: int = 0) -> Panel:
        metric = sort_metric(dim)
        if dim == "prop":
            rows = [Row(events=n, value=value) for value, n in self.props.items()]
            whole = sum(self.props.values())
        else:
            rows = list(self.rows[dim].values())
            whole = getattr(self.totals, metric) if dim in VISIT_DIMENSIONS else sum(getattr(row, metric) for row in rows)
        return make_panel(dim, ranked(rows, metric, limit, offset), limit, whole)

    # -- the two passes -----------------------------------------------------------------

    def _grouped(self, source, sets: list[tuple], measures: tuple) -> list[tuple[int, tuple, tuple[int, ...]]]:
        """``measures`` of ``source`` grouped by each of ``sets`` (tuples of distinct columns;
        ``()`` is the grand total): rows of (index of the set, its columns' values, measures)."""
        db = self.runner.db
        columns = [column for group in sets for column in group]
        spans = []
        position = 0
        for group in sets:
            spans.append(range(position, position + len(group)))
            position += len(group)
        if len(sets) == 1:  # one grouping (or the grand total alone): a plain GROUP BY
            query = select(*columns, *measures).select_from(source)
            found = ((0, row) for row in db.execute(query.group_by(*columns) if columns else query))
        elif self.runner.postgresql:
            query = select(func.grouping(*columns), *columns, *measures).select_from(source).group_by(
                func.grouping_sets(*(tuple_(*group) for group in sets))
            )
            # GROUPING(...) has a bit set for each column the row is not grouped by.
            masks = {
                sum(1 << (len(columns) - 1 - i) for i in range(len(columns)) if i not in span): index
                for index, span in enumerate(spans)
            }
            found = ((masks[row[0]], row[1:]) for row in db.execute(query))
        else:
            branches = []
            for index, (group, span) in enumerate(zip(sets, spans, strict=True)):
                values = [c if i in span else type_coerce(null(), c.type) for i, c in enumerate(columns)]
                branch = select(literal(index), *values, *measures).select_from(source)
                branches.append(branch.group_by(*group) if group else branch)
            found = ((row[0], row[1:]) for row in db.execute(union_all(*branches)))
        width = len(columns)
        return [
            (index, tuple(row[i] for i in spans[index]), tuple(int(n) for n in row[width:]))
            for index, row in found
        ]

    def _visits(self, dims: list[str], found: dict, series: bool) -> Totals:
        t = Visit.__table__
        where = matching(self.site, self.period, self.filters)
        # With a page, event or goal filter, a visitor is counted at their first matching visit
        # of the day (visitor ids are daily): distinct visitors per day, which the rows of a
        # panel add up to, as without filters.
        ranked_visits = (
            [func.row_number().over(partition_by=(t.c.visitor, t.c.day), order_by=(t.c.started_at, t.c.id))
             .label("match_rank")]
            if _hit_filter(self.filters) else []
        )
        v: Subquery | CTE
        if self.runner.postgresql:
            v = select(t, *ranked_visits).where(*where).subquery("matching_visits")
        else:  # one branch per grouping: found once (the columns they read), each branch reads them
            columns = [t.c.day, t.c.started_at, t.c.is_first, t.c.visitor, t.c.pageviews, t.c.events, t.c.duration,
                       *(t.c[VISIT_DIMENSIONS[dim]] for dim in dims)]
            v = select(*columns, *ranked_visits).where(*where).cte("matching_visits").prefix_with("MATERIALIZED")
        bucket = (self._hour(v.c.started_at) if self.bucket == "hour" else v.c.day).label("bucket")
        # With a chart, the totals are the sum of its buckets (every count is additive: a
        # visitor is counted once per day, at one visit): one grouping less, and without panels
        # (the period before) a plain GROUP BY, which PostgreSQL can count in parallel.
        sets: list[tuple] = [(bucket,)] if series else [()]
        sets += [(v.c[VISIT_DIMENSIONS[dim]],) for dim in dims]
        panels = dict(zip(range(1, len(sets)), dims, strict=True))
        sums = [0] * len(COUNT_FIELDS)
        for index, values, counts in self._grouped(v, sets, _visit_sums(v, self.filters)):
            if index in panels:
                self.rows[panels[index]][values[0]] = Row.of(values[0], counts)
                continue
            sums = [total + count for total, count in zip(sums, counts, strict=True)]
            if series:
                key = self._key(values[0])
                if key in found:  # visitors, visits, bounces, duration (page views: from the hits)
                    visitors, visits, _, bounces, duration, _ = counts
                    for at, count in ((0, visitors), (2, visits), (3, bounces), (4, duration)):
                        found[key][at] += count
        return Totals(*sums)

    def _hits(self, dims: list[str], found: dict, series: bool) -> None:
        start, end = self.period.bounds(self.site.timezone)
        h = Hit
        ids = select(Visit.id).where(*matching(self.site, self.period, self.filters))
        if self.runner.postgresql:
            # Hits of the period's visits come at or after the period's start: a bound that lets
            # the planner choose between the visit index and the site's range of hits.
            chosen = select(h).where(h.visit_id.in_(ids), h.site_id == self.site.id, h.ts >= start)
        else:
            # SQLite: each matching visit's hits through the visit index (a range of the site's
            # hits costs a lookup of each one in the table).
            id_rows = ids.subquery("matching_ids")
            chosen = select(h).join(id_rows, h.visit_id == id_rows.c.id)
        hits = chosen.subquery("period_hits")
        is_page = hits.c.event == "pageview"
        measures = (
            func.coalesce(func.sum(case((hits.c.is_first, 1), else_=0)), 0),
            func.count(),
            # The chart counts the page views of the period only.
            func.coalesce(func.sum(case((and_(is_page, hits.c.ts < end), 1), else_=0)), 0),
        )
        group: tuple = ()
        if dims:
            value = case((is_page, hits.c.path), else_=hits.c.event).label("value")
            group = (is_page.label("is_page"), value)
            group += (cast(hits.c.props, Text).label("props"),) if "prop" in dims else ()
        bucket = ((self._hour(hits.c.ts) if self.bucket == "hour" else hits.c.day).label("bucket"),) if series else ()
        firsts_of: Counter[tuple] = Counter()  # values of ``group`` → its hits that were firsts
        hits_of: Counter[tuple] = Counter()  # values of ``group`` → its hits
        chart: Counter = Counter()  # bucket → page views
        if group and bucket and not self.runner.postgresql:
            # SQLite runs each grouping set as a pass of its own: one pass by both, summed up here.
            for _, values, (firsts, count, charted) in self._grouped(hits, [group + bucket], measures):
                firsts_of[values[:-1]] += firsts
                hits_of[values[:-1]] += count
                chart[values[-1]] += charted
        else:
            sets = [s for s in (group, bucket) if s]
            for index, values, (firsts, count, charted) in self._grouped(hits, sets, measures):
                if group and index == 0:
                    firsts_of[values] += firsts
                    hits_of[values] += count
                else:
                    chart[values[0]] += charted
        for values, count in hits_of.items():
            firsts = firsts_of[values]
            page, name = values[0], values[1]
            if page:
                self._add("page", Row(visitors=firsts, pageviews=count, value=name))
                continue
            self._add("event", Row(visitors=firsts, events=count, value=name))
            if "prop" in dims and values[2] and (not self.prop_event or name == self.prop_event):
                for key, prop in (json.loads(values[2]) or {}).items():
                    self.props[prop_value(name, key, prop)] += count
        for value, charted in chart.items():
            key = self._key(value)
            if key in found:
                found[key][1] += charted

    def _hour(self, column):
        return hour_expression("postgresql" if self.runner.postgresql else "sqlite", column)

    def _key(self, value) -> datetime:
        """The chart bucket of a grouped ``bucket`` value: a UTC hour or a local day."""
        if self.bucket == "hour":
            return bucket_of(value if isinstance(value, datetime) else datetime.fromisoformat(value), "hour",
                             self.site.timezone)
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


def _hit_filter(filters: tuple[Filter, ...]) -> bool:
    return any(f.dimension in HIT_FILTERS for f in filters)


def _visit_sums(v, filters: tuple[Filter, ...]):
    """The six counts of a group of ``v``'s visits. Visitors: those attributed to a visit of the
    group — their first of the day, or with a page or event filter their first that matches."""
    first = v.c.match_rank == 1 if _hit_filter(filters) else v.c.is_first
    bounce = case((and_(v.c.pageviews <= 1, v.c.events == 0), 1), else_=0)
    return labelled(
        func.coalesce(func.sum(case((first, 1), else_=0)), 0),
        func.count(),
        func.coalesce(func.sum(v.c.pageviews), 0),
        func.coalesce(func.sum(bounce), 0),
        func.coalesce(func.sum(v.c.duration), 0),
        func.coalesce(func.sum(v.c.events), 0),
    )
