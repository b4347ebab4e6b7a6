"""Forms of a site's funnels and experiments (:mod:`tracking.conversions`).

The site's goals are bound with the schema: ``schema.bind(request=..., goals=[(id, name), ...])``;
a posted goal outside them is an error beside its field. A funnel's form shows its
:data:`~tracking.conversions.MAX_STEPS` steps as that many choices (no script needed to add
one); the empty ones are left out, and fewer than two, or more than eight posted, is an error.
"""

import colander
import deform

from ..conversions import MAX_KEY, MAX_NAME, MAX_STEPS, MAX_VARIANT, MIN_STEPS
from . import CSRFSchema, no_control_characters


def _strip(value):
    return value.strip() if isinstance(value, str) else value


@colander.deferred
def _goal_widget(node, kw):
    return deform.widget.SelectWidget(values=[("", "— none —"), *((str(i), name) for i, name in kw["goals"])])


@colander.deferred
def _goal_choice_widget(node, kw):
    return deform.widget.SelectWidget(values=[("", "— choose —"), *((str(i), name) for i, name in kw["goals"])])


@colander.deferred
def _a_goal(node, kw):
    return colander.OneOf(["", *(str(i) for i, _ in kw["goals"])])


def _named(node, value):
    if not value:
        raise colander.Invalid(node, "Choose a goal.")


@colander.deferred
def _a_chosen_goal(node, kw):
    return colander.All(_named, _a_goal(node, kw))


def _steps_given(value):
    """The steps that were chosen, in order (the empty choices left out)."""
    return [step for step in value if step] if isinstance(value, list) else value


def _step_count(node, value):
    if not MIN_STEPS <= len(value) <= MAX_STEPS:
        raise colander.Invalid(node, f"A funnel has {MIN_STEPS} to {MAX_STEPS} steps: choose a goal for each.")


def _name_node():
    return colander.SchemaNode(colander.String(), title="Name", preparer=_strip,
                               validator=colander.All(colander.Length(min=1, max=MAX_NAME), no_control_characters))


class StepsWidget(deform.widget.SequenceWidget):
    """Always :data:`MAX_STEPS` choices, also when a posted form comes back with its errors
    (Deform pads a first rendering to ``min_len``, not the fields of a posted one), numbered,
    without Deform's buttons to add, remove and drag items (its script and inline styles,
    which the Content-Security-Policy refuses): ``templates/deform/steps.pt``."""

    template = "steps"
    item_template = "steps_item"

    def serialize(self, field, cstruct, **kw):
        cstruct = [] if cstruct in (colander.null, None) else list(cstruct)
        fields = getattr(field, "sequence_fields", None)
        if fields:
            cstruct = (cstruct + [colander.null] * len(fields))[:len(fields)]
            while len(fields) < (self.min_len or 0):
                fields.append(field.children[0].clone())
                cstruct.append(colander.null)
        return super().serialize(field, cstruct, **kw)


class StepsSchema(colander.SequenceSchema):
    step = colander.SchemaNode(colander.String(), title="Goal", missing="", widget=_goal_widget, validator=_a_goal)


class FunnelSchema(CSRFSchema):
    name = _name_node()
    steps = StepsSchema(
        title="Steps, in order", preparer=_steps_given, validator=_step_count,
        widget=StepsWidget(min_len=MAX_STEPS, max_len=MAX_STEPS, orderable=False),
        description=f"{MIN_STEPS} to {MAX_STEPS} goals. A visit passes a step when it reaches its goal after the step before.",
    )


class ExperimentSchema(CSRFSchema):
    name = _name_node()
    key = colander.SchemaNode(
        colander.String(), title="Experiment key", preparer=_strip,
        validator=colander.All(colander.Length(min=1, max=MAX_KEY), no_control_characters,
                               colander.Function(lambda v: '"' not in v and "\\" not in v, 'No " or \\.')),
        description="What your pages pass to tracking.variant(key, variant).",
    )
    control = colander.SchemaNode(
        colander.String(), title="Control variant", preparer=_strip,
        validator=colander.All(colander.Length(min=1, max=MAX_VARIANT), no_control_characters),
        description="The variant the others are compared with (such as A, or control).",
    )
    goal = colander.SchemaNode(colander.String(), title="Goal", widget=_goal_choice_widget,
                               validator=_a_chosen_goal)


@colander.deferred
def _choices_widget(node, kw):
    return deform.widget.SelectWidget(values=[("", "— choose —"), *kw["choices"]])


@colander.deferred
def _in_choices(node, kw):
    return colander.OneOf([value for value, _ in kw["choices"]])


class DeleteFunnelSchema(CSRFSchema):
    funnel = colander.SchemaNode(colander.String(), title="Funnel", widget=_choices_widget, validator=_in_choices)


class DeleteExperimentSchema(CSRFSchema):
    experiment = colander.SchemaNode(colander.String(), title="Experiment", widget=_choices_widget,
                                     validator=_in_choices)
