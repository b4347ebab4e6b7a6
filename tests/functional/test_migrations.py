"""The migrations build exactly the schema the models describe, and can be undone."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from support import ROOT, environment, migrate
from tracking.models import get_engine
from tracking.models.meta import Base


def test_migrated_database_matches_the_models(fresh_db):
    engine = get_engine({"sqlalchemy.url": fresh_db})
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_sessions_by_country_index_comes_and_goes_with_its_migration(fresh_db):
    engine = get_engine({"sqlalchemy.url": fresh_db})
    try:
        def indexes():
            return {index["name"] for index in inspect(engine).get_indexes("visit_sessions")}

        assert "ix_visit_sessions_site_id_country_day" in indexes()
        with environment(TRACKING_DATABASE_URL=fresh_db):
            command.downgrade(Config(str(ROOT / "development.ini")), "0002")
        engine.dispose()
        assert "ix_visit_sessions_site_id_country_day" not in indexes()
        assert "ix_visit_sessions_site_id_day" in indexes()
        migrate(fresh_db)
        engine.dispose()
        assert "ix_visit_sessions_site_id_country_day" in indexes()
    finally:
        engine.dispose()


def test_daily_hits_are_built_from_the_page_and_event_rows_of_each_site(fresh_db):
    with environment(TRACKING_DATABASE_URL=fresh_db):
        command.downgrade(Config(str(ROOT / "development.ini")), "0003")
    engine = get_engine({"sqlalchemy.url": fresh_db})
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO users (id, name, email, password_hash, is_admin, created_at) VALUES (1, 'a', 'a@example.com', 'x', false, '2026-01-01')"))
            for site in (1, 2):
                connection.execute(text(
                    "INSERT INTO sites (id, owner_id, name, url, timezone, honor_dnt, honor_gpc, restrict_hosts, created_at)"
                    " VALUES (:id, 1, 's', 'https://example.com', 'UTC', true, true, true, '2026-01-01')"
                ), {"id": site})
            rows = [
                (1, "page", "2026-05-01", "/", 3, 0), (1, "page", "2026-05-01", "/a", 2, 0), (1, "event", "2026-05-01", "signup", 0, 4),
                (1, "page", "2026-05-02", "/", 1, 0), (1, "", "2026-05-01", "", 9, 9), (2, "event", "2026-05-01", "x", 0, 1),
            ]
            for site, dim, day, value, pageviews, events in rows:
                connection.execute(text(
                    "INSERT INTO daily_stats (site_id, dim, day, value, visitors, visits, pageviews, bounces, duration, events)"
                    " VALUES (:site, :dim, :day, :value, 0, 0, :pageviews, 0, 0, :events)"
                ), {"site": site, "dim": dim, "day": day, "value": value, "pageviews": pageviews, "events": events})
        engine.dispose()
        migrate(fresh_db)
        with engine.connect() as connection:
            hits = connection.execute(text(
                "SELECT site_id, CAST(day AS VARCHAR(10)), pageviews, events FROM daily_stats WHERE dim = 'hits' ORDER BY 1, 2"
            )).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in hits] == [(1, "2026-05-01", 5, 4), (1, "2026-05-02", 1, 0), (2, "2026-05-01", 0, 1)]


def test_visits_stored_before_the_as_organisation_get_an_empty_one(fresh_db):
    """0005 adds ``visits.as_org`` to a table that already has hits: theirs is "" (no AS known);
    its downgrade takes the column away again."""
    from datetime import date, datetime

    from sqlalchemy import Boolean, Date, DateTime, Integer, MetaData, String, Table

    with environment(TRACKING_DATABASE_URL=fresh_db):
        command.downgrade(Config(str(ROOT / "development.ini")), "0004")
    engine = get_engine({"sqlalchemy.url": fresh_db})
    try:
        assert "as_org" not in {column["name"] for column in inspect(engine).get_columns("visits")}
        visits = Table("visits", MetaData(), autoload_with=engine)
        by_type = ((Boolean, False), (DateTime, datetime(2026, 5, 1, 12)), (Date, date(2026, 5, 1)), (String, ""), (Integer, 1))
        row = {
            column.name: next(value for kind, value in by_type if isinstance(column.type, kind))
            for column in visits.columns
            if not column.nullable and column.name != "id"
        }
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO users (id, name, email, password_hash, is_admin, created_at) VALUES (1, 'a', 'a@example.com', 'x', false, '2026-01-01')"))
            connection.execute(text(
                "INSERT INTO sites (id, owner_id, name, url, timezone, honor_dnt, honor_gpc, restrict_hosts, created_at)"
                " VALUES (1, 1, 's', 'https://example.com', 'UTC', true, true, true, '2026-01-01')"
            ))
            connection.execute(visits.insert().values(**row))
        engine.dispose()
        migrate(fresh_db)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT site_id, as_org FROM visits")).all() == [(1, "")]
        engine.dispose()
        with environment(TRACKING_DATABASE_URL=fresh_db):
            command.downgrade(Config(str(ROOT / "development.ini")), "0004")
        assert "as_org" not in {column["name"] for column in inspect(engine).get_columns("visits")}
        engine.dispose()
        migrate(fresh_db)
    finally:
        engine.dispose()
