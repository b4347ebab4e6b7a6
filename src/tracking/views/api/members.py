"""A site's people and share links, through the API, as on its members and share pages:

* ``/api/v1/sites/<id>/members``: the owner and members with their roles, and the pending
  invitations; ``…/members/<user id>``: a member's role changed (``PATCH``) or the member removed.
* ``…/invitations``: the pending invitations, and an address invited; ``…/invitations/<id>``:
  one, read or revoked.
* ``…/shares``: the share links, listed and added; ``…/shares/<id>``: one, read or revoked.

Reading asks a ``stats:read`` key, changing a ``sites:write`` key, of a user who may manage the
site (its owner or an admin). The rules and the site's history are :mod:`tracking.members`'s:
the owner is no member row, so neither changed nor removed here (the site's transfer page gives
the ownership away). An invitation's link and a share link's address are answered once, when
made, as the pages show them; only their hashes are kept.
"""

from __future__ import annotations

from datetime import datetime, time

from pyramid.response import Response
from pyramid.view import view_config, view_defaults
from sqlalchemy import select

from ... import members
from ...api_resources import READ_MEMBERS, ApiInvitation, ApiInvitations, ApiMember, ApiMembers, ApiShare, ApiShares
from ...models import Invitation, ShareLink, User
from ...models.types import utcnow
from ...schemas.api import InvalidInput, invitation_fields, member_role, share_fields
from ...security import Permission
from . import invalid, json_response, limited, read_json

MAX_BODY = 4096


def _at(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds") + "Z"


def _person(user: User, role: str) -> dict:
    return {"user_id": user.id, "name": user.name, "email": user.email, "role": role}


def invitation_json(invitation: Invitation) -> dict:
    return {"id": invitation.id, "email": invitation.email, "role": invitation.role,
            "created_at": _at(invitation.created_at), "expires_at": _at(invitation.expires_at)}


def share_json(link: ShareLink) -> dict:
    return {"id": link.id, "label": link.label, "password": link.password_hash is not None,
            "expires_at": _at(link.expires_at), "include_visits": link.include_visits, "origins": link.origins,
            "created_at": _at(link.created_at)}


def _checked(parse, *args):
    try:
        return parse(*args)
    except InvalidInput as error:
        raise invalid(error.field, error.message) from None


def _no_content() -> Response:
    return Response(status=204, headerlist=[("Cache-Control", "no-store")])


@view_defaults(context=ApiMembers, name="", decorator=limited, require_csrf=False)
class MembersViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.site = context.__parent__.site

    @view_config(request_method="GET", permission=READ_MEMBERS)
    def index(self):
        site, db = self.site, self.request.dbsession
        people = [_person(site.owner, "owner"), *(_person(m.user, m.role) for m in sorted(site.members, key=lambda m: m.id))]
        invitations = [invitation_json(i) for i in members.pending_invitations(db, site.id, utcnow())]
        return json_response({"results": people, "invitations": invitations})


@view_defaults(context=ApiMember, name="", decorator=limited, require_csrf=False)
class MemberViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.site = context.__parent__.__parent__.site

    def _member(self):
        if self.context.member is None:
            raise invalid("user_id", "The owner is no member: give the site away on its transfer page instead.")
        return self.context.member

    @view_config(request_method="PATCH", permission=Permission.MANAGE)
    def update(self):
        request = self.request
        role = _checked(member_role, read_json(request, MAX_BODY))
        member = self._member()
        members.set_role(request.dbsession, self.site, member, role, request.identity)
        return json_response(_person(member.user, member.role))

    @view_config(request_method="DELETE", permission=Permission.MANAGE)
    def delete(self):
        members.set_role(self.request.dbsession, self.site, self._member(), "remove", self.request.identity)
        return _no_content()


@view_defaults(context=ApiInvitations, name="", decorator=limited, require_csrf=False)
class InvitationsViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.site = context.__parent__.site

    @view_config(request_method="GET", permission=READ_MEMBERS)
    def index(self):
        pending = members.pending_invitations(self.request.dbsession, self.site.id, utcnow())
        return json_response({"results": [invitation_json(i) for i in pending]})

    @view_config(request_method="POST", permission=Permission.MANAGE)
    def create(self):
        request = self.request
        fields = _checked(invitation_fields, read_json(request, MAX_BODY))
        token = members.invite(request.dbsession, self.site, fields["email"], fields["role"], request.identity, utcnow())
        invitation = request.dbsession.scalar(select(Invitation).where(Invitation.token_hash == members.secret_hash(token)))
        body = {**invitation_json(invitation), "url": request.resource_url(request.root, "invitations", token)}
        return json_response(body, 201, {"Location": request.resource_url(self.context, str(invitation.id))})


@view_config(context=ApiInvitation, name="", request_method="GET", permission=READ_MEMBERS, decorator=limited,
             require_csrf=False)
def read_invitation(context, request):
    return json_response(invitation_json(context.invitation))


@view_config(context=ApiInvitation, name="", request_method="DELETE", permission=Permission.MANAGE,
             decorator=limited, require_csrf=False)
def revoke_invitation(context, request):
    members.revoke_invitation(request.dbsession, context.invitation, request.identity)
    return _no_content()


@view_defaults(context=ApiShares, name="", decorator=limited, require_csrf=False)
class SharesViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.site = context.__parent__.site

    @view_config(request_method="GET", permission=READ_MEMBERS)
    def index(self):
        return json_response({"results": [share_json(link) for link in members.links_of(self.request.dbsession, self.site.id)]})

    @view_config(request_method="POST", permission=Permission.MANAGE)
    def create(self):
        request = self.request
        fields = _checked(share_fields, read_json(request, MAX_BODY), utcnow().date())
        expires = fields["expires"]
        secret = members.create_link(
            request.dbsession, self.site, label=fields["label"], password=fields["password"],
            expires_at=datetime.combine(expires, time()) if expires else None,
            include_visits=fields["include_visits"], origins=fields["origins"], by=request.identity,
        )
        link = request.dbsession.scalar(select(ShareLink).where(ShareLink.secret_hash == members.secret_hash(secret)))
        body = {**share_json(link), "url": request.resource_url(request.root, "share", secret, "")}
        return json_response(body, 201, {"Location": request.resource_url(self.context, str(link.id))})


@view_config(context=ApiShare, name="", request_method="GET", permission=READ_MEMBERS, decorator=limited,
             require_csrf=False)
def read_share(context, request):
    return json_response(share_json(context.link))


@view_config(context=ApiShare, name="", request_method="DELETE", permission=Permission.MANAGE,
             decorator=limited, require_csrf=False)
def revoke_share(context, request):
    members.revoke_link(request.dbsession, context.link, request.identity)
    return _no_content()
