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

Under ``/api/`` only an API key identifies anyone (:mod:`tracking.api_keys`), sent as
``Authorization: Bearer <key>``: the identity is the key's user, and the session cookie is not
read at all, so the API's unsafe methods need no CSRF token and cannot be forged from another
site (a browser never adds the header by itself). Elsewhere a key counts for nothing: the pages
are for people, signed in. A key's principals are its user's (never ``role:admin``: a key does no administration),
``api-key`` and ``key-scope:<scope>`` for each of its scopes; the API's resources
(:mod:`tracking.api_resources`) narrow what the sites' ACLs allow by them and by the key's sites.

Principals: ``system.Everyone``, ``system.Authenticated``, ``user:<id>``, ``email:<address>``,
``role:admin``, ``share:<id>`` (the share links whose password this browser gave, kept in the
session cookie under :data:`SHARES_KEY`; never under ``/api/``), ``api-key`` and
``key-scope:<scope>``. A disabled account is never signed in.
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

from . import api_keys, user_sessions
from .interfaces import IApiKeyLimiter, IDatabase, ISettings
from .models import User, UserSession

ADMIN = "role:admin"
#: Where the session cookie keeps the token of the signed-in session.
TOKEN_KEY = "auth.token"
#: Where the session cookie keeps the ids of the password-protected share links it unlocked.
SHARES_KEY = "shares"
#: Every request made with a live API key.
API_KEY = "api-key"
#: Where only an API key identifies anyone (see the module's docstring).
API_PATH = "/api/"
BEARER = "bearer "

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
    #: The API (granted by :mod:`tracking.api_resources`, always with a key).
    API = "api"
    READ_STATS = "read-stats"
    WRITE_EVENTS = "write-events"


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
def scope_principal(scope: str) -> str:
    return f"key-scope:{scope}"


def bearer_key(request) -> str | None:
    """The key of an ``Authorization: Bearer`` header ("" for a malformed one), else ``None``."""
    header = request.environ.get("HTTP_AUTHORIZATION")
    if header is None or header[: len(BEARER)].lower() != BEARER:
        return None
    return header[len(BEARER) :].strip()


class SecurityPolicy:
    def __init__(self) -> None:
        self.acl = ACLHelper()
        self.session_cache = RequestLocalCache(self.load_session)
        self.key_cache = RequestLocalCache(self.load_key)
        self.key_user_cache = RequestLocalCache(self.load_key_user)
        self.key_principals_cache = RequestLocalCache(self.key_principals)

    def load_key(self, request) -> api_keys.LiveKey | None:
        """The request's live API key, counted against its rate limit (see :func:`key_allowance`)."""
        key = bearer_key(request)
        if not key or not request.path_info.startswith(API_PATH):
            return None
        at = api_keys.now()
        row = api_keys.resolve(request.dbsession, key, at)
        if row is None:
            return None
        limiter = request.registry.queryUtility(IApiKeyLimiter)
        request.environ["tracking.api_allowance"] = limiter.check(row.id) if limiter is not None else None
        if api_keys.needs_touch(row, at):
            request.add_finished_callback(partial(_touch_key, row.id, at))
        return row

    def api_key(self, request) -> api_keys.LiveKey | None:
        return self.key_cache.get_or_create(request)

    def load_key_user(self, request) -> User | None:
        """The user of the request's key, loaded when a view asks who it is (the permission
        checks need only the key's principals)."""
        key = self.api_key(request)
        return None if key is None else request.dbsession.get(User, key.user_id)

    def key_principals(self, request) -> list[str] | None:
        """With a live key, the request's principals, which nothing changes during the request
        (see the module's docstring); else ``None``."""
        key = self.api_key(request)
        if key is None:
            return None
        return [Everyone, Authenticated, user_principal(key.user_id), email_principal(key.email), API_KEY,
                *(scope_principal(scope) for scope in key.scope_set)]

    def load_session(self, request) -> UserSession | None:
        if request.path_info.startswith(API_PATH):
            return None  # see the module's docstring
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
        if self.api_key(request) is not None:
            return self.key_user_cache.get_or_create(request)
        row = self.session(request)
        return None if row is None else row.user

    def authenticated_userid(self, request) -> int | None:
        key = self.api_key(request)
        if key is not None:
            return key.user_id
        user = self.identity(request)
        return None if user is None else user.id

    def effective_principals(self, request) -> list[str]:
        principals = self.key_principals_cache.get_or_create(request)
        if principals is not None:
            return principals
        principals = [Everyone]
        user = self.identity(request)
        if user is not None:
            principals += [Authenticated, user_principal(user.id), email_principal(user.email)]
            if user.is_admin:
                principals.append(ADMIN)
        if not request.path_info.startswith(API_PATH) and SHARES_KEY in request.session:
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


def _touch_key(key_id, at, request) -> None:
    """After the request: record that the key was used."""
    try:
        with request.registry.getUtility(IDatabase).session_factory.begin() as dbsession:
            api_keys.touch(dbsession, key_id, at)
    except DBAPIError as error:  # the database is away: the next request tries again
        log.warning("could not record an API key's last use (%s)", type(error).__name__)


def current_api_key(request) -> api_keys.LiveKey | None:
    """The request's live API key, if any."""
    return request.registry.getUtility(ISecurityPolicy).api_key(request)


def key_allowance(request) -> api_keys.Allowance | None:
    """What the per-key limit said of this request (``None``: no key, or no limit)."""
    current_api_key(request)
    return request.environ.get("tracking.api_allowance")


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
    config.registry.registerUtility(api_keys.KeyLimiter(settings.api_rate), IApiKeyLimiter)
    config.set_default_permission(Permission.VIEW)
