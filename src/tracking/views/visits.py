"""A site's visits, one visit's timeline, and the site's bot hits: each view builds a query value
from the request (:class:`~tracking.reports.visits.ListQuery`) and reads its page of rows."""

import re

from pyramid.httpexceptions import HTTPMovedPermanently
from pyramid.view import view_config

from ..reports.periods import day_from
from ..reports.query import SiteRef
from ..reports.visits import ListQuery, bot_list, timeline, visit_list
from ..resources import Bots, VisitResource, Visits
from ..security import Permission
from ..timezones import to_local
from .dashboard import query_params

#: A row id to continue from: ASCII digits, at most 18 (below 2**63).
_BEFORE = re.compile(r"[0-9]{1,18}")


def _list_query(request, site) -> tuple[ListQuery, str]:
    """A list page's query value: its ``day`` (a usable date, or every day, with a note saying
    why) and ``before`` (an id, or the newest: anything else is ignored)."""
    params = query_params(request)
    day, corrected = day_from(params.get("day"))
    before = params.get("before")
    return ListQuery(SiteRef.of(site), day, int(before) if before and _BEFORE.fullmatch(before) else None), corrected


def _links(request, context, day, before, next_before) -> dict:
    query = {"day": day.isoformat()} if day else {}
    return {
        "next_url": request.resource_url(context, query={**query, "before": next_before}) if next_before else None,
        "first_url": request.resource_url(context, query=query) if before else None,
    }


@view_config(context=Visits, name="", permission=Permission.VIEW_VISITS, renderer="tracking:templates/sites/visits.jinja2")
def visits(context, request):
    """The visits of a site, newest first, 50 a page; by day, in the site's time zone."""
    site = context.__parent__.site
    if query_params(request).get("kind") == "bots":  # the bot view was this list's "kind=bots"
        day = query_params(request).get("day")
        bots = request.resource_url(context.__parent__, "bots", "", query={"day": day} if day else {})
        raise HTTPMovedPermanently(location=bots)
    query, corrected = _list_query(request, site)
    page = visit_list(request.dbsession, query)
    return {
        "site": site,
        "visits": [(visit, to_local(visit.started_at, site.timezone)) for visit in page.rows],
        "day": query.day,
        "corrected": corrected,
        **_links(request, context, query.day, query.before, page.next_before),
    }


@view_config(context=VisitResource, name="", permission=Permission.VIEW_VISITS, renderer="tracking:templates/sites/visit.jinja2")
def visit(context, request):
    """One visit: when, how long, from where, on what, and its hits in order."""
    site = context.__parent__.__parent__.site
    return {"site": site, "timeline": timeline(request.dbsession, SiteRef.of(site), context.visit)}


@view_config(context=Bots, name="", permission=Permission.VIEW_VISITS, renderer="tracking:templates/sites/bots.jinja2")
def bots(context, request):
    """The bot hits of a site, newest first, 50 a page, with why each is a bot; by day."""
    site = context.__parent__.site
    query, corrected = _list_query(request, site)
    page = bot_list(request.dbsession, query)
    return {
        "site": site,
        "hits": [(hit, to_local(hit.ts, site.timezone)) for hit in page.rows],
        "day": query.day,
        "corrected": corrected,
        **_links(request, context, query.day, query.before, page.next_before),
    }
