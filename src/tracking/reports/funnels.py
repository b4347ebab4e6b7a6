"""A funnel's numbers: how many visitors passed each of its steps, in order, in a period.

The counting rules:

* A **visit passes a step** when one of its hits converts on the step's goal *after* the hit
  that passed the step before (hits in between are allowed: any page, any event). Hits are
  ordered by time, then by id (two hits of the same second keep the order they arrived in). A
  visit passes the steps it can, earliest first; one hit passes at most one step, so a funnel
  whose two steps are the same goal needs two such hits.
* A **visitor** (one person on one day, as everywhere in the reports: over several days, a sum of
  each day's visitors) is at step *n* when one of their visits of that day passed the first *n*
  steps. Steps of one visit are never joined with steps of another.
* The period and the filters select the visits (as on the dashboard: a visit belongs to the day
  it started, and keeps all its hits). The first step's visitors are counted from the visit
  rows (the pages and events each lists); only the hits of the visits that converted on the
  first two steps' goals are read, in order.

How it is read. Once the funnel's summary rows were counted for its present steps (planner rule
8), from them: without filters the visitors of each day by the most steps they passed
(``funnel_stats``), with filters how far each matching visit went (``funnel_visits``); both are
kept by the hit writer (:mod:`tracking.summaries.funnels`). Until then, from the raw rows.
SQLite: the first step's visitors in one statement; then those visits' hits that
convert on a step, in order, walked in Python (:func:`steps_passed`). PostgreSQL: everything in
one statement that returns the visitors at each step: each such visit's hits become a string, one
character per hit (its steps as a bit mask, :data:`BASE`), in order, and the visit passed step
*n* when the regular expression of :func:`passes` finds the first *n* steps in it, in order. Both
give the same numbers: the walk takes each step at the first hit after the step before, and
such a walk gets to step *n* exactly when some *n* hits, in order, convert on the first *n* steps
(the regular expression: a hit of step 1, later one of step 2, ...); the tests compare both
with a plain walk over the raw hits.

Per step: its visitors, the drop-off from the step before (visitors lost), the step's
conversion rate (visitors / visitors of the step before) and the overall rate (visitors /
visitors of the first step).

Read only, like the rest of :mod:`tracking.reports`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import cast

from sqlalchemy import case, func, literal, select, text, true, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by

from ..goals import BASE, GoalSpec, converts_on_any, passes, step_mask, steps_passed, visit_converts
from ..models import FunnelStat, FunnelVisit, Hit, Visit
from .periods import Period
from .planner import Source, funnel_source
from .query import Filter, SiteRef
from .raw_runner import matching


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
    return from_counts(names, [sum(at[n + 1:]) for n in range(len(names))])


def from_counts(names: Sequence[str], counts: Sequence[int]) -> FunnelReport:
    """The rows of a funnel whose steps are ``names``, from the visitors at each step."""
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


def funnel(db, site: SiteRef, period: Period, filters: tuple[Filter, ...], goals: Sequence[GoalSpec],
           summarized: int | None = None) -> FunnelReport:
    """The funnel of ``goals`` (its steps, in order) over the visits of ``period`` that match
    ``filters`` (goal filters resolved: :func:`tracking.goals.resolve_filters`). ``summarized``:
    the funnel whose ``funnel_visits`` rows were counted for these steps, which then answer
    (:func:`~.planner.funnel_source`); without, the raw rows."""
    names = [goal.name for goal in goals]
    if not goals:
        return report(names, ())
    if funnel_source(summarized is not None) is Source.SUMMARIES:
        return from_counts(names, _counted_from_rows(db, site, period, filters, cast(int, summarized), len(goals)))
    if db.get_bind().dialect.name == "postgresql":
        return from_counts(names, _counted_in_sql(db, site, period, filters, goals))
    in_period = matching(site, period, filters)
    # Step 1 is a condition on the visit row (its pages and events are listed on it).
    people = select(Visit.day, Visit.visitor).where(*in_period, visit_converts(goals[0])).distinct().subquery()
    entered = int(db.scalar(select(func.count()).select_from(people)))
    if len(goals) == 1 or not entered:
        return report(names, [1] * entered)
    # Only visits that converted on the first two goals can pass step 2: only their hits are read,
    # each chosen visit's through the visit index (as the raw runner reads them).
    h = Hit.__table__
    visits = (
        select(Visit.id, Visit.day, Visit.visitor)
        .where(*in_period, visit_converts(goals[0]), visit_converts(goals[1]))
        .subquery("entered")
    )
    rows = db.execute(
        select(h.c.visit_id, visits.c.day, visits.c.visitor, step_mask(goals, h))
        .join(visits, h.c.visit_id == visits.c.id)
        .where(converts_on_any(goals, h))
        .order_by(h.c.visit_id, h.c.ts, h.c.id)
    )
    best: dict[tuple, int] = {}  # (day, visitor) → most steps one of their visits passed (at least 1)
    for (_, day, visitor), hits in groupby(rows, key=lambda row: (row[0], row[1], row[2])):
        passed = steps_passed((row[3] for row in hits), len(goals))
        best[(day, visitor)] = max(best.get((day, visitor), 0), passed)
    # The other visitors who entered passed step 1 only.
    return report(names, [*best.values(), *[1] * (entered - len(best))])


def _counted_from_rows(db, site: SiteRef, period: Period, filters: tuple[Filter, ...], funnel_id: int,
                       steps: int) -> list[int]:
    """The visitors at each step, from the funnel's summary rows. Without filters, the days'
    counts (``funnel_stats``: each visitor of a day at the most steps one of their visits passed);
    with filters, the rows of the matching visits (``funnel_visits``: how far each went), each
    visitor of a day at their furthest."""
    at = [0] * (steps + 1)
    if filters:
        r = FunnelVisit.__table__
        if db.get_bind().dialect.name == "postgresql":
            db.execute(text("SET LOCAL jit = off"))  # as the raw runner does (RawRunner.tune)
        best = select(func.max(r.c.passed).label("passed")).where(
            r.c.funnel_id == funnel_id, r.c.day >= period.start, r.c.day < period.end, r.c.passed >= 1,
            r.c.visit_id.in_(select(Visit.id).where(*matching(site, period, filters))),
        ).group_by(r.c.day, r.c.visitor).subquery("best")
        counted = select(best.c.passed, func.count()).group_by(best.c.passed)
    else:
        s = FunnelStat.__table__
        counted = select(s.c.passed, func.sum(s.c.visitors)).where(
            s.c.funnel_id == funnel_id, s.c.day >= period.start, s.c.day < period.end
        ).group_by(s.c.passed)
    for passed, visitors in db.execute(counted):
        at[min(int(passed), steps)] += int(visitors)
    return [sum(at[n + 1:]) for n in range(steps)]


def _counted_in_sql(db, site: SiteRef, period: Period, filters: tuple[Filter, ...],
                    goals: Sequence[GoalSpec]) -> list[int]:
    """PostgreSQL: the visitors at each step, in one statement (see :func:`funnel`).

    The visits of the period that converted on the first goal are read once (``entered``): their
    distinct visitors are the first step's; those that converted on the second goal too have
    their hits read through the visit index, one visit after the other (``walk``: the hits that
    convert on a step, in order, as a string of :func:`passes`), and only the counts come back.
    """
    # As the raw runner does (RawRunner.tune): no JIT compilation, room to hash and sort.
    db.execute(text("SET LOCAL jit = off"))
    db.execute(text("SET LOCAL work_mem = '64MB'"))
    # The hits read in order are aliased: a goal with a property (a step's, a goal filter's)
    # reads the visit's hits in a subquery of its own (tracking.goals.visit_converts).
    v, h = Visit.__table__, Hit.__table__.alias("h")
    steps = len(goals)
    in_period = [*matching(site, period, filters), visit_converts(goals[0], v)]
    if steps == 1:
        return [db.scalar(select(func.count(tuple_(v.c.day, v.c.visitor).distinct())).where(*in_period))]
    # The visits read by parallel workers, for this statement: the planner otherwise weighs
    # sending each visit row to the leader above reading them all in one process (over 12
    # months, 1.4 million rows kept of 3.9 million read: seconds).
    db.execute(text("SET LOCAL parallel_tuple_cost = 0.01"))
    entered = (
        select(v.c.id, v.c.day, v.c.visitor, visit_converts(goals[1], v).label("further"))
        .where(*in_period)
        .cte("entered")
        .prefix_with("MATERIALIZED")  # read once, for the count and for the walk
    )
    walk = (
        select(func.string_agg(func.chr(BASE + step_mask(goals, h)), aggregate_order_by(literal(""), h.c.ts, h.c.id))
               .label("seq"))
        .where(h.c.visit_id == entered.c.id, converts_on_any(goals, h))
        .lateral("walk")
    )
    # The steps each visit that converted on the first two goals passed (at least 1: the first
    # step is the visit row's; a visit without such hits, were there one, stops there).
    seq = func.coalesce(walk.c.seq, "")
    passed = case(*((~seq.regexp_match(passes(steps, n)), n - 1) for n in range(2, steps + 1)),
                  else_=steps).label("passed")
    walked = select(entered.c.day, entered.c.visitor, passed).join(walk, true()).where(entered.c.further).subquery("walked")
    person = tuple_(walked.c.day, walked.c.visitor)
    counts = list(db.execute(select(
        select(func.count(tuple_(entered.c.day, entered.c.visitor).distinct())).scalar_subquery(),
        *(func.count(person.distinct()).filter(walked.c.passed >= n) for n in range(2, steps + 1)),
    )).one())
    db.execute(text("SET LOCAL parallel_tuple_cost TO DEFAULT"))  # for this statement only
    return counts
