"""``/api/v1/sites/<id>/{aggregate,timeseries,breakdown,realtime}``: the dashboard's numbers.

Each view builds the query value from the parameters (:func:`tracking.schemas.api.stats_request`:
the dashboard's period and filters) and asks the read API (:mod:`tracking.reports.api`) — the
functions and the planner the dashboard uses, so the numbers are the dashboard's own.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from pyramid.view import view_config, view_defaults

from ...api_resources import ApiSite
from ...goals import resolve_filters, site_goals, spec
from ...models.types import utcnow
from ...money import decimals
from ...reports import api
from ...reports.goals import goal_rows
from ...reports.intervals import COARSE, coarser
from ...reports.query import InvalidQuery
from ...reports.results import Point, Totals
from ...schemas.api import InvalidInput, stats_request
from ...security import Permission
from ...summaries.dimensions import split_prop
from ...timezones import today
from . import invalid, json_response, limited

#: The headline metrics, as the aggregate answers them.
HEADLINE = ("visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "average_duration", "events")


def _money(amount, currency) -> dict:
    """An amount as exact decimal text with its currency's decimals (``"29.90"``)."""
    places = decimals(currency)
    return {"amount": f"{amount.quantize(Decimal(1).scaleb(-places)) if places else amount.quantize(Decimal(1))}",
            "currency": currency}


def _number(value):
    return round(value, 2) if isinstance(value, float) else value


def totals_json(totals: Totals, metrics=HEADLINE) -> dict:
    return {metric: _number(getattr(totals, metric)) for metric in metrics}


def _point_json(point: Point, metrics) -> dict:
    """A bucket: its start (local time) and ``metrics``, each the number the dashboard's chart
    draws for it (a ratio of a bucket without visits is ``null``: a gap, not 0)."""
    return {"start": point.start.isoformat(), **{metric: _number(getattr(point, metric)) for metric in metrics}}


def _period_json(period) -> dict:
    """The period's days, both included."""
    return {"key": period.key, "from": period.start.isoformat(), "to": (period.end - timedelta(days=1)).isoformat()}


@view_defaults(context=ApiSite, permission=Permission.READ_STATS, request_method="GET", decorator=limited,
               require_csrf=False)
class StatsViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.site = context.site

    def _question(self, kind: str):
        try:
            question = stats_request(kind, self.request.GET, self.site, today(self.site.timezone))
        except InvalidInput as error:
            raise invalid(error.field, error.message) from None
        except UnicodeDecodeError:
            raise invalid(None, "The query string is not UTF-8.") from None
        try:  # a goal filter's goal: one of the site's
            filters = resolve_filters(self.request.dbsession, self.site.id, question.query.filters)
        except InvalidQuery as error:
            raise invalid("goal", str(error)) from None
        return replace(question, query=replace(question.query, filters=filters))

    def _base(self, query) -> dict:
        return {"site_id": self.site.id, "timezone": self.site.timezone, "period": _period_json(query.period),
                "filters": {f.dimension: f.value for f in query.filters}}

    @view_config(name="aggregate")
    def aggregate(self):
        query = self._question("aggregate").query
        result = api.aggregate(self.request.dbsession, query)
        body = {**self._base(query), "results": totals_json(result.totals)}
        if query.compare:
            body["previous"] = {"period": _period_json(query.period.previous()), "results": totals_json(result.previous)}
        return json_response(body)

    @view_config(name="timeseries")
    def timeseries(self):
        question = self._question("timeseries")
        query = question.query
        series = api.timeseries(self.request.dbsession, query)
        if question.interval in COARSE:
            series = coarser(series, question.interval)
        metrics = query.metrics
        body = {**self._base(query), "interval": question.interval, "metrics": list(metrics),
                "results": [_point_json(point, metrics) for point in series.points]}
        if query.compare:
            previous = series.previous or []
            body["previous"] = {"period": _period_json(query.period.previous()),
                                "visitors": [point.visitors for point in previous],
                                "results": [_point_json(point, metrics) for point in previous]}
        return json_response(body)

    @view_config(name="breakdown")
    def breakdown(self):
        question = self._question("breakdown")
        query = question.query
        if question.by_goal:
            return self._goals(query, question.metrics)
        panel = api.breakdown(self.request.dbsession, query)
        dim = query.dimensions[0]
        rows = []
        for row in panel.rows:
            item = {"value": row.value}
            if dim == "prop":
                event, key, value = split_prop(row.value)
                item = {"value": value, "event": event, "property": key}
            item.update({metric: _number(getattr(row, metric)) for metric in query.metrics})
            item["share"] = _number(row.share)
            rows.append(item)
        body = {**self._base(query), "dimension": dim, "metrics": list(query.metrics), "results": rows,
                "offset": query.offset, "next_offset": query.offset + len(rows) if panel.more else None}
        return json_response(body)

    def _goals(self, query, metrics: tuple[str, ...]):
        """The goals panel's rows, in the goals' order: each goal's id and name, its metrics, its
        revenue in its currency and apart in others (amounts as decimal strings, exact), and
        ``share``: its conversion rate."""
        db = self.request.dbsession
        goals = [spec(goal) for goal in site_goals(db, self.site.id)]
        visitors = api.aggregate(db, query).totals.visitors
        rows = goal_rows(db, query, goals, visitors, 0)
        page = rows[query.offset:query.offset + query.limit]
        results = []
        for row in page:
            rate = row.rate or 0.0
            numbers = {"visitors": row.now.visitors, "conversions": row.now.conversions, "conversion_rate": rate}
            revenue, average = row.revenue(), row.average()
            results.append({
                "value": row.goal.name, "goal_id": row.goal.id,
                **{metric: _number(numbers[metric]) for metric in metrics},
                "revenue": None if revenue is None else _money(revenue, row.goal.currency),
                "average_revenue": None if average is None else _money(average, row.goal.currency),
                "other_revenue": [_money(total, currency) for currency, total in row.other_currencies],
                "share": _number(rate),
            })
        more = query.offset + len(page) < len(rows)
        body = {**self._base(query), "dimension": "goal", "metrics": list(metrics), "results": results,
                "offset": query.offset, "next_offset": query.offset + len(page) if more else None}
        return json_response(body)

    @view_config(name="realtime")
    def realtime(self):
        query = self._question("realtime").query
        return json_response({"site_id": self.site.id, "visitors": api.realtime(self.request.dbsession, query, utcnow())})

