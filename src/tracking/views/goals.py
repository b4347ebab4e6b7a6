"""A site's goals (``/sites/<id>/goals/``): the list, the form that adds one, and each goal's
page to change it and its page to delete it (``/sites/<id>/goals/<id>/delete``), which first says
what the deletion does to the funnels and experiments built on the goal and asks for
confirmation (:func:`tracking.conversions.goal_deletion`). Whoever may edit the site (its owner
and admins) manages them; the rules are :mod:`tracking.goals`'s, the numbers the dashboard's
goals panel."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.view import view_config, view_defaults

from .. import conversions, goals, members
from ..forms import FormHandler
from ..resources import GoalResource, Goals
from ..schemas.goals import DeleteGoalSchema, GoalSchema
from ..security import Permission
from ..summaries import jobs

LIST = "tracking:templates/sites/goals.jinja2"
EDIT = "tracking:templates/sites/goal.jinja2"
DELETE = "tracking:templates/sites/goal_delete.jinja2"


def _describe(goal) -> str:
    """A goal's rule in words: ``page /blog/*``, ``event Signup with plan = pro``."""
    if goal.kind == "page":
        return f"page {goal.pattern}"
    text = f"event {goal.event}"
    if goal.prop_key:
        text += f" with {goal.prop_key} = {goal.prop_value}"
    return text + (f", revenue in {goal.currency}" if goal.currency else "")


@view_defaults(context=Goals, renderer=LIST, permission=Permission.EDIT)
class GoalsViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.site = context.__parent__.site

    def _form(self) -> FormHandler:
        return FormHandler(self.request, GoalSchema(), formid="add-goal", button="Add goal")

    def _page(self, form: FormHandler) -> dict:
        found = goals.site_goals(self.request.dbsession, self.site.id)
        return {"site": self.site, "goals": found, "describe": _describe, "form": form.html,
                "max_goals": goals.MAX_GOALS}

    @view_config(name="", request_method="GET")
    def index(self):
        return self._page(self._form())

    @view_config(name="", request_method="POST", request_param="__formid__=add-goal")
    def add(self):
        request = self.request
        form = self._form()
        appstruct = form.validate()
        if appstruct is None:
            return self._page(form)
        try:
            goal = goals.add_goal(request.dbsession, self.site.id, appstruct)
        except goals.TooManyGoals as error:
            form.fail(str(error))
            return self._page(form)
        jobs.enqueue_goals(request.dbsession, self.site.id)
        members.record(request.dbsession, self.site.id, request.identity, f"added the goal “{goal.name}”")
        request.session.flash(f"Goal {goal.name!r} added.")
        return HTTPSeeOther(request.resource_url(self.context))


@view_defaults(context=GoalResource, renderer=EDIT, permission=Permission.EDIT)
class GoalViews:
    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.goal = context.goal
        self.site = context.__parent__.__parent__.site

    def _form(self) -> FormHandler:
        goal = self.goal
        return FormHandler(self.request, GoalSchema(), formid="edit-goal", button="Save",
                           appstruct={name: getattr(goal, name) or "" for name in goals.FIELDS})

    def _page(self, form: FormHandler) -> dict:
        return {"site": self.site, "goal": self.goal, "form": form.html}

    @view_config(name="", request_method="GET")
    def edit(self):
        return self._page(self._form())

    @view_config(name="", request_method="POST", request_param="__formid__=edit-goal")
    def save(self):
        request = self.request
        form = self._form()
        appstruct = form.validate()
        if appstruct is None:
            return self._page(form)
        if goals.update_goal(self.goal, appstruct):
            jobs.enqueue_goals(request.dbsession, self.site.id)
        members.record(request.dbsession, self.site.id, request.identity, f"changed the goal “{self.goal.name}”")
        request.session.flash(f"Goal {self.goal.name!r} saved.")
        return HTTPSeeOther(request.resource_url(self.context.__parent__))

    def _delete_form(self, deletion: conversions.GoalDeletion) -> FormHandler:
        return FormHandler(self.request, DeleteGoalSchema(), formid="delete-goal", button="Delete goal", danger=True,
                           appstruct={"uses": deletion.fingerprint}, harmless=deletion.harmless)

    def _delete_page(self, deletion: conversions.GoalDeletion, form: FormHandler) -> dict:
        names = {goal.id: goal.name for goal in goals.site_goals(self.request.dbsession, self.site.id)}
        return {"site": self.site, "goal": self.goal, "describe": _describe, "deletion": deletion, "names": names,
                "steps_text": conversions.steps_text, "min_steps": conversions.MIN_STEPS, "form": form.html}

    @view_config(name="delete", request_method="GET", renderer=DELETE)
    def confirm_delete(self):
        deletion = conversions.goal_deletion(self.request.dbsession, self.goal)
        return self._delete_page(deletion, self._delete_form(deletion))

    @view_config(name="delete", request_method="POST", renderer=DELETE)
    def delete(self):
        request = self.request
        deletion = conversions.goal_deletion(request.dbsession, self.goal)
        form = self._delete_form(deletion)
        appstruct = form.validate()
        if appstruct is None:
            return self._delete_page(deletion, form)
        if appstruct["uses"] != deletion.fingerprint:
            request.session.flash("The funnels and experiments that use this goal changed since that page was shown: "
                                  "nothing was deleted. Check what deleting it does now.")
            return HTTPSeeOther(request.resource_url(self.context, "delete"))
        name = self.goal.name
        conversions.delete_goal(request.dbsession, deletion, request.identity)
        message = f"Goal “{name}” deleted."
        gone = [f"the funnel “{c.funnel.name}”" for c in deletion.deleted_funnels]
        gone += [f"the experiment “{e.name}”" for e in deletion.experiments]
        if gone:
            message += " Deleted with it: " + ", ".join(gone) + "."
        if deletion.changed_funnels:
            message += " Without its steps: " + ", ".join(f"the funnel “{c.funnel.name}”"
                                                         for c in deletion.changed_funnels) + "."
        request.session.flash(message)
        return HTTPSeeOther(request.resource_url(self.context.__parent__))
