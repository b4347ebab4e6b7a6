"""The query value: everything a report asks, in one frozen object.

A view (or a command, or a future HTTP API) builds one :class:`StatsQuery` — which site, which
period, which filters, broken down by which dimension, which metrics, by which interval, which
page of rows, compared with the period before or not — and hands it to the read API
(:mod:`.api`), whose planner (:mod:`.planner`) decides where each part is read from. The value
is checked when it is made: a query that cannot be answered raises :class:`InvalidQuery`,
whose message tells a person why.

Filters (:class:`Filter`) select visits: ``country is DE`` keeps the visits from Germany,
``page is /pricing`` the visits that viewed that page, ``event is signup`` those that sent the
event, ``goal is 12`` those that converted on goal 12 (:mod:`tracking.goals`: the filter
carries the goal's rules, :func:`tracking.goals.resolve_filters`). Several filters must all match. The operator is ``is`` today; the value has room for
others (``is not``, ``contains``...) without changing its shape.
"""

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..summaries.dimensions import DIMENSIONS, LABELS, VISIT_DIMENSIONS
from .periods import Period

if TYPE_CHECKING:
    from ..goals import GoalSpec


class InvalidQuery(ValueError):
    """A query the reports cannot answer; the message tells a person why."""


#: Filters that can be set: every dimension but properties, and goals (by id: the visits that
#: converted on the goal).
FILTERABLE = (*VISIT_DIMENSIONS, "page", "event", "goal")
#: Filters that keep the visits with a hit that matches: a visitor is counted at the first of
#: them in the period.
HIT_FILTERS = ("page", "event", "goal")
#: The largest goal id (32 bits): a larger one names no goal and never reaches the database.
MAX_GOAL_ID = 2**31 - 1
#: Filter operators.
OPERATORS = ("is",)
#: The longest stored value of any dimension (a page's path): a longer filter cannot match.
MAX_FILTER = 1024
#: Chart intervals: ``hour`` (hours of UTC, shown in local time) or ``day`` (local days).
INTERVALS = ("hour", "day")
#: The most rows one breakdown returns.
MAX_LIMIT = 100_000

#: The metrics of each dimension's full list (details and CSV export), in order.
VISIT_METRICS = ("visitors", "visits", "pageviews", "bounce_rate", "average_duration", "events")
DETAILS: dict[str, tuple[str, ...]] = {
    **{dim: VISIT_METRICS for dim in VISIT_DIMENSIONS},
    "page": ("visitors", "visits", "pageviews", "entries", "bounce_rate", "average_duration", "time_on_page",
             "scroll_depth"),
    "event": ("visitors", "visits", "events"),
    "prop": ("events",),
}
METRIC_LABELS = {
    "visitors": "Visitors",
    "visits": "Visits",
    "pageviews": "Page views",
    "entries": "Entries",
    "bounce_rate": "Bounce rate",
    "average_duration": "Visit duration",
    "events": "Events",
    "views_per_visit": "Views per visit",
    "time_on_page": "Time on page",
    "scroll_depth": "Scroll depth",
}
METRICS = tuple(METRIC_LABELS)


def sort_metric(dim: str) -> str:
    """The metric a breakdown by ``dim`` is ranked by (and the dashboard's panel shows)."""
    if dim == "page":
        return "pageviews"
    if dim in ("entry", "exit"):
        return "visits"
    if dim in ("event", "prop"):
        return "events"
    return "visitors"


@dataclass(frozen=True)
class SiteRef:
    """The site a query is about: its id, the time zone its days are counted in, whether its
    segments' summaries hold all of its data (``Site.segmented``), and its common values with
    summaries of their own (``Site.segment_values``: (dimension, value) pairs; :mod:`.planner`)."""

    id: int
    timezone: str
    segmented: bool = False
    values: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def of(cls, site) -> "SiteRef":
        """The reference of a ``Site`` row."""
        values = frozenset((row.segment, row.value) for row in site.segment_values)
        return cls(site.id, site.timezone, site.segmented, values)


@dataclass(frozen=True)
class Filter:
    """Visits whose ``dimension`` ``operator`` ``value`` (see the module's docstring).

    A ``goal`` filter's value is the goal's id; ``goal`` is its rules, which the raw runner
    needs (``None`` until :func:`tracking.goals.resolve_filters` has found them)."""

    dimension: str
    value: str
    operator: str = "is"
    goal: "GoalSpec | None" = None

    def __post_init__(self) -> None:
        if self.dimension not in FILTERABLE:
            raise InvalidQuery(f"There is no filter by {self.dimension!r}.")
        if self.operator not in OPERATORS:
            raise InvalidQuery(f"There is no filter operator {self.operator!r}.")
        if self.dimension == "goal" and not (self.value.isascii() and self.value.isdigit()
                                             and not self.value.startswith("0")
                                             and int(self.value) <= MAX_GOAL_ID):
            raise InvalidQuery("The goal filter is a goal's id.")


@dataclass(frozen=True)
class StatsQuery:
    """One report's question.

    * ``dimensions``: what to break down by (a breakdown takes one; the dashboard's overview
      takes every panel's);
    * ``metrics``: what to compute; empty means the default — for a breakdown, the metric it
      is ranked by (the dashboard's panels); :data:`DETAILS` lists each dimension's full set;
      for a time series, visitors and page views;
    * ``interval``: the chart's buckets; ``None`` is by hour for periods of two days or less,
      else by day;
    * ``limit`` and ``offset``: which rows of a breakdown, in its order;
    * ``compare``: also the period before (:meth:`Period.previous`);
    * ``prop_event``: a breakdown by ``prop`` shows only that event's properties.
    """

    site: SiteRef
    period: Period
    filters: tuple[Filter, ...] = ()
    dimensions: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    interval: str | None = None
    limit: int = 10
    offset: int = 0
    compare: bool = False
    prop_event: str = ""

    def __post_init__(self) -> None:
        unknown = [dim for dim in self.dimensions if dim not in DIMENSIONS]
        if unknown:
            raise InvalidQuery(f"There is no dimension {unknown[0]!r}.")
        unknown = [metric for metric in self.metrics if metric not in METRICS]
        if unknown:
            raise InvalidQuery(f"There is no metric {unknown[0]!r}.")
        if self.interval is not None and self.interval not in INTERVALS:
            raise InvalidQuery(f"There is no interval {self.interval!r}: {' or '.join(INTERVALS)}.")
        if not 1 <= self.limit <= MAX_LIMIT or self.offset < 0:
            raise InvalidQuery(f"A page of rows has 1 to {MAX_LIMIT} rows and starts at 0 or later.")
        if len({f.dimension for f in self.filters}) != len(self.filters):
            raise InvalidQuery("A dimension is filtered once.")

    @property
    def bucket(self) -> str:
        """The chart's interval: the one asked for, or the period's own."""
        return self.interval or ("hour" if self.period.hourly else "day")

    def previous(self) -> "StatsQuery":
        """The same question about the period before (same interval)."""
        return StatsQuery(self.site, self.period.previous(), self.filters, self.dimensions, self.metrics,
                          self.bucket, self.limit, self.offset, False, self.prop_event)


#: What no stored value holds (the beacon removes control characters and lone surrogates).
_UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def filters_from(params) -> tuple[Filter, ...]:
    """Filters from a query string's parameters: ``?country=DE&page=/pricing`` (``is``);
    unknown keys are ignored.

    A value no visit can have — longer than any stored value, or with a control character
    (which PostgreSQL would refuse outright, for a NUL) — raises :class:`InvalidQuery`."""
    filters = []
    for dim in FILTERABLE:
        value = params.get(dim)
        if value is None:
            continue
        if len(value) > MAX_FILTER:
            raise InvalidQuery(f"The {LABELS[dim].lower()} filter is longer than {MAX_FILTER} characters.")
        if _UNSTORABLE.search(value):
            raise InvalidQuery(f"The {LABELS[dim].lower()} filter contains a control character.")
        filters.append(Filter(dim, value))
    return tuple(filters)
