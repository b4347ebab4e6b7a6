"""Alembic environment: the database URL comes from the ini file or TRACKING_DATABASE_URL."""

from alembic import context
from pyramid.paster import get_appsettings, setup_logging

from tracking.models import get_engine
from tracking.models.meta import Base
from tracking.settings import database_settings

config = context.config

setup_logging(config.config_file_name)

settings = database_settings(get_appsettings(config.config_file_name))
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=settings["sqlalchemy.url"], target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = get_engine(settings)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite changes a table by rebuilding it (batch mode): a new table, the rows copied,
            # the old one dropped. With foreign keys on, that drop would first delete the old
            # rows and cascade to every row referring to them. SQLite's own procedure for such
            # changes: foreign keys off (only possible outside a transaction), then every
            # reference checked before the commit.
            driver_connection = connection.connection.driver_connection
            assert driver_connection is not None  # an open connection's
            driver_connection.execute("PRAGMA foreign_keys=OFF")
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"the migration left rows referring to missing rows: {broken[:10]}")
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
