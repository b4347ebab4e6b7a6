"""What the read API answers: plain values, whichever tables the numbers came from.

Visitors: ids rotate daily, so a "visitor" is one person on one day, and visitors over several
days are a sum of daily visitors. Each visitor is attributed to their first visit of the day:
the visitors of all sources add up to the total. When a page or event filter is active,
visitors are the distinct visitors whose visits match, each attributed to their first matching
visit of the period (the rows of a panel still add up to the total).

Chart buckets (:func:`buckets`) are local days, or hours of UTC shown in local time (the grain
of the hourly summary; in zones half an hour off UTC, such as India's, an "hour" runs from half
past to half past), the same with filters or without.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..timezones import to_local
from .periods import Period
from .query import DETAILS, METRIC_LABELS, sort_metric


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
    #: Pages (full lists only): the engaged seconds per visit and the scroll depth in percent
    #: measured of the page (:mod:`.engagement`); ``None``: no measurement.
    time_on_page: float | None = None
    scroll_depth: float | None = None

    @classmethod
    def of(cls, value: str, counts) -> "Row":
        """A row of ``value`` with the six counts (:data:`~tracking.summaries.dimensions.COUNT_FIELDS`)."""
        visitors, visits, pageviews, bounces, duration, events = counts
        return cls(visitors, visits, pageviews, bounces, duration, events, value)

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
    """One bucket of a time series: its counts (visits, bounces and duration of the visits that
    began in it; page views of the hits in it). A ratio of a bucket without visits is ``None``."""

    start: datetime
    visitors: int
    pageviews: int
    visits: int = 0
    bounces: int = 0
    duration: int = 0

    @property
    def views_per_visit(self) -> float | None:
        return self.pageviews / self.visits if self.visits else None

    @property
    def bounce_rate(self) -> float | None:
        return 100.0 * self.bounces / self.visits if self.visits else None

    @property
    def average_duration(self) -> float | None:
        return self.duration / self.visits if self.visits else None


@dataclass
class Panel:
    """A breakdown: rows of one dimension, in order; ``more`` when rows follow them."""

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
class Aggregate:
    """A period's totals, and with ``compare`` the previous period's."""

    totals: Totals
    previous: Totals | None = None


@dataclass
class Timeseries:
    """Counts per bucket; with ``compare``, the previous period's per bucket (as many buckets:
    its page views only when the query's metrics need them)."""

    points: list[Point]
    previous: list[Point] | None = None

    @property
    def previous_visitors(self) -> list[int] | None:
        return None if self.previous is None else [point.visitors for point in self.previous]


@dataclass
class Overview:
    """What the dashboard shows: the period's numbers, the previous period's totals and
    visitors per bucket (the chart draws those behind the period's), the bot hits left out, and
    whether the site ever received a hit."""

    totals: Totals
    before: Totals
    series: list[Point]
    previous: list[Point]
    panels: dict[str, Panel]
    #: None: a filter cannot apply to bot hits (an entry or exit page).
    bot_hits: int | None = 0
    has_data: bool = True

    @property
    def previous_visitors(self) -> list[int]:
        return [point.visitors for point in self.previous]


#: The counts of a bucket, in the order of :func:`buckets`' lists (and of :class:`Point`).
POINT_COUNTS = ("visitors", "pageviews", "visits", "bounces", "duration")


def buckets(period: Period, bucket: str, timezone: str) -> dict[datetime, list[int]]:
    """The chart's buckets (local, naive), each with its counts (:data:`POINT_COUNTS`) at zero."""
    found: dict[datetime, list[int]] = {}
    if bucket == "hour":
        start, end = period.bounds(timezone)
        hour = start
        while hour < end:
            found[to_local(hour, timezone).replace(tzinfo=None)] = [0] * len(POINT_COUNTS)
            hour += timedelta(hours=1)
    else:
        day = period.start
        while day < period.end:
            found[datetime(day.year, day.month, day.day)] = [0] * len(POINT_COUNTS)
            day += timedelta(days=1)
    return found


def bucket_of(ts: datetime, bucket: str, timezone: str) -> datetime:
    """The bucket of a UTC hour (hourly charts) or of a UTC instant."""
    local = to_local(ts, timezone).replace(tzinfo=None)
    return local.replace(minute=0, second=0, microsecond=0) if bucket == "hour" else datetime(local.year, local.month, local.day)


def points(found: dict[datetime, list[int]]) -> list[Point]:
    return [Point(start, *counts) for start, counts in found.items()]


def make_panel(dim: str, rows: list[Row], limit: int, whole: int) -> Panel:
    """A panel of ``rows`` (``limit + 1`` of them tell there is more), shares of ``whole``."""
    metric = sort_metric(dim)
    more = len(rows) > limit
    rows = rows[:limit]
    for row in rows:
        row.share = 100.0 * getattr(row, metric) / whole if whole else 0.0
    return Panel(dim, rows, more)


def ranked(rows: Iterable[Row], metric: str, limit: int, offset: int = 0) -> list[Row]:
    """Rows ``offset`` to ``offset + limit`` (and one more, if any) by ``metric``, then visits,
    then value (as the SQL orders them)."""
    return sorted(rows, key=lambda row: (-getattr(row, metric), -row.visits, row.value))[offset : offset + limit + 1]
