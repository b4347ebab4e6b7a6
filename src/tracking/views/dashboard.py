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

from datetime import date, datetime, time, timedelta
from urllib.parse import quote

from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound, HTTPSeeOther
from pyramid.renderers import render
from pyramid.response import Response
from pyramid.view import view_config, view_defaults

from ..charts import DEFAULT_METRIC, METRICS, buckets, grain, line_chart, shown_value
from ..goals import resolve_filters, site_goals, spec
from ..headers import allow_framing
from ..interfaces import IDatabase
from ..models.types import utcnow
from ..reports import api, export
from ..reports.goals import goal_rows
from ..reports.periods import FIRST_DAY, PERIODS, period_from
from ..reports.query import DETAILS, FILTERABLE, InvalidQuery, SiteRef, StatsQuery, filters_from
from ..resources import ISiteReports, SharedSite, SiteResource
from ..security import Permission
from ..summaries.dimensions import DIMENSIONS, LABELS, PROP_SEPARATOR, split_prop
from ..templating import country
from ..timezones import to_local, today
from .sites import job_notice, snippet

#: The panels of the dashboard, in groups of tabs, two groups side by side.
GROUPS = (
    ("Pages", ("page", "entry", "exit")),
    ("Sources", ("source", "referrer", "utm_source", "utm_medium", "utm_campaign")),
    ("Locations", ("country", "region", "city")),
    ("Devices", ("browser", "os", "device")),
    ("Events", ("event", "prop")),
)
#: (key, label, kind, whether up is good, whether it is a number of visits' averages: a dash
#: rather than 0 when there are no visits)
HEADLINE = (
    ("visitors", "Unique visitors", "number", True, False),
    ("visits", "Visits", "number", True, False),
    ("pageviews", "Page views", "number", True, False),
    ("views_per_visit", "Views per visit", "number", True, True),
    ("bounce_rate", "Bounce rate", "percent", False, True),
    ("average_duration", "Visit duration", "duration", True, True),
)
#: Why the beacon ignored a site's hits, for its owner (``X-Tracking-Ignored``).
IGNORED_REASONS = {
    "dnt": "the browser asks not to be tracked (Do Not Track), and the site's settings honour it",
    "gpc": "the browser sends Global Privacy Control, and the site's settings honour it",
    "foreign-host": "the page is not on the site's host or one of its sub-domains",
}
MORE_LIMIT = 1000
#: The longest search in a panel's list (a longer one matches nothing a row can hold anyway).
MAX_SEARCH = 200
EXPORT_LIMIT = 100_000


class PageQuery:
    """A report page's state from the query string — its query value (``stats``), the period
    and filters it names — and links that change part of it."""

    def __init__(self, request, chart: bool = False, **query) -> None:
        """``query``: the rest of the query value (dimensions, metrics, limit, compare);
        ``chart``: the query asks for the chart's metric (``metrics``), when not the default."""
        self.request = request
        site = request.context.site
        params = query_params(request)
        self.today = today(site.timezone)
        self.period = period_from(params, self.today)
        filters = resolve_filters(request.dbsession, site.id, filters_from(params))
        self.filters = {f.dimension: f.value for f in filters}
        #: What a filter's chip shows when not its value: a goal's name.
        self.shown = {f.dimension: f.goal.name for f in filters if f.goal is not None}
        #: The chart's metric (a headline number's link switches it).
        self.metric = params.get("metric") if params.get("metric") in METRICS else DEFAULT_METRIC
        if chart and self.metric != DEFAULT_METRIC:
            query["metrics"] = (self.metric,)
        self.stats = StatsQuery(SiteRef.of(site), self.period, filters, **query)
        self.base = {"period": self.period.key}
        if self.period.key == "custom":
            self.base["from"] = self.period.start.isoformat()
            self.base["to"] = (self.period.end - timedelta(days=1)).isoformat()
        if self.metric != DEFAULT_METRIC:
            self.base["metric"] = self.metric
        #: What was asked for a custom range that could not be used (shown beside its fields).
        asked_custom = params.get("period") == "custom" and self.period.key != "custom"
        self.range_error = self.period.corrected if asked_custom else ""
        self.asked_range = (params.get("from", "")[:10], params.get("to", "")[:10]) if asked_custom else None
        #: A period other than a custom range with ``from``/``to`` left in the address.
        self.stale = params.get("period") in PERIODS and params.get("period") != "custom" and (
            "from" in params or "to" in params
        )

    def shifted(self, step: int) -> str | None:
        """The link to the period before (``step`` -1) or after (1) as a custom range of the
        same length (a whole month for a month); ``None`` past today or the first day."""
        period = self.period
        try:
            if period.start.day == 1 and (period.key in ("month", "lastmonth") or _whole_month(period.start, period.end)):
                start = _add_months(period.start, step)
                end = _add_months(start, 1)
            else:
                start = period.start + timedelta(days=step * period.days)
                end = start + timedelta(days=period.days)
        except (OverflowError, ValueError):  # before year 1 or after 9999
            return None
        if start > self.today or start < FIRST_DAY:
            return None
        end = min(end, self.today + timedelta(days=1))
        return self.url("", period="custom", **{"from": start.isoformat(), "to": (end - timedelta(days=1)).isoformat()})

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


def _add_months(first: date, months: int) -> date:
    year, month = divmod(first.year * 12 + first.month - 1 + months, 12)
    return date(year, month + 1, 1)


def _whole_month(start: date, end: date) -> bool:
    return end == _add_months(start, 1)


def chart(request, query: PageQuery, series, previous) -> dict:
    """The chart of the dashboard (``sites/_chart.jinja2``) of the query's metric, with the
    previous period's behind it: its geometry and its buckets so far."""
    site = request.context.site
    period = query.period
    now = to_local(utcnow(), site.timezone).replace(tzinfo=None)
    kind = grain(period.days, query.stats.bucket == "hour")
    found = buckets(series, previous, kind, datetime.combine(period.end, time()), now)
    return {
        "chart": line_chart(found, kind, query.metric),
        "buckets": [b for b in found if b.state != "future"],
        "shown_value": shown_value,
        "kind": kind,
        "query": query,
    }


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
        query = PageQuery(self.request, chart=True, dimensions=tuple(dim for _, dims in GROUPS for dim in dims),
                          compare=True)
        if query.stale:  # a period picked from the list keeps no custom dates in the address
            raise HTTPSeeOther(query.url(""))
        overview = api.overview(db, query.stats)
        totals, before = overview.totals, overview.before
        groups = [(title, [(dim, overview.panels[dim]) for dim in dims]) for title, dims in GROUPS]
        goals = [spec(goal) for goal in site_goals(db, self.site.id)]
        return {
            "site": self.site,
            "query": query,
            "periods": PERIODS,
            "headline": [
                (key, label, kind, None if averaged and not totals.visits else getattr(totals, key),
                 _change(getattr(totals, key), getattr(before, key)), up_is_good)
                for key, label, kind, up_is_good, averaged in HEADLINE
            ],
            "chart_metrics": METRICS,
            "multi_day": query.period.days > 1,
            "realtime": api.realtime(db, query.stats, utcnow()),
            "bot_hits": overview.bot_hits,
            **chart(self.request, query, overview.series, overview.previous),
            "groups": groups,
            "goals": goal_rows(db, query.stats, goals, totals.visitors, before.visitors),
            "change": lambda now, before: _change(float(now), float(before)),
            "labels": LABELS,
            "filterable": FILTERABLE,
            "snippet": snippet(self.request, self.context) if isinstance(self.context, SiteResource) else "",
            "empty": not overview.has_data,
            "ignored": api.ignored(db, self.site.id),
            "ignored_reasons": IGNORED_REASONS,
            "split_prop": split_prop,
            "separator": PROP_SEPARATOR,
            **job_notice(self.request, self.site),
        }

    @view_config(name="live", renderer="json")
    def live(self):
        """What the dashboard's script refreshes while the tab is visible: the visitors of the
        last 30 minutes, whether the site has had a hit, and the chart (HTML), for the same
        period, filters and metric."""
        db = self.request.dbsession
        query = PageQuery(self.request, chart=True, compare=True)
        series = api.timeseries(db, query.stats)
        context = chart(self.request, query, series.points, series.previous)
        return {
            "now": api.realtime(db, query.stats, utcnow()),
            "has_data": api.has_data(db, query.stats),
            "ignored": sum(row.count for row in api.ignored(db, self.site.id)),
            "chart": render("tracking:templates/sites/_chart.jinja2", context, request=self.request),
        }

    @view_config(name="panel", renderer="tracking:templates/sites/panel.jinja2")
    def panel(self):
        dim = query_params(self.request).get("dim", "")
        if dim not in DIMENSIONS:
            raise HTTPNotFound()
        query = PageQuery(self.request, dimensions=(dim,), metrics=DETAILS[dim], limit=MORE_LIMIT)
        panel = api.breakdown(self.request.dbsession, query.stats)
        listed = len(panel.rows)
        search = _search(self.request, panel)
        return {
            "site": self.site,
            "query": query,
            "dim": dim,
            "panel": panel,
            "search": search,
            "listed": listed,
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
            panel = api.breakdown(self.request.dbsession, query.stats)
            _search(self.request, panel)  # the list as the details page shows it
            rows = export.panel_rows(panel)
        else:
            raise HTTPNotFound()
        response = Response(content_type="text/csv", charset="utf-8")
        filename = f"{self.site.name}-{dim}-{query.period.start}-{query.period.end}.csv"
        response.content_disposition = "attachment; filename*=UTF-8''" + quote(filename, safe="")
        response.app_iter = export.csv_lines(header, rows)
        return response


def _search(request, panel) -> str:
    """Keep the rows of ``panel`` that match the search of the query string (``q``); returns the
    search ("" for none)."""
    search = query_params(request).get("q", "").strip()[:MAX_SEARCH]
    if search:
        panel.rows = [row for row in panel.rows if _matches(panel.dim, row.value, search.casefold())]
    return search


def _matches(dim: str, value: str, search: str) -> bool:
    """Whether a row of a panel's list matches a search (folded case; a country by its code or
    its name; a property by its event, name or value)."""
    shown = f"{value} {country(value)}" if dim == "country" else " ".join(split_prop(value)) if dim == "prop" else value
    return search in shown.casefold()


def _change(now: float, before: float) -> float | None:
    if not before:
        return None
    return 100.0 * (now - before) / before
