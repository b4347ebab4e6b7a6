"""Recomputing a site's summary tables from its raw rows: :func:`rebuild`, and
:func:`change_timezone`, which re-dates the rows in a new time zone first.

Both rewrite every summary row of the site in one transaction, with the definitions of
:mod:`.delta` (the test suite checks on random data that a rebuild equals what the store kept
batch by batch). They are heavy on a big site — seconds per million hits, holding SQLite's write
lock — so they run where hits are written: as a job of the writer (:mod:`.jobs`), from
``tracking-admin rebuild``, or in bulk tools (``tracking-demo``), never inside a web request.
"""

from sqlalchemy import Table, and_, bindparam, case, delete, func, literal, or_, select, text, tuple_

from ..models import DailyStat, Hit, HourlyStat, Visit
from ..timezones import local_day
from .dimensions import BOT, COUNT_FIELDS, HITS, PROP_SEPARATOR, TOTAL, VISIT_DIMENSIONS, hour_expression
from .goals import rebuild_goals


def _table(model) -> Table:
    return model.__table__


_DAILY = _table(DailyStat)
_HOURLY = _table(HourlyStat)


def _bounce():
    return case((((Visit.pageviews <= 1) & (Visit.events == 0)), 1), else_=0)


def _first(column):
    return func.sum(case((column, 1), else_=0))


def rebuild(session, site_id: int) -> None:
    """Recompute a site's summary rows from its visits and hits, its goals' rows too
    (:func:`~.goals.rebuild_goals`)."""
    session.execute(delete(DailyStat).where(DailyStat.site_id == site_id))
    session.execute(delete(HourlyStat).where(HourlyStat.site_id == site_id))
    v = Visit
    counts = (
        _first(v.is_first),
        func.count(),
        func.sum(v.pageviews),
        func.sum(_bounce()),
        func.sum(v.duration),
        func.sum(v.events),
    )
    columns = ("site_id", "dim", "day", "value", *COUNT_FIELDS)
    dialect = session.get_bind().dialect.name
    dims = ((TOTAL, None), *VISIT_DIMENSIONS.items())
    if dialect == "postgresql":
        # One pass over the visits: a grouping per dimension (memory for its hash tables).
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        groups = [getattr(v, column) for column in VISIT_DIMENSIONS.values()]
        grouped = func.grouping(*groups)
        everything = (1 << len(groups)) - 1
        dim_of_row = case(
            *((grouped == everything ^ (1 << (len(groups) - 1 - i)), literal(name)) for i, name in enumerate(VISIT_DIMENSIONS)),
            else_=literal(TOTAL),
        )
        query = (
            select(v.site_id, dim_of_row, v.day, func.coalesce(*groups, literal("")), *counts)
            .where(v.site_id == site_id)
            .group_by(v.site_id, v.day, func.grouping_sets(*(tuple_(g) for g in groups), tuple_()))
        )
        session.execute(_DAILY.insert().from_select(columns, query))
    else:
        for dim, column in dims:
            value = literal("") if column is None else getattr(v, column)
            query = (
                select(v.site_id, literal(dim), v.day, value, *counts)
                .where(v.site_id == site_id)
                .group_by(v.site_id, v.day, value)
            )
            session.execute(_DAILY.insert().from_select(columns, query))

    # Pages, events and bot reasons: one pass over the hits.
    h = Hit
    zero = literal(0)
    page = h.event == "pageview"
    kind = case((h.bot != "", literal(BOT)), (page, literal("page")), else_=literal("event"))
    value = case((h.bot != "", h.bot), (page, h.path), else_=h.event)
    person = h.bot == ""
    query = (
        select(
            h.site_id, kind, h.day, value,
            func.sum(case((and_(person, h.is_first), 1), else_=0)),
            zero,
            func.sum(case((or_(page, ~person), 1), else_=0)),
            zero,
            zero,
            func.sum(case((and_(person, ~page), 1), else_=0)),
        )
        .where(h.site_id == site_id)
        .group_by(h.site_id, h.day, kind, value)
    )
    session.execute(_DAILY.insert().from_select(columns, query))
    session.execute(_DAILY.insert().from_select(columns, hits_by_day(DailyStat.site_id == site_id)))
    people = (h.site_id == site_id) & person

    # Properties: one row per (event, key, value), from the JSON objects of the events.
    each = (func.json_each_text if dialect == "postgresql" else func.json_each)(h.props).table_valued("key", "value")
    separator = literal(PROP_SEPARATOR)
    query = (
        select(h.site_id, literal("prop"), h.day, h.event + separator + each.c.key + separator + each.c.value,
               zero, zero, zero, zero, zero, func.count())
        .select_from(h)
        .join(each, literal(True))
        .where(people & (h.event != "pageview") & h.props.is_not(None))
        .group_by(h.site_id, h.day, h.event, each.c.key, each.c.value)
    )
    session.execute(_DAILY.insert().from_select(columns, query))

    one = literal(1)
    starts = select(
        v.site_id.label("site_id"),
        hour_expression(dialect, v.started_at).label("hour"),
        case((v.is_first, 1), else_=0).label("visitors"),
        one.label("visits"),
        zero.label("pageviews"),
    ).where(v.site_id == site_id)
    views = select(
        h.site_id, hour_expression(dialect, h.ts), zero, zero, one
    ).where(people & (h.event == "pageview"))
    both = starts.union_all(views).subquery()
    session.execute(
        _HOURLY.insert().from_select(
            ("site_id", "hour", "visitors", "visits", "pageviews"),
            select(both.c.site_id, both.c.hour, func.sum(both.c.visitors), func.sum(both.c.visits), func.sum(both.c.pageviews))
            .group_by(both.c.site_id, both.c.hour),
        )
    )
    rebuild_goals(session, site_id)


def hits_by_day(where):
    """The ``hits`` rows of the sites ``where`` selects, from their page and event rows."""
    d = DailyStat
    zero = literal(0)
    return (
        select(d.site_id, literal(HITS), d.day, literal(""), zero, zero, func.sum(d.pageviews), zero, zero, func.sum(d.events))
        .where(where, d.dim.in_(("page", "event")))
        .group_by(d.site_id, d.day)
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
