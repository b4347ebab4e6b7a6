"""Summary tables: ``daily_stats`` (per site, local day, dimension, value) and ``hourly_stats``.

Every number in them is a sum of *contributions*: a visit contributes its counts to the site
total and to each of its visit dimensions on the day it started; a hit contributes to its page,
event and property rows and to the day's ``hits`` row on its own day; a bot hit to its reason.
The store adds the change of contribution of every visit and hit it writes, in the same
transaction (:class:`Delta`), and :func:`rebuild` recomputes everything from the raw tables with
the same definitions — the two must always agree (the test suite checks it on random data).

Counts per row: ``visitors`` (first visits of the day — a visitor is attributed to their first
visit), ``visits``, ``pageviews``, ``bounces`` (visits of one page view and no event),
``duration`` (seconds, summed over visits), ``events`` (custom events).
"""

import functools
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import and_, bindparam, case, delete, func, literal, or_, select, text, tuple_
from sqlalchemy.dialects import sqlite

from ..models import DailyStat, Hit, HourlyStat, Visit
from ..models.types import postgresql_array
from .dimensions import BOT, HITS, PROP_SEPARATOR, TOTAL, VISIT_DIMENSIONS, prop_value
from .periods import local_day

#: Indexes into a counts vector.
VISITORS, VISITS, PAGEVIEWS, BOUNCES, DURATION, EVENTS = range(6)
COUNT_FIELDS = ("visitors", "visits", "pageviews", "bounces", "duration", "events")


def visit_counts(is_first: bool, pageviews: int, events: int, duration: int) -> tuple[int, ...]:
    bounce = 1 if pageviews <= 1 and events == 0 else 0
    return (1 if is_first else 0, 1, pageviews, bounce, duration, events)


def hour_of(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


class Delta:
    """Changes to the summary rows, accumulated over a batch, then applied in one statement each."""

    def __init__(self) -> None:
        self.daily: dict[tuple[int, str, date, str], list[int]] = defaultdict(lambda: [0] * 6)
        self.hourly: dict[tuple[int, datetime], list[int]] = defaultdict(lambda: [0, 0, 0])

    def add_visit(self, site_id: int, day: date, attrs: dict[str, str], counts: tuple[int, ...]) -> None:
        """A new visit's contribution: to the day's total and to each of its dimensions."""
        self._add(site_id, day, ((TOTAL, ""), *attrs.items()), counts)

    def change_visit(
        self, site_id: int, day: date, attrs: dict[str, str], before: tuple[int, ...], before_exit: str,
        counts: tuple[int, ...],
    ) -> None:
        """A continued visit's change, from its contribution ``before`` (with exit page
        ``before_exit``) to ``counts``. Its dimensions are those of its first hit and do not
        change, except the exit page: the former exit row loses the whole former contribution,
        the new one gains the present one."""
        change = tuple(now - then for now, then in zip(counts, before, strict=True))
        if attrs["exit"] == before_exit:
            self._add(site_id, day, ((TOTAL, ""), *attrs.items()), change)
            return
        self._add(site_id, day, ((TOTAL, ""), *((d, v) for d, v in attrs.items() if d != "exit")), change)
        self._add(site_id, day, (("exit", before_exit),), tuple(-then for then in before))
        self._add(site_id, day, (("exit", attrs["exit"]),), counts)

    def _add(self, site_id: int, day: date, rows, counts: tuple[int, ...]) -> None:
        """Add ``counts`` to the (dimension, value) ``rows`` of a day, touching only the counts
        that change: most of a continued visit's changes are zero."""
        changes = [(i, count) for i, count in enumerate(counts) if count]
        if not changes:
            return
        daily = self.daily
        for dim, value in rows:
            row = daily[(site_id, dim, day, value)]
            for i, count in changes:
                row[i] += count

    def add_visit_start(self, site_id: int, started: datetime, is_first: bool) -> None:
        row = self.hourly[(site_id, hour_of(started))]
        row[0] += 1 if is_first else 0
        row[1] += 1

    def add_hit(self, site_id: int, day: date, ts: datetime, event: str, path: str, props, is_first: bool, bot: str) -> None:
        daily = self.daily
        if bot:
            daily[(site_id, BOT, day, bot)][PAGEVIEWS] += 1
            return
        first = 1 if is_first else 0
        if event == "pageview":
            daily[(site_id, HITS, day, "")][PAGEVIEWS] += 1
            row = daily[(site_id, "page", day, path)]
            row[PAGEVIEWS] += 1
            row[VISITORS] += first
            self.hourly[(site_id, hour_of(ts))][2] += 1
        else:
            daily[(site_id, HITS, day, "")][EVENTS] += 1
            row = daily[(site_id, "event", day, event)]
            row[EVENTS] += 1
            row[VISITORS] += first
            for key, value in (props or {}).items():
                daily[(site_id, "prop", day, prop_value(event, key, value))][EVENTS] += 1

    def apply(self, session) -> None:
        """Add the changes to the summary rows: one statement per table. Rows go in key order,
        so that writers in several processes lock shared rows in the same order."""
        daily = sorted((key, counts) for key, counts in self.daily.items() if any(counts))
        hourly = sorted((key, counts) for key, counts in self.hourly.items() if any(counts))
        connection = session.connection()  # Core: plain rows, no ORM bulk machinery
        postgresql = connection.dialect.name == "postgresql"
        for model, keys, fields, rows in (
            (DailyStat, ("site_id", "dim", "day", "value"), COUNT_FIELDS, daily),
            (HourlyStat, ("site_id", "hour"), ("visitors", "visits", "pageviews"), hourly),
        ):
            if not rows:
                continue
            if postgresql:
                # Arrays, one per column, unnested by the server: the driver adapts a few lists
                # instead of running an executemany of thousands of rows in Python.
                columns = [list(column) for column in zip(*(key + tuple(counts) for key, counts in rows), strict=True)]
                connection.execute(_unnest_upsert(model, keys, fields), dict(zip((*keys, *fields), columns, strict=True)))
            else:
                names = (*keys, *fields)
                connection.execute(
                    _upsert(model, keys, fields), [dict(zip(names, key + tuple(counts), strict=True)) for key, counts in rows]
                )


@functools.cache
def _unnest_upsert(model, keys: tuple[str, ...], fields: tuple[str, ...]):
    """PostgreSQL: add the rows given as one array per column (``INSERT … SELECT unnest``)."""
    table = model.__table__
    names = (*keys, *fields)
    arrays = ", ".join(f"CAST(:{name} AS {postgresql_array(table.c[name])})" for name in names)
    updates = ", ".join(f"{field} = {table.name}.{field} + excluded.{field}" for field in fields)
    return text(
        f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays})"
        f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


def _upsert(model, keys: Iterable[str], fields: Iterable[str]):
    """SQLite: add the rows, one parameter set each."""
    table = model.__table__
    statement = sqlite.insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={field: table.c[field] + statement.excluded[field] for field in fields},
    )


# -- from the raw tables -------------------------------------------------------------------


def _bounce():
    return case((((Visit.pageviews <= 1) & (Visit.events == 0)), 1), else_=0)


def _first(column):
    return func.sum(case((column, 1), else_=0))


def rebuild(session, site_id: int) -> None:
    """Recompute a site's summary rows from its visits and hits."""
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
        groups = [getattr(v, column) for _, column in dims[1:]]
        grouped = func.grouping(*groups)
        everything = (1 << len(groups)) - 1
        dim = case(
            *((grouped == everything ^ (1 << (len(groups) - 1 - i)), literal(name)) for i, (name, _) in enumerate(dims[1:])),
            else_=literal(TOTAL),
        )
        query = (
            select(v.site_id, dim, v.day, func.coalesce(*groups, literal("")), *counts)
            .where(v.site_id == site_id)
            .group_by(v.site_id, v.day, func.grouping_sets(*(tuple_(g) for g in groups), tuple_()))
        )
        session.execute(DailyStat.__table__.insert().from_select(columns, query))
    else:
        for dim, column in dims:
            value = literal("") if column is None else getattr(v, column)
            query = (
                select(v.site_id, literal(dim), v.day, value, *counts)
                .where(v.site_id == site_id)
                .group_by(v.site_id, v.day, value)
            )
            session.execute(DailyStat.__table__.insert().from_select(columns, query))

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
    session.execute(DailyStat.__table__.insert().from_select(columns, query))
    session.execute(DailyStat.__table__.insert().from_select(columns, hits_by_day(DailyStat.site_id == site_id)))
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
    session.execute(DailyStat.__table__.insert().from_select(columns, query))

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
        HourlyStat.__table__.insert().from_select(
            ("site_id", "hour", "visitors", "visits", "pageviews"),
            select(both.c.site_id, both.c.hour, func.sum(both.c.visitors), func.sum(both.c.visits), func.sum(both.c.pageviews))
            .group_by(both.c.site_id, both.c.hour),
        )
    )


def hits_by_day(where):
    """The ``hits`` rows of the sites ``where`` selects, from their page and event rows."""
    d = DailyStat
    zero = literal(0)
    return (
        select(d.site_id, literal(HITS), d.day, literal(""), zero, zero, func.sum(d.pageviews), zero, zero, func.sum(d.events))
        .where(where, d.dim.in_(("page", "event")))
        .group_by(d.site_id, d.day)
    )


def hour_expression(dialect: str, column):
    """``column`` truncated to the hour, stored exactly as SQLAlchemy stores a ``datetime``."""
    if dialect == "postgresql":
        return func.date_trunc("hour", column)
    return func.strftime("%Y-%m-%d %H:00:00.000000", column)


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
                model.__table__.update().where(model.site_id == site_id).values(day=func.date(local))
            )
    else:
        for model, column in ((Visit, Visit.started_at), (Hit, Hit.ts)):
            table = model.__table__
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
