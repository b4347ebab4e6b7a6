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
#: unfiltered one reads ``daily_stats``. A visit keeps its value of each from its first hit to
#: its last, and the summaries count visitors as the raw rows do under a visit filter (a visitor
#: at their first visit of the day, a page's at their first view of it that day), so a
#: segment's rows hold exactly the numbers the raw rows give for its filter. These five have
#: few values (a country code, a browser, an operating system, a device class, a source class
#: of five); region, city, referrer, UTM parameters, entry and exit pages have as many as
#: visitors bring, and their rows would outnumber the visits (:data:`TOP_SEGMENTS`).
SEGMENTS: tuple[str, ...] = ("country", "browser", "os", "device", "source")

#: The visit dimensions read from the visitor's address (the place) and user agent (the
#: browser, its system, the device): a visitor's id is a hash of both (with the day's salt), so
#: each of a visitor's visits of a day has the same value of these (while the geolocation
#: database and the user-agent parser stay the same that day). A page filter with one of them
#: counts a visitor at their first visit of the day with the page, as the page's rows do
#: (:mod:`tracking.reports.planner`, rule 10).
VISITOR_DIMENSIONS: tuple[str, ...] = ("country", "region", "city", "browser", "os", "device")

#: The segment of the goals (``segment_stats``): its value is a goal's id, its visits those that
#: converted on the goal (``goal_visits``). A visit joins it at its first converting hit, with
#: everything it counted before (:meth:`~.delta.Delta.enter_segment`).
GOAL = "goal"

#: The dimensions with as many values as visitors bring, whose *common* values have segment
#: rows of their own (``segment_values``: :mod:`.segments` chooses them): a value that keeps
#: many visits is slow to read from the raw rows and is the one people click; a rare one is
#: quick to read from the raw rows through its index, and its rows would outnumber its visits.
#: The visit dimensions among them keep their value from a visit's first hit to its last (the
#: entry page is the first page), but the exit page (:data:`MOVING`); a page or an event is
#: joined at a hit (:data:`LISTED`).
TOP_SEGMENTS: tuple[str, ...] = ("referrer", "utm_source", "utm_medium", "utm_campaign", "region", "city", "entry",
                                 "exit", "page", "event")
#: The visit dimension whose value moves as the visit goes on: its exit page, its last page
#: view. A visit whose exit page changes leaves the rows of the former (its whole contribution
#: taken back, its earlier hits read back) and joins those of the new one
#: (:meth:`~.delta.Delta.change_visit`).
MOVING = "exit"
#: Of those, the ones a visit joins at a hit rather than keeps from its first (a page it
#: viewed, an event it sent: those its row lists), with everything it counted before, as it
#: joins a goal's (:meth:`~.delta.Delta.enter_segment`).
LISTED: tuple[str, ...] = ("page", "event")

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
