"""The resource tree: the URL map and the permission map at once.

::

    Root                       /                 admins: admin
    ├── Sites                  /sites/           any signed-in user: add-site
    │   └── SiteResource       /sites/<id>/      its owner and members: by role (ROLE_PERMISSIONS)
    │       ├── Visits         /sites/<id>/visits/        the site's visits
    │       │   └── VisitResource  /sites/<id>/visits/<id>   one visit's timeline
    │       ├── Bots           /sites/<id>/bots/          the site's bot hits
    │       └── Goals          /sites/<id>/goals/         its goals (edit: owner and admins)
    │           └── GoalResource   /sites/<id>/goals/<id>    one goal
    ├── Shares                 /share/
    │   └── SharedSite         /share/<secret>/  everyone (or who gave its password): view,
    │       ├── Visits …                          and view-visits if the link includes them
    │       └── Bots …
    ├── Invitations            /invitations/
    │   └── InvitationResource /invitations/<token>  everyone: view; its addressee: accept
    ├── PasswordTokens         /password/
    │   └── PasswordTokenResource /password/<token>  whoever holds the link: view, edit
    └── Users                  /users/           (inherits: admins only)
        └── UserResource       /users/<id>/      that user: view, edit, delete

A site's ACL is built from its rows on every request: the owner (``sites.owner_id``) and each
member (``site_members``) get the permissions of their role, so a role change or a removal takes
effect on the member's next request. A share link's secret, an invitation's token and a
set-password token are path segments: unknown, malformed, revoked, used or expired ones raise
``KeyError`` (404) like a missing id.

Every resource has ``__name__`` and ``__parent__``, and each access control entry is stated
once, on the resource that grants it; descendants inherit it through the lineage (a visit is
readable by whoever may view its site). A name that is not a canonical positive id, an id beyond
the range of its column's type (32 bits for users and sites, 64 for visits: PostgreSQL refuses to
compare a larger number with an ``INTEGER`` column), or an id with no row, raises ``KeyError``:
Pyramid answers 404.
"""

import re
from functools import cached_property
from typing import Any

from pyramid.authorization import DENY_ALL, Allow, Authenticated, Everyone
from sqlalchemy import BigInteger, bindparam, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from zope.interface import Attribute, Interface, implementer

from . import accounts, members
from .headers import forbid_storing
from .ingest.sites import SiteInfo, SiteUnavailable
from .interfaces import IDatabase, ISiteDirectory
from .models import Goal, Site, SiteMember, User, Visit
from .models.types import utcnow
from .security import ADMIN, ROLE_PERMISSIONS, Permission, email_principal, share_principal, user_principal

#: A canonical positive id: no sign, no leading zero, at most 19 digits.
_ID = re.compile(r"[1-9][0-9]{0,18}\Z")


def largest_id(model) -> int:
    """The largest value the id column of ``model`` holds on every database: 64-bit for a
    ``BigInteger`` (visits, hits), 32-bit for an ``Integer`` (users, sites)."""
    return 2**63 - 1 if isinstance(model.__table__.c.id.type, BigInteger) else 2**31 - 1


def parse_id(name: str, model=None) -> int:
    """The id of a ``model`` row (without a model: any 64-bit id) named by a path segment or a
    form, or ``KeyError``: a number its column cannot hold names no row, and must not reach the
    database (where it is an error)."""
    if not _ID.match(name):
        raise KeyError(name)
    value = int(name)
    if value > (2**63 - 1 if model is None else largest_id(model)):
        raise KeyError(name)
    return value


def is_disconnect(error: DBAPIError) -> bool:
    """Whether ``error`` says the database cannot be reached (refused or lost connection, a
    missing SQLite file), rather than that this query was wrong: only the first is an outage."""
    return error.connection_invalidated or isinstance(error, (OperationalError, InterfaceError))


class Resource:
    """A node of the tree, knowing its name, its parent and the request."""

    request: Any  # the request (Pyramid's are untyped)

    def __init__(self, parent: "Resource | None", name: str) -> None:
        self.__parent__ = parent
        self.__name__ = name
        self.request = parent.request if parent is not None else None

    def __acl__(self) -> list:
        return []


class Root(Resource):
    def __init__(self, request) -> None:
        super().__init__(None, "")
        self.request = request

    def __acl__(self) -> list:
        return [(Allow, ADMIN, Permission.ADMIN)]

    def __getitem__(self, name: str) -> Resource:
        if name == "api":
            from .api_resources import Api  # which imports this module

            return Api(self, name)
        children = {"sites": Sites, "users": Users, "share": Shares, "invitations": Invitations, "password": PasswordTokens}
        return children[name](self, name)


class Sites(Resource):
    def __acl__(self) -> list:
        return [(Allow, Authenticated, Permission.ADD_SITE)]

    def __getitem__(self, name: str) -> "SiteResource":
        """The site, known from the per-process site directory (the beacon's hot path)."""
        info = self.request.registry.getUtility(ISiteDirectory).get(parse_id(name, Site), self._load)
        if info is None:
            raise KeyError(name)
        return SiteResource(self, name, info)

    def _load(self, site_id: int) -> SiteInfo | None:
        # A short session of its own: the beacon runs outside the request transaction.
        try:
            with self.request.registry.getUtility(IDatabase).session_factory() as session:
                site = session.get(Site, site_id)
                return None if site is None else SiteInfo.from_row(site)
        except DBAPIError as error:
            if not is_disconnect(error):
                raise  # a fault of this query, not an outage: it must not mark the database away
            raise SiteUnavailable(str(error.orig)[:200]) from error

    def resource_for(self, site: Site) -> "SiteResource":
        resource = SiteResource(self, str(site.id), SiteInfo.from_row(site))
        resource.site = site
        return resource


class ISiteReports(Interface):
    """A site whose reports may be read: the site itself, or a share link of it. The dashboard's
    views are registered for this; everything else of a site (its beacon, settings, people) for
    :class:`SiteResource` alone, so none of it exists under ``/share/``."""

    site = Attribute("the site's row")


class SiteReports(Resource):
    """What a site and a share link of it have in common: the row and the report children."""

    def __getitem__(self, name: str) -> Resource:
        children = {"visits": Visits, "bots": Bots}
        return children[name](self, name)


@implementer(ISiteReports)
class SiteResource(SiteReports):
    """A site. ``info`` is the cached summary the beacon uses; ``site`` the row, loaded on use."""

    def __init__(self, parent: Sites, name: str, info: SiteInfo) -> None:
        super().__init__(parent, name)
        self.info = info

    @cached_property
    def site(self) -> Site | None:
        return self.request.dbsession.get(Site, self.info.id)

    def __getitem__(self, name: str) -> Resource:
        if name == "goals":  # the site's own, not a share link's
            return Goals(self, name)
        return super().__getitem__(name)

    def __acl__(self) -> list:
        if "site" in self.__dict__:  # the row is loaded: its members are asked of it
            site = self.site
            if site is None:  # deleted by another process since the directory cached it
                return [DENY_ALL]
            owner_id, roles = site.owner_id, [(member.user_id, member.role) for member in site.members]
        else:
            grants = self._grants
            if grants is None:
                return [DENY_ALL]
            owner_id, roles = grants
        acl = [(Allow, user_principal(owner_id), ROLE_PERMISSIONS["owner"])]
        acl += [(Allow, user_principal(user_id), ROLE_PERMISSIONS[role]) for user_id, role in roles]
        return acl

    @cached_property
    def _grants(self) -> tuple[int, list[tuple[int, str]]] | None:
        """The owner's id and the members' (id, role), in one query, for an ACL asked before the
        row is loaded (the API's hot path: a batch of hits checks its sites and nothing else);
        ``None``: no such site. Once a view loads the row, the ACL is the row's."""
        rows = self.request.dbsession.execute(_GRANTS, {"site_id": self.info.id}).all()
        if not rows:
            return None
        return rows[0][0], [(user_id, role) for _, user_id, role in rows if user_id is not None]


#: A site's owner, and each member with their role (one row with ``NULL`` member: none).
_GRANTS = (
    select(Site.owner_id, SiteMember.user_id, SiteMember.role)
    .outerjoin(SiteMember, SiteMember.site_id == Site.id)
    .where(Site.id == bindparam("site_id"))
)


class Visits(Resource):
    """The visits of a site."""

    __parent__: SiteResource

    def __getitem__(self, name: str) -> "VisitResource":
        site = self.__parent__.site
        if site is None:  # deleted by another process since the directory cached it
            raise KeyError(name)
        visit = self.request.dbsession.scalar(
            select(Visit).where(Visit.id == parse_id(name, Visit), Visit.site_id == site.id)
        )
        if visit is None:
            raise KeyError(name)
        return VisitResource(self, name, visit)


class VisitResource(Resource):
    """One visit of a site (its timeline)."""

    def __init__(self, parent: Visits, name: str, visit: Visit) -> None:
        super().__init__(parent, name)
        self.visit = visit


class Goals(Resource):
    """The goals of a site (:mod:`tracking.goals`): managed by whoever may edit the site."""

    __parent__: SiteResource

    def __getitem__(self, name: str) -> "GoalResource":
        site = self.__parent__.site
        if site is None:
            raise KeyError(name)
        goal = self.request.dbsession.scalar(
            select(Goal).where(Goal.id == parse_id(name, Goal), Goal.site_id == site.id)
        )
        if goal is None:
            raise KeyError(name)
        return GoalResource(self, name, goal)


class GoalResource(Resource):
    """One goal of a site."""

    def __init__(self, parent: Goals, name: str, goal: Goal) -> None:
        super().__init__(parent, name)
        self.goal = goal


class Bots(Resource):
    """The bot hits of a site: they belong to no visit. A list only; no child."""

    def __getitem__(self, name: str) -> Resource:
        raise KeyError(name)


class Shares(Resource):
    """The share links: ``/share/<secret>/`` is the dashboard of the link's site."""

    def __getitem__(self, name: str) -> "SharedSite":
        link = members.find_link(self.request.dbsession, name, utcnow())
        if link is None:
            raise KeyError(name)
        return SharedSite(self, name, link)


@implementer(ISiteReports)
class SharedSite(SiteReports):
    """A site seen through a share link: the dashboard's views answer here too, and this ACL
    alone (not the site's members) says what they may show."""

    def __init__(self, parent: Shares, name: str, link) -> None:
        super().__init__(parent, name)
        self.link = link
        self.site = link.site
        forbid_storing(self.request)  # no copy may outlive the link

    def __acl__(self) -> list:
        link = self.link
        granted = (Permission.VIEW, Permission.VIEW_VISITS) if link.include_visits else (Permission.VIEW,)
        principal = Everyone if link.password_hash is None else share_principal(link.id)
        return [(Allow, Everyone, Permission.UNLOCK), (Allow, principal, granted)]


class Invitations(Resource):
    def __getitem__(self, name: str) -> "InvitationResource":
        invitation = members.find_invitation(self.request.dbsession, name, utcnow())
        if invitation is None:
            raise KeyError(name)
        return InvitationResource(self, name, invitation)


class InvitationResource(Resource):
    def __init__(self, parent: Invitations, name: str, invitation) -> None:
        super().__init__(parent, name)
        self.invitation = invitation

    def __acl__(self) -> list:
        return [(Allow, Everyone, Permission.VIEW), (Allow, email_principal(self.invitation.email), Permission.ACCEPT)]


class PasswordTokens(Resource):
    def __getitem__(self, name: str) -> "PasswordTokenResource":
        token = accounts.find_password_token(self.request.dbsession, name, utcnow())
        if token is None:
            raise KeyError(name)
        return PasswordTokenResource(self, name, token)


class PasswordTokenResource(Resource):
    def __init__(self, parent: PasswordTokens, name: str, token) -> None:
        super().__init__(parent, name)
        self.token = token

    def __acl__(self) -> list:
        return [(Allow, Everyone, (Permission.VIEW, Permission.EDIT))]


class Users(Resource):
    def __getitem__(self, name: str) -> "UserResource":
        user = self.request.dbsession.get(User, parse_id(name, User))
        if user is None:
            raise KeyError(name)
        return UserResource(self, name, user)

    def resource_for(self, user: User) -> "UserResource":
        return UserResource(self, str(user.id), user)


class UserResource(Resource):
    def __init__(self, parent: Users, name: str, user: User) -> None:
        super().__init__(parent, name)
        self.user = user

    def __acl__(self) -> list:
        return [(Allow, user_principal(self.user.id), (Permission.VIEW, Permission.EDIT, Permission.DELETE))]


def includeme(config) -> None:
    config.set_root_factory(Root)
