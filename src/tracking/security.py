"""Who is asking, and what may they do.

One security policy: the identity is the user of the request's signed-in session
(:mod:`tracking.user_sessions`), resolved at most once per request, and permissions come from the
``__acl__`` of the resource tree (:mod:`tracking.resources`) through
:class:`pyramid.authorization.ACLHelper`.

The browser holds one cookie, ``tracking_session``: Pyramid's signed cookie session
(:class:`~pyramid.session.SignedCookieSessionFactory`), which keeps the flash messages, the CSRF
token and the token of the signed-in session. The cookie never decides who is signed in on its
own: its token must match a live row of ``user_sessions`` (one query joining the user), so
logging out, a password change, deleting the account, ending a session from the account page
and the session's expiry all take effect on the server, whatever copies of the cookie exist.
The beacon never reads the cookie.

Principals: ``system.Everyone``, ``system.Authenticated``, ``user:<id>``, ``email:<address>``,
``role:admin`` and ``share:<id>`` (the share links whose password this browser gave, kept in the
session cookie under :data:`SHARES_KEY`). A disabled account is never signed in.
"""

import logging
from enum import StrEnum
from functools import partial

from pyramid.authorization import ACLHelper, Authenticated, Everyone
from pyramid.csrf import LegacySessionCSRFStoragePolicy
from pyramid.interfaces import ISecurityPolicy
from pyramid.request import RequestLocalCache
from pyramid.session import SignedCookieSessionFactory
from sqlalchemy.exc import DBAPIError

from . import user_sessions
from .interfaces import IDatabase, ISettings
from .models import User, UserSession

ADMIN = "role:admin"
#: Where the session cookie keeps the token of the signed-in session.
TOKEN_KEY = "auth.token"
#: Where the session cookie keeps the ids of the password-protected share links it unlocked.
SHARES_KEY = "shares"

log = logging.getLogger(__name__)


class Permission(StrEnum):
    #: A site's dashboard, its panels and their CSV exports; an account's page.
    VIEW = "view"
    #: A site's visit log (visits, a visit's timeline, bot hits) and the raw exports.
    VIEW_VISITS = "view-visits"
    #: A site's settings; an account's name and password.
    EDIT = "edit"
    #: A site's members, invitations, share links and history.
    MANAGE = "manage"
    #: Delete a site (or an account), transfer a site's ownership.
    DELETE = "delete"
    ADD_SITE = "add-site"
    #: Accept an invitation (its addressee only).
    ACCEPT = "accept"
    #: Give a share link's password.
    UNLOCK = "unlock"
    ADMIN = "admin"


#: What each role may do on its site: the one place these sets are written.
ROLE_PERMISSIONS = {
    "owner": (Permission.VIEW, Permission.VIEW_VISITS, Permission.EDIT, Permission.MANAGE, Permission.DELETE),
    "admin": (Permission.VIEW, Permission.VIEW_VISITS, Permission.EDIT, Permission.MANAGE),
    "viewer": (Permission.VIEW, Permission.VIEW_VISITS),
}


def user_principal(user_id: int) -> str:
    return f"user:{user_id}"


def email_principal(email: str) -> str:
    """The principal of whoever is signed in with this (normalised) address."""
    return f"email:{email}"


def share_principal(link_id: int) -> str:
    """The principal of a browser that gave a password-protected share link's password."""
    return f"share:{link_id}"


class SecurityPolicy:
    def __init__(self) -> None:
        self.acl = ACLHelper()
        self.session_cache = RequestLocalCache(self.load_session)

    def load_session(self, request) -> UserSession | None:
        token = request.session.get(TOKEN_KEY)
        if token is None:
            return None
        now = user_sessions.now()
        row = user_sessions.resolve(request.dbsession, token, now)
        if row is None:
            # Ended or expired: the browser forgets the token (no query for it next time).
            del request.session[TOKEN_KEY]
            return None
        if user_sessions.needs_touch(row, now):
            request.add_finished_callback(partial(_touch, row.id, row.created_at, now))
        return row

    def session(self, request) -> UserSession | None:
        return self.session_cache.get_or_create(request)

    def identity(self, request) -> User | None:
        row = self.session(request)
        return None if row is None else row.user

    def authenticated_userid(self, request) -> int | None:
        user = self.identity(request)
        return None if user is None else user.id

    def effective_principals(self, request) -> list[str]:
        principals = [Everyone]
        user = self.identity(request)
        if user is not None:
            principals += [Authenticated, user_principal(user.id), email_principal(user.email)]
            if user.is_admin:
                principals.append(ADMIN)
        if SHARES_KEY in request.session:
            principals += [share_principal(link_id) for link_id in request.session[SHARES_KEY]]
        return principals

    def permits(self, request, context, permission):
        return self.acl.permits(context, self.effective_principals(request), permission)

    def remember(self, request, userid, **kw):
        """Start a signed-in session for ``userid`` in this browser (a new row, its token in the
        cookie). Callers end the browser's previous session first (see ``views.auth``)."""
        device = user_sessions.device_label(request.user_agent)
        request.session[TOKEN_KEY] = user_sessions.start(request.dbsession, userid, device, user_sessions.now())
        self.session_cache.clear(request)
        return []

    def forget(self, request, **kw):
        """End this browser's signed-in session, on the server as well."""
        user_sessions.end_token(request.dbsession, request.session.pop(TOKEN_KEY, None))
        self.session_cache.clear(request)
        return []

    def renew(self, request) -> None:
        """Give this browser's session a new token (after a password change)."""
        row = self.session(request)
        if row is not None:
            request.session[TOKEN_KEY] = user_sessions.renew(row)


def _touch(session_id, created_at, now, request) -> None:
    """After the request: record that the session was used (see ``user_sessions.touch``)."""
    try:
        with request.registry.getUtility(IDatabase).session_factory.begin() as dbsession:
            user_sessions.touch(dbsession, session_id, created_at, now)
    except DBAPIError as error:  # the database is away: the next request tries again
        log.warning("could not record a session's last request (%s)", type(error).__name__)


def current_session(request) -> UserSession | None:
    """The request's signed-in session (its row), if any."""
    return request.registry.getUtility(ISecurityPolicy).session(request)


def renew_session(request) -> None:
    request.registry.getUtility(ISecurityPolicy).renew(request)


def includeme(config) -> None:
    settings = config.registry.getUtility(ISettings)
    config.set_session_factory(
        SignedCookieSessionFactory(
            settings.secret,
            cookie_name="tracking_session",
            httponly=True,
            samesite="Lax",
            secure=settings.production,
            # The cookie lapses after two weeks without a visit (the signed-in session it
            # carries has its own, server-side deadlines).
            timeout=user_sessions.IDLE.total_seconds(),
            reissue_time=3600,
        )
    )
    config.set_csrf_storage_policy(LegacySessionCSRFStoragePolicy())
    config.set_default_csrf_options(require_csrf=True)
    config.set_security_policy(SecurityPolicy())
    config.set_default_permission(Permission.VIEW)
