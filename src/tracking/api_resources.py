"""The API's part of the resource tree, under ``/api/v1/``.

::

    Api                /api/
    └── ApiV1          /api/v1/                 any API key: api
        ├── ApiSites   /api/v1/sites/           a sites:write key: add-site
        │   └── ApiSite   /api/v1/sites/<id>/   see below
        │       └── ApiGoals  /api/v1/sites/<id>/goals/    (inherited)
        │           └── ApiGoal  /api/v1/sites/<id>/goals/<id>
        └── ApiEvents  /api/v1/events           an events:write key: write-events

An API site stands for a site of the pages' tree (``/sites/<id>/``): what a key may do with it
is what the site's own access control list lets the key's user do there — asked of that
resource, so the API follows whatever the site's ACL grants, members included — narrowed by the
key's scopes and sites (:mod:`tracking.api_keys`):

=====================  ==================================  =======================
permission (API)       the user's permission on the site   and the key's scope
=====================  ==================================  =======================
``api`` (read it)      ``view``                            any
``read-stats``         ``view``                            ``stats:read``
``edit``, ``delete``   ``edit``, ``delete``                ``sites:write``
``write-events``       ``edit``                            ``events:write``
=====================  ==================================  =======================

A key limited to other sites, or without a key (a session cookie counts for nothing here: see
:mod:`tracking.security`), gets nothing. Names that are not ids, and ids of no site, raise
``KeyError`` (404), as in the pages' tree.
"""

from __future__ import annotations

from pyramid.authorization import DENY_ALL, Allow

from . import api_keys, goals
from .models import Goal
from .resources import Resource, SiteResource, parse_id
from .security import API_KEY, Permission, current_api_key, scope_principal, user_principal

#: On an API site: (API permission, the permission the user needs on the site, the scope).
GRANTS = (
    (Permission.API, Permission.VIEW, None),
    (Permission.READ_STATS, Permission.VIEW, "stats:read"),
    (Permission.EDIT, Permission.EDIT, "sites:write"),
    (Permission.DELETE, Permission.DELETE, "sites:write"),
    (Permission.WRITE_EVENTS, Permission.EDIT, "events:write"),
)


class Api(Resource):
    def __getitem__(self, name: str) -> Resource:
        if name != "v1":
            raise KeyError(name)
        return ApiV1(self, name)


class ApiV1(Resource):
    def __acl__(self) -> list:
        return [(Allow, API_KEY, Permission.API)]

    def __getitem__(self, name: str) -> Resource:
        children = {"sites": ApiSites, "events": ApiEvents}
        return children[name](self, name)


class ApiSites(Resource):
    def __acl__(self) -> list:
        return [(Allow, scope_principal("sites:write"), Permission.ADD_SITE)]

    def __getitem__(self, name: str) -> ApiSite:
        return ApiSite(self, name, self.request.root["sites"][name])

    def resource_for(self, site_resource: SiteResource) -> ApiSite:
        return ApiSite(self, site_resource.__name__, site_resource)


class ApiSite(Resource):
    """A site, as the API shows it. ``site_resource``: the site in the pages' tree."""

    def __init__(self, parent: ApiSites, name: str, site_resource: SiteResource) -> None:
        super().__init__(parent, name)
        self.site_resource = site_resource

    @property
    def site(self):
        return self.site_resource.site

    def __getitem__(self, name: str) -> Resource:
        if name == "goals":
            return ApiGoals(self, name)
        raise KeyError(name)  # a view's name: aggregate, breakdown...

    def __acl__(self) -> list:
        request = self.request
        key = current_api_key(request)
        if key is None or self.site is None or not api_keys.covers(key, self.site.id):
            return [DENY_ALL]
        scopes = key.scope_set
        granted = tuple(
            permission
            for permission, needed, scope in GRANTS
            if (scope is None or scope in scopes) and request.has_permission(needed, self.site_resource)
        )
        return [(Allow, user_principal(key.user_id), granted), DENY_ALL]


class ApiGoals(Resource):
    """A site's goals, as the API shows them: read with the site, changed with ``edit``."""

    __parent__: ApiSite

    def __getitem__(self, name: str) -> ApiGoal:
        site = self.__parent__.site
        goal = None if site is None else goals.find_goal(self.request.dbsession, site.id, parse_id(name, Goal))
        if goal is None:
            raise KeyError(name)
        return ApiGoal(self, name, goal)


class ApiGoal(Resource):
    def __init__(self, parent: ApiGoals, name: str, goal: Goal) -> None:
        super().__init__(parent, name)
        self.goal = goal


class ApiEvents(Resource):
    """Where a back end sends hits; each hit's site is checked as an :class:`ApiSite`."""

    def __acl__(self) -> list:
        return [(Allow, scope_principal("events:write"), Permission.WRITE_EVENTS)]
