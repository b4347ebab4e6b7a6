"""Days and periods in a site's time zone, as naive-UTC bounds for queries."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

PERIODS = {
    "today": "Today",
    "yesterday": "Yesterday",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "month": "This month",
    "lastmonth": "Last month",
    "12mo": "Last 12 months",
    "custom": "Custom range",
}
DEFAULT_PERIOD = "30d"
#: Periods up to this many days are charted by the hour.
HOURLY_DAYS = 2
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class Period:
    """Local days ``[start, end)``."""

    key: str
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def label(self) -> str:
        if self.key != "custom":
            return PERIODS[self.key]
        return f"{self.start.isoformat()} – {(self.end - timedelta(days=1)).isoformat()}"

    @property
    def hourly(self) -> bool:
        return self.days <= HOURLY_DAYS

    def previous(self) -> "Period":
        """The period just before, of the same length (the month before, for months)."""
        if self.key in ("month", "lastmonth"):
            start = (self.start - timedelta(days=1)).replace(day=1)
            length = min(self.days, _month_length(start))
            return Period(self.key, start, start + timedelta(days=length))
        return Period(self.key, self.start - timedelta(days=self.days), self.start)

    def bounds(self, timezone: str) -> tuple[datetime, datetime]:
        return local_range(self.start, self.end, timezone)


def _month_length(first: date) -> int:
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (following - first).days


def period_from(params, today: date) -> Period:
    """The period named by ``params`` (``period``, and ``from``/``to`` for a custom range)."""
    key = params.get("period", DEFAULT_PERIOD)
    if key == "today":
        return Period(key, today, today + timedelta(days=1))
    if key == "yesterday":
        return Period(key, today - timedelta(days=1), today)
    if key == "7d":
        return Period(key, today - timedelta(days=6), today + timedelta(days=1))
    if key == "month":
        return Period(key, today.replace(day=1), today + timedelta(days=1))
    if key == "lastmonth":
        first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        return Period(key, first, today.replace(day=1))
    if key == "12mo":
        return Period(key, _months_back(today, 12) + timedelta(days=1), today + timedelta(days=1))
    if key == "custom":
        try:
            start = date.fromisoformat(params.get("from", ""))
            last = date.fromisoformat(params.get("to", ""))
        except ValueError:
            start = last = None
        if start and last and start <= last and (last - start).days < MAX_DAYS:
            return Period(key, start, last + timedelta(days=1))
    return Period(DEFAULT_PERIOD, today - timedelta(days=29), today + timedelta(days=1))


def _months_back(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    return date(year, month, min(day.day, _month_length(date(year, month, 1))))


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The UTC instants (naive) where ``day`` starts and ends in ``timezone`` (DST-aware)."""
    return local_range(day, day + timedelta(days=1), timezone)


def local_range(start: date, end: date, timezone: str) -> tuple[datetime, datetime]:
    """``[start, end)`` in local days → naive UTC bounds."""
    zone = ZoneInfo(timezone)
    return (
        datetime.combine(start, time(), zone).astimezone(UTC).replace(tzinfo=None),
        datetime.combine(end, time(), zone).astimezone(UTC).replace(tzinfo=None),
    )


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def to_local(ts: datetime, timezone: str) -> datetime:
    """A naive UTC timestamp from the database as local time in ``timezone``."""
    return ts.replace(tzinfo=UTC).astimezone(zone(timezone))


def local_day(ts: datetime, timezone: str) -> date:
    """The day of the naive-UTC ``ts`` in ``timezone``."""
    return to_local(ts, timezone).date()


class LocalDays:
    """:func:`local_day` for timestamps that move forward, as the beacon's do: each time zone's
    current day is kept with its bounds in UTC, and a timestamp inside them costs two
    comparisons instead of a conversion (3 µs)."""

    def __init__(self) -> None:
        self._days: dict[str, tuple[datetime, datetime, date]] = {}

    def __call__(self, ts: datetime, timezone: str) -> date:
        known = self._days.get(timezone)
        if known is not None and known[0] <= ts < known[1]:
            return known[2]
        day = local_day(ts, timezone)
        start, end = local_range(day, day + timedelta(days=1), timezone)
        self._days[timezone] = (start, end, day)
        return day


def today(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()
