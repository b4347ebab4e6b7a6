"""Throw-away PostgreSQL databases for the test suite, on the machine's shared server.

``python -m tests.postgresql`` exits 0 when the server in ``TRACKING_TEST_POSTGRESQL`` answers.
Tests create and drop databases there and never stop or restart that server: a test whose
database must go away runs its own (``tests/pgcluster.py``).
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


def postmaster_start_time(url: str = ADMIN_URL):
    """When the server at ``url`` started (``pg_postmaster_start_time()``), ``None`` if it does
    not answer: a restart changes it."""
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            return conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0]
    except psycopg.Error:
        return None


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
