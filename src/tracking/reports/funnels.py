"""A funnel's numbers: how many visitors passed each of its steps, in order, in a period.

The counting rules:

* A **visit passes a step** when one of its hits converts on the step's goal *after* the hit
  that passed the step before (hits in between are allowed: any page, any event). Hits are
  ordered by time, then by id (two hits of the same second keep the order they arrived in). A
  visit passes the steps it can, earliest first; one hit passes at most one step, so a funnel
  whose two steps are the same goal needs two such hits.
* A **visitor** (one person on one day, as everywhere in the reports) is at step *n* when one of
  their visits of the period passed the first *n* steps. Steps of one visit are never joined
  with steps of another.
* The period and the filters select the visits (as on the dashboard: a visit belongs to the day
  it started, and keeps all its hits). The first step's visitors are counted from the visit
  rows (the pages and events each lists); only the hits of the visits that converted on the
  first two steps' goals are read, in order.

Per step: its visitors, the drop-off from the step before (visitors lost), the step's
conversion rate (visitors / visitors of the step before) and the overall rate (visitors /
visitors of the first step).

Read only, like the rest of :mod:`tracking.reports`.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import reduce
from itertools import groupby

from sqlalchemy import case, func, or_, select, text

from ..goals import GoalSpec, hit_converts, visit_converts
from ..models import Hit, Visit
from .periods import Period
from .query import Filter, SiteRef
from .raw_runner import matching


def steps_passed(masks: Iterable[int], steps: int) -> int:
    """How many steps one visit passed, given each of its hits, in order, as a bit mask of the
    steps whose goal it converts on (bit *i*: step *i*)."""
    passed = 0
    for mask in masks:
        if passed == steps:
            break
        if mask >> passed & 1:
            passed += 1
    return passed


@dataclass(frozen=True, slots=True)
class StepRow:
    name: str
    visitors: int
    #: Visitors of the step before that did not reach this one (0 for the first step).
    dropped: int
    #: Visitors / visitors of the step before (of the first step: 1 when any); ``None`` when
    #: the step before had none.
    rate: float | None
    #: Visitors / visitors of the first step; ``None`` when the first step had none.
    overall: float | None


@dataclass(frozen=True, slots=True)
class FunnelReport:
    steps: tuple[StepRow, ...]

    @property
    def conversion(self) -> float | None:
        """The whole funnel's rate: visitors of the last step / visitors of the first."""
        return self.steps[-1].overall if self.steps else None


def report(names: Sequence[str], reached: Iterable[int]) -> FunnelReport:
    """The rows of a funnel whose steps are ``names``, from the steps each visitor reached."""
    at = [0] * (len(names) + 1)
    for passed in reached:
        at[passed] += 1
    # Visitors at step n: those who reached it or further.
    counts = [sum(at[n + 1:]) for n in range(len(names))]
    rows = []
    for n, name in enumerate(names):
        before = counts[n - 1] if n else None
        rows.append(StepRow(
            name=name,
            visitors=counts[n],
            dropped=before - counts[n] if before is not None else 0,
            rate=(counts[n] / before if before else None) if n else (1.0 if counts[0] else None),
            overall=counts[n] / counts[0] if counts[0] else None,
        ))
    return FunnelReport(tuple(rows))


def funnel(db, site: SiteRef, period: Period, filters: tuple[Filter, ...], goals: Sequence[GoalSpec]) -> FunnelReport:
    """The funnel of ``goals`` (its steps, in order) over the visits of ``period`` that match
    ``filters`` (goal filters resolved: :func:`tracking.goals.resolve_filters`)."""
    names = [goal.name for goal in goals]
    if not goals:
        return report(names, ())
    postgresql = db.get_bind().dialect.name == "postgresql"
    if postgresql:  # as the raw runner does (RawRunner.tune): no JIT compilation, room to hash
        db.execute(text("SET LOCAL jit = off"))
        db.execute(text("SET LOCAL work_mem = '32MB'"))
    in_period = matching(site, period, filters)
    # Step 1 is a condition on the visit row (its pages and events are listed on it).
    entered = db.scalar(select(func.count(Visit.visitor.distinct())).where(*in_period, visit_converts(goals[0])))
    if len(goals) == 1 or not entered:
        return report(names, [1] * entered)
    # Only visits that converted on the first two goals can pass step 2: only their hits are read.
    h = Hit.__table__
    start, _ = period.bounds(site.timezone)
    visits = (
        select(Visit.id, Visit.visitor)
        .where(*in_period, visit_converts(goals[0]), visit_converts(goals[1]))
        .subquery("entered")
    )
    distinct = list({goal.id: goal for goal in goals}.values())
    mask = reduce(operator.add, [case((hit_converts(goal, h), 1 << n), else_=0) for n, goal in enumerate(goals)])
    chosen = select(h.c.visit_id, visits.c.visitor, mask).join(visits, h.c.visit_id == visits.c.id)
    if postgresql:
        # Hits of the period's visits come at or after its start: a bound that lets the planner
        # choose between the visit index and the site's range of hits.
        chosen = chosen.where(h.c.site_id == site.id, h.c.ts >= start)
    # SQLite: each chosen visit's hits through the visit index (as the raw runner reads them).
    rows = db.execute(
        chosen.where(or_(*(hit_converts(goal, h) for goal in distinct))).order_by(h.c.visit_id, h.c.ts, h.c.id)
    )
    best: dict[int, int] = {}  # visitor → most steps one of their visits passed (at least 1)
    for (_, visitor), hits in groupby(rows, key=lambda row: (row[0], row[1])):
        passed = steps_passed((row[2] for row in hits), len(goals))
        best[visitor] = max(best.get(visitor, 0), passed)
    # The other visitors who entered passed step 1 only.
    return report(names, [*best.values(), *[1] * (entered - len(best))])
