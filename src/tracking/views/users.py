"""Account pages (each user their own) and the user list (admins).

The current password asked by the change-password and delete-account forms is checked behind
the log-in throttle (:func:`tracking.views.auth.checked_password`): the same counters, the same
429. A password change ends every other session of the account and renews the current one's
token; the sessions form ends one session, or all but the current one.
"""

from pyramid.httpexceptions import HTTPBadRequest, HTTPSeeOther
from pyramid.security import forget
from pyramid.view import view_config, view_defaults

from .. import accounts, throttle, user_sessions
from ..forms import FormHandler
from ..models import UserSession
from ..resources import UserResource, Users, parse_id
from ..schemas.accounts import DeleteAccountSchema, NameSchema, PasswordSchema
from ..security import Permission, current_session, renew_session
from .auth import checked_password, refuse

ACCOUNT = "tracking:templates/users/account.jinja2"


@view_config(context=Users, name="", permission=Permission.ADMIN, renderer="tracking:templates/users/list.jinja2")
def user_list(context, request):
    rows = accounts.overview(request.dbsession)
    return {"users": [(user, sites, request.resource_url(context.resource_for(user))) for user, sites in rows]}


@view_defaults(context=UserResource)
class AccountViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.user = context.user

    def _check_password(self, password: str) -> bool:
        return checked_password(self.request, self.user.email, lambda: self.user.check_password(password))

    # The account page holds two forms, each posted to a view of its own with its own permission:
    # a POST that may not change the account is refused (403), never shown the page instead.

    def _name_form(self) -> FormHandler:
        return FormHandler(self.request, NameSchema(), formid="name", button="Save name", appstruct={"name": self.user.name})

    def _password_form(self) -> FormHandler:
        return FormHandler(
            self.request, PasswordSchema(), formid="password", button="Change password", check_password=self._check_password
        )

    @view_config(name="", request_method="GET", permission=Permission.VIEW, renderer=ACCOUNT)
    def account(self):
        return self._page(self._name_form().html, self._password_form().html)

    @view_config(name="", request_method="POST", request_param="__formid__=name", permission=Permission.EDIT, renderer=ACCOUNT)
    def change_name(self):
        request = self.request
        name_form = self._name_form()
        appstruct = name_form.validate()
        if appstruct is None:
            return self._page(name_form.html, self._password_form().html)
        self.user.name = appstruct["name"]
        request.session.flash("Name saved.")
        return HTTPSeeOther(request.resource_url(self.context))

    @view_config(name="", request_method="POST", request_param="__formid__=password", permission=Permission.EDIT, renderer=ACCOUNT)
    def change_password(self):
        request = self.request
        user = self.user
        password_form = self._password_form()
        try:
            appstruct = password_form.validate()
        except throttle.Throttled as refused:
            refuse(request, password_form, refused.wait)
            appstruct = None
        if appstruct is None:
            return self._page(self._name_form().html, password_form.html)
        user.set_password(appstruct["new_password"])
        current = current_session(request)
        ended = user_sessions.end_others(request.dbsession, user.id, keep=current.id if current else None)
        renew_session(request)
        request.session.flash("Password changed." + (f" {_sessions(ended)} ended." if ended else ""))
        return HTTPSeeOther(request.resource_url(self.context))

    def _page(self, name_form, password_form) -> dict:
        current = current_session(self.request)
        return {
            "user": self.user,
            "name_form": name_form,
            "password_form": password_form,
            "sessions": user_sessions.active(self.request.dbsession, self.user.id, user_sessions.now()),
            "current_session": current.id if current else None,
        }

    @view_config(name="sessions", request_method="POST", permission=Permission.EDIT)
    def end_sessions(self):
        """The sessions form: ``end`` is a session's id, or ``others`` for all but this one."""
        request = self.request
        current = current_session(request)
        choice = request.POST.get("end", "")
        if choice == "others":
            ended = user_sessions.end_others(request.dbsession, self.user.id, keep=current.id if current else None)
            request.session.flash(f"{_sessions(ended)} ended." if ended else "No other session was open.")
            return HTTPSeeOther(request.resource_url(self.context))
        try:
            session_id = parse_id(choice, UserSession)
        except KeyError:
            raise HTTPBadRequest("No such session.") from None
        ended = user_sessions.end(request.dbsession, self.user.id, session_id)
        if current is not None and session_id == current.id:
            headers = forget(request)
            request.session.invalidate()
            return HTTPSeeOther(request.resource_url(request.root), headers=headers)
        request.session.flash("Session ended." if ended else "That session had already ended.")
        return HTTPSeeOther(request.resource_url(self.context))

    @view_config(name="delete", permission=Permission.DELETE, renderer="tracking:templates/users/delete.jinja2")
    def delete(self):
        request = self.request
        handler = FormHandler(
            request, DeleteAccountSchema(), formid="delete-account", button="Delete my account", danger=True, check_password=self._check_password
        )
        if handler.posted():
            try:
                appstruct = handler.validate()
            except throttle.Throttled as refused:
                refuse(request, handler, refused.wait)
                appstruct = None
            if appstruct is not None:
                try:
                    # Its sessions, everywhere, go with it (ON DELETE CASCADE).
                    accounts.delete_user(request.dbsession, self.user)
                except accounts.AccountError as exc:
                    handler.fail(str(exc))
                    return {"user": self.user, "form": handler.html}
                headers = forget(request)
                request.session.invalidate()
                request.session.flash("Your account and all its data were deleted.")
                return HTTPSeeOther(request.resource_url(request.root), headers=headers)
        return {"user": self.user, "form": handler.html}


def _sessions(count: int) -> str:
    return f"{count} other session{'s' if count != 1 else ''}"
