"""The API's part of the resource tree, under ``/api/v1/``.

::

    Api                /api/
    └── ApiV1          /api/v1/                 any API key: api
        ├── ApiSites   /api/v1/sites/           a sites:write key: add-site
        │   └── ApiSite   /api/v1/sites/<id>/   see below
        │       ├── ApiGoals  /api/v1/sites/<id>/goals/    (inherited)
        │       │   └── ApiGoal  /api/v1/sites/<id>/goals/<id>
        │       ├── ApiMembers      …/members/      (inherited)
        │       │   └── ApiMember      …/members/<user id>
        │       ├── ApiInvitations  …/invitations/  (inherited)
        │       │   └── ApiInvitation  …/invitations/<id>
        │       └── ApiShares       …/shares/       (inherited)
        │           └── ApiShare       …/shares/<id>
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
``read-members``       ``manage``                          ``stats:read``
``manage``             ``manage``                          ``sites:write``
=====================  ==================================  =======================

A site's goals, members, invitations and share links are looked up only for a key that may
read the site: for any other key, a path under them is a 404, as the site itself is (without a live key,
a 401 as everywhere).

A key limited to other sites, or without a key (a session cookie counts for nothing here: see
:mod:`tracking.security`), gets nothing. Names that are not ids, and ids of no site, raise
``KeyError`` (404), as in the pages' tree.
"""

from __future__ import annotations

from pyramid.authorization import DENY_ALL, Allow
from pyramid.httpexceptions import HTTPForbidden

from . import api_keys, goals, members
from .models import Goal, Invitation, ShareLink, SiteMember, User
from .models.types import utcnow
from .resources import Resource, SiteResource, parse_id
from .security import API_KEY, Permission, current_api_key, scope_principal, user_principal

#: Read a site's members, invitations and share links: a ``stats:read`` key of an owner or admin.
READ_MEMBERS = "read-members"

#: On an API site: (API permission, the permission the user needs on the site, the scope).
GRANTS = (
    (Permission.API, Permission.VIEW, None),
    (Permission.READ_STATS, Permission.VIEW, "stats:read"),
    (Permission.EDIT, Permission.EDIT, "sites:write"),
    (Permission.DELETE, Permission.DELETE, "sites:write"),
    (Permission.WRITE_EVENTS, Permission.EDIT, "events:write"),
    (READ_MEMBERS, Permission.MANAGE, "stats:read"),
    (Permission.MANAGE, Permission.MANAGE, "sites:write"),
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
        child = CHILDREN.get(name)
        if child is None:
            raise KeyError(name)  # a view's name: aggregate, breakdown...
        if current_api_key(self.request) is None:
            raise HTTPForbidden()  # the API's 401, before anything of the site is looked up
        if not self.request.has_permission(Permission.API, self):
            raise KeyError(name)  # a site the key may not see: its 404, whether its goal exists or not
        return child(self, name)

    def __acl__(self) -> list:
        request = self.request
        key = current_api_key(request)
        # A site that is gone grants nothing: its own ACL denies all.
        if key is None or not api_keys.covers(key, self.site_resource.info.id):
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


class ApiMembers(Resource):
    """A site's members: ``…/members/<user id>``, one of the ``site_members`` rows (the owner is
    the site's, not a row: ``ApiMember.member`` is ``None`` for them)."""

    __parent__: ApiSite

    def __getitem__(self, name: str) -> ApiMember:
        site = self.__parent__.site
        user_id = parse_id(name, User)
        if user_id == site.owner_id:
            return ApiMember(self, name, user_id, None)
        member = next((m for m in site.members if m.user_id == user_id), None)
        if member is None:
            raise KeyError(name)
        return ApiMember(self, name, member.user_id, member)


class ApiMember(Resource):
    def __init__(self, parent: ApiMembers, name: str, user_id: int, member: SiteMember | None) -> None:
        super().__init__(parent, name)
        self.user_id = user_id
        self.member = member


class ApiInvitations(Resource):
    """A site's pending invitations (used, revoked and expired ones are gone)."""

    __parent__: ApiSite

    def __getitem__(self, name: str) -> ApiInvitation:
        site = self.__parent__.site
        wanted = parse_id(name, Invitation)
        invitation = next((i for i in members.pending_invitations(self.request.dbsession, site.id, utcnow())
                           if i.id == wanted), None)
        if invitation is None:
            raise KeyError(name)
        return ApiInvitation(self, name, invitation)


class ApiInvitation(Resource):
    def __init__(self, parent: ApiInvitations, name: str, invitation: Invitation) -> None:
        super().__init__(parent, name)
        self.invitation = invitation


class ApiShares(Resource):
    """A site's share links."""

    __parent__: ApiSite

    def __getitem__(self, name: str) -> ApiShare:
        site = self.__parent__.site
        wanted = parse_id(name, ShareLink)
        link = next((link for link in members.links_of(self.request.dbsession, site.id) if link.id == wanted), None)
        if link is None:
            raise KeyError(name)
        return ApiShare(self, name, link)


class ApiShare(Resource):
    def __init__(self, parent: ApiShares, name: str, link: ShareLink) -> None:
        super().__init__(parent, name)
        self.link = link


#: An API site's people and links, by their name in the path.
#: What a site has under it in the API, each behind the site's own 404 (see above).
CHILDREN: dict[str, type[Resource]] = {"goals": ApiGoals, "members": ApiMembers, "invitations": ApiInvitations,
                                       "shares": ApiShares}


class ApiEvents(Resource):
    """Where a back end sends hits; each hit's site is checked as an :class:`ApiSite`."""

    def __acl__(self) -> list:
        return [(Allow, scope_principal("events:write"), Permission.WRITE_EVENTS)]
