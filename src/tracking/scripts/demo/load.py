"""A run of the generator into a site's tables: :func:`generate` makes and loads the rows in the
caller's transaction, then rebuilds the site's summaries; into empty tables, the indexes are
built after the load (:func:`deferred_indexes`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import date, datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ...models import Site, Visit
from ...models.types import utcnow
from ...summaries.rebuild import rebuild
from ...timezones import to_local
from .generator import Generator, Result, daily_budgets, days_ending
from .rows import CopyRows, Loader, ParameterRows, Rows, check_copy_safe

RAW_TABLES = ("visits", "hits")


@contextmanager
def deferred_indexes(session: Session) -> Iterator[None]:
    """Drop the indexes (and on PostgreSQL the constraints) of the raw tables, then build them
    again after the block, in the same transaction.

    For a load into empty tables (a new database): building an index from all the rows at once
    is a sort, much cheaper than updating it row by row, and a foreign key checked once by one
    query costs less than a trigger per row (PostgreSQL's own advice for populating a
    database). They are rebuilt from their definitions as the database's catalog gives them,
    so they come back exactly as they were: primary keys first, then the other indexes, then
    the foreign keys. (No foreign key points at the raw tables.) SQLite keeps its primary and
    foreign keys, which cost little there.
    """
    if session.get_bind().dialect.name == "postgresql":
        tables = {"tables": list(RAW_TABLES)}
        indexes = session.execute(text(
            "SELECT quote_ident(c.relname), pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = ANY(CAST(:tables AS regclass[]))"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
        ), tables).all()
        # Primary and unique keys before foreign keys: the order they are built again in.
        keys = session.execute(text(
            "SELECT CAST(conrelid AS regclass), quote_ident(conname), pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = ANY(CAST(:tables AS regclass[])) ORDER BY contype = 'f', conname"
        ), tables).all()
    else:
        indexes = session.execute(text(
            "SELECT '\"' || name || '\"', sql FROM sqlite_master"
            " WHERE type = 'index' AND tbl_name IN ('visits', 'hits') AND sql IS NOT NULL"
        )).all()
        keys = []
    for table, name, _ in reversed(keys):
        session.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {name}"))
    for name, _ in indexes:
        session.execute(text(f"DROP INDEX {name}"))
    yield
    if keys:
        # Bigger sorts in memory for the index builds of this transaction only.
        session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    foreign = [key for key in keys if key[2].startswith("FOREIGN KEY")]
    for table, name, definition in (key for key in keys if key not in foreign):
        session.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"))
    for _, definition in indexes:
        session.execute(text(definition))
    for table, name, definition in foreign:
        session.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"))


def generate(
    session: Session,
    site_id: int,
    hits: int,
    days: int,
    *,
    seed: int = 0,
    end: date | None = None,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> Result:
    """Add ``hits`` hits of synthetic traffic to a site over ``days`` days, then rebuild its summaries.

    Runs in ``session``'s transaction (the caller commits). Visit ids are given here, so
    that hits can name theirs: on PostgreSQL they are taken from the sequence while the two
    raw tables are locked against other writers (against readers too while their indexes are
    rebuilt, for a load into empty tables); on SQLite they follow the highest id, and a
    writer committing in between makes this transaction fail rather than collide.
    """
    check_copy_safe()
    site = session.get(Site, site_id)
    if site is None:
        raise LookupError(f"no site with id {site_id}")
    now = now or utcnow()
    end = end or to_local(now, site.timezone).date()
    calendar = days_ending(end, days, site.timezone, now)
    if not any(day.seconds for day in calendar):
        raise ValueError("every day of the period lies in the future")
    postgresql = session.get_bind().dialect.name == "postgresql"
    rows: Rows = CopyRows() if postgresql else ParameterRows()
    generator = Generator(site, rows, seed)

    started = time.perf_counter()
    sequence = "pg_get_serial_sequence('visits', 'id')"
    if postgresql:
        session.execute(text(f"LOCK TABLE {', '.join(RAW_TABLES)} IN SHARE ROW EXCLUSIVE MODE"))
        generator.next_visit_id = session.scalar(text(f"SELECT nextval({sequence})"))
    else:
        generator.next_visit_id = (session.scalar(select(func.max(Visit.id))) or 0) + 1
    empty = all(session.scalar(text(f"SELECT 1 FROM {table} LIMIT 1")) is None for table in RAW_TABLES)
    with deferred_indexes(session) if empty else nullcontext():
        with Loader(rows, session.connection().connection.driver_connection, progress) as loader:
            for day, budget in zip(calendar, daily_budgets(hits, calendar, generator.rng), strict=True):
                generator.day(day, budget, loader.send)
            loader.send()
            loader.wait()
        loaded = time.perf_counter()
    if postgresql:
        if generator.result.visits:
            session.execute(text(f"SELECT setval({sequence}, :last)"), {"last": generator.next_visit_id - 1})
        # The planner knows nothing yet of the rows just loaded; the rebuild scans them all.
        session.execute(text("ANALYZE visits"))
        session.execute(text("ANALYZE hits"))
    result = generator.result
    result.load_seconds = time.perf_counter() - started
    result.index_seconds = time.perf_counter() - loaded

    started = time.perf_counter()
    rebuild(session, site_id)
    result.rebuild_seconds = time.perf_counter() - started
    return result
