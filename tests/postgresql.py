"""Throw-away PostgreSQL databases for the test suite.

``python tests/postgresql.py`` exits 0 when the server in ``TRACKING_TEST_POSTGRESQL`` answers.
"""

import os
import sys
import uuid
from contextlib import contextmanager

import psycopg

ADMIN_URL = os.environ.get("TRACKING_TEST_POSTGRESQL", "postgresql://postgres@127.0.0.1:5432/postgres")


def available() -> bool:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextmanager
def throwaway_database(prefix: str = "tracking_test"):
    """Create a fresh database, yield its SQLAlchemy URL, drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    info = psycopg.conninfo.conninfo_to_dict(ADMIN_URL)
    info["dbname"] = name
    url = "postgresql+psycopg://{user}@{host}:{port}/{dbname}".format(
        user=info.get("user", "postgres"), host=info.get("host", "127.0.0.1"), port=info.get("port", 5432), dbname=name
    )
    try:
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(0 if available() else 1)
