"""An invitation's page (``/invitations/<token>``) and its acceptance; a one-time "set your
password" link's page (``/password/<token>``).

Anyone holding an invitation's link sees what it is for; only someone signed in with the invited
address may accept it (the ``email:<address>`` principal). A signed-out visitor is sent to log
in, or, where registration allows it, to create the account with that address.
"""

from urllib.parse import urlencode

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.security import forget
from pyramid.view import view_config, view_defaults

from .. import accounts, members
from ..forms import FormHandler
from ..interfaces import ISettings
from ..models import User
from ..resources import InvitationResource, PasswordTokenResource
from ..schemas.members import ConfirmSchema, SetPasswordSchema
from ..security import Permission

INVITATION = "tracking:templates/invitations/show.jinja2"


@view_defaults(context=InvitationResource, name="", renderer=INVITATION)
class InvitationViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.invitation = context.invitation

    def _form(self) -> FormHandler:
        return FormHandler(self.request, ConfirmSchema(), formid="accept", button="Accept the invitation")

    @view_config(request_method="GET", permission=Permission.VIEW)
    def page(self):
        request = self.request
        here = request.resource_url(self.context)
        login = request.resource_url(request.root, "login") + "?" + urlencode({"next": request.path})
        registration = request.registry.getUtility(ISettings).registration
        register = None
        if registration != "closed":
            register = request.resource_url(request.root, "register") + "?" + urlencode({"invitation": self.context.__name__})
        return {
            "invitation": self.invitation,
            "form": self._form().html if request.has_permission(Permission.ACCEPT) else None,
            "login_url": login,
            "register_url": register,
            "here": here,
        }

    @view_config(request_method="POST", request_param="__formid__=accept", permission=Permission.ACCEPT)
    def accept(self):
        request = self.request
        site = self.invitation.site
        role = members.accept(request.dbsession, self.invitation, request.identity)
        request.session.flash(f"You can see “{site.name}” now, as {role}.")
        return HTTPSeeOther(request.resource_url(request.root["sites"].resource_for(site)))


@view_defaults(context=PasswordTokenResource, name="", renderer="tracking:templates/auth/set_password.jinja2")
class SetPasswordViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request

    def _form(self) -> FormHandler:
        return FormHandler(self.request, SetPasswordSchema(), formid="set-password", button="Set password")

    def _user(self) -> User:
        return self.request.dbsession.get(User, self.context.token.user_id)

    @view_config(request_method="GET", permission=Permission.VIEW)
    def page(self):
        return {"user": self._user(), "form": self._form().html}

    @view_config(request_method="POST", request_param="__formid__=set-password", permission=Permission.EDIT)
    def set_password(self):
        request = self.request
        handler = self._form()
        appstruct = handler.validate()
        if appstruct is None:
            return {"user": self._user(), "form": handler.html}
        accounts.use_password_token(request.dbsession, self.context.token, appstruct["new_password"])
        headers = forget(request)
        request.session.invalidate()
        request.session.flash("Password set: log in with it.")
        return HTTPSeeOther(request.resource_url(request.root, "login"), headers=headers)
