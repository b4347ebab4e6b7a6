"""A user's API keys (``/users/<id>/keys``): the list, the form that makes one (the key is shown
once, in the answer to that form) and revoking one. See :mod:`tracking.api_keys`."""

from __future__ import annotations

from datetime import datetime

from pyramid.httpexceptions import HTTPBadRequest, HTTPSeeOther
from pyramid.view import view_config, view_defaults
from sqlalchemy import select

from .. import api_keys
from ..forms import FormHandler
from ..models import ApiKey, Site
from ..resources import UserResource, parse_id
from ..schemas.api_keys import ApiKeySchema
from ..security import Permission

KEYS = "tracking:templates/users/keys.jinja2"


@view_defaults(context=UserResource, name="keys", renderer=KEYS)
class ApiKeyViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.user = context.user

    def _sites(self) -> list[Site]:
        return list(self.request.dbsession.scalars(
            select(Site).where(Site.owner_id == self.user.id).order_by(Site.name, Site.id)
        ))

    def _form(self, sites: list[Site]) -> FormHandler:
        return FormHandler(
            self.request, ApiKeySchema(), formid="api-key", button="Create key",
            sites=sites, today=api_keys.now().date(),
        )

    def _page(self, form: FormHandler, sites: list[Site], new_key: str | None = None) -> dict:
        names = {site.id: site.name for site in sites}
        return {
            "user": self.user,
            "form": form.html,
            "keys": api_keys.of_user(self.request.dbsession, self.user.id),
            "site_names": names,
            "new_key": new_key,
            "now": api_keys.now(),
        }

    @view_config(request_method="GET", permission=Permission.VIEW)
    def index(self):
        sites = self._sites()
        return self._page(self._form(sites), sites)

    @view_config(request_method="POST", request_param="__formid__=api-key", permission=Permission.EDIT)
    def create(self):
        request = self.request
        sites = self._sites()
        form = self._form(sites)
        appstruct = form.validate()
        if appstruct is None:
            return self._page(form, sites)
        expires = appstruct["expires"]
        _, key = api_keys.create(
            request.dbsession,
            self.user.id,
            appstruct["label"],
            appstruct["scopes"],
            [int(site_id) for site_id in appstruct["sites"]] or None,
            datetime(expires.year, expires.month, expires.day) if expires else None,
        )
        # The key is in this answer only: nothing may keep a copy of it.
        request.response.headers["Cache-Control"] = "no-store"
        return self._page(self._form(sites), sites, new_key=key)

    @view_config(name="revoke-key", request_method="POST", permission=Permission.EDIT, renderer=None)
    def revoke(self):
        request = self.request
        try:
            key_id = parse_id(request.POST.get("key", ""), ApiKey)
        except KeyError:
            raise HTTPBadRequest("No such key.") from None
        revoked = api_keys.revoke(request.dbsession, self.user.id, key_id, api_keys.now())
        request.session.flash("Key revoked." if revoked else "That key was already revoked.")
        return HTTPSeeOther(request.resource_url(self.context, "keys"))
