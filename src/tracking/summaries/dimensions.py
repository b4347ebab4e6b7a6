"""The layout of the summary tables, shared by the write side and the read side: what the
reports can be broken down and filtered by, the counts of a summary row, and how an hour is
stored.

Visit dimensions take the value of the visit's first hit (the exit page: its last page view);
hit dimensions are counted per hit. ``""`` is the site total, ``hits`` the page views
and events of the day they happened on (the chart's page views; the total counts a visit's on
the day it began), ``bot`` counts bot hits by reason. A ``prop`` value is ``event␟key␟value`` (``␟`` = U+001F, which the beacon strips from
visitor input, so it cannot be forged).
"""

from sqlalchemy import func

TOTAL = ""
HITS = "hits"
BOT = "bot"
PROP_SEPARATOR = "\x1f"

#: dimension → column of ``visits``
VISIT_DIMENSIONS: dict[str, str] = {
    "source": "source",
    "referrer": "ref_host",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "country": "country",
    "region": "region",
    "city": "city",
    "browser": "browser",
    "os": "os",
    "device": "device",
    "entry": "entry_path",
    "exit": "exit_path",
}

#: The visit dimensions whose every value has its own summary rows (``segment_stats``): a
#: dashboard filtered by one of them (``country=DE``, ``device=mobile``) reads them as an
#: unfiltered one reads ``daily_stats``. Each is a function of what a visitor id is made of (the
#: address and the User-Agent), so a visitor has one value of it all day: the summaries' "first
#: visit of the day" and "first view of a page that day" stay the visitor's own within the
#: segment, and the numbers equal those of the raw rows. The source is not one of them (one
#: visitor comes back from another source), nor are region and city (their values are too many:
#: the rows would outnumber the visits).
SEGMENTS: tuple[str, ...] = ("country", "browser", "os", "device")

#: dimension → column of ``hits`` (``prop`` is computed from ``event`` and ``props``)
HIT_DIMENSIONS: dict[str, str] = {"page": "path", "event": "event", "prop": "props"}

DIMENSIONS = (*VISIT_DIMENSIONS, *HIT_DIMENSIONS)

LABELS: dict[str, str] = {
    "source": "Source",
    "referrer": "Referrer",
    "utm_source": "UTM source",
    "utm_medium": "UTM medium",
    "utm_campaign": "UTM campaign",
    "country": "Country",
    "region": "Region",
    "city": "City",
    "browser": "Browser",
    "os": "Operating system",
    "device": "Device",
    "entry": "Entry page",
    "exit": "Exit page",
    "page": "Page",
    "event": "Event",
    "prop": "Property",
    # Not a dimension of the summaries: the reports' filter by goal (tracking.goals).
    "goal": "Goal",
}


def prop_value(event: str, key: str, value: str) -> str:
    return f"{event}{PROP_SEPARATOR}{key}{PROP_SEPARATOR}{value}"


def split_prop(value: str) -> tuple[str, str, str]:
    event, key, text = (value.split(PROP_SEPARATOR, 2) + ["", ""])[:3]
    return event, key, text


#: The counts of a ``daily_stats`` row, in order (see :mod:`tracking.models.summaries`).
COUNT_FIELDS = ("visitors", "visits", "pageviews", "bounces", "duration", "events")


def hour_expression(dialect: str, column):
    """``column`` truncated to the hour, stored exactly as SQLAlchemy stores a ``datetime``
    (the key of ``hourly_stats``)."""
    if dialect == "postgresql":
        return func.date_trunc("hour", column)
    return func.strftime("%Y-%m-%d %H:00:00.000000", column)
