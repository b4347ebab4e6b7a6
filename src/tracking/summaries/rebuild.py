"""Recomputing a site's summary tables from its raw rows: :func:`rebuild`, and
:func:`change_timezone`, which re-dates the rows in a new time zone first.

Both rewrite every summary row of the site in one transaction, with the definitions of
:mod:`.delta` (the test suite checks on random data that a rebuild equals what the store kept
batch by batch). They are heavy on a big site — seconds per million hits, holding SQLite's write
lock — so they run where hits are written: as a job of the writer (:mod:`.jobs`), from
``tracking-admin rebuild``, or in bulk tools (``tracking-demo``), never inside a web request.
"""

from collections.abc import Sequence

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    update,
)

from ..models import DailyStat, Hit, HourlyStat, SegmentStat, SegmentValue, Site, Visit
from ..timezones import local_day
from .dimensions import BOT, COUNT_FIELDS, HITS, PROP_SEPARATOR, SEGMENTS, TOTAL, VISIT_DIMENSIONS, hour_expression
from .goals import rebuild_goals


def _table(model) -> Table:
    return model.__table__


_DAILY = _table(DailyStat)
_HOURLY = _table(HourlyStat)
_SEGMENTS = _table(SegmentStat)
_HITS = _table(Hit)


def _bounce():
    return case((((Visit.pageviews <= 1) & (Visit.events == 0)), 1), else_=0)


def _first(column):
    return func.sum(case((column, 1), else_=0))


def rebuild(session, site_id: int) -> None:
    """Recompute a site's summary rows from its visits and hits, its segments' rows (and those
    of its chosen values: :mod:`.segments`) and its goals' rows too
    (:func:`~.goals.rebuild_goals`); the site is then ``segmented``."""
    session.execute(delete(DailyStat).where(DailyStat.site_id == site_id))
    session.execute(delete(SegmentStat).where(SegmentStat.site_id == site_id))
    session.execute(delete(HourlyStat).where(HourlyStat.site_id == site_id))
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # Memory for the hash tables of the groupings.
        session.execute(text("SET LOCAL work_mem = '64MB'"))
    chosen: dict[str, list[str]] = {}
    for segment, value in session.execute(
        select(SegmentValue.segment, SegmentValue.value).where(SegmentValue.site_id == site_id)
    ):
        chosen.setdefault(segment, []).append(value)
    for segment, values in ((None, None), *((segment, None) for segment in SEGMENTS), *chosen.items()):
        count_segment(session, site_id, dialect, segment, values)
    session.execute(_DAILY.insert().from_select(_COLUMNS, _hits_by_day(DailyStat, site_id)))
    session.execute(_SEGMENTS.insert().from_select(_SEGMENT_COLUMNS, _hits_by_day(SegmentStat, site_id)))
    _count_hours(session, site_id, dialect)
    rebuild_goals(session, site_id)
    session.execute(update(Site).where(Site.id == site_id).values(segmented=True))


def count_segment(session, site_id: int, dialect: str, segment: str | None, values: Sequence[str] | None = None) -> None:
    """Insert the rows of the site's visits and hits (but the ``hits`` rows: :func:`_hits_by_day`)
    into ``daily_stats`` (``segment`` ``None``) or into ``segment_stats`` for every value of
    ``segment``, or for ``values`` of it only."""
    _count_visits(session, site_id, dialect, segment, values)
    _count_hits(session, site_id, dialect, segment, values)


def count_hits_by_day(session, site_id: int, segment: str, values: Sequence[str]) -> None:
    """Insert the ``hits`` rows of ``values`` of ``segment``, from their page and event rows."""
    session.execute(_SEGMENTS.insert().from_select(
        _SEGMENT_COLUMNS, _hits_by_day(SegmentStat, site_id, SegmentStat.segment == segment,
                                       SegmentStat.segment_value.in_(values))
    ))


_COLUMNS = ("site_id", "dim", "day", "value", *COUNT_FIELDS)
_SEGMENT_COLUMNS = ("site_id", "segment", "segment_value", "dim", "day", "value", *COUNT_FIELDS)


def _target(segment: str | None):
    """Where the rows of ``segment`` go (``None``: ``daily_stats``), the columns that key them
    before ``dim`` (the segment's name and value, from the visit), and the segment's column."""
    if segment is None:
        return _DAILY, _COLUMNS, (), None
    column = getattr(Visit, VISIT_DIMENSIONS[segment])
    return _SEGMENTS, _SEGMENT_COLUMNS, (literal(segment), column), column


def _count_visits(session, site_id: int, dialect: str, segment: str | None, values: Sequence[str] | None) -> None:
    """Each visit's contribution to the site's total and its dimensions' rows (of ``segment``'s
    values, or of ``values`` of it: the rows of the visits of each value)."""
    table, columns, keys, column = _target(segment)
    only = () if values is None or column is None else (column.in_(values),)
    v = Visit
    counts = (
        _first(v.is_first),
        func.count(),
        func.sum(v.pageviews),
        func.sum(_bounce()),
        func.sum(v.duration),
        func.sum(v.events),
    )
    by_segment = () if column is None else (column,)
    if dialect == "postgresql":
        if column is not None:
            # The segment's value keys every grouping set, under another expression than the
            # column's own grouping set (whose ``grouping()`` bit would otherwise always be 0).
            value_of_segment = column.concat(literal_column("''"))
            keys, by_segment = (keys[0], value_of_segment), (value_of_segment,)
        # One pass over the visits: a grouping per dimension.
        groups = [getattr(v, name) for name in VISIT_DIMENSIONS.values()]
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
        session.execute(table.insert().from_select(columns, query))
        return
    for dim, name in ((TOTAL, None), *VISIT_DIMENSIONS.items()):
        value = literal("") if name is None else getattr(v, name)
        query = (
            select(v.site_id, *keys, literal(dim), v.day, value, *counts)
            .where(v.site_id == site_id, *only)
            .group_by(v.site_id, *by_segment, v.day, value)
        )
        session.execute(table.insert().from_select(columns, query))


def _count_hits(session, site_id: int, dialect: str, segment: str | None, values: Sequence[str] | None) -> None:
    """The hits' contributions: pages, events (and bot reasons, outside segments), then the
    events' properties, one row per (event, key, value) of their JSON objects."""
    table, columns, keys, column = _target(segment)
    only = () if values is None or column is None else (column.in_(values),)
    h = Hit
    zero = literal(0)
    page = h.event == "pageview"
    person = h.bot == ""
    source = _HITS if column is None else _HITS.join(_table(Visit), Visit.id == h.visit_id)
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
        .select_from(source)
        # Bots have no visit: no segment counts them.
        .where(h.site_id == site_id, *(() if column is None else (person,)), *only)
        .group_by(h.site_id, *by_segment, h.day, kind, value)
    )
    session.execute(table.insert().from_select(columns, query))

    each = (func.json_each_text if dialect == "postgresql" else func.json_each)(h.props).table_valued("key", "value")
    separator = literal(PROP_SEPARATOR)
    query = (
        select(h.site_id, *keys, literal("prop"), h.day, h.event + separator + each.c.key + separator + each.c.value,
               zero, zero, zero, zero, zero, func.count())
        .select_from(source)
        .join(each, literal(True))
        .where(h.site_id == site_id, person, h.event != "pageview", h.props.is_not(None), *only)
        .group_by(h.site_id, *by_segment, h.day, h.event, each.c.key, each.c.value)
    )
    session.execute(table.insert().from_select(columns, query))


def _count_hours(session, site_id: int, dialect: str) -> None:
    """``hourly_stats``: the visits by the hour they began, the page views by theirs."""
    v, h = Visit, Hit
    zero, one = literal(0), literal(1)
    starts = select(
        v.site_id.label("site_id"),
        hour_expression(dialect, v.started_at).label("hour"),
        case((v.is_first, 1), else_=0).label("visitors"),
        one.label("visits"),
        zero.label("pageviews"),
    ).where(v.site_id == site_id)
    views = select(
        h.site_id, hour_expression(dialect, h.ts), zero, zero, one
    ).where(h.site_id == site_id, h.bot == "", h.event == "pageview")
    both = starts.union_all(views).subquery()
    session.execute(
        _HOURLY.insert().from_select(
            ("site_id", "hour", "visitors", "visits", "pageviews"),
            select(both.c.site_id, both.c.hour, func.sum(both.c.visitors), func.sum(both.c.visits), func.sum(both.c.pageviews))
            .group_by(both.c.site_id, both.c.hour),
        )
    )


def _hits_by_day(model, site_id: int, *only):
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


def change_timezone(session, site_id: int, timezone: str) -> None:
    """Re-date a site's visits and hits in ``timezone`` and rebuild its summaries.

    Reports group by local day, stored with each row; a new time zone moves rows across days.
    PostgreSQL converts in one statement per table; SQLite has no time zone data, so the days
    are computed here in chunks.
    """
    if session.get_bind().dialect.name == "postgresql":
        for model, column in ((Visit, Visit.started_at), (Hit, Hit.ts)):
            local = func.timezone(timezone, func.timezone("UTC", column))
            session.execute(
                _table(model).update().where(model.site_id == site_id).values(day=func.date(local))
            )
    else:
        for model, column in ((Visit, Visit.started_at), (Hit, Hit.ts)):
            table = _table(model)
            last = 0
            while True:
                chunk = session.execute(
                    select(model.id, column).where(model.site_id == site_id, model.id > last).order_by(model.id).limit(10_000)
                ).all()
                if not chunk:
                    break
                session.execute(
                    table.update().where(table.c.id == bindparam("row_id")).values(day=bindparam("new_day")),
                    [{"row_id": row_id, "new_day": local_day(ts, timezone)} for row_id, ts in chunk],
                )
                last = chunk[-1][0]
    rebuild(session, site_id)
