"""Days and periods in a site's time zone, as naive-UTC bounds for queries.

A period is a range of local days ``[start, end)`` named by a key; :func:`period_from` reads it
from a query string, given the site's local today:

=============  ==================================  ==========================================
key            days                                compared with (:meth:`Period.previous`)
=============  ==================================  ==========================================
``today``      today                               yesterday
``yesterday``  yesterday                           the day before
``7d``         the 7 days ending today             the 7 days before
``30d``        the 30 days ending today (default)  the 30 days before
``month``      this month's days up to today       as many first days of the month before (at
                                                   most all of them)
``lastmonth``  the whole month before this one     the whole month before that
``12mo``       the 12 months ending today          the 12 months before
``custom``     ``from`` to ``to``, both included   as many days just before
=============  ==================================  ==========================================

A custom range must be two ISO dates (``YYYY-MM-DD``), in order, of at most ``MAX_DAYS`` days,
between ``FIRST_DAY`` and ``LAST_DAY`` (so that the range, the one before it and their bounds
in any time zone are dates a computer can count with). Anything else — and an unknown key —
falls back to the default period, and the period says why in ``corrected``, for the page to
show: a link with a typo still shows a page, never an error, and never silently another one.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ..timezones import local_range

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
#: The longest custom range, in days.
MAX_DAYS = 3 * 366
#: The first and last day a custom range (or the day of the visits and bot hits pages) may
#: name: no web analytics before the Unix epoch, and the last date whose following day is still
#: a date.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9999, 12, 30)


@dataclass(frozen=True)
class Period:
    """Local days ``[start, end)``. ``corrected``: why the period asked for was not usable
    and this one is shown instead ("" when it was)."""

    key: str
    start: date
    end: date
    corrected: str = field(default="", compare=False)

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
        """The period to compare with (see the table in the module's docstring)."""
        if self.key in ("month", "lastmonth"):
            start = (self.start - timedelta(days=1)).replace(day=1)
            length = _month_length(start) if self.key == "lastmonth" else min(self.days, _month_length(start))
            return Period(self.key, start, start + timedelta(days=length))
        if self.key == "12mo":
            return Period(self.key, _months_back(self.start, 12), self.start)
        return Period(self.key, self.start - timedelta(days=self.days), self.start)

    def bounds(self, timezone: str) -> tuple[datetime, datetime]:
        return local_range(self.start, self.end, timezone)


def _month_length(first: date) -> int:
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (following - first).days


def period_from(params, today: date) -> Period:
    """The period named by ``params`` (``period``, and ``from``/``to`` for a custom range), or
    the default one with a ``corrected`` note saying why."""
    key = params.get("period", DEFAULT_PERIOD)
    if key == "today":
        return Period(key, today, today + timedelta(days=1))
    if key == "yesterday":
        return Period(key, today - timedelta(days=1), today)
    if key == "7d":
        return Period(key, today - timedelta(days=6), today + timedelta(days=1))
    if key == "30d":
        return _default(today)
    if key == "month":
        return Period(key, today.replace(day=1), today + timedelta(days=1))
    if key == "lastmonth":
        first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        return Period(key, first, today.replace(day=1))
    if key == "12mo":
        return Period(key, _months_back(today, 12) + timedelta(days=1), today + timedelta(days=1))
    if key == "custom":
        start, last = _iso_day(params.get("from")), _iso_day(params.get("to"))
        if start is None or last is None:
            return _default(today, "A custom range needs two dates (YYYY-MM-DD)")
        if not (FIRST_DAY <= start <= LAST_DAY and FIRST_DAY <= last <= LAST_DAY):
            return _default(today, f"Custom dates lie between {FIRST_DAY} and {LAST_DAY}")
        if last < start:
            return _default(today, "The custom range ends before it starts")
        if (last - start).days >= MAX_DAYS:
            return _default(today, f"A custom range is at most {MAX_DAYS} days long")
        return Period(key, start, last + timedelta(days=1))
    return _default(today, "There is no such period")


def _default(today: date, why: str = "") -> Period:
    corrected = f"{why}: showing the {PERIODS[DEFAULT_PERIOD].lower()} instead." if why else ""
    return Period(DEFAULT_PERIOD, today - timedelta(days=29), today + timedelta(days=1), corrected)


def _iso_day(value: str | None) -> date | None:
    """``YYYY-MM-DD`` as a date, or ``None``."""
    if not value or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def day_from(value: str | None) -> tuple[date | None, str]:
    """The day named by ``value`` (``YYYY-MM-DD``, between ``FIRST_DAY`` and ``LAST_DAY``), or
    ``None``; and why a value that was given is not used ("" otherwise)."""
    if not value:
        return None, ""
    day = _iso_day(value)
    if day is None or not FIRST_DAY <= day <= LAST_DAY:
        return None, f"A day is a date (YYYY-MM-DD) between {FIRST_DAY} and {LAST_DAY}: showing every day instead."
    return day, ""


def _months_back(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    return date(year, month, min(day.day, _month_length(date(year, month, 1))))
