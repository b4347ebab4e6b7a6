"""Days and periods in a site's time zone, as naive-UTC bounds for queries."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


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


def to_local(ts: datetime, timezone: str) -> datetime:
    """A naive UTC timestamp from the database as local time in ``timezone``."""
    return ts.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone))


def today(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()
