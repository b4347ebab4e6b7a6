"""The migrations build exactly the schema the models describe, and can be undone."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect

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
