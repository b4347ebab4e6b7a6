"""Home, register, log in, log out: views on the root.

Every password check goes through :func:`checked_password`: the throttle of the account and
the client counts the attempt before the password is looked at (see :mod:`tracking.throttle`),
in the request's own transaction.
"""

from pyramid.httpexceptions import HTTPBadRequest, HTTPNotFound, HTTPSeeOther
from pyramid.security import NO_PERMISSION_REQUIRED, forget, remember
from pyramid.view import view_config, view_defaults
from sqlalchemy import select
from zope.sqlalchemy import mark_changed

from .. import members, throttle
from ..forms import FormHandler
from ..interfaces import ISettings
from ..models import User
from ..models.accounts import dummy_verify, normalize_email
from ..models.types import utcnow
from ..resources import Root
from ..schemas.accounts import EMAIL_TAKEN, LoginSchema, RegisterSchema
from .redirects import next_param, safe_next


def checked_password(request, email: str, check) -> bool:
    """``check()`` (a password verification for the account of ``email``) behind the throttle
    of that account and this client. Raises :class:`throttle.Throttled`, without calling
    ``check``, while either is throttled."""
    keys = throttle.login_keys(request.registry.getUtility(ISettings).secret, email, request.remote_addr)
    # The attempt's time, taken before the session first waits for SQLite's write lock (its
    # transaction begins with it): attempts that arrive at once and queue behind the lock count
    # at the instant they arrived, not later, when the throttle's wait may have run out.
    now = utcnow()
    # The counters are Core statements, which the transaction manager does not see: without
    # this a failure would be rolled back with the request's read-only transaction.
    mark_changed(request.dbsession, transaction_manager=request.tm)
    return throttle.checked(request.dbsession, keys, now, check)


def refuse(request, handler: FormHandler, wait, reason: str = throttle.FAILED) -> None:
    """Answer a throttled form: 429, ``Retry-After``, the reason above the form."""
    handler.fail(throttle.message(wait, reason))
    request.response.status = 429
    request.response.headers["Retry-After"] = str(throttle.seconds(wait))


def _start_session(request, user: User) -> list:
    """A fresh session for the new identity: the browser's previous one ends, no fixation, a new
    CSRF token."""
    forget(request)
    request.session.invalidate()
    return remember(request, user.id)


@view_defaults(context=Root, permission=NO_PERMISSION_REQUIRED)
class AuthViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request

    @view_config(name="", renderer="tracking:templates/home.jinja2")
    def home(self):
        if self.request.identity is not None:
            return HTTPSeeOther(self.request.resource_url(self.context, "sites", ""))
        return {}

    @view_config(name="login", renderer="tracking:templates/auth/login.jinja2")
    def login(self):
        request = self.request
        handler = FormHandler(
            request, LoginSchema(), formid="login", button="Log in", appstruct={"next": next_param(request) or ""}
        )
        if handler.posted():
            appstruct = handler.validate()
            if appstruct is not None:
                email = normalize_email(appstruct["email"])
                user = None

                def check() -> bool:
                    # After the attempt is counted: the request's first statement is the
                    # throttle's write, never a write after a read (see tracking.throttle).
                    nonlocal user
                    user = request.dbsession.scalar(select(User).where(User.email == email))
                    if user is None:
                        dummy_verify()
                        return False
                    # A disabled account answers like a wrong password.
                    return user.check_password(appstruct["password"]) and not user.is_disabled

                try:
                    ok = checked_password(request, email, check)
                except throttle.Throttled as refused:
                    refuse(request, handler, refused.wait)
                    return {"form": handler.html}
                if ok:
                    user.last_login_at = utcnow()
                    headers = _start_session(request, user)
                    target = safe_next(appstruct["next"]) or request.resource_url(self.context, "sites", "")
                    return HTTPSeeOther(target, headers=headers)
                handler.fail("Unknown e-mail address or wrong password.", field="password")
        return {"form": handler.html}

    @view_config(name="register", renderer="tracking:templates/auth/register.jinja2")
    def register(self):
        """Open registration: anyone. ``invite``: only with an invitation's token (the account
        must have the invited address), and the next page is the invitation, to accept it.
        ``closed``: nobody (404)."""
        request = self.request
        registration = request.registry.getUtility(ISettings).registration
        try:
            token = request.params.get("invitation", "")
        except UnicodeDecodeError:
            raise HTTPBadRequest("The address is not valid: its query string is not UTF-8.") from None
        now = utcnow()  # before the session's first wait for SQLite's write lock (see checked_password)
        invitation = members.find_invitation(request.dbsession, token, now) if token else None
        if registration == "closed" or (registration == "invite" and invitation is None):
            raise HTTPNotFound()
        handler = FormHandler(
            request, RegisterSchema(), formid="register", button="Create account",
            appstruct={"invitation": token, "email": invitation.email} if invitation else None,
            invited_email=invitation.email if invitation else None,
        )
        if handler.posted():
            secret, ip = request.registry.getUtility(ISettings).secret, request.remote_addr
            # Counted like a failed log-in before the form is checked; given back unless the
            # answer is "this address has an account" (see tracking.throttle).
            counted = throttle.attempt(request.dbsession, [throttle.client_key(secret, ip)] if ip else [], now)
            mark_changed(request.dbsession, transaction_manager=request.tm)
            if counted.wait:
                refuse(request, handler, counted.wait)
                return {"form": handler.html}
            appstruct = handler.validate()
            if appstruct is None:
                if not any(EMAIL_TAKEN in message for message in handler.failure.error.asdict().values()):
                    throttle.give_back(request.dbsession, counted)
                return {"form": handler.html}
            throttle.give_back(request.dbsession, counted)
            user = User(name=appstruct["name"], email=normalize_email(appstruct["email"]))
            user.set_password(appstruct["password"])
            wait = throttle.count_signup(request.dbsession, throttle.signup_key(secret, ip), now) if ip else None
            if wait:
                refuse(request, handler, wait, throttle.SIGNED_UP)
                return {"form": handler.html}
            request.dbsession.add(user)
            # A concurrent sign-up with the same address fails here; the request is retried
            # and the retry's validator reports the duplicate.
            request.dbsession.flush()
            user.last_login_at = now
            headers = _start_session(request, user)
            if invitation is not None:
                return HTTPSeeOther(request.resource_url(self.context, "invitations", token), headers=headers)
            request.session.flash("Welcome! Add your first site below.")
            return HTTPSeeOther(request.resource_url(self.context, "sites", ""), headers=headers)
        return {"form": handler.html}

    @view_config(name="logout", request_method="POST")
    def logout(self):
        request = self.request
        headers = forget(request)
        request.session.invalidate()
        return HTTPSeeOther(request.resource_url(self.context), headers=headers)
