"""A site's dashboard, the full list behind each panel, and CSV exports (of a panel's list, of
the raw hits, of the visits).

Each view builds one query value from the request (:class:`PageQuery`: the period, the filters
of the query string) and hands it to the read API (:mod:`tracking.reports.api`) or the exports
(:mod:`tracking.reports.export`). The query string is checked before anything is read or
streamed: an unusable period falls back to the default one and says so (``Period.corrected``);
a filter no visit can match, or a query string that is not UTF-8, is a 400 page
(:class:`~tracking.reports.query.InvalidQuery`).

While the site's data is being rebuilt for a new time zone (a job: :mod:`tracking.summaries.jobs`),
the pages say so, and that their numbers still count the days of the previous time zone.
"""

from datetime import timedelta
from urllib.parse import quote

from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound
from pyramid.response import Response
from pyramid.view import view_config, view_defaults

from ..charts import line_chart
from ..headers import allow_framing
from ..interfaces import IDatabase
from ..models.types import utcnow
from ..reports import api, export
from ..reports.periods import PERIODS, period_from
from ..reports.query import DETAILS, FILTERABLE, InvalidQuery, SiteRef, StatsQuery, filters_from
from ..resources import ISiteReports, SharedSite, SiteResource
from ..security import Permission
from ..summaries.dimensions import DIMENSIONS, LABELS, PROP_SEPARATOR, split_prop
from ..timezones import today
from .sites import job_notice, snippet

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


class PageQuery:
    """A report page's state from the query string — its query value (``stats``), the period
    and filters it names — and links that change part of it."""

    def __init__(self, request, **query) -> None:
        """``query``: the rest of the query value (dimensions, metrics, limit, compare)."""
        self.request = request
        site = request.context.site
        params = query_params(request)
        self.period = period_from(params, today(site.timezone))
        filters = filters_from(params)
        self.filters = {f.dimension: f.value for f in filters}
        self.stats = StatsQuery(SiteRef(site.id, site.timezone), self.period, filters, **query)
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


@view_defaults(context=ISiteReports, permission=Permission.VIEW)
class DashboardViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.site = context.site
        if isinstance(context, SharedSite) and context.link.origins:
            allow_framing(request, context.link.origins)

    @view_config(name="", renderer="tracking:templates/sites/dashboard.jinja2")
    def dashboard(self):
        db = self.request.dbsession
        query = PageQuery(self.request, dimensions=tuple(dim for _, dims in GROUPS for dim in dims), compare=True)
        period = query.period
        overview = api.overview(db, query.stats)
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
            "realtime": api.realtime(db, query.stats, utcnow()),
            "bot_hits": overview.bot_hits,
            "series": series,
            "chart": line_chart(series, overview.previous_visitors, query.stats.bucket == "hour"),
            "groups": groups,
            "labels": LABELS,
            "filterable": FILTERABLE,
            "snippet": snippet(self.request, self.context) if isinstance(self.context, SiteResource) else "",
            "empty": not overview.has_data,
            "split_prop": split_prop,
            "separator": PROP_SEPARATOR,
            **job_notice(self.request, self.site),
        }

    @view_config(name="panel", renderer="tracking:templates/sites/panel.jinja2")
    def panel(self):
        dim = query_params(self.request).get("dim", "")
        if dim not in DIMENSIONS:
            raise HTTPNotFound()
        query = PageQuery(self.request, dimensions=(dim,), metrics=DETAILS[dim], limit=MORE_LIMIT)
        return {
            "site": self.site,
            "query": query,
            "dim": dim,
            "panel": api.breakdown(self.request.dbsession, query.stats),
            "labels": LABELS,
            "filterable": FILTERABLE,
            "split_prop": split_prop,
            **job_notice(self.request, self.site),
        }

    @view_config(name="export.csv")
    def export(self):
        """A panel's full list (the columns of its details), the raw hits (``dim=hits``) or the
        visits (``dim=visits``, one row each) of the period and filters, as CSV. The last two
        are the visit log's: they ask for ``view-visits`` too (checked here, once the query
        string is known to be UTF-8: a ``request_param`` predicate would read it first)."""
        dim = query_params(self.request).get("dim", "")
        if dim in ("hits", "visits") and not self.request.has_permission(Permission.VIEW_VISITS):
            raise HTTPForbidden()
        if dim in DIMENSIONS:
            query = PageQuery(self.request, dimensions=(dim,), metrics=DETAILS[dim], limit=EXPORT_LIMIT)
        else:
            query = PageQuery(self.request)
        session_factory = self.request.registry.getUtility(IDatabase).session_factory
        if dim == "hits":
            header, rows = export.HIT_COLUMNS, export.hit_rows(session_factory, query.stats)
        elif dim == "visits":
            header, rows = export.VISIT_COLUMNS, export.visit_rows(session_factory, query.stats)
        elif dim in DIMENSIONS:
            header = export.panel_header(dim)
            rows = export.panel_rows(api.breakdown(self.request.dbsession, query.stats))
        else:
            raise HTTPNotFound()
        response = Response(content_type="text/csv", charset="utf-8")
        filename = f"{self.site.name}-{dim}-{query.period.start}-{query.period.end}.csv"
        response.content_disposition = "attachment; filename*=UTF-8''" + quote(filename, safe="")
        response.app_iter = export.csv_lines(header, rows)
        return response


def _change(now: float, before: float) -> float | None:
    if not before:
        return None
    return 100.0 * (now - before) / before
