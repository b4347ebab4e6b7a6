"""Who is asking, and what may they do.

One security policy: the identity comes from the signed session cookie (loaded at most once
per request), and permissions come from the ``__acl__`` of the resource tree
(:mod:`tracking.resources`) through :class:`pyramid.authorization.ACLHelper`.

Principals: ``system.Everyone``, ``system.Authenticated``, ``user:<id>`` and ``role:admin``.
"""

from enum import StrEnum

from pyramid.authentication import SessionAuthenticationHelper
from pyramid.authorization import ACLHelper, Authenticated, Everyone
from pyramid.csrf import LegacySessionCSRFStoragePolicy
from pyramid.request import RequestLocalCache
from pyramid.session import SignedCookieSessionFactory
from pyramid.settings import asbool

from .models import User

ADMIN = "role:admin"


class Permission(StrEnum):
    VIEW = "view"
    EDIT = "edit"
    DELETE = "delete"
    ADD_SITE = "add-site"
    ADMIN = "admin"


def user_principal(user_id: int) -> str:
    return f"user:{user_id}"


class SecurityPolicy:
    def __init__(self) -> None:
        self.helper = SessionAuthenticationHelper()
        self.acl = ACLHelper()
        self.identity_cache = RequestLocalCache(self.load_identity)

    def load_identity(self, request) -> User | None:
        user_id = self.helper.authenticated_userid(request)
        if user_id is None:
            return None
        return request.dbsession.get(User, user_id)

    def identity(self, request) -> User | None:
        return self.identity_cache.get_or_create(request)

    def authenticated_userid(self, request) -> int | None:
        user = self.identity(request)
        return None if user is None else user.id

    def effective_principals(self, request) -> list[str]:
        principals = [Everyone]
        user = self.identity(request)
        if user is not None:
            principals += [Authenticated, user_principal(user.id)]
            if user.is_admin:
                principals.append(ADMIN)
        return principals

    def permits(self, request, context, permission):
        return self.acl.permits(context, self.effective_principals(request), permission)

    def remember(self, request, userid, **kw):
        self.identity_cache.clear(request)
        return self.helper.remember(request, userid, **kw)

    def forget(self, request, **kw):
        self.identity_cache.clear(request)
        return self.helper.forget(request, **kw)


def includeme(config) -> None:
    settings = config.get_settings()
    production = asbool(settings.get("tracking.production", False))
    config.set_session_factory(
        SignedCookieSessionFactory(
            settings["tracking.secret"],
            cookie_name="tracking_session",
            httponly=True,
            samesite="Lax",
            secure=production,
            # Sessions end after two weeks without a visit.
            timeout=14 * 24 * 3600,
            reissue_time=3600,
        )
    )
    config.set_csrf_storage_policy(LegacySessionCSRFStoragePolicy())
    config.set_default_csrf_options(require_csrf=True)
    config.set_security_policy(SecurityPolicy())
    config.set_default_permission(Permission.VIEW)
