"""Funnel summaries: how far each visit went in each funnel, kept by the hit writer batch by
batch and recomputed from the raw rows when a funnel or one of its goals changes.

A ``funnel_visits`` row (:class:`~tracking.models.summaries.FunnelVisit`) is kept for each visit
with a hit that converts on one of a funnel's steps: the steps it passed, by the rule of
:func:`~tracking.goals.steps_passed` (each step at the first hit after the hit that passed the
step before, hits ordered by time then arrival), and the time of the latest such hit counted.
Beside them, per funnel and day, the visitors by the most steps one of their visits passed
(``funnel_stats``), and each visitor's most of the last days (``funnel_visitors``: what moves a
visitor from one count to a higher one). The funnel report (:mod:`tracking.reports.funnels`)
adds up the days' counts without filters, and reads the matching visits' rows with filters,
where the raw rows need every step hit of the period's visits, walked in order.

Who keeps them:

* :class:`FunnelWalks`: the change one batch of hits makes. A visit's walk goes on from its row
  when the batch's step hits of the visit all come at or after the latest one counted (a later
  hit has a larger id, so it comes after at the same time); a hit that arrives late, with an
  earlier time, has the visit walked again from all its stored hits, in order;
* :func:`rebuild_funnels`: every row of a site's funnels recomputed from its visits and hits,
  within the ``goals`` job (:func:`tracking.summaries.goals.rebuild_goals`, the site locked
  against the writers); each funnel is then marked summarized for the definition it was
  counted with (``summarized_key``: :func:`~tracking.goals.funnel_definition`).

A funnel's rows are read only while its ``summarized_key`` is the definition of its present
steps and their goals' rules: a funnel created or changed, or one whose goal's rules changed, is
counted from the raw rows until its job is done.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import groupby
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, case, delete, func, literal, or_, select, text, update
from sqlalchemy.dialects.postgresql import aggregate_order_by

from ..goals import BASE, GoalSpec, converts_on_any, funnel_definition, passes, spec, step_mask, steps_passed
from ..models import Funnel, FunnelStat, FunnelStep, FunnelVisit, FunnelVisitor, Goal, Hit, Visit
from .rows import select_keys, upsert

if TYPE_CHECKING:
    from .goals import SiteGoals

_ROWS = cast(Table, FunnelVisit.__table__)
_STATS = cast(Table, FunnelStat.__table__)
_VISITORS = cast(Table, FunnelVisitor.__table__)


@dataclass(frozen=True)
class FunnelSteps:
    """A funnel as the writer walks it: its id and its steps' goal ids, in order."""

    id: int
    goals: tuple[int, ...]

    def mask(self, goal_ids: Iterable[int]) -> int:
        """The steps a hit converting on ``goal_ids`` is on, as a bit mask (bit *i*: step *i*)."""
        ids = set(goal_ids)
        return sum(1 << n for n, goal_id in enumerate(self.goals) if goal_id in ids)


def batch_funnels(connection, site_ids: list[int]) -> dict[int, list[FunnelSteps]]:
    """The funnels of some sites (those that have any), locked against deletion (key share, on
    PostgreSQL) until the transaction ends."""
    if not site_ids:
        return {}
    locked = select(Funnel.id).where(Funnel.site_id.in_(site_ids)).with_for_update(read=True, key_share=True)
    ids = list(connection.scalars(locked))
    if not ids:
        return {}
    rows = connection.execute(
        select(Funnel.site_id, FunnelStep.funnel_id, FunnelStep.goal_id)
        .join(Funnel, Funnel.id == FunnelStep.funnel_id)
        .where(FunnelStep.funnel_id.in_(ids))
        .order_by(FunnelStep.funnel_id, FunnelStep.position)
    )
    found: dict[int, list[FunnelSteps]] = defaultdict(list)
    for (site_id, funnel_id), steps in groupby(rows, key=lambda row: (row[0], row[1])):
        found[site_id].append(FunnelSteps(funnel_id, tuple(row[2] for row in steps)))
    return found


@dataclass
class _Visit:
    day: date
    visitor: int
    #: The batch's step hits of the visit: (time, place in the batch, mask).
    hits: list[tuple[datetime, int, int]]


class FunnelWalks:
    """The changes a batch makes to the funnel rows: collected hit by hit (:meth:`add`), then
    applied in two statements and an upsert (:meth:`apply`)."""

    def __init__(self) -> None:
        #: (funnel, visit id) → the visit and its step hits in the batch.
        self.visits: dict[tuple[FunnelSteps, int], _Visit] = {}

    def add(self, funnels: dict[int, list[FunnelSteps]], batch, visit_ids: list[int | None], visitors: list[int],
            days: list[date | None], converting: list[list[GoalSpec]]) -> None:
        """The step hits of a batch (``converting``: the goals each hit converts on)."""
        for at, (hit, visit_id, visitor, day, goals) in enumerate(
            zip(batch, visit_ids, visitors, days, converting, strict=True)
        ):
            if not goals or visit_id is None or day is None:
                continue
            ids = [goal.id for goal in goals]
            for funnel in funnels.get(hit.site_id, ()):
                mask = funnel.mask(ids)
                if mask:
                    visit = self.visits.setdefault((funnel, visit_id), _Visit(day, visitor, []))
                    visit.hits.append((hit.ts, at, mask))

    def apply(self, connection, goals: "dict[int, SiteGoals]") -> None:
        """Read the rows of the visits the batch walks, walk on (or again), write them back.
        ``goals``: the sites' goals, for a visit walked again from its stored hits."""
        if not self.visits:
            return
        keys = sorted((funnel.id, visit.day, visit_id) for (funnel, visit_id), visit in self.visits.items())
        stored: dict[tuple[int, int], tuple[int, datetime]] = {}
        for funnel_id, visit_id, passed, seen_at in select_keys(
            connection, _ROWS, ("funnel_id", "day", "visit_id"), ("funnel_id", "visit_id", "passed", "seen_at"), keys
        ):
            stored[(funnel_id, visit_id)] = (passed, _datetime(seen_at))
        rows = []
        again: list[tuple[FunnelSteps, int, _Visit]] = []
        before: dict[tuple[int, int], int] = {}  # (funnel, visit) → the steps it had passed
        for (funnel, visit_id), visit in self.visits.items():
            hits = sorted(visit.hits)
            passed, seen_at = stored.get((funnel.id, visit_id), (0, None))
            before[(funnel.id, visit_id)] = passed
            if seen_at is not None and hits[0][0] < seen_at:
                again.append((funnel, visit_id, visit))  # a late hit: the visit's walk from the start
                continue
            passed = steps_passed((mask for _, _, mask in hits), len(funnel.goals), passed)
            rows.append(_row(funnel.id, visit_id, visit, passed, max(hits[-1][0], seen_at or hits[-1][0])))
        if again:
            rows.extend(_walked_again(connection, again, goals))
        if not rows:
            return
        # In key order, so that writers in several processes lock the rows in the same order.
        rows.sort(key=lambda row: (row["funnel_id"], row["day"], row["visit_id"]))
        upsert(connection, _ROWS, ("funnel_id", "day", "visit_id"), ("visitor", "passed", "seen_at"),
               [(row["funnel_id"], row["day"], row["visit_id"], row["visitor"], row["passed"], row["seen_at"]) for row in rows],
               add=False)
        # The visitors whose visit went further than it had: each visitor of a day counts at the
        # most steps one of their visits passed (a walk never goes back: a hit more can only
        # make a visit pass as many steps or more).
        further: dict[tuple[int, date, int], int] = {}
        for row in rows:
            if row["passed"] > before[(row["funnel_id"], row["visit_id"])]:
                key = (row["funnel_id"], row["day"], row["visitor"])
                further[key] = max(further.get(key, 0), row["passed"])
        if further:
            _move_visitors(connection, further)


def _move_visitors(connection, further: dict[tuple[int, date, int], int]) -> None:
    """Record each visitor's new most steps of the day (``funnel_visitors``) and move them in
    the day's counts (``funnel_stats``): one fewer at the steps they had, one more at the new."""
    keys = sorted(further)
    known: dict[tuple[int, date, int], int] = {}
    for funnel_id, day, visitor, passed in select_keys(
        connection, _VISITORS, ("funnel_id", "day", "visitor"), ("funnel_id", "day", "visitor", "passed"), keys
    ):
        known[(funnel_id, _date(day), visitor)] = passed
    moves: dict[tuple[int, date, int], int] = defaultdict(int)
    people = []
    for key in keys:
        had, now = known.get(key, 0), further[key]
        if now <= had:
            continue
        if had:
            moves[(key[0], key[1], had)] -= 1
        moves[(key[0], key[1], now)] += 1
        people.append((*key, now))
    upsert(connection, _VISITORS, ("funnel_id", "day", "visitor"), ("passed",), people, add=False)
    upsert(connection, _STATS, ("funnel_id", "day", "passed"), ("visitors",),
           [(*key, change) for key, change in sorted(moves.items()) if change])


def _date(value) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _datetime(value) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _row(funnel_id: int, visit_id: int, visit: _Visit, passed: int, seen_at: datetime) -> dict:
    return {"funnel_id": funnel_id, "day": visit.day, "visit_id": visit_id, "visitor": visit.visitor,
            "passed": passed, "seen_at": seen_at}


def _walked_again(connection, visits: list[tuple[FunnelSteps, int, _Visit]], goals: "dict[int, SiteGoals]") -> list[dict]:
    """The rows of visits walked from all their stored hits (the batch's are stored already)."""
    h = Hit.__table__
    ids = sorted({visit_id for _, visit_id, _ in visits})
    hits: dict[int, list] = defaultdict(list)
    for chunk in _chunks(ids, 500):
        for row in connection.execute(
            select(h.c.visit_id, h.c.site_id, h.c.ts, h.c.event, h.c.path, h.c.props)
            .where(h.c.visit_id.in_(chunk))
            .order_by(h.c.visit_id, h.c.ts, h.c.id)
        ):
            hits[row.visit_id].append(row)
    rows = []
    for funnel, visit_id, visit in visits:
        stored = hits[visit_id]
        site = goals[stored[0].site_id]
        steps = [site.by_id[goal_id] for goal_id in funnel.goals]
        masks = [(hit.ts, _mask(steps, hit.event, hit.path, hit.props)) for hit in stored]
        masks = [(ts, mask) for ts, mask in masks if mask]
        rows.append(_row(funnel.id, visit_id, visit, steps_passed((m for _, m in masks), len(steps)), masks[-1][0]))
    return rows


def _mask(steps: Sequence[GoalSpec], event: str, path: str, props: dict | None) -> int:
    return sum(1 << n for n, goal in enumerate(steps) if goal.matches_hit(event, path, props))


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def rebuild_funnels(session, site_id: int, since: date) -> int:
    """Recompute the rows of a site's funnels from its visits and hits, in ``session``'s
    transaction, and mark each funnel summarized for its present definition; how many funnels.
    ``since``: the first day whose visitors are kept (:func:`~.goals.visitors_kept_since`). The
    caller has locked the site against the writers (:func:`~.goals.rebuild_goals`)."""
    funnels = list(session.scalars(select(Funnel).where(Funnel.site_id == site_id).order_by(Funnel.id)))
    if not funnels:
        return 0
    ids = [funnel.id for funnel in funnels]
    for table in (_ROWS, _STATS, _VISITORS):
        session.execute(delete(table).where(table.c.funnel_id.in_(ids)))
    goals = {goal.id: spec(goal) for goal in session.scalars(select(Goal).where(Goal.site_id == site_id))}
    for funnel in funnels:
        steps = [goals[goal_id] for goal_id in funnel.goal_ids]
        if not steps:  # its goals deleted by the database's cascade alone: nothing to count
            session.execute(update(Funnel).where(Funnel.id == funnel.id).values(summarized_key=funnel_definition(steps)))
            continue
        if session.get_bind().dialect.name == "postgresql":
            _walk_in_sql(session, site_id, funnel.id, steps, since)
        else:
            _walk_in_python(session, site_id, funnel.id, steps, since)
        # Each visitor of a day at the most steps one of their visits passed.
        r = _ROWS
        best = (
            select(r.c.funnel_id, r.c.day, r.c.visitor, func.max(r.c.passed).label("passed"))
            .where(r.c.funnel_id == funnel.id, r.c.passed >= 1)
            .group_by(r.c.funnel_id, r.c.day, r.c.visitor)
            .subquery("best")
        )
        session.execute(_STATS.insert().from_select(
            ("funnel_id", "day", "passed", "visitors"),
            select(best.c.funnel_id, best.c.day, best.c.passed, func.count()).group_by(best.c.funnel_id, best.c.day, best.c.passed),
        ))
        session.execute(_VISITORS.insert().from_select(
            ("funnel_id", "day", "visitor", "passed"),
            select(best.c.funnel_id, best.c.day, best.c.visitor, best.c.passed).where(best.c.day >= since),
        ))
        session.execute(update(Funnel).where(Funnel.id == funnel.id).values(summarized_key=funnel_definition(steps)))
    return len(funnels)


def _walk_in_sql(session, site_id: int, funnel_id: int, steps: list[GoalSpec], since: date) -> None:
    """PostgreSQL: each visit's step hits as a string, one character per hit (its steps as a
    bit mask), in order; the steps it passed found by regular expressions (the funnel report's
    way, :func:`tracking.goals.passes`); one statement."""
    h, v = Hit.__table__, Visit.__table__
    session.execute(text("SET LOCAL jit = off"))
    session.execute(text("SET LOCAL work_mem = '64MB'"))
    walk = (
        select(
            h.c.visit_id,
            func.string_agg(func.chr(BASE + step_mask(steps, h)), aggregate_order_by(literal(""), h.c.ts, h.c.id)).label("seq"),
            func.max(h.c.ts).label("seen_at"),
        )
        .where(h.c.site_id == site_id, h.c.visit_id.is_not(None), converts_on_any(steps, h))
        .group_by(h.c.visit_id)
        .subquery("walk")
    )
    count = len(steps)
    passed = case(*((~walk.c.seq.regexp_match(passes(count, n)), n - 1) for n in range(1, count + 1)), else_=count)
    walked = select(v.c.day, v.c.id, v.c.visitor, passed.label("passed"), walk.c.seen_at).join(
        v, v.c.id == walk.c.visit_id
    ).subquery("walked")
    session.execute(_ROWS.insert().from_select(
        ("funnel_id", "day", "visit_id", "visitor", "passed", "seen_at"),
        select(literal(funnel_id), *walked.c).where(or_(walked.c.passed >= 1, walked.c.day >= since)),
    ))


def _walk_in_python(session, site_id: int, funnel_id: int, steps: list[GoalSpec], since: date) -> None:
    """SQLite: each visit's step hits read in order and walked (:func:`~tracking.goals.steps_passed`)."""
    h, v = Hit.__table__, Visit.__table__
    rows = session.execute(
        select(h.c.visit_id, v.c.day, v.c.visitor, h.c.ts, h.c.event, h.c.path, h.c.props)
        .join(v, v.c.id == h.c.visit_id)
        .where(h.c.site_id == site_id, h.c.visit_id.is_not(None), converts_on_any(steps, h))
        .order_by(h.c.visit_id, h.c.ts, h.c.id)
        .execution_options(yield_per=10_000)
    )
    written = []
    for (visit_id, day, visitor), hits in groupby(rows, key=lambda row: (row[0], row[1], row[2])):
        masks = [(row.ts, _mask(steps, row.event, row.path, row.props)) for row in hits]
        passed = steps_passed((m for _, m in masks), len(steps))
        if not passed and _date(day) < since:
            continue  # kept only while a hit of the visit may still come (prune_visitors)
        written.append({"funnel_id": funnel_id, "day": day, "visit_id": visit_id, "visitor": visitor,
                        "passed": passed, "seen_at": masks[-1][0]})
        if len(written) >= 10_000:
            session.execute(_ROWS.insert(), written)
            written = []
    if written:
        session.execute(_ROWS.insert(), written)
