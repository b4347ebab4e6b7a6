"""A site's dashboard, the full list behind each panel, and CSV exports (of a panel's list, of
the raw hits, of the visits).

The query string is checked before anything is read or streamed: an unusable period falls back
to the default one and says so (``Period.corrected``); a filter no visit can match, or a query
string that is not UTF-8, is a 400 page (:class:`~tracking.stats.reports.InvalidQuery`).
"""

import csv
import io
from datetime import timedelta
from urllib.parse import quote, urlencode

from pyramid.httpexceptions import HTTPNotFound
from pyramid.response import Response
from pyramid.view import view_config, view_defaults

from ..charts import line_chart
from ..interfaces import IDatabase
from ..models.types import utcnow
from ..resources import SiteResource
from ..security import Permission
from ..stats.dimensions import DIMENSIONS, LABELS, PROP_SEPARATOR, split_prop
from ..stats.periods import PERIODS, period_from, to_local, today
from ..stats.reports import DETAILS, FILTERABLE, InvalidQuery, Reports, parse_filters
from ..stats.visits import HIT_COLUMNS, VISIT_COLUMNS, hits_export, visits_export
from .sites import snippet

#: The panels of the dashboard, in groups shown side by side.
GROUPS = (
    ("Pages", ("page", "entry", "exit")),
    ("Sources", ("source", "referrer", "utm_source", "utm_medium", "utm_campaign")),
    ("Locations", ("country", "region", "city")),
    ("Devices", ("browser", "os", "device")),
    ("Events", ("event", "prop")),
)
HEADLINE = (
    ("visitors", "Unique visitors", "number", True),
    ("visits", "Visits", "number", True),
    ("pageviews", "Page views", "number", True),
    ("views_per_visit", "Views per visit", "number", True),
    ("bounce_rate", "Bounce rate", "percent", False),
    ("average_duration", "Visit duration", "duration", True),
)
MORE_LIMIT = 1000
EXPORT_LIMIT = 100_000


class Query:
    """The dashboard's state from the query string, and links that change part of it."""

    def __init__(self, request) -> None:
        self.request = request
        params = query_params(request)
        self.period = period_from(params, today(request.context.site.timezone))
        self.filters = parse_filters(params)
        self.base = {"period": self.period.key}
        if self.period.key == "custom":
            self.base["from"] = self.period.start.isoformat()
            self.base["to"] = (self.period.end - timedelta(days=1)).isoformat()

    def params(self, **changes) -> dict[str, str]:
        params = {**self.base, **self.filters}
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        return params

    def url(self, name: str = "", **changes) -> str:
        return self.request.resource_url(self.request.context, name, query=self.params(**changes))


def query_params(request):
    """``request.GET``; a query string that is not UTF-8 is an :class:`InvalidQuery`."""
    try:
        return request.GET
    except UnicodeDecodeError:
        raise InvalidQuery("The address is not valid: its query string is not UTF-8.") from None


@view_defaults(context=SiteResource, permission=Permission.VIEW)
class DashboardViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.site = context.site
        self.reports = Reports(request.dbsession, self.site.id, self.site.timezone)

    @view_config(name="", renderer="tracking:templates/sites/dashboard.jinja2")
    def dashboard(self):
        query = Query(self.request)
        period, filters = query.period, query.filters
        overview = self.reports.overview(period, filters, (dim for _, dims in GROUPS for dim in dims))
        totals, before, series = overview.totals, overview.before, overview.series
        groups = [(title, [(dim, overview.panels[dim]) for dim in dims]) for title, dims in GROUPS]
        return {
            "site": self.site,
            "query": query,
            "periods": PERIODS,
            "headline": [
                (key, label, kind, getattr(totals, key), _change(getattr(totals, key), getattr(before, key)), up_is_good)
                for key, label, kind, up_is_good in HEADLINE
            ],
            "multi_day": period.days > 1,
            "realtime": self.reports.realtime(utcnow()),
            "bot_hits": self.reports.bot_hits(period),
            "series": series,
            "chart": line_chart(series, overview.previous_visitors, period.hourly),
            "groups": groups,
            "labels": LABELS,
            "filterable": FILTERABLE,
            "snippet": snippet(self.request, self.context),
            "empty": not self.reports.has_data(),
            "split_prop": split_prop,
            "separator": PROP_SEPARATOR,
        }

    @view_config(name="panel", renderer="tracking:templates/sites/panel.jinja2")
    def panel(self):
        dim = query_params(self.request).get("dim", "")
        if dim not in DIMENSIONS:
            raise HTTPNotFound()
        query = Query(self.request)
        panel = self.reports.panel(dim, query.period, query.filters, limit=MORE_LIMIT, full=True)
        return {
            "site": self.site,
            "query": query,
            "dim": dim,
            "panel": panel,
            "labels": LABELS,
            "filterable": FILTERABLE,
            "split_prop": split_prop,
        }

    @view_config(name="export.csv")
    def export(self):
        """A panel's full list (the columns of its details), the raw hits (``dim=hits``) or the
        visits (``dim=visits``, one row each) of the period and filters, as CSV."""
        dim = query_params(self.request).get("dim", "")
        query = Query(self.request)
        if dim == "hits":
            rows = self._stream(hits_export(self.reports, query.period, query.filters), "ts")
            header = HIT_COLUMNS
            name = "hits"
        elif dim == "visits":
            rows = self._stream(visits_export(self.reports, query.period, query.filters), "started_at")
            header = VISIT_COLUMNS
            name = "visits"
        elif dim in DIMENSIONS:
            panel = self.reports.panel(dim, query.period, query.filters, limit=EXPORT_LIMIT, full=True)
            header = (LABELS[dim], *DETAILS[dim], "share")
            rows = (
                (
                    " · ".join(split_prop(row.value)) if dim == "prop" else row.value,
                    *(_csv_number(metric, getattr(row, metric)) for metric in DETAILS[dim]),
                    round(row.share, 2),
                )
                for row in panel.rows
            )
            name = dim
        else:
            raise HTTPNotFound()
        response = Response(content_type="text/csv", charset="utf-8")
        filename = f"{self.site.name}-{name}-{query.period.start}-{query.period.end}.csv"
        response.content_disposition = "attachment; filename*=UTF-8''" + quote(filename, safe="")
        response.app_iter = csv_lines(header, rows)
        return response

    def _stream(self, statement, time_column: str):
        """The rows of ``statement``, read in chunks on a connection of their own (the response
        is streamed after the request's transaction has ended), each after the local time of
        its ``time_column``."""
        session_factory = self.request.registry.getUtility(IDatabase).session_factory
        timezone = self.site.timezone

        def rows():
            with session_factory() as session:
                for row in session.execute(statement, execution_options={"yield_per": 2000}):
                    yield (to_local(row._mapping[time_column], timezone).isoformat(), *row)

        return rows()


def _csv_number(name: str, value: float) -> float:
    """Rates to a tenth of a percent, durations to the second, counts as they are."""
    if name == "bounce_rate":
        return round(value, 1)
    if name == "average_duration":
        return round(value)
    return value


def _change(now: float, before: float) -> float | None:
    if not before:
        return None
    return 100.0 * (now - before) / before


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """A cell a spreadsheet will not run: text starting like a formula gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, dict):
        value = urlencode(value)
    text = str(value)
    if text.startswith(FORMULA_START) and not isinstance(value, (int, float)):
        return "'" + text
    return text


def csv_lines(header, rows):
    """Yield the CSV one line at a time: constant memory whatever the number of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values) -> bytes:
        writer.writerow([csv_cell(value) for value in values])
        data = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return data.encode("utf-8")

    yield line(header)
    for row in rows:
        yield line(row)
