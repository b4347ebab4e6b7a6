"""``/api/v1/sites/<id>/goals``: a site's goals, listed and added; ``…/goals/<id>``: one goal,
read, changed (``PATCH``) and deleted. Reading asks what reading the site asks; changing asks a
``sites:write`` key whose user may edit the site. The rules are :mod:`tracking.goals`'s, as on
the goals page.

Deleting a goal that funnels or experiments are built on changes them as the goal page's
confirmation says (:func:`tracking.conversions.goal_deletion`), so the API does it only when
asked: without ``?cascade=true`` the answer is a ``409`` (``goal_in_use``) naming them, and
nothing changes; with it, a ``200`` names what was changed and deleted. A goal nothing is built
on is deleted with a ``204`` (or, with ``?cascade=true``, a ``200`` with empty lists)."""

from __future__ import annotations

from pyramid.response import Response
from pyramid.view import view_config, view_defaults

from ... import conversions, goals, members
from ...api_resources import ApiGoal, ApiGoals
from ...models import Goal
from ...security import Permission
from ...summaries import jobs
from . import ApiError, error_body, invalid, json_response, limited, read_json

MAX_BODY = 4096


def goal_json(goal: Goal) -> dict:
    return {"id": goal.id, **{name: getattr(goal, name) for name in goals.FIELDS}}


def deletion_json(deletion: conversions.GoalDeletion) -> dict:
    """What deleting a goal does (or did) to its funnels and experiments."""
    return {
        "funnels": [{"id": c.funnel.id, "name": c.funnel.name, "outcome": "deleted" if c.deleted else "changed",
                     "steps": list(c.steps)} for c in deletion.funnels],
        "experiments": [{"id": e.id, "name": e.name, "key": e.key, "outcome": "deleted"} for e in deletion.experiments],
    }


def _cascade(request) -> bool:
    values = request.GET.getall("cascade")
    if len(values) > 1 or (values and values[0] not in ("true", "false")):
        raise invalid("cascade", "cascade is true or false, given once.")
    return values == ["true"]


def _fields(request, current: Goal | None = None) -> dict:
    """A goal's fields from the body (a change: over ``current``'s), checked as the form does."""
    body = read_json(request, MAX_BODY)
    unknown = sorted(set(body) - set(goals.FIELDS))
    if unknown:
        raise invalid(unknown[0], f"There is no field {unknown[0]!r}.")
    if current is not None and not body:
        raise invalid(None, "Send at least one field to change.")
    for name, value in body.items():
        if not (isinstance(value, str) or (name == "currency" and value is None)):
            raise invalid(name, "Must be a string." if name != "currency" else "Must be a string or null.")
    fields = {}
    if current is not None:  # what the goal has of its (new) kind: a change of kind drops the rest
        kind = body.get("kind", current.kind)
        own = ("name", "kind", "pattern") if kind == "page" else ("name", "kind", "event", "prop_key", "prop_value",
                                                                 "currency")
        fields = {name: getattr(current, name) for name in own}
    fields.update({name: value.strip() if isinstance(value, str) and name != "prop_value" else value
                   for name, value in body.items()})
    if "kind" not in fields or "name" not in fields:
        raise invalid("kind" if "kind" not in fields else "name", "Required.")
    if fields.get("currency"):
        fields["currency"] = fields["currency"].upper()
    errors = goals.check(fields["kind"], fields["name"], fields.get("pattern") or "", fields.get("event") or "",
                         fields.get("prop_key") or "", fields.get("prop_value") or "", fields.get("currency") or None)
    if errors:
        field, message = next(iter(errors.items()))
        raise invalid(field, message)
    return fields


@view_defaults(context=ApiGoals, name="", decorator=limited, require_csrf=False)
class GoalsViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.site = context.__parent__.site

    @view_config(request_method="GET", permission=Permission.API)
    def index(self):
        return json_response({"results": [goal_json(g) for g in goals.site_goals(self.request.dbsession, self.site.id)]})

    @view_config(request_method="POST", permission=Permission.EDIT)
    def create(self):
        request = self.request
        fields = _fields(request)
        try:
            goal = goals.add_goal(request.dbsession, self.site.id, fields)
        except goals.TooManyGoals as error:
            raise invalid(None, str(error)) from None
        jobs.enqueue_goals(request.dbsession, self.site.id)
        members.record(request.dbsession, self.site.id, request.identity, f"added the goal {goal.name!r} (API)")
        return json_response(goal_json(goal), 201, {"Location": request.resource_url(self.context, str(goal.id))})


@view_defaults(context=ApiGoal, name="", decorator=limited, require_csrf=False)
class GoalViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.goal = context.goal

    @view_config(request_method="GET", permission=Permission.API)
    def read(self):
        return json_response(goal_json(self.goal))

    @view_config(request_method="PATCH", permission=Permission.EDIT)
    def update(self):
        request = self.request
        if goals.update_goal(self.goal, _fields(request, self.goal)):
            jobs.enqueue_goals(request.dbsession, self.goal.site_id)
        members.record(request.dbsession, self.goal.site_id, request.identity, f"changed the goal {self.goal.name!r} (API)")
        return json_response(goal_json(self.goal))

    @view_config(request_method="DELETE", permission=Permission.EDIT)
    def delete(self):
        request = self.request
        cascade = _cascade(request)
        deletion = conversions.goal_deletion(request.dbsession, self.goal)
        if not cascade and not deletion.harmless:
            error = ApiError(409, "goal_in_use", "Funnels or experiments are built on this goal; deleting it changes "
                             "or deletes them as listed. Send DELETE again with ?cascade=true to go ahead.")
            return json_response({**error_body(error), **deletion_json(deletion)}, error.status)
        goal = goal_json(self.goal)
        conversions.delete_goal(request.dbsession, deletion, request.identity, via=" (API)")
        if not cascade:
            return Response(status=204, headerlist=[("Cache-Control", "no-store")])
        return json_response({"goal": goal, **deletion_json(deletion)})
