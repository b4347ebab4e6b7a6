"""Forms of the members, share-link and invitation pages, and of the admin's user page.

Choices that depend on the site (its members, invitations, links) are bound with the schema:
``schema.bind(request=..., choices=[(value, label), ...])``; a posted value outside them is an
error beside the field.
"""


import colander
import deform

from ..models.members import MEMBER_ROLES
from . import CSRFSchema, no_control_characters
from .accounts import PASSWORD_MAX, _password_length
from .sites import normalize_site_url

ROLE_CHOICES = [("viewer", "Viewer: dashboard, visit log, exports"), ("admin", "Admin: also settings, members, share links")]
#: At most this many origins may frame a share link's dashboard.
MAX_ORIGINS = 10


def _strip(value):
    return value.strip() if isinstance(value, str) else value


@colander.deferred
def _choices_widget(node, kw):
    return deform.widget.SelectWidget(values=[("", "— choose —"), *kw["choices"]])


@colander.deferred
def _in_choices(node, kw):
    return colander.OneOf([value for value, _ in kw["choices"]])


def _choice_node(title: str, **kw):
    return colander.SchemaNode(colander.String(), title=title, widget=_choices_widget, validator=_in_choices, **kw)


class InviteSchema(CSRFSchema):
    email = colander.SchemaNode(
        colander.String(), title="E-mail", preparer=_strip,
        validator=colander.All(colander.Email(), colander.Length(max=254)),
        widget=deform.widget.TextInputWidget(attributes={"type": "email"}),
    )
    role = colander.SchemaNode(
        colander.String(), title="Role", default="viewer", validator=colander.OneOf(MEMBER_ROLES),
        widget=deform.widget.SelectWidget(values=ROLE_CHOICES),
    )


class MemberSchema(CSRFSchema):
    member = _choice_node("Member")
    role = colander.SchemaNode(
        colander.String(), title="New role", validator=colander.OneOf((*MEMBER_ROLES, "remove")),
        widget=deform.widget.SelectWidget(values=[*ROLE_CHOICES, ("remove", "Remove from the site")]),
    )


class RevokeInvitationSchema(CSRFSchema):
    invitation = _choice_node("Invitation")


class RevokeLinkSchema(CSRFSchema):
    link = _choice_node("Share link")


class TransferSchema(CSRFSchema):
    member = _choice_node("New owner", description="You stay on the site as an admin.")
    confirm = colander.SchemaNode(
        colander.Boolean(), title="Yes, give this site to them",
        validator=colander.Function(lambda v: v is True, "Tick the box to confirm."), missing=False,
    )


def _origins(node, value):
    origins = value.split()
    if len(origins) > MAX_ORIGINS:
        raise colander.Invalid(node, f"At most {MAX_ORIGINS} origins.")
    for origin in origins:
        try:
            normalized = normalize_site_url(origin)
        except ValueError as exc:
            raise colander.Invalid(node, f"{origin[:60]}: {exc}") from None
        if normalized != origin.rstrip("/").lower():
            raise colander.Invalid(node, f"{origin[:60]}: an origin is a scheme and a host, like {normalized}.")


def _normalize_origins(value):
    if not isinstance(value, str):
        return value
    return " ".join(origin.rstrip("/").lower() for origin in value.split())


@colander.deferred
def _future(node, kw):
    today = kw["today"]
    return colander.Function(lambda v: v > today, "Choose a day after today.")


class ShareLinkSchema(CSRFSchema):
    label = colander.SchemaNode(colander.String(), title="Label", preparer=_strip,
                                validator=colander.All(colander.Length(min=1, max=100), no_control_characters),
                                description="Who the link is for, say.")
    password = colander.SchemaNode(
        colander.String(), title="Password (optional)", missing=None, validator=_password_length,
        widget=deform.widget.PasswordWidget(attributes={"autocomplete": "new-password"}),
    )
    expires = colander.SchemaNode(colander.Date(), title="Expires (optional)", missing=None, validator=_future,
                                  description="The link stops working at the start of this day (UTC).")
    include_visits = colander.SchemaNode(colander.Boolean(), title="Include the visit log", default=False, missing=False)
    origins = colander.SchemaNode(
        colander.String(), title="Embeddable on (optional)", missing="", preparer=_normalize_origins,
        validator=colander.All(colander.Length(max=1000), _origins), widget=deform.widget.TextAreaWidget(rows=2),
        description="Origins that may show the dashboard in a frame, such as https://example.com, one per line.",
    )


class UnlockSchema(CSRFSchema):
    password = colander.SchemaNode(
        colander.String(), title="Password", validator=colander.Length(max=PASSWORD_MAX),
        widget=deform.widget.PasswordWidget(attributes={"autocomplete": "current-password"}),
    )


class ConfirmSchema(CSRFSchema):
    """A form that is only a button (and its CSRF token)."""


class SetPasswordSchema(CSRFSchema):
    new_password = colander.SchemaNode(
        colander.String(), title="New password", validator=_password_length,
        widget=deform.widget.CheckedPasswordWidget(attributes={"autocomplete": "new-password"},
                                                   mismatch_message="The two passwords differ."),
    )


class DeleteUserSchema(CSRFSchema):
    sites = colander.SchemaNode(
        colander.String(), title="Their sites", default="delete", validator=colander.OneOf(("delete", "transfer")),
        widget=deform.widget.SelectWidget(values=[("delete", "Delete them, with their visits"),
                                                       ("transfer", "Give them to the account below")]),
    )
    transfer_to = colander.SchemaNode(colander.String(), title="E-mail of the account that gets them", missing="",
                                      preparer=_strip, validator=colander.All(colander.Length(max=254), no_control_characters))
    confirm = colander.SchemaNode(
        colander.Boolean(), title="Yes, delete this account",
        validator=colander.Function(lambda v: v is True, "Tick the box to confirm."), missing=False,
    )


