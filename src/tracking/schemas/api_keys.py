"""The account page's form that makes an API key (:mod:`tracking.api_keys`)."""

from __future__ import annotations

import datetime

import colander
import deform

from ..api_keys import LABEL_LENGTH, SCOPES
from . import CSRFSchema, no_control_characters


@colander.deferred
def _site_widget(node, kw):
    return deform.widget.CheckboxChoiceWidget(values=[(str(site.id), site.name) for site in kw["sites"]])


@colander.deferred
def _site_validator(node, kw):
    return colander.ContainsOnly([str(site.id) for site in kw["sites"]])


@colander.deferred
def _future(node, kw):
    today = kw["today"]

    def validator(node, value):
        if value <= today:
            raise colander.Invalid(node, "An expiry lies in the future.")
        if value > datetime.date(9999, 12, 30):
            raise colander.Invalid(node, "Too far in the future.")

    return validator


class ApiKeySchema(CSRFSchema):
    label = colander.SchemaNode(
        colander.String(),
        title="Label",
        description="What the key is for, to tell it from the others (a back end, a script…).",
        preparer=lambda v: v.strip() if isinstance(v, str) else v,
        validator=colander.All(colander.Length(min=1, max=LABEL_LENGTH), no_control_characters),
    )
    scopes = colander.SchemaNode(
        colander.Set(),
        title="Scopes",
        widget=deform.widget.CheckboxChoiceWidget(values=[(scope, f"{scope}: {text}") for scope, text in SCOPES.items()]),
        validator=colander.All(
            colander.Length(min=1, min_err="Choose at least one scope."), colander.ContainsOnly(list(SCOPES))
        ),
    )
    sites = colander.SchemaNode(
        colander.Set(),
        title="Only these sites",
        description="None ticked: every site you may use, including later ones.",
        widget=_site_widget,
        validator=_site_validator,
        missing=set(),
    )
    expires = colander.SchemaNode(
        colander.Date(),
        title="Expires on",
        description="Optional: the key stops working at the start of this day (UTC).",
        widget=deform.widget.TextInputWidget(attributes={"type": "date"}),
        validator=_future,
        missing=None,
    )
