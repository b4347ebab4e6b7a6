"""Account pages (each user their own) and the user list (admins).

The current password asked by the change-password and delete-account forms is checked behind
the log-in throttle (:func:`tracking.views.auth.checked_password`): the same counters, the same
429.
"""

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.security import forget
from pyramid.view import view_config, view_defaults
from sqlalchemy import func, select

from .. import throttle
from ..forms import FormHandler
from ..models import Site, User
from ..resources import UserResource, Users
from ..schemas.accounts import DeleteAccountSchema, NameSchema, PasswordSchema
from ..security import Permission
from .auth import checked_password, refuse


@view_config(context=Users, name="", permission=Permission.ADMIN, renderer="tracking:templates/users/list.jinja2")
def user_list(context, request):
    rows = request.dbsession.execute(
        select(User, func.count(Site.id)).outerjoin(Site, Site.owner_id == User.id).group_by(User.id).order_by(User.id)
    )
    return {"users": [(user, sites, request.resource_url(context.resource_for(user))) for user, sites in rows]}


@view_defaults(context=UserResource)
class AccountViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.user = context.user

    def _check_password(self, password: str) -> bool:
        return checked_password(self.request, self.user.email, lambda: self.user.check_password(password))

    @view_config(name="", permission=Permission.VIEW, renderer="tracking:templates/users/account.jinja2")
    def account(self):
        request = self.request
        user = self.user
        name_form = FormHandler(request, NameSchema(), formid="name", button="Save name", appstruct={"name": user.name})
        password_form = FormHandler(
            request, PasswordSchema(), formid="password", button="Change password", check_password=self._check_password
        )
        if name_form.posted() and request.has_permission(Permission.EDIT):
            appstruct = name_form.validate()
            if appstruct is not None:
                user.name = appstruct["name"]
                request.session.flash("Name saved.")
                return HTTPSeeOther(request.resource_url(self.context))
        elif password_form.posted() and request.has_permission(Permission.EDIT):
            try:
                appstruct = password_form.validate()
            except throttle.Throttled as refused:
                refuse(request, password_form, refused.wait)
                appstruct = None
            if appstruct is not None:
                user.set_password(appstruct["new_password"])
                request.session.flash("Password changed.")
                return HTTPSeeOther(request.resource_url(self.context))
        return {"user": self.user, "name_form": name_form.html, "password_form": password_form.html}

    @view_config(name="delete", permission=Permission.DELETE, renderer="tracking:templates/users/delete.jinja2")
    def delete(self):
        request = self.request
        handler = FormHandler(
            request, DeleteAccountSchema(), formid="delete-account", button="Delete my account", check_password=self._check_password
        )
        if handler.posted():
            try:
                appstruct = handler.validate()
            except throttle.Throttled as refused:
                refuse(request, handler, refused.wait)
                appstruct = None
            if appstruct is not None:
                request.dbsession.delete(self.user)
                headers = forget(request)
                request.session.invalidate()
                request.session.flash("Your account and all its data were deleted.")
                return HTTPSeeOther(request.resource_url(request.root), headers=headers)
        return {"user": self.user, "form": handler.html}
