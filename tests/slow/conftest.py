"""A PostgreSQL server of the slow tests' own, for the tests whose database server goes away."""

import pytest

from tests.pgcluster import Cluster, binaries
from tests.support import migrate


@pytest.fixture(scope="session")
def pg_cluster():
    """A throw-away cluster for the whole session (created on first use, deleted at the end):
    stop, restart or kill it at will; each test leaves it running (see ``private_db``)."""
    if binaries() is None:
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin")
    with Cluster() as cluster:
        yield cluster


@pytest.fixture
def private_db(database, request):
    """A migrated database of its own on ``pg_cluster``, whose server the test may stop or
    restart. PostgreSQL only: with ``--database=sqlite`` the test is skipped."""
    if database != "postgresql":
        pytest.skip("stops its own PostgreSQL server: run with --database=postgresql")
    pg_cluster = request.getfixturevalue("pg_cluster")
    url = pg_cluster.create_database()
    try:
        migrate(url)
        yield url
    finally:
        pg_cluster.start()  # whatever the test did to it
        pg_cluster.drop_database(url)
