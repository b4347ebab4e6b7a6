"""The sites list with its add form, and each site's page, settings and deletion.

Saving a new time zone saves it and queues the rebuild of the site's data for it (a job the hit
writer runs: :mod:`tracking.summaries.jobs`); the request itself stays fast, whatever the
site's traffic. Saving the settings again after a rebuild failed for good queues another.
"""

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.view import view_config, view_defaults

from .. import members
from ..forms import FormHandler
from ..ingest import BEACON_NAMES
from ..interfaces import ISiteDirectory
from ..models import Site
from ..resources import SiteResource, Sites
from ..schemas.sites import DeleteSiteSchema, SiteSchema, SiteSettingsWithUmamiSchema
from ..security import Permission
from ..summaries import jobs
from ..timezones import to_local


def snippet(request, context) -> str:
    """The HTML an owner pastes into their pages: the script, and a pixel for browsers without JavaScript."""
    beacon = request.resource_url(context, BEACON_NAMES[0])
    script = request.resource_url(request.root, "tracker.js")
    return (
        f'<script defer src="{script}" data-beacon="{beacon}"></script>\n'
        f'<noscript><img src="{beacon}" alt="" width="1" height="1" '
        f'referrerpolicy="no-referrer-when-downgrade"></noscript>'
    )


def job_notice(request, site) -> dict:
    """What the site's pages say of its rebuild (``templates/sites/_job.jinja2``): its latest job
    unless done, and when a failed attempt is tried again (local time)."""
    job = jobs.latest(request.dbsession, site.id)
    retry = jobs.retry_at(job) if job is not None else None
    return {"job": job, "job_retry_at": to_local(retry, site.timezone) if retry else None}


def _forget_after_commit(request, site_id: int) -> None:
    """The beacon's cached view of the site is dropped once the change is committed."""
    directory = request.registry.getUtility(ISiteDirectory)
    request.tm.get().addAfterCommitHook(lambda committed: committed and directory.forget(site_id))


SETTINGS_FIELDS = ("name", "url", "timezone", "honor_dnt", "honor_gpc", "restrict_hosts", "umami_website_id")


@view_defaults(context=Sites, renderer="tracking:templates/sites/list.jinja2")
class SitesViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request

    # The list and the add form: the form is posted to a view of its own, with its permission.

    def _form(self) -> FormHandler:
        return FormHandler(self.request, SiteSchema(), formid="add-site", button="Add site")

    @view_config(name="", request_method="GET", permission=Permission.ADD_SITE)
    def index(self):
        return self._page(self._form())

    @view_config(name="", request_method="POST", request_param="__formid__=add-site", permission=Permission.ADD_SITE)
    def add(self):
        request = self.request
        handler = self._form()
        appstruct = handler.validate()
        if appstruct is None:
            return self._page(handler)
        site = Site(owner=request.identity, name=appstruct["name"], url=appstruct["url"], timezone=appstruct["timezone"])
        request.dbsession.add(site)
        request.dbsession.flush()
        request.session.flash(f"Site “{site.name}” added. Paste the snippet below into its pages.")
        return HTTPSeeOther(request.resource_url(self.context.resource_for(site)))

    def _page(self, handler: FormHandler) -> dict:
        request = self.request
        sites = members.sites_of(request.dbsession, request.identity.id)
        return {
            "sites": [(site, role, request.resource_url(self.context.resource_for(site))) for site, role in sites],
            "form": handler.html,
        }


@view_defaults(context=SiteResource)
class SiteViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.site = context.site

    @view_config(name="edit", permission=Permission.EDIT, renderer="tracking:templates/sites/edit.jinja2")
    def edit(self):
        request = self.request
        site = self.site
        handler = FormHandler(
            request,
            SiteSettingsWithUmamiSchema(),
            formid="edit-site",
            button="Save",
            appstruct={field: getattr(site, field) for field in SETTINGS_FIELDS},
        )
        notice = job_notice(request, site)
        job = notice["job"]
        if handler.posted():
            appstruct = handler.validate()
            if appstruct is not None:
                moved = appstruct["timezone"] != site.timezone
                changed = [field for field in SETTINGS_FIELDS if appstruct[field] != getattr(site, field)]
                if changed:
                    members.record(request.dbsession, site.id, request.identity, "changed the settings: " + ", ".join(changed))
                for field in SETTINGS_FIELDS:
                    setattr(site, field, appstruct[field])
                message = "Settings saved."
                if moved or (job is not None and job.state == jobs.FAILED):
                    request.dbsession.flush()
                    jobs.enqueue_rebuild(request.dbsession, site.id, site.timezone)
                    message += (
                        f" The reports are being rebuilt for {site.timezone}; until that is done they show"
                        " the numbers as before, counting the days of the previous time zone."
                    )
                _forget_after_commit(request, site.id)
                request.session.flash(message)
                return HTTPSeeOther(request.resource_url(self.context))
        return {"site": site, "form": handler.html, **notice}

    @view_config(name="delete", permission=Permission.DELETE, renderer="tracking:templates/sites/delete.jinja2")
    def delete(self):
        request = self.request
        site = self.site
        handler = FormHandler(request, DeleteSiteSchema(), formid="delete-site", button="Delete site", danger=True)
        if handler.posted():
            appstruct = handler.validate()
            if appstruct is not None:
                request.dbsession.delete(site)
                _forget_after_commit(request, site.id)
                request.session.flash(f"Site “{site.name}” and its visits were deleted.")
                return HTTPSeeOther(request.resource_url(self.context.__parent__))
        return {"site": site, "form": handler.html}
