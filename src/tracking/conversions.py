"""Funnels and A/B experiments of a site: their rules, and storing them.

* A **funnel** is :data:`MIN_STEPS` to :data:`MAX_STEPS` ordered steps, each a goal of the site
  (the same goal may come back later in a funnel). How a visit passes its steps is
  :mod:`tracking.reports.funnels`'.
* An **experiment** names an experiment key (what the pages pass to the tracker's
  ``tracking.variant(key, variant)``: their hits carry the property ``experiment:<key>``), the
  control variant and the goal it is measured on. Its numbers are
  :mod:`tracking.reports.exposures`' and :mod:`tracking.reports.experiments`'.

This module knows nothing of views: the forms check with :func:`funnel_errors` and
:func:`experiment_errors`, then store with the functions below.

**Deleting a goal** is never silent about what is built on it. :func:`goal_deletion` says, before
anything changes, what deleting a goal does to the site's funnels and experiments:

* a funnel that uses the goal loses those steps (the others keep their order) when at least
  :data:`MIN_STEPS` steps are left;
* a funnel that would be left with fewer than :data:`MIN_STEPS` steps is deleted with the goal:
  a funnel of one step measures nothing, and none is ever kept that its form would refuse;
* an experiment measured on the goal is deleted with it (an experiment has one goal).

The goal page shows that list and asks for confirmation; the API refuses the deletion with a
``409`` naming them unless asked to go ahead (``?cascade=true``). :func:`delete_goal` then does
exactly what the list said, and writes each change in the site's history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select

from . import members
from .goals import GoalSpec, funnel_definition
from .models import Goal, SegmentStat, User
from .models.conversions import Experiment, Funnel, FunnelStep
from .summaries import jobs
from .summaries.dimensions import GOAL

MIN_STEPS = 2
MAX_STEPS = 8
#: The most funnels, and experiments, one site may have.
MAX_FUNNELS = 50
MAX_EXPERIMENTS = 50
MAX_NAME = 100
#: ``experiment:`` and the key make a property name of at most 64 characters (the beacon's bound).
PROP_PREFIX = "experiment:"
MAX_KEY = 64 - len(PROP_PREFIX)
MAX_VARIANT = 256

_UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
#: ``"`` and ``\`` would end SQLite's JSON path of the property.
_BAD_KEY = re.compile(r'["\\]')


def _name_error(name: str) -> str | None:
    if not name.strip():
        return "Required."
    if len(name) > MAX_NAME or _UNSTORABLE.search(name):
        return f"At most {MAX_NAME} characters, no control characters."
    return None


def funnel_errors(name: str, goal_ids: list[int], site_goal_ids: set[int]) -> dict[str, str]:
    """Everything wrong with a funnel, by field (``name``, ``steps``); empty: it may be stored."""
    errors: dict[str, str] = {}
    error = _name_error(name)
    if error:
        errors["name"] = error
    if not MIN_STEPS <= len(goal_ids) <= MAX_STEPS:
        errors["steps"] = f"A funnel has {MIN_STEPS} to {MAX_STEPS} steps."
    elif any(goal_id not in site_goal_ids for goal_id in goal_ids):
        errors["steps"] = "Every step is one of this site's goals."
    return errors


def experiment_errors(name: str, key: str, control: str, goal_id: int | None,
                      site_goal_ids: set[int]) -> dict[str, str]:
    """Everything wrong with an experiment, by field; empty: it may be stored."""
    errors: dict[str, str] = {}
    error = _name_error(name)
    if error:
        errors["name"] = error
    if not key:
        errors["key"] = "Required."
    elif len(key) > MAX_KEY or _UNSTORABLE.search(key) or _BAD_KEY.search(key):
        errors["key"] = f"At most {MAX_KEY} characters, without \" or \\ or control characters."
    if not control:
        errors["control"] = "Required."
    elif len(control) > MAX_VARIANT or _UNSTORABLE.search(control):
        errors["control"] = f"At most {MAX_VARIANT} characters, no control characters."
    if goal_id is None or goal_id not in site_goal_ids:
        errors["goal"] = "One of this site's goals."
    return errors


def site_funnels(db, site_id: int) -> list[Funnel]:
    return list(db.scalars(select(Funnel).where(Funnel.site_id == site_id).order_by(Funnel.id)))


def site_experiments(db, site_id: int) -> list[Experiment]:
    return list(db.scalars(select(Experiment).where(Experiment.site_id == site_id).order_by(Experiment.id)))


def count_funnels(db, site_id: int) -> int:
    return int(db.scalar(select(func.count()).select_from(Funnel).where(Funnel.site_id == site_id)))


def count_experiments(db, site_id: int) -> int:
    return int(db.scalar(select(func.count()).select_from(Experiment).where(Experiment.site_id == site_id)))


def create_funnel(db, site_id: int, name: str, goal_ids: list[int]) -> Funnel:
    """A new funnel; its rows (how far each visit went) are counted by a ``goals`` job, queued
    here: until it is done its report counts from the raw rows."""
    funnel = Funnel(site_id=site_id, name=name.strip())
    funnel.steps = [FunnelStep(position=i, goal_id=goal_id) for i, goal_id in enumerate(goal_ids)]
    db.add(funnel)
    db.flush()
    jobs.enqueue_goals(db, site_id)
    return funnel


def update_funnel(db, funnel: Funnel, name: str, goal_ids: list[int]) -> None:
    """Rename a funnel or change its steps: new steps queue the recount of its rows."""
    funnel.name = name.strip()
    if funnel.goal_ids == list(goal_ids):
        db.flush()
        return
    funnel.steps.clear()
    db.flush()  # the old steps go before the new ones take their places
    funnel.steps.extend(FunnelStep(position=i, goal_id=goal_id) for i, goal_id in enumerate(goal_ids))
    db.flush()
    jobs.enqueue_goals(db, funnel.site_id)


def summarized(funnel: Funnel, steps: list[GoalSpec]) -> int | None:
    """The funnel's id when its rows were counted for ``steps`` (its present steps' goals, with
    their rules): the funnel report then reads them; ``None`` otherwise."""
    return funnel.id if funnel.summarized_key == funnel_definition(steps) else None


def create_experiment(db, site_id: int, name: str, key: str, control: str, goal_id: int) -> Experiment:
    experiment = Experiment(site_id=site_id, name=name.strip(), key=key, control=control, goal_id=goal_id)
    db.add(experiment)
    db.flush()
    return experiment


def update_experiment(experiment: Experiment, name: str, key: str, control: str, goal_id: int) -> None:
    experiment.name, experiment.key, experiment.control, experiment.goal_id = name.strip(), key, control, goal_id


# -- deleting a goal ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelChange:
    """What deleting a goal does to one funnel: ``steps``, the goal ids it keeps, in order; with
    fewer than :data:`MIN_STEPS` of them the funnel is deleted."""

    funnel: Funnel
    steps: tuple[int, ...]

    @property
    def deleted(self) -> bool:
        return len(self.steps) < MIN_STEPS

    @property
    def removed(self) -> int:
        """How many of its steps were the goal."""
        return len(self.funnel.steps) - len(self.steps)


@dataclass(frozen=True)
class GoalDeletion:
    """What deleting :attr:`goal` does: to the funnels that use it and the experiments measured
    on it (each in the order it was made). :func:`goal_deletion` makes it."""

    goal: Goal
    funnels: tuple[FunnelChange, ...] = field(default=())
    experiments: tuple[Experiment, ...] = field(default=())

    @property
    def changed_funnels(self) -> list[FunnelChange]:
        return [change for change in self.funnels if not change.deleted]

    @property
    def deleted_funnels(self) -> list[FunnelChange]:
        return [change for change in self.funnels if change.deleted]

    @property
    def harmless(self) -> bool:
        """Nothing but the goal goes: no funnel uses it, no experiment is measured on it."""
        return not self.funnels and not self.experiments

    @property
    def fingerprint(self) -> str:
        """A short text that changes whenever what the deletion does changes (``f3:4.5``: funnel
        3 keeps goals 4 and 5; ``e2``: experiment 2 goes): the confirmation form carries the one
        it showed, so a funnel or experiment that changed meanwhile is shown before it is touched."""
        parts = [f"f{c.funnel.id}:{'.'.join(map(str, c.steps))}" for c in self.funnels]
        parts += [f"e{experiment.id}" for experiment in self.experiments]
        return " ".join(parts)


def steps_text(count: int) -> str:
    """``no step``, ``1 step``, ``3 steps``."""
    return "no step" if count == 0 else "1 step" if count == 1 else f"{count} steps"


def goal_deletion(db, goal: Goal) -> GoalDeletion:
    """What deleting ``goal`` would do; nothing is changed."""
    funnels = db.scalars(
        select(Funnel).where(Funnel.site_id == goal.site_id,
                             Funnel.id.in_(select(FunnelStep.funnel_id).where(FunnelStep.goal_id == goal.id)))
        .order_by(Funnel.id)
    )
    experiments = db.scalars(select(Experiment).where(Experiment.goal_id == goal.id).order_by(Experiment.id))
    return GoalDeletion(
        goal,
        tuple(FunnelChange(f, tuple(i for i in f.goal_ids if i != goal.id)) for f in funnels),
        tuple(experiments),
    )


def delete_goal(db, deletion: GoalDeletion, actor: User | None, via: str = "") -> None:
    """Delete the goal of ``deletion`` and do to its funnels and experiments what it says; each
    change is a line of the site's history (``via``: `` (API)`` for a change through the API)."""
    goal = deletion.goal
    for change in deletion.funnels:
        funnel = change.funnel
        if change.deleted:
            db.delete(funnel)
            what = (f"deleted the funnel “{funnel.name}” with the goal “{goal.name}” "
                    f"(it would have kept {steps_text(len(change.steps))})")
        else:
            update_funnel(db, funnel, funnel.name, list(change.steps))
            what = (f"removed the goal “{goal.name}” from the funnel “{funnel.name}” "
                    f"(it keeps {steps_text(len(change.steps))})")
        members.record(db, goal.site_id, actor, what + via)
    for experiment in deletion.experiments:
        db.delete(experiment)
        members.record(db, goal.site_id, actor,
                       f"deleted the experiment “{experiment.name}” measured on the goal “{goal.name}”{via}")
    db.delete(goal)
    # Its segment's rows (its visits go with it: goal_visits' key is the goal's).
    db.execute(delete(SegmentStat).where(SegmentStat.site_id == goal.site_id, SegmentStat.segment == GOAL,
                                         SegmentStat.segment_value == str(goal.id)))
    db.flush()
    members.record(db, goal.site_id, actor, f"deleted the goal “{goal.name}”{via}")
