"""Numbers read from the summary tables, ``daily_stats`` and ``hourly_stats``.

The store keeps them in step with every batch of hits (:mod:`tracking.summaries`): a handful of
small indexed queries answer the unfiltered dashboard whatever the traffic. Each row holds one
dimension's value (or the site's total) for one local day, so the summaries answer a question
about one dimension at a time, without filters (:mod:`.planner`) — or with one filter by a
segment's value (``country=DE``), from that value's rows in ``segment_stats``, which hold the
same numbers for its visits alone.

Read only: nothing here writes (``tests/unit/test_layers.py`` checks it).
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func, literal_column, select

from ..models import DailyStat, HourlyStat, SegmentStat
from ..summaries.dimensions import BOT, COUNT_FIELDS, HITS, PROP_SEPARATOR, TOTAL, VISIT_DIMENSIONS
from .periods import Period
from .query import StatsQuery, sort_metric
from .raw_runner import labelled
from .results import Panel, Point, Row, Totals, bucket_of, buckets, make_panel, points


def _sums(model):
    return labelled(*(func.coalesce(func.sum(getattr(model, name)), 0) for name in COUNT_FIELDS))


class SummaryRunner:
    """Queries over the summary rows of ``query.site`` (with its interval, page of rows and
    ``prop_event``), for any period. Filters are not read: the planner sends here only the parts
    of unfiltered queries, those of a query filtered by a segment's value (``segment``: the
    dimension and the value, whose rows are read instead of ``daily_stats``; the planner
    decides), the totals and the charts without page views of two filters (``within``: the
    second's dimension and value, whose row of the segment's rows is read instead of their
    totals; rule 10), and the bot hits, which no visit filter applies to."""

    def __init__(self, db, query: StatsQuery, segment: tuple[str, str] | None = None,
                 within: tuple[str, str] | None = None) -> None:
        self.db = db
        self.query = query
        self.site = query.site
        self.segment = segment
        #: The (dimension, value) of the segment's rows that hold the totals (the planner's rule
        #: 10: a second filter); ``None``: the totals' own rows.
        self.within = within
        #: ``daily_stats``, or ``segment_stats`` (the same columns, and the segment's two)
        self.model = DailyStat if segment is None else SegmentStat

    def _rows(self, period: Period):
        """The conditions of the site's rows (its segment's) of ``period``, whatever the dimension."""
        d = self.model
        conditions = [d.site_id == self.site.id, d.day >= period.start, d.day < period.end]
        if self.segment is not None:
            conditions += [SegmentStat.segment == self.segment[0], SegmentStat.segment_value == self.segment[1]]
        return conditions

    def _panels(self) -> None:
        """Raise unless these rows hold panels: one value's row of a segment's rows (``within``)
        is its totals only."""
        if self.within is not None:
            raise ValueError("the rows of a value of a segment hold its totals, not its panels: the planner reads "
                             "them from the raw rows")

    def _daily(self, period: Period, dim: str):
        self._panels()
        return (*self._rows(period), self.model.dim == dim)

    def _total(self):
        """The conditions of the rows that hold the totals: the site's (its segment's), or those
        of one value of the segment's (``within``)."""
        d = self.model
        if self.within is None:
            return (d.dim == TOTAL,)
        return (d.dim == self.within[0], d.value == self.within[1])

    def totals(self, period: Period) -> Totals:
        row = self.db.execute(select(*_sums(self.model)).where(*self._rows(period), *self._total())).one()
        return Totals(*map(int, row))

    def has_data(self) -> bool:
        """Whether the site ever received a hit (people or bots)."""
        return self.db.scalar(select(DailyStat.day).where(DailyStat.site_id == self.site.id).limit(1)) is not None

    def bot_hits(self, period: Period) -> int:
        d = DailyStat  # bots have no visit, hence no segment
        return int(self.db.scalar(select(func.coalesce(func.sum(d.pageviews), 0)).where(
            d.site_id == self.site.id, d.dim == BOT, d.day >= period.start, d.day < period.end)))

    def breakdown(self, dim: str, period: Period, totals: Totals | None = None) -> Panel:
        """The query's page of values of ``dim`` (for ``prop`` with ``prop_event``: that event's
        properties).

        Shares of visit dimensions are of the period's ``totals`` (read when not given): every
        visit has one value of each. Shares of pages, events and properties are of the panel's
        own total, summed in the same statement."""
        metric = sort_metric(dim)
        limit, offset, prop_event = self.query.limit, self.query.offset, self.query.prop_event
        conditions = list(self._daily(period, dim))
        d = self.model
        if dim == "prop" and prop_event:
            conditions.append(d.value.startswith(prop_event + PROP_SEPARATOR, autoescape=True))
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
        order: tuple = (literal_column(metric).desc(), literal_column("visits").desc(), literal_column("1").asc())
        query = query.order_by(*order).limit(limit + 1)
        if offset:
            query = query.offset(offset)
        found = self.db.execute(query).all()
        rows = [Row.of(r[0], map(int, r[1:7])) for r in found]
        if dim in VISIT_DIMENSIONS:
            whole = getattr(totals if totals is not None else self.totals(period), metric)
        else:
            whole = int(found[0][7]) if found else 0
        return make_panel(dim, rows, limit, whole)

    def breakdowns(self, dims: Sequence[str], period: Period, totals: Totals | None = None) -> dict[str, Panel]:
        """The panels of several dimensions, as :meth:`breakdown` gives each, in one statement:
        one scan of the period's summary rows, each dimension's values ranked in it (over 12
        months of a big site, a scan per panel cost ~80 ms each for pages, entries and exits)."""
        if len(dims) < 2 or (self.query.prop_event and "prop" in dims):
            return {dim: self.breakdown(dim, period, totals) for dim in dims}
        self._panels()
        limit, offset = self.query.limit, self.query.offset
        d = self.model
        metric = case(*((d.dim == dim, func.sum(getattr(d, sort_metric(dim)))) for dim in dims), else_=0)
        grouped = (
            select(
                d.dim, d.value, *_sums(d),
                func.sum(metric).over(partition_by=d.dim).label("whole"),
                func.row_number().over(
                    partition_by=d.dim, order_by=(metric.desc(), func.sum(d.visits).desc(), d.value.asc())
                ).label("rank"),
            )
            .where(*self._rows(period), d.dim.in_(dims))
            .group_by(d.dim, d.value)
            # A visit that moved on leaves a row of zeros behind (its former exit page).
            .having(func.sum(d.visits) + func.sum(d.pageviews) + func.sum(d.events) > 0)
            .subquery("ranked")
        )
        rows: dict[str, list[Row]] = {dim: [] for dim in dims}
        wholes: dict[str, int] = {}
        for found in self.db.execute(
            select(grouped).where(grouped.c.rank > offset, grouped.c.rank <= offset + limit + 1)
            .order_by(grouped.c.dim, grouped.c.rank)
        ):
            rows[found[0]].append(Row.of(found[1], map(int, found[2:8])))
            wholes[found[0]] = int(found[8])
        if any(dim in VISIT_DIMENSIONS for dim in dims) and totals is None:
            totals = self.totals(period)
        return {
            dim: make_panel(dim, rows[dim], limit,
                            getattr(totals, sort_metric(dim)) if dim in VISIT_DIMENSIONS else wholes.get(dim, 0))
            for dim in dims
        }

    def entries(self, period: Period) -> dict[str, Row]:
        """The visits that began on each page: their number, bounces and duration."""
        d = self.model
        query = select(d.value, *_sums(d)).where(*self._daily(period, "entry")).group_by(d.value)
        return {row[0]: Row.of(row[0], map(int, row[1:])) for row in self.db.execute(query)}

    def series(self, period: Period, pageviews: bool = True) -> list[Point]:
        """Counts (page views left at 0 unless ``pageviews``) per hour of UTC shown in local
        time, or per local day. ``hourly_stats`` holds no bounces or duration: the hourly buckets
        leave them at 0 (the planner reads an hourly chart of those from the raw rows)."""
        bucket = self.query.bucket
        found = buckets(period, bucket, self.site.timezone)
        if bucket == "hour":
            if self.segment is not None:
                raise ValueError("hourly_stats holds no segments: the planner reads their hours from the raw rows")
            start, end = period.bounds(self.site.timezone)
            h = HourlyStat
            rows = self.db.execute(
                select(h.hour, h.visitors, h.pageviews, h.visits).where(
                    h.site_id == self.site.id, h.hour >= start, h.hour < end
                )
            )
            for hour, visitors, views, visits in rows:
                key = bucket_of(hour, bucket, self.site.timezone)
                if key in found:
                    found[key][0] += visitors
                    found[key][1] += views if pageviews else 0
                    found[key][2] += visits
        else:
            # By local day, exactly (UTC hours do not fall on local midnight in every zone):
            # visitors, visits, bounces and duration from the day's total, page views from the
            # day's hits.
            d = self.model
            if self.within is None:
                kept = (d.dim.in_((TOTAL, HITS) if pageviews else (TOTAL,)),)
            elif pageviews:
                raise ValueError("the rows of a value of a segment count no page views by day: the planner reads "
                                 "such a chart from the raw rows")
            else:
                kept = self._total()
            rows = self.db.execute(
                select(d.day, d.dim, d.visitors, d.pageviews, d.visits, d.bounces, d.duration).where(
                    *self._rows(period), *kept
                )
            )
            for day, dim, visitors, views, visits, bounces, duration in rows:
                bucket_values = found[datetime(day.year, day.month, day.day)]
                if dim == HITS:
                    bucket_values[1] += views
                else:
                    bucket_values[0] += visitors
                    bucket_values[2] += visits
                    bucket_values[3] += bounces
                    bucket_values[4] += duration
        return points(found)
