"""Hits into visits: a visitor's hits less than 30 minutes apart form one visit.

For each batch the hit writer (:mod:`.store`) reads the visits of its visitors from the database
(row locks on PostgreSQL; on SQLite the database's write lock, taken at BEGIN), so several server
processes continue each other's visits; two processes seeing a brand-new visitor within the same
instant may each open one. :func:`assign_visits` opens and extends visits and records their
changes in the batch's summary :class:`~tracking.summaries.delta.Delta`, and tells each hit that
is its visitor's first view of its page (or first event of its name) that day, from the pages and
events their visits list;
:func:`record_engagements` stores the measurements of page views that Plausible's tracker sends
after them (time on page, scroll depth), which extend a visit and count nothing.
"""

import json
from collections.abc import Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Integer,
    and_,
    any_,
    bindparam,
    func,
    select,
    text,
)

from ..models import Engagement, GoalVisit, Hit, Visit
from ..models.hits import listed_values, listing
from ..summaries.delta import Delta, visit_counts
from ..summaries.dimensions import GOAL, VISIT_DIMENSIONS
from .pipeline import EnrichedHit
from .statements import Statement

if TYPE_CHECKING:
    from ..goals import GoalSpec
    from ..summaries.goals import GoalDelta

VISIT_GAP = timedelta(minutes=30)

_V = Visit.__table__
#: Visit dimensions, in the order of their columns after ``_VISIT_COLUMNS``' first eleven.
_DIMS = tuple(VISIT_DIMENSIONS)
_VISIT_COLUMNS = (_V.c.id, _V.c.site_id, _V.c.visitor, _V.c.day, _V.c.is_first, _V.c.started_at, _V.c.ended_at,
                  _V.c.pageviews, _V.c.events, _V.c.pages, _V.c.event_names,
                  *(_V.c[column] for column in VISIT_DIMENSIONS.values()))


class _State:
    """A visit as this batch leaves it; for a visit read from the database, also its
    counts and exit page before the batch (``before``, ``before_exit``). ``pages`` and
    ``names``: the paths it viewed and the events it sent, in the order first seen."""

    __slots__ = ("id", "site_id", "visitor", "day", "is_first", "started", "last", "attrs", "pageviews", "events",
                 "before", "before_exit", "pages", "names", "members", "members_before")

    def __init__(self, id, site_id, visitor, day, is_first, started, last, attrs, pageviews=0, events=0,
                 pages=(), names=()):
        self.id = id
        self.site_id = site_id
        self.visitor = visitor
        self.day = day
        self.is_first = is_first
        self.started = started
        self.last = last
        self.attrs = attrs
        self.pageviews = pageviews
        self.events = events
        self.before = None if id is None else self.counts()
        self.before_exit = None if id is None else attrs["exit"]
        self.pages = dict.fromkeys(pages)
        self.names = dict.fromkeys(names)
        #: The segments it joined at a hit (:func:`_enter_segments`), and those before the batch
        #: (:func:`_known_members`).
        self.members: set[tuple[str, str]] = set()
        self.members_before: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def from_row(cls, row) -> "_State":
        return cls(row[0], row[1], row[2], row[3], row[4], row[5], row[6], dict(zip(_DIMS, row[11:], strict=True)),
                   row[7], row[8], listed_values(row[9]), listed_values(row[10]))

    @property
    def duration(self) -> int:
        return int((self.last - self.started).total_seconds())

    def counts(self) -> tuple[int, ...]:
        return visit_counts(self.is_first, self.pageviews, self.events, self.duration)

    def row(self) -> tuple:
        """The values of ``_VISIT_FIELDS``."""
        return (
            self.id, self.site_id, self.visitor, self.day, self.is_first, self.started, self.last, self.pageviews,
            self.events, listing(self.pages), listing(self.names), *(self.attrs[dim] for dim in _DIMS), self.duration,
        )


def _attrs(hit: EnrichedHit) -> dict[str, str]:
    """A new visit's dimensions: those of its first hit."""
    return {dim: hit.path if dim in ("entry", "exit") else getattr(hit, column) for dim, column in VISIT_DIMENSIONS.items()}


_VISIT_FIELDS = tuple(c.name for c in _VISIT_COLUMNS) + ("duration",)
INSERT_VISITS = Statement(_V, _VISIT_FIELDS)
UPDATE_VISITS = Statement(_V, ("ended_at", "exit_path", "pageviews", "events", "duration", "pages", "event_names"),
                          key="id")


def assign_visits(
    connection, batch: list[EnrichedHit], visitors: list[int], delta: Delta,
    converting: "list[list[GoalSpec]] | None" = None, conversions: "GoalDelta | None" = None,
) -> tuple[list[int | None], list[bool], list[date | None], list[dict[str, str] | None],
           list[frozenset[tuple[str, str]]]]:
    """The visit id of each hit (``None`` for bots), opening and extending visits; whether
    each hit is its visitor's first page view of its path (first event of its name) today;
    the day its visit began (``None`` for bots: the day a conversion counts on); and its
    visit's dimensions (``None`` for bots: the segments its summaries count in); and the
    segments its visit joined at a hit, this batch's included (``converting``: the goals each
    hit converts on, ``None`` when the batch's sites have none; the chosen pages and events,
    from ``delta.values``).

    A visit that converts on a goal, views a chosen page or sends a chosen event for the first
    time joins that segment with everything it counted before (:func:`_enter_segments`).

    The visitors' visits are read from the database (locked on PostgreSQL, so that server
    processes extending the same visit take turns; on SQLite the writer's transaction holds
    the database's write lock); visitor ids change daily, so that is every visit they had
    today, and any at all means this is not their first visit today. The pages and events
    those visits list are what the visitor has already seen today: a hit is a first when
    none of them, nor an earlier hit of the batch, has its path (its event's name).
    """
    people = [(i, hit) for i, hit in enumerate(batch) if not hit.bot]
    result: list[int | None] = [None] * len(batch)
    firsts = [False] * len(batch)
    days: list[date | None] = [None] * len(batch)
    attrs: list[dict[str, str] | None] = [None] * len(batch)
    members: list[frozenset[tuple[str, str]]] = [frozenset()] * len(batch)
    if not people:
        return result, firsts, days, attrs, members
    keys = {(hit.site_id, visitors[i]) for i, hit in people}
    postgresql = connection.dialect.name == "postgresql"
    current: dict[tuple[int, int], _State] = {}
    #: Per visitor: the paths viewed (``("pageview", path)``) and events sent (``(name, "")``) today.
    already: dict[tuple[int, int], set[tuple[str, str]]] = {}
    #: Per (site, visitor, day): the chosen pages and events its visits listed (:func:`_enter_segments`).
    joined: dict[tuple[int, int, date], set[tuple[str, str]]] = {}
    for row in connection.execute(_VISITS_OF[postgresql], _visitor_parameters(postgresql, keys)).all():
        key = (row[1], row[2])  # rows come by ended_at: the last visit of each visitor wins
        if key in keys:
            visit = current[key] = _State.from_row(row)
            viewed = already.setdefault(key, set())
            viewed.update(("pageview", path) for path in visit.pages)
            viewed.update((name, "") for name in visit.names)
            joined.setdefault((visit.site_id, visit.visitor, visit.day), set()).update(
                _listed_members(visit, delta.values.get(visit.site_id)))
    _known_members(connection, current.values(), delta, converting is not None, conversions)
    seen = set(current)

    new: list[_State] = []
    assigned: list[tuple[int, _State]] = []
    for i, hit in sorted(people, key=lambda item: item[1].ts):
        key = (hit.site_id, visitors[i])
        state = current.get(key)
        if state is None or hit.ts - state.last > VISIT_GAP:
            state = _State(None, hit.site_id, visitors[i], hit.day, key not in seen, hit.ts, hit.ts, _attrs(hit))
            seen.add(key)
            current[key] = state
            new.append(state)
        known = already.get(key)
        if known is None:
            known = already[key] = set()
        if hit.event == "pageview":
            state.pageviews += 1
            state.pages[hit.path] = None
            if hit.ts >= state.last:
                state.attrs["exit"] = hit.path
            first_key = ("pageview", hit.path)
        else:
            state.events += 1
            state.names[hit.event] = None
            first_key = (hit.event, "")
        if first_key not in known:
            known.add(first_key)
            firsts[i] = True
        if hit.ts > state.last:
            state.last = hit.ts
        if converting is not None and converting[i]:
            state.members.update((GOAL, str(goal.id)) for goal in converting[i])
        chosen = delta.values.get(hit.site_id)
        if chosen:
            segment, value = ("page", hit.path) if hit.event == "pageview" else ("event", hit.event)
            if value in chosen.get(segment, ()):
                state.members.add((segment, value))
        assigned.append((i, state))

    if new:
        for state, new_id in zip(new, _reserve_visit_ids(connection, postgresql, len(new)), strict=True):
            state.id = new_id
        # Ids chosen here: a plain executemany, cheaper than RETURNING row by row.
        INSERT_VISITS.executemany(connection, [state.row() for state in new])
    extended = list({state.id: state for _, state in assigned if state.before is not None}.values())
    UPDATE_VISITS.executemany(
        connection,
        [(s.last, s.attrs["exit"], s.pageviews, s.events, s.duration, listing(s.pages), listing(s.names), s.id)
         for s in extended],
    )
    for state in new:
        delta.add_visit(state.site_id, state.day, state.attrs, state.counts())
        delta.add_visit_start(state.site_id, state.started, state.is_first)
    #: Visits whose exit page left a chosen one's rows or joined one's: their earlier hits move too.
    moved: dict[int, tuple[_State, list[tuple[tuple[str, str], int]]]] = {}
    for state in extended:
        moves = delta.change_visit(state.site_id, state.day, state.attrs, state.before, state.before_exit,
                                   state.counts(), state.members_before)
        if moves:
            moved[state.id] = (state, moves)
    _enter_segments(connection, [state for state in {id(s): s for _, s in assigned}.values()
                                 if state.members != state.members_before], delta, joined, moved)
    for i, state in assigned:
        result[i] = state.id
        days[i] = state.day
        attrs[i] = state.attrs
        members[i] = frozenset(state.members)
    return result, firsts, days, attrs, members


_GV = GoalVisit.__table__


def _in_array(postgresql: bool, column, name: str):
    """``column`` is one of the values of the array parameter ``name``: one parameter however
    many values (see :func:`_visitors_in`)."""
    if postgresql:
        return column == any_(bindparam(name, type_=ARRAY(BigInteger)))
    return column.in_(_json_values(name))


def _array(postgresql: bool, values) -> list | str:
    values = sorted(values)
    return values if postgresql else json.dumps(values)


def _listed_members(state: _State, chosen: dict[str, frozenset[str]] | None) -> frozenset[tuple[str, str]]:
    """The chosen pages and events (:mod:`~tracking.summaries.segments`) a visit lists."""
    if not chosen:
        return frozenset()
    pages, events = chosen.get("page", frozenset()), chosen.get("event", frozenset())
    return frozenset([*(("page", path) for path in state.pages if path in pages),
                      *(("event", name) for name in state.names if name in events)])


def _known_members(connection, states: Iterable[_State], delta: Delta, goals: bool,
                   conversions: "GoalDelta | None" = None) -> None:
    """The segments the visits of the database had joined at a hit (``members_before``, and
    ``members`` until the batch adds to them): the chosen pages and events they list and, when
    their sites have ``goals``, the goals they converted on (``goal_visits``), whose
    conversions so far ``conversions`` (the batch's goal rows) keeps for its goal pairs."""
    by_id = {state.id: state for state in states}
    for state in by_id.values():
        state.members.update(_listed_members(state, delta.values.get(state.site_id)))
    if goals and by_id:
        postgresql = connection.dialect.name == "postgresql"
        for visit_id, goal_id, count in connection.execute(_GOALS_OF[postgresql], {"ids": _array(postgresql, by_id)}):
            by_id[visit_id].members.add((GOAL, str(goal_id)))
            if conversions is not None:
                conversions.before[visit_id][goal_id] = count
    for state in by_id.values():
        state.members_before = frozenset(state.members)


def _enter_segments(connection, states: list[_State], delta: Delta,
                    joined: dict[tuple[int, int, date], set[tuple[str, str]]],
                    moved: dict[int, tuple[_State, list[tuple[tuple[str, str], int]]]]) -> None:
    """Visits that joined segments at a hit in this batch — converted on a goal (``goal_visits``
    gets them with their conversions: :class:`~tracking.summaries.goals.GoalDelta`), viewed a
    chosen page, sent a chosen event: their contribution so far added to those segments. The
    visit's counts, its visitor counted at the visitor's first visit of the day to join (as the
    raw rows count a visitor under a goal, page or event filter: by the goals' list, or by the
    pages and events the visitor's visits of the day list, ``joined``); and, for a visit
    continued from an earlier batch, the hits it had (read back; this batch's hits follow in
    :meth:`Delta.add_hit`). And the visits whose exit page ``moved`` between chosen ones'
    rows (:meth:`Delta.change_visit` moved their counts): their earlier hits, taken back from
    the former's rows (sign -1) and added to the new one's (+1)."""
    replays = {visit_id: (state, list(moves)) for visit_id, (state, moves) in moved.items()}
    if not states and not replays:
        return
    entering = sorted(((state, member) for state in states for member in state.members - state.members_before),
                      key=lambda pair: (pair[0].started, pair[0].id, pair[1]))
    goals = {(state.site_id, int(value), state.day, state.visitor) for state, (segment, value) in entering
             if segment == GOAL}
    postgresql = connection.dialect.name == "postgresql"
    counted = set()
    if goals:
        parameters = {"sites": _array(postgresql, {key[0] for key in goals}),
                      "goals": _array(postgresql, {key[1] for key in goals}),
                      "visitors": _array(postgresql, {key[3] for key in goals})}
        for site_id, goal_id, day, visitor in connection.execute(_CONVERTED[postgresql], parameters):
            if (site_id, goal_id, day, visitor) in goals:  # the statement's rows are a superset
                counted.add((site_id, visitor, day, (GOAL, str(goal_id))))
    for state, member in entering:
        key = (state.site_id, state.visitor, state.day, member)
        first = key not in counted and member not in joined.get((state.site_id, state.visitor, state.day), ())
        visitors, *rest = state.counts()
        delta.enter_segment(state.site_id, state.day, state.attrs, (1 if first else 0, *rest), member)
        counted.add(key)
    for state in states:
        if state.before is not None:
            replays.setdefault(state.id, (state, []))[1].extend(
                (member, 1) for member in state.members - state.members_before)
    if replays:
        for visit_id, day, event, path, props, is_first in connection.execute(
            _PRIOR_HITS[postgresql], {"ids": _array(postgresql, replays)}
        ):
            state, moves = replays[visit_id]
            for segment, sign in moves:
                delta.add_segment_hit(state.site_id, segment, day, event, path, props, is_first, sign)


#: The stored measurements of page views (:func:`record_engagements`).
INSERT_ENGAGEMENTS = Statement(Engagement.__table__, ("site_id", "visit_id", "ts", "path", "engaged_ms", "scroll_depth"))


def record_engagements(connection, engagements: list[EnrichedHit], visitors: list[int], delta: Delta,
                       goals: bool = False) -> int:
    """Store the engagements (Plausible's tracker: how long a page was engaged, how far it was
    scrolled) as measurements of their visits' page views, and let each keep its visit going;
    how many were stored.

    An engagement is not a hit: it counts no page view, event, visit or visitor. It belongs to
    its visitor's last visit, if that visit was still going when the engaged time began: its
    last activity at most 30 minutes before the engagement's arrival less its engaged time. It
    is activity: the visit lasts until it arrived (its duration, in the visit row and the
    summaries, now covers the time on its last page, which a page view alone leaves at zero).
    Its exit page, counts and bounce do not change. An engagement without such a visit (its
    page view was a bot's, or was never sent, or its visit is over) is not stored; so is one
    that another server process's writer stores before its page view is committed (the
    script reports after the page was engaged or scrolled: rarely within the writers' fraction
    of a second), and one in the same batch as a later page view that opens a new visit.
    ``goals``: whether the sites have goals, whose segments a longer visit changes too.
    """
    keys = {(hit.site_id, visitors[i]) for i, hit in enumerate(engagements) if not hit.bot}
    if not keys:
        return 0
    postgresql = connection.dialect.name == "postgresql"
    current: dict[tuple[int, int], _State] = {}
    for row in connection.execute(_VISITS_OF[postgresql], _visitor_parameters(postgresql, keys)).all():
        key = (row[1], row[2])  # rows come by ended_at: the last visit of each visitor wins
        if key in keys:
            current[key] = _State.from_row(row)
    rows = []
    extended: dict[int, _State] = {}
    for i in sorted(range(len(engagements)), key=lambda i: engagements[i].ts):
        hit = engagements[i]
        state = current.get((hit.site_id, visitors[i]))
        if (hit.bot or state is None or hit.ts < state.started
                or hit.ts - timedelta(milliseconds=hit.engaged_ms or 0) - state.last > VISIT_GAP):
            continue
        if hit.ts > state.last:
            state.last = hit.ts
            extended[state.id] = state
        rows.append((hit.site_id, state.id, hit.ts, hit.path, hit.engaged_ms, hit.scroll_depth))
    UPDATE_VISITS.executemany(
        connection,
        [(s.last, s.attrs["exit"], s.pageviews, s.events, s.duration, listing(s.pages), listing(s.names), s.id)
         for s in extended.values()],
    )
    _known_members(connection, extended.values(), delta, goals)
    for state in extended.values():
        delta.change_visit(state.site_id, state.day, state.attrs, state.before, state.before_exit, state.counts(),
                           state.members_before)
    INSERT_ENGAGEMENTS.executemany(connection, rows)
    return len(rows)


_RESERVE_VISIT_IDS = text("SELECT nextval(pg_get_serial_sequence('visits', 'id')) FROM generate_series(1, :n)")
_LAST_VISIT_ID = select(func.coalesce(func.max(_V.c.id), 0))


def _reserve_visit_ids(connection, postgresql: bool, n: int) -> list[int]:
    """``n`` unused visit ids, in one round trip.

    PostgreSQL: from the table's sequence. SQLite: the ids after the largest one, which is what
    SQLite itself would assign (``INTEGER PRIMARY KEY`` without ``AUTOINCREMENT``). Safe across
    processes because the writer's transaction holds the write lock from ``BEGIN IMMEDIATE``;
    in a deferred transaction another process's commit after this read makes the insert fail
    (stale snapshot, or a duplicate key) rather than reuse an id.
    """
    if postgresql:
        return connection.scalars(_RESERVE_VISIT_IDS, {"n": n}).all()
    last = connection.scalar(_LAST_VISIT_ID)
    return list(range(last + 1, last + 1 + n))


def _json_values(name: str):
    """The values of a JSON array parameter, as a one-column subquery (SQLite)."""
    return select(func.json_each(bindparam(name)).table_valued("value").c.value).scalar_subquery()


def _visitors_in(postgresql: bool, table):
    """Rows of the (site, visitor) pairs given by :func:`_visitor_parameters`: a superset the
    caller narrows down. Two parameters whatever the batch: thousands of separate ones make
    compiling the statement and the driver's query parsing the writer's main cost."""
    if postgresql:
        return and_(
            table.c.site_id == any_(bindparam("sites", type_=ARRAY(Integer))),
            table.c.visitor == any_(bindparam("visitors", type_=ARRAY(BigInteger))),
        )
    return and_(table.c.site_id.in_(_json_values("sites")), table.c.visitor.in_(_json_values("visitors")))


def _visitor_parameters(postgresql: bool, keys: set[tuple[int, int]]) -> dict:
    sites = sorted({site for site, _ in keys})
    visitors = [visitor for _, visitor in keys]
    if postgresql:
        return {"sites": sites, "visitors": visitors}
    return {"sites": json.dumps(sites), "visitors": json.dumps(visitors)}


#: The visits of some visitors, by ``ended_at``; on PostgreSQL locked (keyed by ``postgresql``).
_VISITS_OF = {
    False: select(*_VISIT_COLUMNS).where(_visitors_in(False, _V)).order_by(_V.c.ended_at),
    True: select(*_VISIT_COLUMNS).where(_visitors_in(True, _V)).order_by(_V.c.ended_at).with_for_update(),
}


#: Keyed by ``postgresql``: the goals of some visits (and their conversions); the hits of some visits; the visitors of
#: some days who converted on some goals.
_GOALS_OF = {pg: select(_GV.c.visit_id, _GV.c.goal_id, _GV.c.conversions).where(_in_array(pg, _GV.c.visit_id, "ids")) for pg in (False, True)}
_PRIOR_HITS = {pg: select(Hit.visit_id, Hit.day, Hit.event, Hit.path, Hit.props, Hit.is_first).where(
    _in_array(pg, Hit.visit_id, "ids")) for pg in (False, True)}
_CONVERTED = {pg: select(_GV.c.site_id, _GV.c.goal_id, _GV.c.day, _GV.c.visitor).where(
    _in_array(pg, _GV.c.site_id, "sites"), _in_array(pg, _GV.c.goal_id, "goals"), _in_array(pg, _GV.c.visitor, "visitors"),
) for pg in (False, True)}
