"""A site's funnels and experiments: their reports (for whoever may view the site) and the forms
that add, change and delete them (owners and admins: ``edit``).

``/sites/<id>/funnels`` and ``/sites/<id>/experiments`` show one funnel or experiment at a time
(``?funnel=<id>``, ``?experiment=<id>``; the first by default) over the period and filters of
the query string, as the dashboard's. Each form is posted to a view of its own; each change is a line of the site's
history.
"""

from __future__ import annotations

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.view import view_config, view_defaults

from .. import conversions, goals, members
from ..charts import funnel_chart
from ..forms import FormHandler
from ..reports import experiments as statistics
from ..reports.exposures import exposures
from ..reports.funnels import funnel as funnel_report
from ..reports.periods import PERIODS
from ..resources import SiteResource
from ..schemas.conversions import (
    DeleteExperimentSchema,
    DeleteFunnelSchema,
    ExperimentSchema,
    FunnelSchema,
)
from ..security import Permission
from .dashboard import PageQuery, query_params
from .sites import job_notice

#: The periods the pages link to (any other, a custom range included, can be given in the address).
SHOWN_PERIODS = ("7d", "30d", "month", "lastmonth", "12mo")


class _Conversions:
    """What the two pages share: the site, its goals, the query of the period and filters."""

    name = ""
    #: The query parameter that names the funnel or experiment shown.
    param = ""

    def __init__(self, context, request):
        self.context = context
        self.request = request
        self.site = context.site
        self.db = request.dbsession
        self.goals = goals.site_goals(self.db, self.site.id)
        self.goal_choices = [(goal.id, goal.name) for goal in self.goals]
        self.goal_ids = {goal.id for goal in self.goals}

    def _query(self) -> PageQuery:
        return PageQuery(self.request)

    def _filters(self, query: PageQuery):
        return goals.resolve_filters(self.db, self.site.id, query.stats.filters)

    def _selected_id(self, key: str) -> int | None:
        value = query_params(self.request).get(key, "")
        return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None

    def _selected(self, items):
        """The one named by :attr:`param`, else the first when none is named."""
        wanted = self._selected_id(self.param)
        chosen = next((item for item in items if item.id == wanted), None)
        return chosen or (items[0] if items and wanted is None else None)

    def _periods(self, query: PageQuery, selected: dict) -> list[tuple[str, str, str]]:
        """Links to the report over other periods: (period key, label, address)."""
        return [(key, PERIODS[key], query.url(self.name, period=key, **{"from": None, "to": None}, **selected))
                for key in SHOWN_PERIODS]

    def _here(self, **params) -> str:
        return self.request.resource_url(self.context, self.name, query=params)

    def _goal_name(self, goal_id: int) -> str:
        return next((f"“{goal.name}”" for goal in self.goals if goal.id == goal_id), f"goal {goal_id}")

    def _record(self, what: str) -> None:
        members.record(self.db, self.site.id, self.request.identity, what)

    def _record_change(self, what: str, changes: list[tuple[str, bool]]) -> None:
        """A history line naming what changed (``changes``: each text, and whether it did); none
        for a save that changed nothing."""
        changed = [text for text, did in changes if did]
        if changed:
            self._record(f"changed {what}: " + ", ".join(changed))


@view_defaults(context=SiteResource, name="funnels", renderer="tracking:templates/sites/funnels.jinja2")
class FunnelViews(_Conversions):
    name = "funnels"
    param = "funnel"

    def _steps(self, goal_ids: list[int]) -> str:
        return " → ".join(self._goal_name(goal_id) for goal_id in goal_ids)

    def _add_form(self) -> FormHandler:
        return FormHandler(self.request, FunnelSchema(), formid="funnel-add", button="Add funnel",
                           goals=self.goal_choices, action=self._here())

    def _edit_form(self, funnel) -> FormHandler:
        return FormHandler(self.request, FunnelSchema(), formid="funnel-edit", button="Save funnel",
                           goals=self.goal_choices, action=self._here(funnel=funnel.id),
                           appstruct={"name": funnel.name, "steps": [str(i) for i in funnel.goal_ids]})

    def _delete_form(self, funnels) -> FormHandler:
        return FormHandler(self.request, DeleteFunnelSchema(), formid="funnel-delete", button="Delete",
                           danger=True, choices=[(str(f.id), f.name) for f in funnels], action=self._here())

    def _page(self, add=None, edit=None, delete=None) -> dict:
        funnels = conversions.site_funnels(self.db, self.site.id)
        selected = self._selected(funnels)
        query = self._query()
        report = chart = None
        by_id = {goal.id: goals.spec(goal) for goal in self.goals}
        if selected is not None:
            steps = [by_id[goal_id] for goal_id in selected.goal_ids if goal_id in by_id]
            report = funnel_report(self.db, query.stats.site, query.period, self._filters(query), steps,
                                   conversions.summarized(selected, steps))
            chart = funnel_chart([row.visitors for row in report.steps])
        editing = self.request.has_permission(Permission.EDIT)
        return {
            "site": self.site,
            "query": query,
            "funnels": funnels,
            "period_links": self._periods(query, {"funnel": selected.id} if selected else {}),
            "selected": selected,
            "report": report,
            "chart": chart,
            "goals": self.goals,
            "editing": editing,
            "add_form": (add or self._add_form()).html if editing else None,
            "edit_form": (edit or self._edit_form(selected)).html if editing and selected is not None else None,
            "delete_form": (delete or self._delete_form(funnels)).html if editing and funnels else None,
            **job_notice(self.request, self.site),
        }

    @view_config(request_method="GET", permission=Permission.VIEW)
    def page(self):
        return self._page()

    def _checked(self, handler: FormHandler) -> dict | None:
        appstruct = handler.validate()
        if appstruct is None:
            return None
        steps = [int(step) for step in appstruct["steps"]]
        errors = conversions.funnel_errors(appstruct["name"], steps, self.goal_ids)
        if errors:
            field, message = next(iter(errors.items()))
            handler.fail(message, field)
            return None
        return {"name": appstruct["name"], "steps": steps}

    @view_config(request_method="POST", request_param="__formid__=funnel-add", permission=Permission.EDIT)
    def add(self):
        handler = self._add_form()
        values = self._checked(handler)
        if values is not None and conversions.count_funnels(self.db, self.site.id) >= conversions.MAX_FUNNELS:
            handler.fail(f"A site has at most {conversions.MAX_FUNNELS} funnels: delete one first.")
            values = None
        if values is None:
            return self._page(add=handler)
        funnel = conversions.create_funnel(self.db, self.site.id, values["name"], values["steps"])
        self._record(f"added the funnel “{funnel.name}”: {self._steps(funnel.goal_ids)}")
        self.request.session.flash(f"Funnel “{funnel.name}” added.")
        return HTTPSeeOther(self._here(funnel=funnel.id))

    @view_config(request_method="POST", request_param="__formid__=funnel-edit", permission=Permission.EDIT)
    def edit(self):
        funnels = conversions.site_funnels(self.db, self.site.id)
        funnel = next((f for f in funnels if f.id == self._selected_id("funnel")), None)
        if funnel is None:
            return HTTPSeeOther(self._here())
        handler = self._edit_form(funnel)
        values = self._checked(handler)
        if values is None:
            return self._page(edit=handler)
        before = (funnel.name, funnel.goal_ids)
        conversions.update_funnel(self.db, funnel, values["name"], values["steps"])
        self._record_change(f"the funnel “{before[0]}”", [
            (f"named “{funnel.name}”", funnel.name != before[0]),
            (f"steps {self._steps(funnel.goal_ids)}", funnel.goal_ids != before[1]),
        ])
        self.request.session.flash(f"Funnel “{funnel.name}” saved.")
        return HTTPSeeOther(self._here(funnel=funnel.id))

    @view_config(request_method="POST", request_param="__formid__=funnel-delete", permission=Permission.EDIT)
    def delete(self):
        funnels = conversions.site_funnels(self.db, self.site.id)
        handler = self._delete_form(funnels)
        appstruct = handler.validate()
        if appstruct is None:
            return self._page(delete=handler)
        funnel = next(f for f in funnels if str(f.id) == appstruct["funnel"])
        self.db.delete(funnel)
        self._record(f"deleted the funnel “{funnel.name}”")
        self.request.session.flash(f"Funnel “{funnel.name}” deleted.")
        return HTTPSeeOther(self._here())


@view_defaults(context=SiteResource, name="experiments", renderer="tracking:templates/sites/experiments.jinja2")
class ExperimentViews(_Conversions):
    name = "experiments"
    param = "experiment"

    def _add_form(self) -> FormHandler:
        return FormHandler(self.request, ExperimentSchema(), formid="experiment-add", button="Add experiment",
                           goals=self.goal_choices, action=self._here())

    def _edit_form(self, experiment) -> FormHandler:
        return FormHandler(self.request, ExperimentSchema(), formid="experiment-edit", button="Save experiment",
                           goals=self.goal_choices, action=self._here(experiment=experiment.id),
                           appstruct={"name": experiment.name, "key": experiment.key, "control": experiment.control,
                                      "goal": str(experiment.goal_id)})

    def _delete_form(self, experiments) -> FormHandler:
        return FormHandler(self.request, DeleteExperimentSchema(), formid="experiment-delete", button="Delete",
                           danger=True, choices=[(str(e.id), e.name) for e in experiments], action=self._here())

    def _page(self, add=None, edit=None, delete=None) -> dict:
        experiments = conversions.site_experiments(self.db, self.site.id)
        selected = self._selected(experiments)
        query = self._query()
        result = goal = None
        if selected is not None:
            goal = next(g for g in self.goals if g.id == selected.goal_id)
            counts = exposures(self.db, query.stats.site, query.period, self._filters(query), selected.prop,
                               selected.control, goals.spec(goal))
            result = statistics.analyse(counts, selected.control)
        editing = self.request.has_permission(Permission.EDIT)
        return {
            "site": self.site,
            "query": query,
            "experiments": experiments,
            "period_links": self._periods(query, {"experiment": selected.id} if selected else {}),
            "selected": selected,
            "goal": goal,
            "result": result,
            "min_exposed": statistics.MIN_EXPOSED,
            "min_conversions": statistics.MIN_CONVERSIONS,
            "goals": self.goals,
            "editing": editing,
            "add_form": (add or self._add_form()).html if editing else None,
            "edit_form": (edit or self._edit_form(selected)).html if editing and selected is not None else None,
            "delete_form": (delete or self._delete_form(experiments)).html if editing and experiments else None,
            **job_notice(self.request, self.site),
        }

    @view_config(request_method="GET", permission=Permission.VIEW)
    def page(self):
        return self._page()

    def _checked(self, handler: FormHandler) -> dict | None:
        appstruct = handler.validate()
        if appstruct is None:
            return None
        values = {"name": appstruct["name"], "key": appstruct["key"], "control": appstruct["control"],
                  "goal_id": int(appstruct["goal"])}
        errors = conversions.experiment_errors(values["name"], values["key"], values["control"], values["goal_id"],
                                               self.goal_ids)
        if errors:
            field, message = next(iter(errors.items()))
            handler.fail(message, field)
            return None
        return values

    @view_config(request_method="POST", request_param="__formid__=experiment-add", permission=Permission.EDIT)
    def add(self):
        handler = self._add_form()
        values = self._checked(handler)
        if values is not None and conversions.count_experiments(self.db, self.site.id) >= conversions.MAX_EXPERIMENTS:
            handler.fail(f"A site has at most {conversions.MAX_EXPERIMENTS} experiments: delete one first.")
            values = None
        if values is None:
            return self._page(add=handler)
        experiment = conversions.create_experiment(self.db, self.site.id, **values)
        self._record(f"added the experiment “{experiment.name}”: key {experiment.key}, control {experiment.control}, "
                     f"goal {self._goal_name(experiment.goal_id)}")
        self.request.session.flash(f"Experiment “{experiment.name}” added.")
        return HTTPSeeOther(self._here(experiment=experiment.id))

    @view_config(request_method="POST", request_param="__formid__=experiment-edit", permission=Permission.EDIT)
    def edit(self):
        experiments = conversions.site_experiments(self.db, self.site.id)
        experiment = next((e for e in experiments if e.id == self._selected_id("experiment")), None)
        if experiment is None:
            return HTTPSeeOther(self._here())
        handler = self._edit_form(experiment)
        values = self._checked(handler)
        if values is None:
            return self._page(edit=handler)
        before = (experiment.name, experiment.key, experiment.control, experiment.goal_id)
        conversions.update_experiment(experiment, **values)
        self._record_change(f"the experiment “{before[0]}”", [
            (f"named “{experiment.name}”", experiment.name != before[0]),
            (f"key {experiment.key}", experiment.key != before[1]),
            (f"control {experiment.control}", experiment.control != before[2]),
            (f"goal {self._goal_name(experiment.goal_id)}", experiment.goal_id != before[3]),
        ])
        self.request.session.flash(f"Experiment “{experiment.name}” saved.")
        return HTTPSeeOther(self._here(experiment=experiment.id))

    @view_config(request_method="POST", request_param="__formid__=experiment-delete", permission=Permission.EDIT)
    def delete(self):
        experiments = conversions.site_experiments(self.db, self.site.id)
        handler = self._delete_form(experiments)
        appstruct = handler.validate()
        if appstruct is None:
            return self._page(delete=handler)
        experiment = next(e for e in experiments if str(e.id) == appstruct["experiment"])
        self.db.delete(experiment)
        self._record(f"deleted the experiment “{experiment.name}”")
        self.request.session.flash(f"Experiment “{experiment.name}” deleted.")
        return HTTPSeeOther(self._here())
