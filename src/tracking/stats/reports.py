"""The numbers of a site's dashboard, for a period and optional filters.

Without filters every number comes from the summary tables (:mod:`.rollups`): a handful of
small indexed queries, whatever the traffic. With filters the numbers come from the raw
sessions and hits of the period (one scan per panel): exact for any combination of filters,
and slower on big sites — ``BENCHMARKS.md`` has the figures.

Visitors: ids rotate daily, so a "visitor" is one person on one day, and visitors over several
days are a sum of daily visitors. Each visitor is attributed to their first visit of the day:
the visitors of all sources add up to the total. When a page or event filter is active,
visitors are the distinct visitors whose visits match.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, case, exists, func, literal, literal_column, select

from ..models import DailyStat, HourlyStat, Visit, VisitSession
from .dimensions import BOT, HIT_DIMENSIONS, PROP_SEPARATOR, SESSION_DIMENSIONS, TOTAL, prop_value
from .periods import Period, to_local

#: Filters that can be set from the query string: every dimension but properties.
FILTERABLE = (*SESSION_DIMENSIONS, "page", "event")
REALTIME_MINUTES = 30


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

    # -- totals -------------------------------------------------------------------------

    def totals(self, period: Period, filters: dict[str, str]) -> Totals:
        if not filters:
            row = self.db.execute(select(*_sums(DailyStat)).where(*self._daily(period, TOTAL))).one()
            return Totals(*map(int, row))
        s = self.sessions(period, filters)
        row = self.db.execute(select(*self._session_sums(s, filters))).one()
        return Totals(*map(int, row))

    def has_data(self) -> bool:
        """Whether the site ever received a hit (people or bots)."""
        return self.db.scalar(select(DailyStat.day).where(DailyStat.site_id == self.site_id).limit(1)) is not None

    def bot_hits(self, period: Period) -> int:
        return int(self.db.scalar(select(func.coalesce(func.sum(DailyStat.pageviews), 0)).where(*self._daily(period, BOT))))

    def realtime(self, now: datetime) -> int:
        """Visitors with a hit in the last 30 minutes."""
        s = VisitSession
        return int(
            self.db.scalar(
                select(func.count(func.distinct(s.visitor))).where(
                    s.site_id == self.site_id, s.ended_at >= now - timedelta(minutes=REALTIME_MINUTES)
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
    ) -> Panel:
        """The top ``limit`` values of ``dim`` (for ``prop``: the properties of ``event``).

        Shares of session dimensions are of the period's ``totals`` (computed when not given):
        every visit has one value of each. Shares of pages, events and properties are of the
        panel's own total."""
        metric = sort_metric(dim)
        if dim == "prop" and filters:
            counts = self._prop_counts(period, filters, event)
            rows = [Row(events=n, value=value) for value, n in counts.most_common(limit + 1)]
            whole = sum(counts.values())
        else:
            if not filters:
                conditions = list(self._daily(period, dim))
                if dim == "prop" and event:
                    conditions.append(DailyStat.value.startswith(event + PROP_SEPARATOR, autoescape=True))
                d = DailyStat
                query = (
                    select(d.value, *_sums(d))
                    .where(*conditions)
                    .group_by(d.value)
                    # A session that moved on leaves a row of zeros behind (its former exit page).
                    .having(func.sum(d.visits) + func.sum(d.pageviews) + func.sum(d.events) > 0)
                )
            elif dim in SESSION_DIMENSIONS:
                s = self.sessions(period, filters)
                column = s.c[SESSION_DIMENSIONS[dim]]
                query = select(column, *self._session_sums(s, filters)).group_by(column)
            else:
                query = self._hit_query(dim, period, filters)
            rows = [Row(*map(int, r[1:]), value=r[0]) for r in self._top(query, metric, limit)]
            if dim in SESSION_DIMENSIONS:
                whole = getattr(totals if totals is not None else self.totals(period, filters), metric)
            else:
                grouped = query.subquery()
                whole = int(self.db.scalar(select(func.coalesce(func.sum(grouped.c[metric]), 0))))
        more = len(rows) > limit
        rows = rows[:limit]
        for row in rows:
            row.share = 100.0 * getattr(row, metric) / whole if whole else 0.0
        return Panel(dim, rows, more)

    def _top(self, query: Select, metric: str, limit: int):
        """``limit + 1`` rows of a (value, visitors, visits, pageviews, bounces, duration, events)
        query, by ``metric``, then visits, then value; the extra row tells there is more."""
        order = (literal_column(metric).desc(), literal_column("visits").desc(), literal_column("1").asc())
        return self.db.execute(query.order_by(*order).limit(limit + 1)).all()

    def _hit_query(self, dim: str, period: Period, filters: dict[str, str]) -> Select:
        """Pages or events of the matching sessions, in the panels' column layout."""
        s = self.sessions(period, filters)
        v = Visit
        column = v.path if dim == "page" else v.event
        kind = v.event == "pageview" if dim == "page" else v.event != "pageview"
        first = func.coalesce(func.sum(case((v.is_first, 1), else_=0)), 0)
        count, zero = func.count(), literal(0)
        pageviews, events = (count, zero) if dim == "page" else (zero, count)
        return (
            select(column.label("value"), *_labelled(first, zero, pageviews, zero, zero, events))
            .where(v.session_id.in_(select(s.c.id)), kind)
            .group_by(column)
        )

    def _prop_counts(self, period: Period, filters: dict[str, str], event: str) -> Counter[str]:
        """Event properties of the matching sessions (JSON is read here: databases differ)."""
        s = self.sessions(period, filters)
        v = Visit
        query = select(v.event, v.props).where(v.session_id.in_(select(s.c.id)), v.event != "pageview", v.props.is_not(None))
        if event:
            query = query.where(v.event == event)
        counts: Counter[str] = Counter()
        for name, props in self.db.execute(query):
            for key, value in (props or {}).items():
                counts[prop_value(name, key, value)] += 1
        return counts

    # -- time series --------------------------------------------------------------------

    def series(self, period: Period, filters: dict[str, str]) -> list[Point]:
        """Visitors and page views per local hour (periods of two days or less) or per day."""
        start, end = period.bounds(self.timezone)
        buckets: dict[datetime, list[int]] = {}
        if period.hourly:
            hour = start
            while hour < end:
                buckets[to_local(hour, self.timezone).replace(tzinfo=None)] = [0, 0]
                hour += timedelta(hours=1)
        else:
            day = period.start
            while day < period.end:
                buckets[datetime(day.year, day.month, day.day)] = [0, 0]
                day += timedelta(days=1)

        def bucket(ts: datetime) -> datetime:
            local = to_local(ts, self.timezone).replace(tzinfo=None)
            return local.replace(minute=0, second=0, microsecond=0) if period.hourly else datetime(local.year, local.month, local.day)

        if not filters:
            h = HourlyStat
            rows = self.db.execute(
                select(h.hour, h.visitors, h.pageviews).where(h.site_id == self.site_id, h.hour >= start, h.hour < end)
            )
            for hour, visitors, pageviews in rows:
                key = bucket(hour)
                if key in buckets:
                    buckets[key][0] += visitors
                    buckets[key][1] += pageviews
        else:
            s = self.sessions(period, filters)
            for started, first in self.db.execute(select(s.c.started_at, s.c.is_first)):
                key = bucket(started)
                if key in buckets:
                    buckets[key][0] += 1 if first else 0
            v = Visit
            for (ts,) in self.db.execute(
                select(v.ts).where(v.session_id.in_(select(s.c.id)), v.event == "pageview", v.ts >= start, v.ts < end)
            ):
                key = bucket(ts)
                if key in buckets:
                    buckets[key][1] += 1
        return [Point(start, visitors, pageviews) for start, (visitors, pageviews) in buckets.items()]

    # -- building blocks ----------------------------------------------------------------

    def _daily(self, period: Period, dim: str):
        d = DailyStat
        return (d.site_id == self.site_id, d.dim == dim, d.day >= period.start, d.day < period.end)

    def sessions(self, period: Period, filters: dict[str, str]):
        """The sessions of the period that match ``filters``, as a subquery."""
        s = VisitSession
        conditions = [s.site_id == self.site_id, s.day >= period.start, s.day < period.end]
        for dim, value in filters.items():
            if dim in SESSION_DIMENSIONS:
                conditions.append(getattr(s, SESSION_DIMENSIONS[dim]) == value)
            elif dim == "page":
                conditions.append(exists().where(Visit.session_id == s.id, Visit.event == "pageview", Visit.path == value))
            elif dim == "event":
                conditions.append(exists().where(Visit.session_id == s.id, Visit.event == value))
        return select(s).where(and_(*conditions)).subquery()

    @staticmethod
    def _session_sums(s, filters: dict[str, str]):
        hit_filter = any(dim in HIT_DIMENSIONS for dim in filters)
        visitors = func.count(func.distinct(s.c.visitor)) if hit_filter else func.sum(case((s.c.is_first, 1), else_=0))
        bounce = case((and_(s.c.pageviews <= 1, s.c.events == 0), 1), else_=0)
        return _labelled(
            func.coalesce(visitors, 0),
            func.count(),
            func.coalesce(func.sum(s.c.pageviews), 0),
            func.coalesce(func.sum(bounce), 0),
            func.coalesce(func.sum(s.c.duration), 0),
            func.coalesce(func.sum(s.c.events), 0),
        )


def parse_filters(params) -> dict[str, str]:
    """Filters from the query string: ``?country=DE&page=/pricing``; unknown keys are ignored."""
    filters = {}
    for dim in FILTERABLE:
        value = params.get(dim)
        if value is not None and len(value) <= 1024:
            filters[dim] = value
    return filters

