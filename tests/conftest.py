"""Test fixtures: one migrated database per run, one rolled-back transaction per test.

``pytest`` runs on SQLite; ``pytest --database=postgresql`` runs the same suite on a throw-away
PostgreSQL database (see ``tests/postgresql.py``).
"""

import sys
from pathlib import Path

import pytest
import transaction

from tracking import make_app, models
from tracking.interfaces import IDatabase
from tracking.models import Database, User

HERE = Path(__file__).parent

from tests.postgresql import postmaster_start_time, throwaway_database
from tests.support import PASSWORD, TestApp, migrate, store_buffered


def pytest_addoption(parser):
    parser.addoption("--database", choices=("sqlite", "postgresql"), default="sqlite")


_POSTMASTER = pytest.StashKey()


def pytest_sessionstart(session):
    session.config.stash[_POSTMASTER] = postmaster_start_time()


def pytest_sessionfinish(session):
    """Fail the run if the machine's shared PostgreSQL was restarted or stopped meanwhile: tests
    that need a database server to go away start their own (``tests/pgcluster.py``)."""
    before = session.config.stash.get(_POSTMASTER, None)
    after = postmaster_start_time() if before is not None else None
    if before is not None and after != before:
        now = "is down" if after is None else f"was restarted at {after}"
        message = f"the shared PostgreSQL server started at {before} {now}: a test must use its own (tests/pgcluster.py)"
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_sep("!", message, red=True)
        else:
            print(message, file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def database(request):
    return request.config.getoption("--database")


@pytest.fixture(scope="session")
def db_url(database, tmp_path_factory):
    if database == "postgresql":
        with throwaway_database() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'tracking.sqlite'}"


@pytest.fixture
def fresh_db(database, tmp_path):
    """A migrated database of its own, for tests whose servers or threads commit."""
    if database == "postgresql":
        with throwaway_database("tracking_fresh") as url:
            migrate(url)
            yield url
    else:
        url = f"sqlite:///{tmp_path}/fresh.sqlite"
        migrate(url)
        yield url


@pytest.fixture(scope="session")
def app_settings(db_url):
    return {
        "sqlalchemy.url": db_url,
        "tracking.secret": "test-secret-" + "x" * 32,
        "tracking.store_ip": "truncated",
        "retry.attempts": "3",
        # A fault test restarts PostgreSQL: pooled connections must be checked before use.
        "sqlalchemy.pool_pre_ping": "true",
        # Tests write buffered hits themselves, inside the test's transaction (see ``store``).
        "tracking.writer": "off",
        # The tests send hundreds of hits a second from one address (REMOTE_ADDR below): the
        # per-client limit is off here, and on in its own tests (functional/test_beacon_limits.py).
        "tracking.beacon_rate": "0",
    }


@pytest.fixture(scope="session")
def dbengine(app_settings):
    migrate(app_settings["sqlalchemy.url"])
    engine = models.get_engine(app_settings)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(dbengine):
    """One outer transaction per test; every request's commit only releases a savepoint in it."""
    conn = dbengine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def db_service(dbengine, connection):
    """The database service of a test's applications: sessions in the test's transaction."""
    return Database(dbengine, bind=connection, join_transaction_mode="create_savepoint")


@pytest.fixture
def app(app_settings, db_service):
    """An application of the test's own (its site cache, its hit buffer, its services), on the
    test's transaction. A test swaps a service with ``app.registry.registerUtility(obj, IFoo)``."""
    return make_app(app_settings, database=db_service)


@pytest.fixture
def tm():
    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    yield manager
    manager.abort()


@pytest.fixture
def dbsession(app, connection, tm):
    """A session in the test's transaction, for arranging rows and checking results."""
    return models.get_tm_session(app.registry.getUtility(IDatabase).session_factory, tm)


@pytest.fixture(scope="session")
def password_hash():
    user = User(name="", email="")
    user.set_password(PASSWORD)
    return user.password_hash


@pytest.fixture
def make_user(dbsession, password_hash):
    counter = iter(range(1, 10_000))

    def make(name=None, email=None, admin=False):
        n = next(counter)
        user = User(
            name=name or f"User {n}",
            email=email or f"user{n}@example.com",
            password_hash=password_hash,
            is_admin=admin,
        )
        dbsession.add(user)
        dbsession.flush()
        return user

    return make


@pytest.fixture
def make_site(dbsession):
    def make(owner, name="Example", url="https://example.com", **kw):
        site = models.Site(owner=owner, name=name, url=url, **kw)
        dbsession.add(site)
        dbsession.flush()
        return site

    return make


@pytest.fixture
def testapp(app, connection):
    return TestApp(app, extra_environ={"HTTP_HOST": "tracking.example.org", "REMOTE_ADDR": "203.0.113.7"})


@pytest.fixture
def owner(make_user):
    return make_user(name="Olivia Owner", email="owner@example.com")


@pytest.fixture
def other(make_user):
    return make_user(name="Oscar Other", email="other@example.com")


@pytest.fixture
def admin(make_user):
    return make_user(name="Ada Admin", email="admin@example.com", admin=True)


@pytest.fixture
def site(make_site, owner):
    return make_site(owner, name="Owner's blog", url="https://blog.example.com")


@pytest.fixture
def stored(app, dbsession):
    """Write the hits the beacon buffered (as the writer thread would) and return how many."""
    return lambda: store_buffered(app, dbsession)
