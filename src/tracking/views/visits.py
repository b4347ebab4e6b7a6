"""The visit log of a site, and the tracker script."""

import re
from pathlib import Path

from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config

from ..models import Hit, Visit
from ..resources import Root, VisitResource, Visits
from ..security import Permission
from ..stats.periods import day_from, to_local
from ..stats.visits import KINDS, visit_log
from .dashboard import query_params

TRACKER = (Path(__file__).parent.parent / "static" / "tracker.js").read_bytes()
#: A visit id to continue from: ASCII digits, at most 18 (below 2**63).
_BEFORE = re.compile(r"[0-9]{1,18}")


@view_config(context=Visits, name="", permission=Permission.VIEW, renderer="tracking:templates/sites/visits.jinja2")
def visits(context, request):
    """The visits of a site, newest first. A day that is not a usable date shows every day and
    says so; an unknown ``kind`` or a ``before`` that is not an id is ignored."""
    site = context.__parent__.site
    params = query_params(request)
    day, corrected = day_from(params.get("day"))
    kind = params.get("kind") if params.get("kind") in KINDS else "all"
    before = params.get("before")
    before = int(before) if before and _BEFORE.fullmatch(before) else None
    rows, next_before = visit_log(request.dbsession, site.id, site.timezone, day=day, kind=kind, before=before)
    query = {k: v for k, v in (("day", day and day.isoformat()), ("kind", kind if kind != "all" else None)) if v}
    return {
        "site": site,
        "visits": [(visit, to_local(visit.ts, site.timezone)) for visit in rows],
        "day": day,
        "corrected": corrected,
        "kind": kind,
        "kinds": KINDS,
        "next_url": request.resource_url(context, query={**query, "before": next_before}) if next_before else None,
        "first_url": request.resource_url(context, query=query) if before else None,
    }


@view_config(context=VisitResource, name="", permission=Permission.VIEW, renderer="tracking:templates/sites/visit.jinja2")
def visit(context, request):
    """One hit, every stored field, and the visit it belongs to."""
    site = context.__parent__.__parent__.site
    hit = context.visit
    visit = request.dbsession.get(Visit, hit.visit_id) if hit.visit_id else None
    fields = [(column.name, getattr(hit, column.key)) for column in Hit.__table__.columns if column.name not in ("site_id",)]
    return {"site": site, "hit": hit, "local": to_local(hit.ts, site.timezone), "fields": fields, "visit": visit}


@view_config(context=Root, name="tracker.js", permission=NO_PERMISSION_REQUIRED)
def tracker_script(request):
    response = Response(body=TRACKER, content_type="text/javascript", charset="utf-8")
    response.headers.update({"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"})
    return response
