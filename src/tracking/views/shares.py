"""Share links: the owner's and admins' page of a site's links, and the password a protected
link asks for.

``/share/<secret>/`` is the site's dashboard (the views of :mod:`tracking.views.dashboard` answer
on :class:`~tracking.resources.SharedSite` too, with what the link's ACL grants). A password is
checked behind the log-in throttle, keyed by the link; once given, the link's id is kept in the
browser's session (its ``share:<id>`` principal).
"""

from datetime import datetime, time

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.view import view_config, view_defaults

from .. import members, throttle
from ..forms import FormHandler
from ..models.types import utcnow
from ..resources import SharedSite, SiteResource
from ..schemas.members import RevokeLinkSchema, ShareLinkSchema, UnlockSchema
from ..security import SHARES_KEY, Permission
from .auth import checked_password, refuse

PAGE = "tracking:templates/sites/share.jinja2"
#: Password-protected links a browser's session remembers at most.
MAX_UNLOCKED = 20


@view_defaults(context=SiteResource, name="share", renderer=PAGE)
class ShareLinkViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.site = context.site

    def _create_form(self) -> FormHandler:
        return FormHandler(self.request, ShareLinkSchema(), formid="share-link", button="Create link", today=utcnow().date())

    def _revoke_form(self) -> FormHandler:
        choices = [(str(link.id), link.label) for link in members.links_of(self.request.dbsession, self.site.id)]
        return FormHandler(self.request, RevokeLinkSchema(), formid="revoke-link", button="Revoke", choices=choices)

    def _page(self, create=None, revoke=None, **extra) -> dict:
        return {
            "site": self.site,
            "links": members.links_of(self.request.dbsession, self.site.id),
            "create_form": (create or self._create_form()).html,
            "revoke_form": (revoke or self._revoke_form()).html,
            **extra,
        }

    @view_config(request_method="GET", permission=Permission.MANAGE)
    def page(self):
        return self._page()

    @view_config(request_method="POST", request_param="__formid__=share-link", permission=Permission.MANAGE)
    def create(self):
        handler = self._create_form()
        appstruct = handler.validate()
        if appstruct is None:
            return self._page(create=handler)
        expires = appstruct["expires"]
        secret = members.create_link(
            self.request.dbsession, self.site, label=appstruct["label"], password=appstruct["password"],
            expires_at=datetime.combine(expires, time()) if expires else None,
            include_visits=appstruct["include_visits"], origins=appstruct["origins"].split(), by=self.request.identity,
        )
        url = self.request.resource_url(self.request.root, "share", secret, "")
        return self._page(share_url=url, plain_link=not appstruct["password"])

    @view_config(request_method="POST", request_param="__formid__=revoke-link", permission=Permission.MANAGE)
    def revoke(self):
        handler = self._revoke_form()
        appstruct = handler.validate()
        if appstruct is None:
            return self._page(revoke=handler)
        link = next(link for link in members.links_of(self.request.dbsession, self.site.id) if str(link.id) == appstruct["link"])
        members.revoke_link(self.request.dbsession, link, self.request.identity)
        self.request.session.flash(f"Share link “{link.label}” revoked: its address opens nothing now.")
        return HTTPSeeOther(self.request.resource_url(self.context, "share"))


@view_defaults(context=SharedSite, name="unlock", renderer="tracking:templates/shares/unlock.jinja2")
class UnlockViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.link = context.link

    def _form(self) -> FormHandler:
        return FormHandler(self.request, UnlockSchema(), formid="unlock", button="Show the dashboard")

    @view_config(request_method="GET", permission=Permission.UNLOCK)
    def page(self):
        if self.link.password_hash is None:  # nothing to give: the dashboard
            return HTTPSeeOther(self.request.resource_url(self.context))
        return {"form": self._form().html}

    @view_config(request_method="POST", request_param="__formid__=unlock", permission=Permission.UNLOCK)
    def unlock(self):
        request, link = self.request, self.link
        handler = self._form()
        appstruct = handler.validate()
        if appstruct is None:
            return {"form": handler.html}
        try:
            ok = checked_password(request, f"share-link:{link.id}", lambda: members.check_link_password(link, appstruct["password"]))
        except throttle.Throttled as refused:
            refuse(request, handler, refused.wait)
            return {"form": handler.html}
        if not ok:
            handler.fail("Wrong password.")
            return {"form": handler.html}
        # The latest few links (the cookie stays small); an older one asks for its password again.
        unlocked = [known for known in request.session.get(SHARES_KEY, ()) if known != link.id]
        request.session[SHARES_KEY] = [*unlocked[-(MAX_UNLOCKED - 1):], link.id]
        return HTTPSeeOther(request.resource_url(self.context))
