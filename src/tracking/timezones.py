"""Local days and their bounds in UTC, for the write side and the read side alike.

Every timestamp in the database is naive UTC; a site's reports count days in its time zone.
The store dates each hit and visit by its local day (:class:`LocalDays`, on the beacon's hot
path), the summaries are kept per local day, and the reports turn local days back into UTC
bounds (:func:`local_range`) to read the raw rows.
"""

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_range(start: date, end: date, timezone: str) -> tuple[datetime, datetime]:
    """``[start, end)`` in local days → naive UTC bounds."""
    tz = ZoneInfo(timezone)
    return (
        datetime.combine(start, time(), tz).astimezone(UTC).replace(tzinfo=None),
        datetime.combine(end, time(), tz).astimezone(UTC).replace(tzinfo=None),
    )


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The UTC instants (naive) where ``day`` starts and ends in ``timezone`` (DST-aware)."""
    return local_range(day, day + timedelta(days=1), timezone)


def to_local(ts: datetime, timezone: str) -> datetime:
    """A naive UTC timestamp from the database as local time in ``timezone``."""
    return ts.replace(tzinfo=UTC).astimezone(zone(timezone))


def local_day(ts: datetime, timezone: str) -> date:
    """The day of the naive-UTC ``ts`` in ``timezone``."""
    return to_local(ts, timezone).date()


def today(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


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
