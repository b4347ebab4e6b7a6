"""A site's people: its members and their roles, invitations, ownership transfer, and history.

``/sites/<id>/members`` (``manage``: owner and admins) holds one form per action, each posted to
a view of its own with its own permission. An invitation's link is shown once, on the page the
invite form answers with; only its hash is kept. ``/sites/<id>/transfer`` (``delete``: the owner).
"""

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.view import view_config, view_defaults

from .. import members
from ..forms import FormHandler
from ..models.accounts import normalize_email
from ..models.types import utcnow
from ..resources import SiteResource
from ..schemas.members import InviteSchema, MemberSchema, RevokeInvitationSchema, TransferSchema
from ..security import Permission

PAGE = "tracking:templates/sites/members.jinja2"


@view_defaults(context=SiteResource, name="members", renderer=PAGE)
class MembersViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.site = context.site
        self.now = utcnow()

    def _invite_form(self) -> FormHandler:
        return FormHandler(self.request, InviteSchema(), formid="invite", button="Create invitation link")

    def _member_form(self) -> FormHandler:
        choices = [(str(m.id), f"{m.user.name} <{m.user.email}> ({m.role})") for m in self.site.members]
        return FormHandler(self.request, MemberSchema(), formid="member", button="Change", choices=choices)

    def _revoke_form(self) -> FormHandler:
        invitations = members.pending_invitations(self.request.dbsession, self.site.id, self.now)
        choices = [(str(i.id), f"{i.email} ({i.role})") for i in invitations]
        return FormHandler(self.request, RevokeInvitationSchema(), formid="revoke-invitation", button="Revoke", choices=choices)

    def _page(self, invite=None, member=None, revoke=None, link=None) -> dict:
        request, site = self.request, self.site
        return {
            "site": site,
            "members": site.members,
            "invitations": members.pending_invitations(request.dbsession, site.id, self.now),
            "history": members.history(request.dbsession, site.id),
            "invite_form": (invite or self._invite_form()).html,
            "member_form": (member or self._member_form()).html,
            "revoke_form": (revoke or self._revoke_form()).html,
            "invitation_url": link,
        }

    @view_config(request_method="GET", permission=Permission.MANAGE)
    def page(self):
        return self._page()

    @view_config(request_method="POST", request_param="__formid__=invite", permission=Permission.MANAGE)
    def invite(self):
        handler = self._invite_form()
        appstruct = handler.validate()
        if appstruct is None:
            return self._page(invite=handler)
        email = normalize_email(appstruct["email"])
        token = members.invite(self.request.dbsession, self.site, email, appstruct["role"], self.request.identity, self.now)
        link = self.request.resource_url(self.request.root, "invitations", token)
        return self._page(link=link)

    @view_config(request_method="POST", request_param="__formid__=member", permission=Permission.MANAGE)
    def change(self):
        handler = self._member_form()
        appstruct = handler.validate()
        if appstruct is None:
            return self._page(member=handler)
        member = next(m for m in self.site.members if str(m.id) == appstruct["member"])
        members.set_role(self.request.dbsession, self.site, member, appstruct["role"], self.request.identity)
        self.request.session.flash("Member removed." if appstruct["role"] == "remove" else "Role saved.")
        return HTTPSeeOther(self.request.resource_url(self.context, "members"))

    @view_config(request_method="POST", request_param="__formid__=revoke-invitation", permission=Permission.MANAGE)
    def revoke(self):
        handler = self._revoke_form()
        appstruct = handler.validate()
        if appstruct is None:
            return self._page(revoke=handler)
        invitation = next(i for i in members.pending_invitations(self.request.dbsession, self.site.id, self.now)
                          if str(i.id) == appstruct["invitation"])
        members.revoke_invitation(self.request.dbsession, invitation, self.request.identity)
        self.request.session.flash("Invitation revoked: its link opens nothing now.")
        return HTTPSeeOther(self.request.resource_url(self.context, "members"))


@view_defaults(context=SiteResource, name="transfer", renderer="tracking:templates/sites/transfer.jinja2")
class TransferViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.site = context.site

    def _form(self) -> FormHandler:
        choices = [(str(m.id), f"{m.user.name} <{m.user.email}>") for m in self.site.members]
        return FormHandler(self.request, TransferSchema(), formid="transfer", button="Transfer ownership", choices=choices)

    @view_config(request_method="GET", permission=Permission.DELETE)
    def page(self):
        return {"site": self.site, "form": self._form().html}

    @view_config(request_method="POST", request_param="__formid__=transfer", permission=Permission.DELETE)
    def transfer(self):
        handler = self._form()
        appstruct = handler.validate()
        if appstruct is None:
            return {"site": self.site, "form": handler.html}
        member = next(m for m in self.site.members if str(m.id) == appstruct["member"])
        email = member.user.email
        members.transfer(self.request.dbsession, self.site, member, self.request.identity)
        self.request.session.flash(f"{email} owns “{self.site.name}” now; you are one of its admins.")
        return HTTPSeeOther(self.request.resource_url(self.context))
