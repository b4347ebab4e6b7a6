"""``/api/v1/sites/``: list and add sites; ``/api/v1/sites/<id>``: read, change, delete one.

A site is changed as on its settings page: a new time zone queues the rebuild of its reports
(:mod:`tracking.summaries.jobs`), and the beacon's cached view of it is dropped after commit.
"""

from __future__ import annotations

from pyramid.response import Response
from pyramid.view import view_config, view_defaults
from sqlalchemy import select

from ... import members
from ...api_resources import ApiSite, ApiSites
from ...models import ApiKey, Site
from ...schemas.api import InvalidInput, site_fields
from ...security import Permission, current_api_key
from ...summaries import jobs
from .. import sites as site_views
from . import invalid, json_response, limited, read_json

MAX_BODY = 4096


def site_json(site: Site) -> dict:
    return {
        "id": site.id,
        "name": site.name,
        "url": site.url,
        "domain": site.domain,
        "timezone": site.timezone,
        "honor_dnt": site.honor_dnt,
        "honor_gpc": site.honor_gpc,
        "restrict_hosts": site.restrict_hosts,
        "umami_website_id": site.umami_website_id,
        "created_at": site.created_at.isoformat(timespec="seconds") + "Z",
    }


def _fields(request, partial: bool, site_id: int | None = None) -> dict:
    try:
        fields = site_fields(read_json(request, MAX_BODY), partial)
    except InvalidInput as error:
        raise invalid(error.field, error.message) from None
    umami = fields.get("umami_website_id")
    if umami is not None and request.dbsession.scalar(
        select(Site.id).where(Site.umami_website_id == umami, Site.id != site_id)
    ) is not None:
        raise invalid("umami_website_id", "Another site has this Umami website id.")
    return fields


@view_defaults(context=ApiSites, decorator=limited, require_csrf=False)
class SitesViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request

    @view_config(name="", request_method="GET", permission=Permission.API)
    def index(self):
        """The sites the key may read: every site its user can see, owned or as a member (each
        asked of its ACL, which the key's sites narrow)."""
        request = self.request
        visible = []
        for site, _role in members.sites_of(request.dbsession, request.identity.id):
            resource = self.context.resource_for(request.root["sites"].resource_for(site))
            if request.has_permission(Permission.API, resource):
                visible.append(site_json(site))
        return json_response({"results": visible})

    @view_config(name="", request_method="POST", permission=Permission.ADD_SITE)
    def create(self):
        request = self.request
        fields = _fields(request, partial=False)
        site = Site(owner=request.identity, **fields)
        request.dbsession.add(site)
        request.dbsession.flush()
        key = current_api_key(request)
        if key.site_ids is not None:
            # A key limited to some sites may use the sites it adds.
            request.dbsession.get(ApiKey, key.id).site_ids = [*key.site_ids, site.id]
        return json_response(site_json(site), 201, {"Location": request.resource_url(self.context, str(site.id))})


@view_defaults(context=ApiSite, name="", decorator=limited, require_csrf=False)
class SiteViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.site = context.site

    @view_config(request_method="GET", permission=Permission.API)
    def read(self):
        return json_response(site_json(self.site))

    @view_config(request_method="PATCH", permission=Permission.EDIT)
    def update(self):
        request = self.request
        site = self.site
        fields = _fields(request, partial=True, site_id=site.id)
        if not fields:
            raise invalid(None, "Send at least one field to change.")
        moved = "timezone" in fields and fields["timezone"] != site.timezone
        for name, value in fields.items():
            setattr(site, name, value)
        if moved:
            request.dbsession.flush()
            jobs.enqueue_rebuild(request.dbsession, site.id, site.timezone)
        site_views._forget_after_commit(request, site.id)
        return json_response(site_json(site))

    @view_config(request_method="DELETE", permission=Permission.DELETE)
    def delete(self):
        request = self.request
        request.dbsession.delete(self.site)
        site_views._forget_after_commit(request, self.site.id)
        return Response(status=204, headerlist=[("Cache-Control", "no-store")])
