"""Home, register, log in, log out: views on the root."""

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.security import NO_PERMISSION_REQUIRED, forget, remember
from pyramid.view import view_config, view_defaults
from sqlalchemy import select
from zope.sqlalchemy import mark_changed

from .. import throttle
from ..forms import FormHandler
from ..models import User
from ..models.accounts import dummy_verify, normalize_email
from ..models.types import utcnow
from ..resources import Root
from ..schemas.accounts import LoginSchema, RegisterSchema
from .redirects import next_param, safe_next


def _start_session(request, user: User) -> list:
    """A fresh session for the new identity: no fixation, a new CSRF token."""
    request.session.invalidate()
    return remember(request, user.id)


def _write_counters(request, write, *args) -> None:
    """Write the log-in throttle's counters in a short transaction of their own.

    Committed at once, for the other processes; and on SQLite never an upgrade of this request's
    read transaction, which fails ("database is locked") when the hit writer committed during
    the password check, and would let a failure go uncounted. The request's transaction is then
    committed rather than rolled back as read-only: where both share one connection (the test
    suite's savepoints), a rollback of the outer one would drop the counters.
    """
    with request.registry["dbsession_factory"].begin() as session:
        write(session, *args)
    mark_changed(request.dbsession)


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
                # Failed attempts are counted per account and per client (see tracking.throttle);
                # a throttled attempt is refused before its password is checked.
                keys = throttle.login_keys(request.registry.settings["tracking.secret"], email, request.remote_addr)
                now = utcnow()
                wait = throttle.wait(request.dbsession, keys, now)
                if wait:
                    handler.fail(throttle.message(wait))
                    request.response.status = 429
                    request.response.headers["Retry-After"] = str(throttle.seconds(wait))
                    return {"form": handler.html}
                user = request.dbsession.scalar(select(User).where(User.email == email))
                if user is None:
                    dummy_verify()
                elif user.check_password(appstruct["password"]):
                    _write_counters(request, throttle.reset, keys)
                    headers = _start_session(request, user)
                    target = safe_next(appstruct["next"]) or request.resource_url(self.context, "sites", "")
                    return HTTPSeeOther(target, headers=headers)
                _write_counters(request, throttle.record_failure, keys, now)
                handler.fail("Unknown e-mail address or wrong password.")
        return {"form": handler.html}

    @view_config(name="register", renderer="tracking:templates/auth/register.jinja2")
    def register(self):
        request = self.request
        handler = FormHandler(request, RegisterSchema(), formid="register", button="Create account")
        if handler.posted():
            appstruct = handler.validate()
            if appstruct is not None:
                user = User(name=appstruct["name"], email=normalize_email(appstruct["email"]))
                user.set_password(appstruct["password"])
                request.dbsession.add(user)
                # A concurrent sign-up with the same address fails here; the request is retried
                # and the retry's validator reports the duplicate.
                request.dbsession.flush()
                headers = _start_session(request, user)
                request.session.flash("Welcome! Add your first site below.")
                return HTTPSeeOther(request.resource_url(self.context, "sites", ""), headers=headers)
        return {"form": handler.html}

    @view_config(name="logout", request_method="POST")
    def logout(self):
        request = self.request
        headers = forget(request)
        request.session.invalidate()
        return HTTPSeeOther(request.resource_url(self.context), headers=headers)
