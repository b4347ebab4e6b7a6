"""Counting a site's summary rows from its raw rows, segment by segment: the statements that
:func:`~.rebuild.rebuild` runs for every row of a site, that a goal's recount runs for the goals'
segments (:func:`count_goal_segments`) and that the choice of a common value runs for that
value's rows (:mod:`.segments`). Each counts by the definitions of :mod:`.delta`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    String,
    Table,
    and_,
    case,
    cast,
    delete,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    union_all,
)

from ..models import DailyStat, GoalVisit, Hit, SegmentStat, Visit
from ..models.hits import listed
from .dimensions import BOT, COUNT_FIELDS, GOAL, HITS, LISTED, PROP_SEPARATOR, TOTAL, VISIT_DIMENSIONS


def _table(model) -> Table:
    return model.__table__


DAILY = _table(DailyStat)
SEGMENTS_TABLE = _table(SegmentStat)
_HITS = _table(Hit)


def _first(column):
    return func.sum(case((column, 1), else_=0))


def count_segment(session, site_id: int, dialect: str, segment: str | None, values: Sequence[str] | None = None) -> None:
    """Insert the rows of the site's visits and hits (but the ``hits`` rows: :func:`hits_by_day`)
    into ``daily_stats`` (``segment`` ``None``) or into ``segment_stats`` for every value of
    ``segment``, or for ``values`` of it only."""
    _count_visits(session, site_id, dialect, segment, values)
    _count_hits(session, site_id, dialect, segment, values)


def count_hits_by_day(session, site_id: int, segment: str, values: Sequence[str] | None = None) -> None:
    """Insert the ``hits`` rows of ``segment`` (of ``values`` of it), from their page and event rows."""
    only = [SegmentStat.segment == segment]
    if values is not None:
        only.append(SegmentStat.segment_value.in_(values))
    session.execute(SEGMENTS_TABLE.insert().from_select(SEGMENT_COLUMNS, hits_by_day(SegmentStat, site_id, *only)))


def count_goal_segments(session, site_id: int) -> None:
    """The goals' segment rows of a site, counted again from its ``goal_visits``."""
    session.execute(delete(SegmentStat).where(SegmentStat.site_id == site_id, SegmentStat.segment == GOAL))
    count_segment(session, site_id, session.get_bind().dialect.name, GOAL)
    count_hits_by_day(session, site_id, GOAL)


COLUMNS = ("site_id", "dim", "day", "value", *COUNT_FIELDS)
SEGMENT_COLUMNS = ("site_id", "segment", "segment_value", "dim", "day", "value", *COUNT_FIELDS)


@dataclass(frozen=True)
class _Target:
    """Where the rows of a segment go (``None``: ``daily_stats``) and what they count:
    ``visits``, the columns of the visits counted, of which ``first`` count their visitor;
    ``hits``, what their hits are read from; ``value`` and ``hit_value``, the segment's value in
    each (``None`` for ``daily_stats``)."""

    table: Table
    columns: tuple[str, ...]
    visits: Any
    first: Any
    hits: Any
    value: Any = None
    hit_value: Any = None
    name: str | None = None

    def keys(self, value) -> tuple:
        """The columns of a row before ``dim``: the segment's name and value."""
        return () if self.name is None else (literal(self.name), value)


def _target(site_id: int, segment: str | None, values: Sequence[str] | None = None) -> _Target:
    v = _table(Visit)
    if segment is None:
        return _Target(DAILY, COLUMNS, v.c, v.c.is_first, _HITS)
    if segment in LISTED:
        # The visits that viewed a page (sent an event), as the visits list them: a visitor
        # counts at their first such visit of the day. Each value's visits found apart.
        if not values:
            raise ValueError(f"the {segment} segment is counted for chosen values only")
        listing = v.c.pages if segment == "page" else v.c.event_names
        found = [select(v.c.id.label("visit_id"), literal(value).label("member")).where(
            v.c.site_id == site_id, listed(listing, value)) for value in values]
        pairs = (found[0] if len(found) == 1 else union_all(*found)).subquery("members")
        rank = func.row_number().over(partition_by=(pairs.c.member, v.c.day, v.c.visitor),
                                      order_by=(v.c.started_at, v.c.id))
        visits = select(*v.c, pairs.c.member, rank.label("member_rank")).select_from(
            v.join(pairs, pairs.c.visit_id == v.c.id)
        ).subquery("member_visits")
        return _Target(SEGMENTS_TABLE, SEGMENT_COLUMNS, visits.c, visits.c.member_rank == 1,
                       _HITS.join(pairs, pairs.c.visit_id == _HITS.c.visit_id), visits.c.member, pairs.c.member,
                       segment)
    if segment == GOAL:
        # A goal's visits: a visitor counts at their first visit of the day that converted.
        gv = _table(GoalVisit)
        rank = func.row_number().over(partition_by=(gv.c.goal_id, gv.c.day, gv.c.visitor),
                                      order_by=(v.c.started_at, v.c.id))
        visits = select(*v.c, gv.c.goal_id, rank.label("goal_rank")).select_from(
            v.join(gv, gv.c.visit_id == v.c.id)
        ).where(gv.c.site_id == site_id).subquery("converted")
        return _Target(SEGMENTS_TABLE, SEGMENT_COLUMNS, visits.c, visits.c.goal_rank == 1,
                       _HITS.join(gv, gv.c.visit_id == _HITS.c.visit_id), cast(visits.c.goal_id, String),
                       cast(gv.c.goal_id, String), segment)
    column = v.c[VISIT_DIMENSIONS[segment]]
    return _Target(SEGMENTS_TABLE, SEGMENT_COLUMNS, v.c, v.c.is_first, _HITS.join(v, v.c.id == _HITS.c.visit_id),
                   column, column, segment)


def _count_visits(session, site_id: int, dialect: str, segment: str | None, values: Sequence[str] | None) -> None:
    """Each visit's contribution to the site's total and its dimensions' rows (of ``segment``'s
    values, or of ``values`` of it: the rows of the visits of each value)."""
    target = _target(site_id, segment, values)
    column = target.value
    keys = target.keys(column)
    only = () if values is None or column is None else (column.in_(values),)
    v = target.visits
    counts = (
        _first(target.first),
        func.count(),
        func.sum(v.pageviews),
        func.sum(case((((v.pageviews <= 1) & (v.events == 0)), 1), else_=0)),
        func.sum(v.duration),
        func.sum(v.events),
    )
    by_segment = () if column is None else (column,)
    if dialect == "postgresql":
        if column is not None:
            # The segment's value keys every grouping set, under another expression than the
            # column's own grouping set (whose ``grouping()`` bit would otherwise always be 0).
            value_of_segment = column.concat(literal_column("''"))
            keys, by_segment = target.keys(value_of_segment), (value_of_segment,)
        # One pass over the visits: a grouping per dimension.
        groups = [v[name] for name in VISIT_DIMENSIONS.values()]
        grouped = func.grouping(*groups)
        everything = (1 << len(groups)) - 1
        dim_of_row = case(
            *((grouped == everything ^ (1 << (len(groups) - 1 - i)), literal(name)) for i, name in enumerate(VISIT_DIMENSIONS)),
            else_=literal(TOTAL),
        )
        query = (
            select(v.site_id, *keys, dim_of_row, v.day, func.coalesce(*groups, literal("")), *counts)
            .where(v.site_id == site_id, *only)
            .group_by(v.site_id, *by_segment, v.day, func.grouping_sets(*(tuple_(g) for g in groups), tuple_()))
        )
        session.execute(target.table.insert().from_select(target.columns, query))
        return
    for dim, name in ((TOTAL, None), *VISIT_DIMENSIONS.items()):
        value = literal("") if name is None else v[name]
        query = (
            select(v.site_id, *keys, literal(dim), v.day, value, *counts)
            .where(v.site_id == site_id, *only)
            .group_by(v.site_id, *by_segment, v.day, value)
        )
        session.execute(target.table.insert().from_select(target.columns, query))


def _count_hits(session, site_id: int, dialect: str, segment: str | None, values: Sequence[str] | None) -> None:
    """The hits' contributions: pages, events (and bot reasons, outside segments), then the
    events' properties, one row per (event, key, value) of their JSON objects."""
    target = _target(site_id, segment, values)
    column = target.hit_value
    keys = target.keys(column)
    only = () if values is None or column is None else (column.in_(values),)
    h = Hit
    zero = literal(0)
    page = h.event == "pageview"
    person = h.bot == ""
    by_segment = () if column is None else (column,)
    kind = case((h.bot != "", literal(BOT)), (page, literal("page")), else_=literal("event"))
    value = case((h.bot != "", h.bot), (page, h.path), else_=h.event)
    query = (
        select(
            h.site_id, *keys, kind, h.day, value,
            func.sum(case((and_(person, h.is_first), 1), else_=0)),
            zero,
            func.sum(case((or_(page, ~person), 1), else_=0)),
            zero,
            zero,
            func.sum(case((and_(person, ~page), 1), else_=0)),
        )
        .select_from(target.hits)
        # Bots have no visit: no segment counts them.
        .where(h.site_id == site_id, *(() if column is None else (person,)), *only)
        .group_by(h.site_id, *by_segment, h.day, kind, value)
    )
    session.execute(target.table.insert().from_select(target.columns, query))

    each = (func.json_each_text if dialect == "postgresql" else func.json_each)(h.props).table_valued("key", "value")
    separator = literal(PROP_SEPARATOR)
    query = (
        select(h.site_id, *keys, literal("prop"), h.day, h.event + separator + each.c.key + separator + each.c.value,
               zero, zero, zero, zero, zero, func.count())
        .select_from(target.hits)
        .join(each, literal(True))
        .where(h.site_id == site_id, person, h.event != "pageview", h.props.is_not(None), *only)
        .group_by(h.site_id, *by_segment, h.day, h.event, each.c.key, each.c.value)
    )
    session.execute(target.table.insert().from_select(target.columns, query))


def hits_by_day(model, site_id: int, *only):
    """The ``hits`` rows of a site (``DailyStat``) or of its segments (``SegmentStat``; those
    ``only`` selects), from their page and event rows."""
    keys = (SegmentStat.segment, SegmentStat.segment_value) if model is SegmentStat else ()
    zero = literal(0)
    return (
        select(model.site_id, *keys, literal(HITS), model.day, literal(""), zero, zero,
               func.sum(model.pageviews), zero, zero, func.sum(model.events))
        .where(model.site_id == site_id, model.dim.in_(("page", "event")), *only)
        .group_by(model.site_id, *keys, model.day)
    )
