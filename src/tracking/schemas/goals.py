"""The form of a site's goal (:mod:`tracking.goals` checks it; this shapes the fields)."""

from __future__ import annotations

import colander
import deform

from ..goals import KINDS, MAX_EVENT, MAX_NAME, MAX_PATTERN, MAX_PROP_KEY, MAX_PROP_VALUE, check
from . import CSRFSchema, no_control_characters


def _stripped(value):
    return value.strip() if isinstance(value, str) else value


def _upper(value):
    return value.strip().upper() if isinstance(value, str) else value


def _optional(name: str, title: str, limit: int, description: str = "", preparer=_stripped) -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        name=name,
        title=title,
        description=description,
        preparer=preparer,
        validator=colander.All(colander.Length(max=limit), no_control_characters),
        missing="",
    )


def _whole_goal(node, value):
    """The rules of a goal of its kind (a page goal's pattern, an event goal's event...), each
    message beside its field."""
    errors = check(value["kind"], value["name"], value["pattern"], value["event"], value["prop_key"],
                   value["prop_value"], value["currency"] or None)
    if errors:
        error = colander.Invalid(node, "")
        for field, message in errors.items():
            error[field] = message
        raise error


class GoalSchema(CSRFSchema):
    name = colander.SchemaNode(
        colander.String(),
        title="Name",
        description="What the dashboard calls it: Sign-up, Read the docs…",
        preparer=_stripped,
        validator=colander.All(colander.Length(min=1, max=MAX_NAME), no_control_characters),
    )
    kind = colander.SchemaNode(
        colander.String(),
        title="Converts on",
        widget=deform.widget.SelectWidget(values=[("page", "a page view"), ("event", "a custom event")]),
        validator=colander.OneOf(KINDS),
        default="page",
    )
    pattern = _optional(
        "pattern", "Page", MAX_PATTERN,
        "A page goal: a path such as /signup; * is any run of characters within one segment (/blog/*), "
        "** across segments (/docs/**).",
    )
    event = _optional("event", "Event", MAX_EVENT, "An event goal: the custom event's name, such as Signup.")
    prop_key = _optional("prop_key", "Property", MAX_PROP_KEY, "Optional: only the events with this property…")
    prop_value = _optional("prop_value", "Property value", MAX_PROP_VALUE, "…set to this value (plan = pro).",
                           preparer=lambda v: v)
    currency = _optional("currency", "Revenue currency", 3,
                         "Optional, event goals: count the revenue of its events in this ISO 4217 currency "
                         "(EUR, USD…).", preparer=_upper)

    def validator(self, node, value):
        _whole_goal(node, value)


@colander.deferred
def _confirm_label(node, kw):
    if kw["harmless"]:
        return "Yes, delete this goal"
    return "Yes, delete this goal and change or delete the funnels and experiments listed above"


class DeleteGoalSchema(CSRFSchema):
    """The confirmation of a goal's deletion (bind ``harmless``: no funnel or experiment uses it).

    ``uses`` carries what the page listed (:attr:`~tracking.conversions.GoalDeletion.fingerprint`):
    when the funnels or experiments built on the goal changed meanwhile, nothing is deleted and the
    page lists them again."""

    uses = colander.SchemaNode(colander.String(), widget=deform.widget.HiddenWidget(), missing="")
    confirm = colander.SchemaNode(
        colander.Boolean(),
        title="Confirmation",
        label=_confirm_label,
        validator=colander.Function(lambda v: v is True, "Tick the box to confirm."),
        missing=False,
    )
