"""The admin's page of one account (``/users/<id>/manage``, ``admin`` only): disable or enable it
(a disabled account's sessions end at once), make or unmake an admin, issue a one-time
"set your password" link (shown once), delete it with its sites deleted or transferred.

An admin still reads no one's analytics: these pages show accounts, never sites' data.
"""

import colander
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.view import view_config, view_defaults
from sqlalchemy import select

from .. import accounts
from ..forms import FormHandler
from ..models import User
from ..models.accounts import normalize_email
from ..models.types import utcnow
from ..resources import UserResource
from ..schemas.members import ConfirmSchema, DeleteUserSchema
from ..security import Permission

PAGE = "tracking:templates/users/manage.jinja2"


@view_defaults(context=UserResource, name="manage", renderer=PAGE)
class UserAdminViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.user = context.user

    def _button(self, formid: str, title: str) -> FormHandler:
        return FormHandler(self.request, ConfirmSchema(), formid=formid, button=title)

    def _delete_form(self) -> FormHandler:
        return FormHandler(self.request, DeleteUserSchema(), formid="delete-user", button="Delete account")

    def _page(self, delete=None, password_url=None, error=None) -> dict:
        user = self.user
        return {
            "user": user,
            "sites": len(user.sites),
            "state_form": self._button("state", "Enable account" if user.is_disabled else "Disable account").html,
            "admin_form": self._button("admin", "Remove admin rights" if user.is_admin else "Make admin").html,
            "password_form": self._button("password-link", "Create a set-password link").html,
            "delete_form": (delete or self._delete_form()).html,
            "password_url": password_url,
            "error": error,
        }

    def _done(self, message: str):
        self.request.session.flash(message)
        return HTTPSeeOther(self.request.resource_url(self.context, "manage"))

    @view_config(request_method="GET", permission=Permission.ADMIN)
    def page(self):
        return self._page()

    @view_config(request_method="POST", request_param="__formid__=state", permission=Permission.ADMIN)
    def state(self):
        if self._button("state", "").validate() is None:
            return self._page()
        if self.user.id == self.request.identity.id:
            return self._page(error="You cannot disable your own account.")
        try:
            accounts.set_disabled(self.request.dbsession, self.user, not self.user.is_disabled)
        except accounts.AccountError as exc:
            return self._page(error=str(exc))
        return self._done("Account disabled: its sessions have ended." if self.user.is_disabled else "Account enabled.")

    @view_config(request_method="POST", request_param="__formid__=admin", permission=Permission.ADMIN)
    def admin(self):
        if self._button("admin", "").validate() is None:
            return self._page()
        try:
            accounts.set_admin(self.request.dbsession, self.user, not self.user.is_admin)
        except accounts.AccountError as exc:
            return self._page(error=str(exc))
        return self._done("Now an administrator." if self.user.is_admin else "No longer an administrator.")

    @view_config(request_method="POST", request_param="__formid__=password-link", permission=Permission.ADMIN)
    def password_link(self):
        if self._button("password-link", "").validate() is None:
            return self._page()
        try:
            token = accounts.issue_password_link(self.request.dbsession, self.user, utcnow())
        except accounts.AccountError as exc:
            return self._page(error=str(exc))
        return self._page(password_url=self.request.resource_url(self.request.root, "password", token))

    @view_config(request_method="POST", request_param="__formid__=delete-user", permission=Permission.ADMIN)
    def delete(self):
        request = self.request
        handler = self._delete_form()
        appstruct = handler.validate()
        target = None
        if appstruct is not None and appstruct["sites"] == "transfer":
            email = normalize_email(appstruct["transfer_to"])
            target = request.dbsession.scalar(select(User).where(User.email == email)) if email else None
            if target is None or target.id == self.user.id:
                _field_error(handler, "transfer_to", "Give the e-mail address of another account.")
                appstruct = None
        if appstruct is None:
            return self._page(delete=handler)
        if self.user.id == request.identity.id:
            return self._page(error="Delete your own account from your account page.")
        email = self.user.email
        try:
            count = accounts.delete_user(request.dbsession, self.user, transfer_to=target)
        except accounts.AccountError as exc:
            return self._page(error=str(exc))
        what = f"transferred to {target.email}" if target else "deleted"
        request.session.flash(f"Account {email} deleted; its {count} site(s) {what}.")
        return HTTPSeeOther(request.resource_url(request.root, "users", ""))


def _field_error(handler: FormHandler, name: str, message: str) -> None:
    """Show ``message`` beside the field ``name`` of a form that passed its own checks."""
    form = handler.form
    error = colander.Invalid(form.schema, "")
    error.add(colander.Invalid(form.schema[name], message), form.schema.children.index(form.schema[name]))
    handler.fail_with(error)
