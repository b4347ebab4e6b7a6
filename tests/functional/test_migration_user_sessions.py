"""0006: the sessions table, and (SQLite) accounts and sites rebuilt so that ids are never reused,
with every row kept."""

from datetime import date, datetime

from alembic import command
from alembic.config import Config
from sqlalchemy import Boolean, Date, DateTime, Integer, MetaData, String, Table, inspect, text

from tests.support import ROOT, environment, migrate
from tracking.models import get_engine

#: The tables counted, by revision: the hits' table is ``visits`` before 0007, ``hits`` after.
COUNTED = ("users", "sites", "hits", "daily_stats")
BEFORE_0007 = {"hits": "visits"}


def downgrade(url, revision):
    with environment(TRACKING_DATABASE_URL=url):
        command.downgrade(Config(str(ROOT / "development.ini")), revision)


def fill(engine) -> dict:
    """Three accounts, the last one with a site, a hit and a summary row (at revision 0005, when
    the hits' table is ``visits``); returns its ids."""
    visits = Table("visits", MetaData(), autoload_with=engine)
    by_type = ((Boolean, False), (DateTime, datetime(2026, 5, 1, 12)), (Date, date(2026, 5, 1)), (String, ""), (Integer, 1))
    with engine.begin() as connection:
        users = [
            connection.execute(text(
                "INSERT INTO users (name, email, password_hash, is_admin, created_at)"
                " VALUES (:name, :email, 'x', false, '2026-01-01') RETURNING id"
            ), {"name": name, "email": f"{name}@example.com"}).scalar()
            for name in ("a", "b", "c")
        ]
        site = connection.execute(text(
            "INSERT INTO sites (owner_id, name, url, timezone, honor_dnt, honor_gpc, restrict_hosts, created_at)"
            " VALUES (:owner, 's', 'https://example.com', 'UTC', true, true, true, '2026-01-01') RETURNING id"
        ), {"owner": users[-1]}).scalar()
        row = {
            column.name: next(value for kind, value in by_type if isinstance(column.type, kind))
            for column in visits.columns
            if not column.nullable and column.name != "id"
        }
        connection.execute(visits.insert().values(**{**row, "site_id": site}))
        connection.execute(text(
            "INSERT INTO daily_stats (site_id, dim, day, value, visitors, visits, pageviews, bounces, duration, events)"
            " VALUES (:site, '', '2026-05-01', '', 1, 1, 1, 0, 0, 0)"
        ), {"site": site})
    return {"user": users[-1], "site": site}


def counts(engine, names: dict | None = None) -> dict:
    """Rows per table of :data:`COUNTED`; ``names``: the tables' names at this revision."""
    names = names or {}
    with engine.connect() as connection:
        return {
            table: connection.execute(text(f"SELECT COUNT(*) FROM {names.get(table, table)}")).scalar()
            for table in COUNTED
        }


def test_the_upgrade_keeps_every_row_and_ids_are_not_reused_after_it(fresh_db):
    downgrade(fresh_db, "0005")
    engine = get_engine({"sqlalchemy.url": fresh_db})
    try:
        newest = fill(engine)
        engine.dispose()
        migrate(fresh_db)
        assert counts(engine) == {"users": 3, "sites": 1, "hits": 1, "daily_stats": 1}
        assert "user_sessions" in inspect(engine).get_table_names()
        with engine.begin() as connection:
            # Its site goes too; its hits are the application's to delete (no foreign key since 0017).
            connection.execute(text("DELETE FROM hits WHERE site_id IN (SELECT id FROM sites WHERE owner_id = :id)"),
                               {"id": newest["user"]})
            connection.execute(text("DELETE FROM users WHERE id = :id"), {"id": newest["user"]})
            user = connection.execute(text(
                "INSERT INTO users (name, email, password_hash, is_admin, created_at)"
                " VALUES ('d', 'd@example.com', 'x', false, '2026-01-02') RETURNING id"
            )).scalar()
            site = connection.execute(text(
                "INSERT INTO sites (owner_id, name, url, timezone, honor_dnt, honor_gpc, restrict_hosts, created_at)"
                " VALUES (:owner, 's', 'https://example.com', 'UTC', true, true, true, '2026-01-02') RETURNING id"
            ), {"owner": user}).scalar()
        assert user > newest["user"] and site > newest["site"]
        assert counts(engine) == {"users": 3, "sites": 1, "hits": 0, "daily_stats": 0}
    finally:
        engine.dispose()


def test_the_downgrade_keeps_every_row(fresh_db):
    downgrade(fresh_db, "0005")
    engine = get_engine({"sqlalchemy.url": fresh_db})
    try:
        fill(engine)
        engine.dispose()
        migrate(fresh_db)
        downgrade(fresh_db, "0005")
        assert counts(engine, BEFORE_0007) == {"users": 3, "sites": 1, "hits": 1, "daily_stats": 1}
        assert "user_sessions" not in inspect(engine).get_table_names()
        engine.dispose()
        migrate(fresh_db)
        assert counts(engine) == {"users": 3, "sites": 1, "hits": 1, "daily_stats": 1}
    finally:
        engine.dispose()
