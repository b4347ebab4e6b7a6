"""The migrations build exactly the schema the models describe, and can be undone."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from tests.postgresql import throwaway_database
from tests.support import ROOT, environment, migrate
from tracking.models import get_engine
from tracking.models.meta import Base


def owner_and_sites(connection, ids, timezone: str = "UTC") -> None:
    """User 1 and its sites ``ids``, written as plain rows (the columns every schema since 0001 has)."""
    connection.execute(text("INSERT INTO users (id, name, email, password_hash, is_admin, created_at)"
                            " VALUES (1, 'a', 'a@example.com', 'x', false, '2026-01-01')"))
    for site in ids:
        connection.execute(text(
            "INSERT INTO sites (id, owner_id, name, url, timezone, honor_dnt, honor_gpc, restrict_hosts, created_at)"
            " VALUES (:id, 1, 's', 'https://example.com', :timezone, true, true, true, '2026-01-01')"
        ), {"id": site, "timezone": timezone})


def test_migrated_database_matches_the_models(fresh_db):
    engine = get_engine({"sqlalchemy.url": fresh_db})
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def schema_names(url: str) -> dict:
    """Every name in a database's schema that the naming convention decides, by table: the
    columns, the primary key, the foreign keys, the unique constraints, the indexes (with their
    columns) and, on PostgreSQL, the sequence of the id column. ``compare_metadata`` looks at
    none of the constraints' names."""
    engine = get_engine({"sqlalchemy.url": url})
    try:
        inspector = inspect(engine)
        names = {}
        for table in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
            columns = [column["name"] for column in inspector.get_columns(table)]
            names[table] = {
                "columns": sorted(columns),
                "primary key": inspector.get_pk_constraint(table)["name"],
                "foreign keys": sorted(
                    (key["name"], tuple(key["constrained_columns"]), key["referred_table"])
                    for key in inspector.get_foreign_keys(table)
                ),
                "unique": sorted(unique["name"] for unique in inspector.get_unique_constraints(table)),
                "indexes": sorted((index["name"], tuple(index["column_names"])) for index in inspector.get_indexes(table)),
            }
            if engine.dialect.name == "postgresql" and "id" in columns:
                with engine.connect() as connection:
                    names[table]["sequence"] = connection.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table})
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                names["(sequences)"] = sorted(connection.scalars(text("SELECT relname FROM pg_class WHERE relkind = 'S'")))
        return names
    finally:
        engine.dispose()


@pytest.fixture
def created_db(database, tmp_path):
    """A database built from the models alone (``create_all``), not by the migrations."""
    if database == "postgresql":
        with throwaway_database("tracking_created") as url:
            engine = get_engine({"sqlalchemy.url": url})
            Base.metadata.create_all(engine)
            engine.dispose()
            yield url
    else:
        url = f"sqlite:///{tmp_path}/created.sqlite"
        engine = get_engine({"sqlalchemy.url": url})
        Base.metadata.create_all(engine)
        engine.dispose()
        yield url


def test_migrated_database_names_everything_as_the_models_do(fresh_db, created_db):
    """Tables, columns, keys, indexes and sequences are named alike in a migrated database and
    one built from the models: ``hits`` and ``visits``, ``pk_hits``, ``ix_hits_visit_id``,
    ``visits_id_seq``..., nothing left of ``visit_sessions`` or ``session_id``."""
    migrated = schema_names(fresh_db)
    assert migrated == schema_names(created_db)
    assert {"hits", "visits"} <= set(migrated) and "visit_sessions" not in migrated
    assert "visit_id" in migrated["hits"]["columns"] and "session_id" not in migrated["hits"]["columns"]
    assert migrated["hits"]["primary key"] == "pk_hits" and migrated["visits"]["primary key"] == "pk_visits"


def test_visits_by_country_index_comes_and_goes_with_its_migration(fresh_db):
    """0003 adds the index (to ``visit_sessions``, the visits' table until 0007)."""
    engine = get_engine({"sqlalchemy.url": fresh_db})
    try:
        def indexes(table):
            return {index["name"] for index in inspect(engine).get_indexes(table)}

        assert "ix_visits_site_id_country_day" in indexes("visits")
        with environment(TRACKING_DATABASE_URL=fresh_db):
            command.downgrade(Config(str(ROOT / "development.ini")), "0002")
        engine.dispose()
        assert "ix_visit_sessions_site_id_country_day" not in indexes("visit_sessions")
        assert "ix_visit_sessions_site_id_day" in indexes("visit_sessions")
        migrate(fresh_db)
        engine.dispose()
        assert "ix_visits_site_id_country_day" in indexes("visits")
    finally:
        engine.dispose()


def test_daily_hits_are_built_from_the_page_and_event_rows_of_each_site(fresh_db):
    with environment(TRACKING_DATABASE_URL=fresh_db):
        command.downgrade(Config(str(ROOT / "development.ini")), "0003")
    engine = get_engine({"sqlalchemy.url": fresh_db})
    try:
        with engine.begin() as connection:
            owner_and_sites(connection, (1, 2))
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


def test_hits_stored_before_the_as_organisation_get_an_empty_one(fresh_db):
    """0005 adds ``as_org`` to the hits' table (``visits`` until 0007) when it already has hits:
    theirs is "" (no AS known); its downgrade takes the column away again."""
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
            owner_and_sites(connection, (1,))
            connection.execute(visits.insert().values(**row))
        engine.dispose()
        migrate(fresh_db)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT site_id, as_org FROM hits")).all() == [(1, "")]
        engine.dispose()
        with environment(TRACKING_DATABASE_URL=fresh_db):
            command.downgrade(Config(str(ROOT / "development.ini")), "0004")
        assert "as_org" not in {column["name"] for column in inspect(engine).get_columns("visits")}
        engine.dispose()
        migrate(fresh_db)
    finally:
        engine.dispose()


def test_sites_with_data_are_segmented_by_a_rebuild_job_after_0021(fresh_db):
    """0021 adds the segments' summaries: a site without data is segmented at once; one with
    data waits for the ``segments`` job it gets (its filters read the raw rows until then),
    which counts its past and marks it."""
    from sqlalchemy.orm import sessionmaker

    from tracking.summaries.jobs import run_due

    with environment(TRACKING_DATABASE_URL=fresh_db):
        command.downgrade(Config(str(ROOT / "development.ini")), "0020_funnel_visits")
    engine = get_engine({"sqlalchemy.url": fresh_db})
    try:
        with engine.begin() as connection:
            owner_and_sites(connection, (1, 2), timezone="Europe/Paris")
            connection.execute(text(
                "INSERT INTO daily_stats (site_id, dim, day, value, visitors, visits, pageviews, bounces, duration, events)"
                " VALUES (1, '', '2026-05-01', '', 1, 1, 1, 1, 0, 0)"
            ))
        engine.dispose()
        migrate(fresh_db)
        with engine.connect() as connection:
            segmented = dict(connection.execute(text("SELECT id, segmented FROM sites")).all())
            jobs = connection.execute(text("SELECT site_id, kind, payload, state FROM jobs ORDER BY id")).all()
        assert segmented == {1: False, 2: True}
        # (And, from 0023, each site's first choice of its common values.)
        assert [tuple(job) for job in jobs] == [(1, "segments", "", "pending"), (1, "values", "", "pending"),
                                                (2, "values", "", "pending")]
        assert run_due(sessionmaker(engine)) == 1
        with engine.connect() as connection:
            assert dict(connection.execute(text("SELECT id, segmented FROM sites")).all()) == {1: True, 2: True}
    finally:
        engine.dispose()


def test_a_deleted_jobs_id_is_never_given_again(fresh_db):
    """Jobs' ids are never reused (a job named in a log is that job), also on SQLite after the
    migrations that copy the table to change its checks (0018, 0021)."""
    migrate(fresh_db)
    engine = get_engine({"sqlalchemy.url": fresh_db})
    try:
        with engine.begin() as connection:
            owner_and_sites(connection, (1,))
            for _ in range(3):
                connection.execute(text("INSERT INTO jobs (site_id, kind, payload, state, created_at, attempts)"
                                        " VALUES (1, 'goals', '', 'done', '2026-01-01', 1)"))
            connection.execute(text("DELETE FROM jobs"))
            connection.execute(text("INSERT INTO jobs (site_id, kind, payload, state, created_at, attempts)"
                                    " VALUES (1, 'goals', '', 'pending', '2026-01-02', 0)"))
            assert connection.execute(text("SELECT max(id) FROM jobs")).scalar() == 4
    finally:
        engine.dispose()


@pytest.mark.parametrize("before", ["0023_segment_values", "0024_goal_visits"])
def test_goals_are_counted_again_for_their_new_rows(fresh_db, before):
    """0024 adds the goals' segments, 0025 their pairs: every goal's rows are marked not counted
    for its rules (the goals panel reads the raw rows meanwhile) and each site with goals gets
    one ``goals`` job, which counts them, new rows included, and marks them again."""
    from sqlalchemy.orm import sessionmaker

    from tracking.summaries.jobs import run_due

    with environment(TRACKING_DATABASE_URL=fresh_db):
        command.downgrade(Config(str(ROOT / "development.ini")), before)
    engine = get_engine({"sqlalchemy.url": fresh_db})
    try:
        with engine.begin() as connection:
            owner_and_sites(connection, (1, 2))
            for name in ("a", "b"):
                connection.execute(text(
                    "INSERT INTO goals (site_id, name, kind, pattern, event, prop_key, prop_value, created_at,"
                    " rules_version, summarized_version) VALUES (1, :name, 'event', '', 'Signup', '', '',"
                    " '2026-01-01', 1, 1)"
                ), {"name": name})
        engine.dispose()
        migrate(fresh_db)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT DISTINCT summarized_version FROM goals")).scalars().all() == [0]
            jobs = connection.execute(text("SELECT site_id, kind, state FROM jobs WHERE kind = 'goals'")).all()
        assert [tuple(job) for job in jobs] == [(1, "goals", "pending")]
        assert run_due(sessionmaker(engine)) == 1
        with engine.connect() as connection:
            assert connection.execute(text("SELECT DISTINCT summarized_version FROM goals")).scalars().all() == [1]
    finally:
        engine.dispose()
