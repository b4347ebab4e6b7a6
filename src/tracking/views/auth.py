"""Home, register, log in, log out: views on the root."""

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.security import NO_PERMISSION_REQUIRED, forget, remember
from pyramid.view import view_config, view_defaults
from sqlalchemy import select

from ..forms import FormHandler
from ..models import User
from ..models.accounts import dummy_verify, normalize_email
from ..resources import Root
from ..schemas.accounts import LoginSchema, RegisterSchema
from .redirects import safe_next


def _start_session(request, user: User) -> list:
    """A fresh session for the new identity: no fixation, a new CSRF token."""
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
        next_url = safe_next(request.params.get("next"))
        handler = FormHandler(
            request, LoginSchema(), formid="login", button="Log in", appstruct={"next": next_url or ""}
        )
        if handler.posted():
            appstruct = handler.validate()
            if appstruct is not None:
                user = request.dbsession.scalar(select(User).where(User.email == normalize_email(appstruct["email"])))
                if user is None:
                    dummy_verify()
                elif user.check_password(appstruct["password"]):
                    headers = _start_session(request, user)
                    target = safe_next(appstruct["next"]) or request.resource_url(self.context, "sites", "")
                    return HTTPSeeOther(target, headers=headers)
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
