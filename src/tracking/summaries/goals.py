"""Goal summaries: each goal's converting visitors, conversions and revenue per local day, kept
by the hit writer batch by batch and recomputed from the raw rows when a goal changes.

The rows (``goal_stats``, ``goal_revenue``, ``goal_visitors``: :mod:`tracking.models.summaries`)
count what the goals panel shows without filters (:mod:`tracking.reports.goals` has the
counting rules), by the day the converting visits began:

* a **conversion** is a hit that converts on the goal (:meth:`~tracking.goals.GoalSpec.matches_hit`,
  the rule the SQL of :func:`~tracking.goals.hit_converts` follows); it counts on its visit's day;
* a **converting visitor** of a day is a visitor with a visit of that day that converted: the
  writer records each (goal, day, visitor) once in ``goal_visitors`` and adds one to the day's
  ``visitors`` when the row is new; those rows are kept for the last few days only
  (:data:`VISITOR_DAYS`: visitor ids are daily, no later hit can meet an older one);
* **revenue**: an event goal's conversions that carry an amount, per currency.

``goal_visits`` lists each goal's converted visits with their conversions: what the goals panel
counts under a filter, what a goal filter finds its visits by, and what puts a visit in the
goal's segment rows (``segment_stats``, ``segment`` ``goal``: :meth:`~.delta.Delta.enter_segment`).
The goal's ``goal_stats`` rows are counted from it when a goal is recounted.

``goal_pairs`` keeps, per goal, day and second goal, the visitors with a visit of the day that
converted on both (once each: ``goal_pair_visitors``, the last few days, as ``goal_visitors``)
and the second goal's conversions in the first goal's visits — a visit that converts on the first
goal brings the conversions it had of the second: what the goals panel shows under a filter by
the first goal.

Who keeps them:

* :class:`GoalDelta`: the change one batch of hits makes, applied by the store in the batch's
  transaction, under the rules of the goals as the batch reads them (:func:`batch_goals`, locked
  against deletion until the batch commits);
* :func:`rebuild_goals`: every goal row of a site recomputed from its visits and hits (and its
  funnels' rows, :func:`~.funnels.rebuild_funnels`), with the site locked against the writers (``FOR UPDATE`` against the key-share lock each batch takes:
  no batch of the site commits in between); each goal is then marked summarized for the rules it
  was recomputed with (``summarized_version``). It runs as a ``goals`` job of the writer
  (:mod:`.jobs`) when a goal is added or its rules change, and within every rebuild of the site.

A goal's rows are read only while it is summarized for its present rules: a new or changed goal
is counted from the raw rows until its job is done, never from rows of other rules.
"""

import functools
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, and_, case, delete, func, literal, or_, select, text, union_all, update
from sqlalchemy.dialects import sqlite

from ..goals import GoalSpec, hit_converts, path_matcher, spec
from ..models import (
    FunnelVisit,
    FunnelVisitor,
    Goal,
    GoalPair,
    GoalPairVisitor,
    GoalRevenue,
    GoalStat,
    GoalVisit,
    GoalVisitor,
    Hit,
    Site,
    Visit,
)
from ..models.summaries import SPLIT
from ..models.types import AMOUNT_DECIMALS, driver_cursor, postgresql_array, utcnow
from .counting import count_goal_segments
from .funnels import rebuild_funnels
from .rows import upsert

#: Days of converting visitors kept to count each visitor once as new hits come
#: (:func:`visitors_kept_since`): visitor ids are daily, a local day spans two UTC days.
VISITOR_DAYS = 3

_STATS = cast(Table, GoalStat.__table__)
_REVENUE = cast(Table, GoalRevenue.__table__)
_VISITORS = cast(Table, GoalVisitor.__table__)
_GOAL_VISITS = cast(Table, GoalVisit.__table__)
_PAIRS = cast(Table, GoalPair.__table__)
_PAIR_VISITORS = cast(Table, GoalPairVisitor.__table__)


class SiteGoals:
    """A site's goals, indexed for testing hits: event goals by their event's name, page goals
    without a wildcard by their path, the others one after the other."""

    def __init__(self, goals: list[GoalSpec]) -> None:
        self.by_id = {goal.id: goal for goal in goals}
        self.by_event: dict[str, list[GoalSpec]] = defaultdict(list)
        self.by_path: dict[str, list[GoalSpec]] = defaultdict(list)
        self.patterns: list[tuple[GoalSpec, Callable[[str], bool]]] = []
        for goal in goals:
            if goal.kind == "event":
                self.by_event[goal.event].append(goal)
            elif goal.exact:
                self.by_path[goal.pattern].append(goal)
            else:
                self.patterns.append((goal, path_matcher(goal.pattern)))

    def converting(self, event: str, path: str, props: dict | None) -> list[GoalSpec]:
        """The goals a hit converts on."""
        if event == "pageview":
            found = self.by_path.get(path, [])
            matched = [goal for goal, matches in self.patterns if matches(path)]
            return found + matched if matched else found
        return [goal for goal in self.by_event.get(event, ()) if goal.matches_hit(event, path, props)]


def batch_goals(connection, site_ids: list[int]) -> dict[int, SiteGoals]:
    """The goals of some sites (those that have any), locked against deletion (key share, on
    PostgreSQL) until the transaction ends: a goal deleted meanwhile is deleted after the batch,
    with the rows it added."""
    query = select(Goal).where(Goal.site_id.in_(site_ids)).order_by(Goal.id).with_for_update(read=True, key_share=True)
    found: dict[int, list[GoalSpec]] = defaultdict(list)
    for row in connection.execute(query.with_only_columns(*Goal.__table__.c)):
        found[row.site_id].append(spec(row))
    return {site_id: SiteGoals(goals) for site_id, goals in found.items()}


def _parts(amount: Decimal) -> tuple[int, int]:
    """An amount as (high, low): whole ten-thousandths = high × SPLIT + low."""
    units = int(amount.scaleb(AMOUNT_DECIMALS).to_integral_exact())
    return divmod(units, SPLIT)


class GoalDelta:
    """The changes a batch makes to the goal rows, applied in one statement per table."""

    def __init__(self) -> None:
        self.conversions: dict[tuple[int, int, date], int] = defaultdict(int)
        #: (site, goal, day, visitor, visit) → conversions: the rows of ``goal_visits``
        self.visits: dict[tuple[int, int, date, int, int], int] = defaultdict(int)
        self.revenue: dict[tuple[int, int, date, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        self.visitors: set[tuple[int, int, date, int]] = set()
        #: visit → goal → conversions: what the batch's continued visits had converted on before
        #: it (read with their segments by the writer: :func:`tracking.ingest.visits.assign_visits`).
        self.before: dict[int, dict[int, int]] = defaultdict(dict)

    def add(self, site_id: int, day: date, visitor: int, visit_id: int, goal: GoalSpec, currency: str | None,
            amount: Decimal | None) -> None:
        """A hit of visit ``visit_id`` of ``day`` by ``visitor`` that converts on ``goal``."""
        self.conversions[(site_id, goal.id, day)] += 1
        self.visits[(site_id, goal.id, day, visitor, visit_id)] += 1
        self.visitors.add((site_id, goal.id, day, visitor))
        if goal.kind == "event" and currency is not None and amount is not None:
            high, low = _parts(Decimal(amount))
            row = self.revenue[(site_id, goal.id, day, currency)]
            row[0] += high
            row[1] += low
            row[2] += 1

    def apply(self, connection) -> None:
        """Record the visitors (the new ones add to their day's count), then add the counts.
        Rows go in key order, so that writers in several processes lock them in the same order."""
        if not self.conversions:
            return
        pairs, pair_people = self._pairs()
        new: dict[tuple[int, int, date], int] = defaultdict(int)
        for site_id, goal_id, day in _insert_new(connection, _VISITORS, self.visitors):
            new[(site_id, goal_id, day)] += 1
        stats = [(*key, new.get(key, 0), count) for key, count in sorted(self.conversions.items())]
        upsert(connection, _STATS, ("site_id", "goal_id", "day"), ("visitors", "conversions"), stats)
        revenue = [(*key, high, low, count) for key, (high, low, count) in sorted(self.revenue.items())]
        upsert(connection, _REVENUE, ("site_id", "goal_id", "day", "currency"), ("high", "low", "count"), revenue)
        upsert(connection, _GOAL_VISITS, ("site_id", "goal_id", "day", "visitor", "visit_id"), ("conversions",),
               [(*key, count) for key, count in sorted(self.visits.items())])
        if pairs:
            paired: dict[tuple[int, int, date, int], int] = defaultdict(int)
            # A visitor of a pair is one of both its orders (kept once, the lower goal first).
            for site_id, goal_id, paired_id, day in _insert_new(connection, _PAIR_VISITORS, pair_people):
                paired[(site_id, goal_id, day, paired_id)] += 1
                paired[(site_id, paired_id, day, goal_id)] += 1
            upsert(connection, _PAIRS, ("site_id", "goal_id", "day", "paired_id"), ("visitors", "conversions"),
                   [(*key, paired.get(key, 0), pairs.get(key, 0)) for key in sorted(pairs.keys() | paired.keys())])

    def _pairs(self) -> tuple[dict[tuple[int, int, date, int], int], set[tuple[int, int, int, date, int]]]:
        """The batch's additions to ``goal_pairs``: per (site, goal, day, second goal), the second
        goal's conversions that now count in the first goal's visits — this batch's, and, for a
        visit that converted on the first goal in this batch, those it had before; and the
        (site, goal, second goal, day, visitor) of the visits that converted on both for the
        first time in this batch, the lower goal first (counted once each, by
        :func:`_insert_new`, for both orders)."""
        batch: dict[int, tuple[int, date, int, dict[int, int]]] = {}
        for (site_id, goal_id, day, visitor, visit_id), count in self.visits.items():
            batch.setdefault(visit_id, (site_id, day, visitor, {}))[3][goal_id] = count
        pairs: dict[tuple[int, int, date, int], int] = defaultdict(int)
        people: set[tuple[int, int, int, date, int]] = set()
        for visit_id, (site_id, day, visitor, added) in batch.items():
            before = self.before.get(visit_id, {})
            goals = before.keys() | added.keys()
            if len(goals) < 2:
                continue
            for goal_id in goals:
                for paired_id in goals:
                    if paired_id == goal_id:
                        continue
                    count = added.get(paired_id, 0)
                    if goal_id not in before:  # the visit joins the goal's: with what it had
                        count += before.get(paired_id, 0)
                    if goal_id < paired_id and (goal_id not in before or paired_id not in before):
                        people.add((site_id, goal_id, paired_id, day, visitor))
                    if count:
                        pairs[(site_id, goal_id, day, paired_id)] += count
        return pairs, people


def _insert_new(connection, table: Table, rows: set[tuple]) -> list[tuple]:
    """Insert the rows of ``table`` (its whole primary key) that are new; the new ones' keys but
    the last column (the visitor) come back: one statement, in key order."""
    names = tuple(table.primary_key.columns.keys())
    ordered = sorted(rows)
    if not ordered:
        return []
    if connection.dialect.name == "postgresql":
        # Arrays, one per column, unnested by the server (as the daily summaries' upsert).
        sql = _new_rows_unnested(table)
        with driver_cursor(connection, sql) as cursor:
            cursor.execute(sql, tuple(list(column) for column in zip(*ordered, strict=True)))
            return cursor.fetchall()
    return list(connection.execute(_new_rows(table), [dict(zip(names, row, strict=True)) for row in ordered]))


@functools.cache
def _new_rows(table: Table):
    """SQLite: insert the rows that are new, returning their keys but the last (one statement,
    its rows sent in pages: SQLAlchemy's "insertmanyvalues")."""
    returned = list(table.primary_key.columns)[:-1]
    return sqlite.insert(table).on_conflict_do_nothing().returning(*returned)


@functools.cache
def _new_rows_unnested(table: Table) -> str:
    """PostgreSQL: the same, the rows given as one array per column (binary parameters)."""
    names = list(table.primary_key.columns.keys())
    arrays = ", ".join(f"CAST(%b AS {postgresql_array(table.c[name])})" for name in names)
    return (f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays})"
            f" ON CONFLICT DO NOTHING RETURNING {', '.join(names[:-1])}")


def goal_matches(goals: dict[int, SiteGoals], batch) -> list[list[GoalSpec]]:
    """The goals each hit of a batch converts on (none for a bot's hit: it has no visit)."""
    found: list[list[GoalSpec]] = []
    for hit in batch:
        site = goals.get(hit.site_id)
        found.append(site.converting(hit.event, hit.path, hit.props) if site is not None and not hit.bot else [])
    return found


def record_conversions(delta: GoalDelta, batch, visitors: list[int], visit_ids: list[int | None],
                       days: list[date | None], converting: list[list[GoalSpec]]) -> None:
    """Add the conversions among a batch's hits (``days``: each hit's visit's day, ``None``
    for a bot's hit, which converts nothing; ``converting``: the goals each converts on)."""
    for hit, visitor, visit_id, day, found in zip(batch, visitors, visit_ids, days, converting, strict=True):
        if day is None or visit_id is None:
            continue
        for goal in found:
            delta.add(hit.site_id, day, visitor, visit_id, goal, hit.revenue_currency, hit.revenue_amount)


def visitors_kept_since(today: date) -> date:
    """The first local day whose converting visitors are kept in ``goal_visitors`` when the UTC
    day is ``today``: visitor ids are salted per UTC day (``tracking.ingest.store``), so only the
    visits of the last days can still be joined by a visitor already counted; older rows are
    deleted (:func:`prune_visitors`), their day's count stays in ``goal_stats``."""
    return today - timedelta(days=VISITOR_DAYS)


def prune_visitors(connection, today: date) -> None:
    """Delete the ``goal_visitors`` and ``funnel_visitors`` rows no new hit can meet again (see
    :func:`visitors_kept_since`), and the ``funnel_visits`` rows of such visits that passed no
    step (kept only for a hit that might still come: a later step's hits, waiting for a first
    step that arrives late)."""
    since = visitors_kept_since(today)
    for table in (_VISITORS, _PAIR_VISITORS, cast(Table, FunnelVisitor.__table__)):
        connection.execute(delete(table).where(table.c.day < since))
    walks = cast(Table, FunnelVisit.__table__)
    connection.execute(delete(walks).where(walks.c.day < since, walks.c.passed == 0))


def rebuild_goals(session, site_id: int, *, today: date | None = None) -> int:
    """Recompute the goal rows of a site from its visits and hits, in ``session``'s transaction,
    and mark its goals summarized for their present rules; how many goals. ``today``: the UTC
    day, for the visitors kept (:func:`visitors_kept_since`).

    The site is locked first (on SQLite the transaction holds the write lock): no batch of its
    hits commits until this transaction does, and every batch that committed before is counted."""
    session.execute(select(Site.id).where(Site.id == site_id).with_for_update())
    goals = list(session.scalars(select(Goal).where(Goal.site_id == site_id).order_by(Goal.id)))
    for table in (_VISITORS, _STATS, _REVENUE, _GOAL_VISITS, _PAIRS, _PAIR_VISITORS):
        session.execute(delete(table).where(table.c.site_id == site_id))
    if not goals:
        count_goal_segments(session, site_id)
        return 0
    specs = [spec(goal) for goal in goals]
    v = Visit.__table__
    h = Hit.__table__
    # The visits that converted and their conversions (the converting hits), per goal: one pass
    # over the converting hits, grouped by visit; a visit's conversions count on its day.
    converts = [hit_converts(goal, h) for goal in specs]
    per_visit = select(
        v.c.id, v.c.day, v.c.visitor,
        *(func.sum(case((condition, 1), else_=0)).label(f"c{index}") for index, condition in enumerate(converts)),
    ).select_from(h.join(v, v.c.id == h.c.visit_id)).where(h.c.site_id == site_id, or_(*converts)).group_by(
        v.c.id, v.c.day, v.c.visitor
    ).cte("per_visit").prefix_with("MATERIALIZED")
    gv = _GOAL_VISITS
    session.execute(gv.insert().from_select(("site_id", "goal_id", "day", "visitor", "visit_id", "conversions"), union_all(*(
        select(literal(site_id), literal(goal.id), per_visit.c.day, per_visit.c.visitor, per_visit.c.id,
               per_visit.c[f"c{index}"]).where(per_visit.c[f"c{index}"] > 0)
        for index, goal in enumerate(specs)
    ))))
    # Per goal and day: the distinct visitors of its visits, and their conversions.
    stats = [
        {"site_id": site_id, "goal_id": goal_id, "day": _date(on), "visitors": int(visitors), "conversions": int(conversions)}
        for goal_id, on, visitors, conversions in session.execute(
            select(gv.c.goal_id, gv.c.day, func.count(func.distinct(gv.c.visitor)), func.sum(gv.c.conversions))
            .where(gv.c.site_id == site_id).group_by(gv.c.goal_id, gv.c.day).order_by(gv.c.goal_id, gv.c.day)
        )
    ]
    if stats:
        session.execute(_STATS.insert(), stats)
    # Who converted on the days new hits may still come to.
    since = visitors_kept_since(today or utcnow().date())
    session.execute(_VISITORS.insert().from_select(
        ("site_id", "goal_id", "day", "visitor"),
        select(gv.c.site_id, gv.c.goal_id, gv.c.day, gv.c.visitor).where(gv.c.site_id == site_id, gv.c.day >= since)
        .distinct(),
    ))
    _count_pairs(session, site_id, since)
    day = v.c.day
    priced = [(goal, condition) for goal, condition in zip(specs, converts, strict=True) if goal.kind == "event"]
    if priced:
        amounts = select(
            day, h.c.revenue_currency, h.c.revenue_amount, *(condition for _, condition in priced)
        ).select_from(h.join(v, v.c.id == h.c.visit_id)).where(
            h.c.site_id == site_id, h.c.revenue_currency.is_not(None), h.c.revenue_amount.is_not(None),
            or_(*(condition for _, condition in priced)),
        )
        delta = GoalDelta()
        for row in session.execute(amounts):
            for (goal, _), converted in zip(priced, row[3:], strict=True):
                if converted:
                    high, low = _parts(Decimal(row[2]))
                    found = delta.revenue[(site_id, goal.id, row[0], row[1])]
                    found[0] += high
                    found[1] += low
                    found[2] += 1
        rows = [
            {"site_id": key[0], "goal_id": key[1], "day": key[2], "currency": key[3], "high": high, "low": low,
             "count": count}
            for key, (high, low, count) in sorted(delta.revenue.items())
        ]
        if rows:
            session.execute(_REVENUE.insert(), rows)
    # The rules as read above: a goal changed since is not summarized (its own job follows).
    for goal in goals:
        session.execute(update(Goal).where(Goal.id == goal.id).values(summarized_version=goal.rules_version))
    # The goals' segment rows, from their visits; the funnels' rows, on the same locked site
    # (their steps are goals).
    count_goal_segments(session, site_id)
    rebuild_funnels(session, site_id, since)
    if session.get_bind().dialect.name == "postgresql":
        # Fresh statistics for the planner: a first count fills the list of converted visits
        # from nothing (millions of rows), and a goal filter's statements read it by them.
        # So do its segment rows, rewritten: with stale statistics a goal filter over a year
        # expected one row of them, and sorted its 260,000 on disk (0.45 s) where it hashes.
        for name in ("goal_visits", "goal_pairs", "segment_stats"):
            session.execute(text(f"ANALYZE {name}"))
    return len(goals)


def _count_pairs(session, site_id: int, since: date) -> None:
    """The site's ``goal_pairs`` from its ``goal_visits``: the visits listed for two goals, per
    day; and the pairs' visitors of the days new hits may still come to."""
    one, other = _GOAL_VISITS.alias("one"), _GOAL_VISITS.alias("other")
    both = one.join(other, and_(other.c.site_id == one.c.site_id, other.c.visit_id == one.c.visit_id,
                                other.c.goal_id != one.c.goal_id))
    session.execute(_PAIRS.insert().from_select(
        ("site_id", "goal_id", "day", "paired_id", "visitors", "conversions"),
        select(one.c.site_id, one.c.goal_id, one.c.day, other.c.goal_id, func.count(func.distinct(one.c.visitor)),
               func.sum(other.c.conversions))
        .select_from(both).where(one.c.site_id == site_id)
        .group_by(one.c.site_id, one.c.goal_id, one.c.day, other.c.goal_id),
    ))
    session.execute(_PAIR_VISITORS.insert().from_select(
        ("site_id", "goal_id", "paired_id", "day", "visitor"),
        select(one.c.site_id, one.c.goal_id, other.c.goal_id, one.c.day, one.c.visitor).select_from(both)
        .where(one.c.site_id == site_id, one.c.day >= since, one.c.goal_id < other.c.goal_id).distinct(),
    ))


def _date(value) -> date:
    """A day as SQLite gives it through ``UNION ALL`` (text) or as a date."""
    return date.fromisoformat(value) if isinstance(value, str) else value
