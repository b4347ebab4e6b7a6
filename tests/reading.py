"""The read API in the words of the report tests: one site's numbers for a period and a dict of
filters, each call a query value through :mod:`tracking.reports.api` (and so the planner)."""

from dataclasses import replace
from datetime import timedelta

from tracking.goals import resolve_filters
from tracking.reports import api
from tracking.reports.periods import Period
from tracking.reports.query import DETAILS, Filter, SiteRef, StatsQuery


class SiteReports:
    """``segmented``: whether the planner may read the segments' summaries (rule 9: the goals'
    too), and ``values`` the common values with their own (``(dimension, value)``); without,
    every filter reads the raw rows."""

    def __init__(self, dbsession, site_id: int, timezone: str, segmented: bool = False,
                 values: frozenset[tuple[str, str]] = frozenset()) -> None:
        self.db = dbsession
        self.site = SiteRef(site_id, timezone, segmented, values)

    def query(self, period, filters: dict[str, str], **query) -> StatsQuery:
        given = tuple(Filter(dim, value) for dim, value in filters.items())
        resolved = resolve_filters(self.db, self.site.id, given)
        if not self.site.segmented:  # a goal filter too reads the raw rows
            resolved = tuple(replace(f, goal=replace(f.goal, summarized=False)) if f.goal else f for f in resolved)
        return StatsQuery(self.site, period, resolved, **query)

    def overview(self, period, filters, dims, limit: int = 10):
        return api.overview(self.db, self.query(period, filters, dimensions=tuple(dims), limit=limit, compare=True))

    def totals(self, period, filters):
        return api.aggregate(self.db, self.query(period, filters)).totals

    def series(self, period, filters, pageviews: bool = True):
        metrics = () if pageviews else ("visitors",)
        return api.timeseries(self.db, self.query(period, filters, metrics=metrics)).points

    def panel(self, dim, period, filters, limit: int = 10, event: str = "", full: bool = False):
        """The top ``limit`` rows of ``dim``: the dashboard's panel, or with ``full`` its details
        (every metric of ``DETAILS[dim]``)."""
        metrics = DETAILS[dim] if full else ()
        return api.breakdown(self.db, self.query(period, filters, dimensions=(dim,), metrics=metrics, limit=limit,
                                                 prop_event=event))

    def realtime(self, now):
        today = now.date()
        return api.realtime(self.db, self.query(Period("today", today, today + timedelta(days=1)), {}), now)

    def bot_hits(self, period):
        return api.overview(self.db, self.query(period, {}, compare=True)).bot_hits
