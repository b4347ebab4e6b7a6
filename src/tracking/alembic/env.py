"""Alembic environment: the database URL comes from the ini file or TRACKING_DATABASE_URL."""

from alembic import context
from pyramid.paster import get_appsettings, setup_logging

from tracking.models import get_engine
from tracking.models.meta import Base
from tracking.settings import apply_environment

config = context.config

setup_logging(config.config_file_name)

settings = apply_environment(dict(get_appsettings(config.config_file_name)))
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=settings["sqlalchemy.url"], target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = get_engine(settings)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
