"""Recomputing a site's summary tables from its raw rows: :func:`rebuild`, and
:func:`change_timezone`, which re-dates the rows in a new time zone first.

Both rewrite every summary row of the site in one transaction, with the definitions of
:mod:`.delta` (the test suite checks on random data that a rebuild equals what the store kept
batch by batch). They are heavy on a big site — seconds per million hits, holding SQLite's write
lock — so they run where hits are written: as a job of the writer (:mod:`.jobs`), from
``tracking-admin rebuild``, or in bulk tools (``tracking-demo``), never inside a web request.
"""


from sqlalchemy import (
    Table,
    bindparam,
    case,
    delete,
    func,
    literal,
    select,
    text,
    update,
)

from ..models import DailyStat, Hit, HourlyStat, SegmentStat, SegmentValue, Site, Visit
from ..timezones import local_day
from .counting import COLUMNS, DAILY, SEGMENT_COLUMNS, SEGMENTS_TABLE, count_segment, hits_by_day
from .dimensions import SEGMENTS, hour_expression
from .goals import rebuild_goals


def _table(model) -> Table:
    return model.__table__


_HOURLY = _table(HourlyStat)


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
    session.execute(DAILY.insert().from_select(COLUMNS, hits_by_day(DailyStat, site_id)))
    session.execute(SEGMENTS_TABLE.insert().from_select(SEGMENT_COLUMNS, hits_by_day(SegmentStat, site_id)))
    _count_hours(session, site_id, dialect)
    rebuild_goals(session, site_id)
    session.execute(update(Site).where(Site.id == site_id).values(segmented=True))


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
