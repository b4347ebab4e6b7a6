"""Forms of the account pages: register, log in, change name or password, delete."""

import colander
import deform
from sqlalchemy import exists, select

from ..models import User
from ..models.accounts import normalize_email
from . import CSRFSchema, no_control_characters

PASSWORD_MIN = 10
#: Longer passwords are refused by the form, so nobody can make the server hash a megabyte.
PASSWORD_MAX = 256

_password_length = colander.Length(
    min=PASSWORD_MIN,
    max=PASSWORD_MAX,
    min_err=f"At least {PASSWORD_MIN} characters.",
    max_err=f"At most {PASSWORD_MAX} characters.",
)


#: The registration form's answer for an address that has an account: it tells the address
#: exists, so the view counts it against the client's throttle (see tracking.throttle).
EMAIL_TAKEN = "An account with this e-mail address already exists."
EMAIL_INVALID = "Enter an e-mail address such as ada@example.org."


def _strip(value):
    return value.strip() if isinstance(value, str) else value


@colander.deferred
def _unique_email(node, kw):
    request = kw["request"]
    invited = kw.get("invited_email")

    def validator(node, value):
        no_control_characters(node, value)  # before the query: PostgreSQL cannot compare a NUL
        if invited is not None and normalize_email(value) != invited:
            raise colander.Invalid(node, f"The invitation is for {invited}: register with that address.")
        taken = request.dbsession.scalar(select(exists().where(User.email == normalize_email(value))))
        if taken:
            raise colander.Invalid(node, EMAIL_TAKEN)

    return colander.All(colander.Email(msg=EMAIL_INVALID), colander.Length(max=254), validator)


def _name_node(**kw):
    return colander.SchemaNode(
        colander.String(), title="Name", preparer=_strip,
        validator=colander.All(colander.Length(min=1, max=100), no_control_characters),
        missing_msg="Enter your name.", **kw
    )


class RegisterSchema(CSRFSchema):
    name = _name_node()
    email = colander.SchemaNode(
        colander.String(),
        title="E-mail",
        preparer=_strip,
        validator=_unique_email,
        missing_msg="Enter your e-mail address.",
        widget=deform.widget.TextInputWidget(attributes={"type": "email", "autocomplete": "email"}),
    )
    password = colander.SchemaNode(
        colander.String(),
        title="Password",
        validator=_password_length,
        missing_msg="Choose a password.",
        widget=deform.widget.CheckedPasswordWidget(
            attributes={"autocomplete": "new-password"}, mismatch_message="The two passwords differ."
        ),
        description=f"{PASSWORD_MIN} to {PASSWORD_MAX} characters.",
    )
    #: The token of the invitation the account is created for (in ``invite`` mode, required).
    invitation = colander.SchemaNode(colander.String(), widget=deform.widget.HiddenWidget(), missing="")


class LoginSchema(CSRFSchema):
    email = colander.SchemaNode(
        colander.String(),
        title="E-mail",
        preparer=_strip,
        validator=colander.All(colander.Length(max=254), no_control_characters),
        missing_msg="Enter your e-mail address.",
        widget=deform.widget.TextInputWidget(attributes={"type": "email", "autocomplete": "username"}),
    )
    password = colander.SchemaNode(
        colander.String(),
        title="Password",
        validator=colander.Length(max=PASSWORD_MAX),
        missing_msg="Enter your password.",
        widget=deform.widget.PasswordWidget(attributes={"autocomplete": "current-password"}),
    )
    next = colander.SchemaNode(colander.String(), widget=deform.widget.HiddenWidget(), missing="")


class NameSchema(CSRFSchema):
    name = _name_node()


@colander.deferred
def _current_password(node, kw):
    """Checks the current password with ``kw["check_password"]`` (the view's throttled check,
    which may raise ``tracking.throttle.Throttled``); an over-long value is not checked."""
    check_password = kw["check_password"]

    def validator(node, value):
        if len(value) > PASSWORD_MAX:
            raise colander.Invalid(node, f"At most {PASSWORD_MAX} characters.")
        if not check_password(value):
            raise colander.Invalid(node, "This is not your current password.")

    return validator


class PasswordSchema(CSRFSchema):
    current_password = colander.SchemaNode(
        colander.String(),
        title="Current password",
        validator=_current_password,
        missing_msg="Enter your current password.",
        widget=deform.widget.PasswordWidget(attributes={"autocomplete": "current-password"}),
    )
    new_password = colander.SchemaNode(
        colander.String(),
        title="New password",
        validator=_password_length,
        missing_msg="Choose a new password.",
        widget=deform.widget.CheckedPasswordWidget(
            attributes={"autocomplete": "new-password"}, mismatch_message="The two passwords differ."
        ),
    )


class DeleteAccountSchema(CSRFSchema):
    current_password = colander.SchemaNode(
        colander.String(),
        title="Your password, to confirm",
        validator=_current_password,
        missing_msg="Enter your password to confirm.",
        widget=deform.widget.PasswordWidget(attributes={"autocomplete": "current-password"}),
        description="Your account, all your sites and all their visits are deleted for good.",
    )
