"""Database wiring: engine → session factory → transaction-bound session per request."""

import sqlite3
from collections.abc import Mapping

import pyramid_retry
import zope.sqlalchemy
from sqlalchemy import engine_from_config, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, configure_mappers, sessionmaker
from zope.interface import implementer

from ..interfaces import IDatabase, ISettings
from ..pathglob import sqlite_glob
from .accounts import User  # noqa: F401
from .api_keys import ApiKey  # noqa: F401
from .conversions import Experiment, Funnel, FunnelStep  # noqa: F401
from .engagements import Engagement  # noqa: F401
from .goals import Goal  # noqa: F401
from .hits import DailySalt, Hit, Visit  # noqa: F401
from .ignored import IgnoredHits  # noqa: F401
from .jobs import Job  # noqa: F401
from .members import Invitation, PasswordToken, ShareLink, SiteEvent, SiteMember  # noqa: F401
from .meta import Base  # noqa: F401
from .sites import Site  # noqa: F401
from .summaries import (  # noqa: F401
    DailyStat,
    FunnelStat,
    FunnelVisit,
    FunnelVisitor,
    GoalPair,
    GoalPairVisitor,
    GoalRevenue,
    GoalStat,
    GoalVisit,
    GoalVisitor,
    HourlyStat,
    SegmentStat,
    SegmentValue,
)
from .throttle import LoginThrottle  # noqa: F401
from .user_sessions import UserSession  # noqa: F401

configure_mappers()


def _sqlite_connect(dbapi_connection, connection_record) -> None:
    """Foreign keys on (cascading deletes), WAL so readers never wait for the writer.

    The driver's own transaction handling is turned off so that SQLAlchemy's BEGIN (below)
    and SAVEPOINTs behave as documented.
    """
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
    # Goals' page patterns with several wildcards, matched without backtracking (see pathglob).
    dbapi_connection.create_function("tracking_glob", 3, sqlite_glob, deterministic=True)


#: ``BEGIN`` variants a connection may ask for with the ``sqlite_begin`` execution option.
_SQLITE_BEGIN = {"": "BEGIN", "DEFERRED": "BEGIN DEFERRED", "IMMEDIATE": "BEGIN IMMEDIATE", "EXCLUSIVE": "BEGIN EXCLUSIVE"}


def _sqlite_begin(connection) -> None:
    """``BEGIN``, or ``BEGIN IMMEDIATE`` for a transaction that must hold the write lock from its
    start (``connection.execution_options(sqlite_begin="IMMEDIATE")``: the hit writer)."""
    connection.exec_driver_sql(_SQLITE_BEGIN[connection.get_execution_options().get("sqlite_begin", "")])


def _retry_when_locked(context) -> None:
    """SQLite answers "database is locked" at once when a transaction that has read tries to
    write after another connection committed (WAL snapshots): the request is retried."""
    error = context.original_exception
    if isinstance(error, sqlite3.OperationalError) and "locked" in str(error) and context.sqlalchemy_exception:
        pyramid_retry.mark_error_retryable(context.sqlalchemy_exception)


def get_engine(settings: Mapping[str, str], prefix: str = "sqlalchemy.") -> Engine:
    """The engine of ``settings``' ``sqlalchemy.*`` values (``Settings.database``)."""
    options = {}
    if make_url(settings[prefix + "url"]).get_backend_name() == "postgresql":
        # executemany through psycopg's pipeline: SQLAlchemy's multi-row VALUES statements make
        # the driver parse thousands of placeholders on every batch of hits.
        options["use_insertmanyvalues"] = False
    engine = engine_from_config(dict(settings), prefix, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "handle_error", _retry_when_locked)
    return engine


def get_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine)


def get_tm_session(session_factory: sessionmaker[Session], transaction_manager, request=None) -> Session:
    """A session joined to ``transaction_manager``: committed or aborted with it."""
    dbsession = session_factory(info={"request": request})
    zope.sqlalchemy.register(dbsession, transaction_manager=transaction_manager)
    return dbsession


@implementer(IDatabase)
class Database:
    """The :class:`~tracking.interfaces.IDatabase` service: an engine and its session factory.

    ``bind``: what sessions use, when not the engine itself (a test binds them to the connection
    of its outer transaction, with ``join_transaction_mode="create_savepoint"``)."""

    def __init__(self, engine: Engine, *, bind=None, **session_options) -> None:
        self.engine = engine
        self.session_factory: sessionmaker[Session] = sessionmaker(bind=engine if bind is None else bind, **session_options)

    @classmethod
    def from_settings(cls, database: Mapping[str, str]) -> "Database":
        return cls(get_engine(database))


#: Requests that may write: on SQLite their transaction takes the write lock when it begins.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def dbsession(request) -> Session:
    """``request.dbsession``: a session in the request's transaction (``request.tm``).

    On SQLite a request that may write (not ``GET``, ``HEAD`` or ``OPTIONS``) begins with
    ``BEGIN IMMEDIATE``: it waits for the hit writer's lock (``busy_timeout``) rather than read
    first and then find the lock taken, which SQLite answers at once with "database is locked"
    (a retry, and after ``retry.attempts`` of them the error page, while a long job of the
    writer holds the lock). The beacon writes through the writer, never through this session."""
    database = request.registry.getUtility(IDatabase)
    session = get_tm_session(database.session_factory, request.tm, request=request)
    if request.method not in _SAFE_METHODS and database.engine.dialect.name == "sqlite":
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    return session


def includeme(config) -> None:
    registry = config.registry
    config.add_settings({
        "tm.manager_hook": "pyramid_tm.explicit_manager",
        # The beacon must never load a user to annotate a transaction.
        "tm.annotate_user": False,
    })
    # A unique-constraint race (two sign-ups with one e-mail) is retried (``retry.attempts``,
    # tracking.settings); the retry sees the row.
    config.include("pyramid_tm")
    config.include("pyramid_retry")
    pyramid_retry.mark_error_retryable(IntegrityError)
    # The application may be given its database (tests); otherwise the settings' engine.
    if registry.queryUtility(IDatabase) is None:
        registry.registerUtility(Database.from_settings(registry.getUtility(ISettings).database), IDatabase)
    config.add_request_method(dbsession, reify=True)
