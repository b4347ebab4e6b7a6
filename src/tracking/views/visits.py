"""A site's visits, one visit's timeline, and the site's bot hits."""

import re

from pyramid.httpexceptions import HTTPMovedPermanently
from pyramid.view import view_config

from ..resources import Bots, VisitResource, Visits
from ..security import Permission
from ..stats.periods import day_from, to_local
from ..stats.visits import bot_list, timeline, visit_list
from .dashboard import query_params

#: A row id to continue from: ASCII digits, at most 18 (below 2**63).
_BEFORE = re.compile(r"[0-9]{1,18}")


def _list_params(request) -> tuple:
    """``day`` (a usable date, or every day with a note saying why) and ``before`` (an id, or
    the newest: anything else is ignored) of a list page's query string."""
    params = query_params(request)
    day, corrected = day_from(params.get("day"))
    before = params.get("before")
    before = int(before) if before and _BEFORE.fullmatch(before) else None
    return day, corrected, before


def _links(request, context, day, before, next_before) -> dict:
    query = {"day": day.isoformat()} if day else {}
    return {
        "next_url": request.resource_url(context, query={**query, "before": next_before}) if next_before else None,
        "first_url": request.resource_url(context, query=query) if before else None,
    }


@view_config(context=Visits, name="", permission=Permission.VIEW, renderer="tracking:templates/sites/visits.jinja2")
def visits(context, request):
    """The visits of a site, newest first, 50 a page; by day, in the site's time zone."""
    site = context.__parent__.site
    if query_params(request).get("kind") == "bots":  # the bot view was this list's "kind=bots"
        day = query_params(request).get("day")
        bots = request.resource_url(context.__parent__, "bots", "", query={"day": day} if day else {})
        raise HTTPMovedPermanently(location=bots)
    day, corrected, before = _list_params(request)
    page = visit_list(request.dbsession, site.id, day=day, before=before)
    return {
        "site": site,
        "visits": [(visit, to_local(visit.started_at, site.timezone)) for visit in page.rows],
        "day": day,
        "corrected": corrected,
        **_links(request, context, day, before, page.next_before),
    }


@view_config(context=VisitResource, name="", permission=Permission.VIEW, renderer="tracking:templates/sites/visit.jinja2")
def visit(context, request):
    """One visit: when, how long, from where, on what, and its hits in order."""
    site = context.__parent__.__parent__.site
    return {"site": site, "timeline": timeline(request.dbsession, context.visit, site.timezone)}


@view_config(context=Bots, name="", permission=Permission.VIEW, renderer="tracking:templates/sites/bots.jinja2")
def bots(context, request):
    """The bot hits of a site, newest first, 50 a page, with why each is a bot; by day."""
    site = context.__parent__.site
    day, corrected, before = _list_params(request)
    page = bot_list(request.dbsession, site.id, site.timezone, day=day, before=before)
    return {
        "site": site,
        "hits": [(hit, to_local(hit.ts, site.timezone)) for hit in page.rows],
        "day": day,
        "corrected": corrected,
        **_links(request, context, day, before, page.next_before),
    }
