"""Storing hits: a bounded in-memory buffer drained by one writer thread in batches.

The store runs in the writer process (:mod:`.writer`, which adds the hand-over from the server
and restarts) or, with ``tracking.writer = thread``, in the server process itself.

Durability contract (also in the README):

* A ``204`` from the beacon means the hit is in this process's buffer. The writer thread
  commits what is buffered in one transaction per batch: every ``interval`` seconds, or as
  soon as ``batch_size`` hits wait (group commit).
* When the database is unreachable, the batch stays in the buffer and is retried with back-off
  until it is written; new hits keep being accepted until ``max_pending`` hits wait, after
  which the beacon answers ``503`` (the hit was not accepted, the client may retry).
* On a clean shutdown (SIGTERM, SIGINT, interpreter exit) the buffer is written before the
  process exits. If the database stays unreachable for ``shutdown_timeout`` seconds, the
  remaining hits are written to a spool file in ``spool_dir``.
* Spool files are claimed by a writer (:mod:`.spool`): at the next start, or within
  ``SCAN_SECONDS`` by a running one sharing the directory. Their hits are queued with the others,
  count as ``pending`` (``spooled`` of them) but not against ``max_pending``, and a file is
  deleted only once all its hits are committed. A writer that dies lets go of its files (the
  kernel drops its lock): the next one claims them again.
* A hard kill (SIGKILL, power loss) loses the hits still in the buffer: at most about
  ``interval`` seconds of traffic in normal operation.

Salts: visitor ids are salted with a random salt per UTC day (:class:`~tracking.models.DailySalt`),
kept for that day and the next (``SALT_DAYS``), then deleted. The writer thread deletes the
expired ones by its clock, whether hits come or not: when it starts, whenever the UTC day
changes, and at least every ``SALT_PRUNE_SECONDS``. A batch that needed the salt of an expired
day (spooled hits stored days later) deletes it again in its own transaction: such hits get a
fresh salt that lives only for their batch, so their visitor counts as new in each batch.

Visits: a visitor's hits less than 30 minutes apart form one visit. For each batch the writer
reads the visits of its visitors from the database (row locks on PostgreSQL; on SQLite the
database's write lock, taken at BEGIN), so several server processes continue each other's
visits; two processes seeing a brand-new visitor within the same instant may each open one.
The summary tables are updated in the same transaction as the hits (:mod:`tracking.summaries.delta`).

Jobs: between batches, when idle and at least every ``jobs.POLL_SECONDS``, the writer thread runs
the jobs that are due (a time-zone change's rebuild: :mod:`tracking.summaries.jobs`), so that they
never race this process's hit writes; hits keep being accepted into the buffer meanwhile.
"""

import json
import logging
import os
import threading
import time
from collections import deque
from operator import attrgetter, methodcaller
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import ARRAY, BigInteger, Integer, and_, any_, bindparam, delete, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from ..models import DailySalt, Hit, Site, Visit
from ..models.types import postgresql_array, utcnow
from ..summaries import jobs
from ..summaries.delta import Delta, visit_counts
from ..summaries.dimensions import VISIT_DIMENSIONS
from .enrich import visitor_id
from .pipeline import EnrichedHit
from .spool import HIT_FIELDS, SCAN_SECONDS, SpoolFile, claim, spool_hits

log = logging.getLogger(__name__)

VISIT_GAP = timedelta(minutes=30)
#: Salts are kept for today and yesterday, then deleted: a visitor id cannot be recomputed later.
SALT_DAYS = 2
#: The writer thread deletes expired salts at least this often, and whenever the UTC day changes.
SALT_PRUNE_SECONDS = 60.0
#: After a failed attempt (the database away), the next one is this much later.
SALT_RETRY_SECONDS = 5.0


#: Hits written in one transaction at most; a writer starts as soon as this many wait.
BATCH_SIZE = 2_000


class HitBuffer:
    """The beacon's side of a writer: a bounded buffer of acknowledged hits.

    The hits queued here and ``_inflight``, those taken by the writer and not yet committed (a
    number for :class:`Store`, the unacknowledged hits for the writer process), count against
    ``max_pending``. ``spooled`` counts the hits read from spool files (:mod:`.spool`) and not
    yet committed: they do not take the beacon's room, ``_spool_queued`` of them being in
    ``_queue`` or ``_inflight`` here (a :class:`Store`'s) or all in the writer process.
    ``pending`` is every hit not yet in the database. Subclasses drain ``_queue``, holding ``_cond``.
    """

    spooled = 0
    _spool_queued = 0

    def __init__(self, max_pending: int, batch_size: int = BATCH_SIZE) -> None:
        self.max_pending = max_pending
        self.batch_size = batch_size
        self._queue: deque[EnrichedHit] = deque()
        self._cond = threading.Condition()
        self._stopping = False

    def submit(self, hit: EnrichedHit) -> bool:
        """Buffer ``hit``; ``False`` when the buffer is full (the database has been away too long)."""
        with self._cond:
            if len(self._queue) + self._inflight - self._spool_queued >= self.max_pending or self._stopping:
                return False
            self._queue.append(hit)
            if len(self._queue) >= self.batch_size:
                self._cond.notify_all()
        return True

    @property
    def pending(self) -> int:
        """Hits acknowledged (by this server, or spooled by any) and not yet committed."""
        return len(self._queue) + self._inflight - self._spool_queued + self.spooled

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything submitted so far is committed; ``False`` on time-out."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._queue or self._inflight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    def _stop_accepting(self) -> bool:
        """Refuse hits from now on and wake the writer; ``False`` if already stopping."""
        with self._cond:
            if self._stopping:
                return False
            self._stopping = True
            self._cond.notify_all()
        return True


#: ``tracking.spool_dir`` when it is not set, under the working directory: hits are never lost
#: at shutdown for want of a setting.
DEFAULT_SPOOL_DIR = os.path.join("var", "spool")


def store_options(settings: dict) -> dict:
    """:class:`Store`'s options from the application's settings. The spool directory is made
    absolute (a relative one is taken from the working directory) and created when needed."""
    return {
        "max_pending": int(settings.get("tracking.buffer_size", 100_000)),
        "interval": float(settings.get("tracking.flush_seconds", 0.2)),
        "shutdown_timeout": float(settings.get("tracking.shutdown_seconds", 30)),
        "spool_dir": os.path.abspath(settings.get("tracking.spool_dir") or DEFAULT_SPOOL_DIR),
    }


class Store(HitBuffer):
    def __init__(
        self,
        session_factory,
        *,
        max_pending: int = 100_000,
        batch_size: int = BATCH_SIZE,
        interval: float = 0.2,
        shutdown_timeout: float = 30.0,
        spool_dir: str | None = None,
        on_progress=None,
        clock=utcnow,
    ) -> None:
        """``spool_dir``: where hits are spooled at shutdown, and where spool files are claimed
        from (see :mod:`.spool`). ``clock``: naive UTC now, for the salts' days (see the module's
        docstring)."""
        super().__init__(max_pending, batch_size)
        self.session_factory = session_factory
        self.interval = interval
        self.shutdown_timeout = shutdown_timeout
        self.spool_dir = Path(spool_dir) if spool_dir else None
        self._inflight = 0
        self._thread: threading.Thread | None = None
        self._salts: dict[date, bytes] = {}
        self.clock = clock
        self._salts_pruned_on: date | None = None  # the clock's day at the last deletion of salts
        self._salts_due = 0.0  # time.monotonic() of the next one
        self.written = 0  # hits committed, in the order they were queued
        self.failures = 0
        # The claimed spool files, in the order their hits were queued.
        self._claims: deque[_Claim] = deque()
        self._spool_committed = 0  # hits of spool files committed
        self._spool_scan_due = 0.0  # time.monotonic() of the next look for unclaimed spool files
        self._jobs_due = 0.0  # time.monotonic() of the next look for due jobs
        #: Called as ``on_progress(settled, spooled)`` whenever either changes: how many of the
        #: hits submitted are settled (committed, or spooled at shutdown; they settle in the order
        #: they were submitted), and how many hits read from spool files wait (``spooled``).
        self.on_progress = on_progress

    def submit_many(self, hits: list[EnrichedHit]) -> None:
        """Buffer ``hits``, whatever the bound (the writer process: its server keeps the bound)."""
        with self._cond:
            self._queue.extend(hits)
            if len(self._queue) >= self.batch_size:
                self._cond.notify_all()

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (after :meth:`load_spool`, to store spooled hits first). It
        also claims the spool files of other processes as it finds them (see :mod:`.spool`)."""
        self._thread = threading.Thread(target=self._run, name="tracking-store", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Write everything still buffered, then stop the writer thread. If the database stays
        away for ``shutdown_timeout``, the hits submitted here are spooled to a new file, and the
        claimed spool files are let go of as they are (their progress in their names)."""
        if not self._stop_accepting():
            return
        if self._thread is not None:
            self._thread.join(self.shutdown_timeout + 5)
        with self._cond:
            first = self.written + self._inflight  # the sequence number of the queue's first hit
            left = list(self._queue)
            self._queue.clear()
            claims = list(self._claims)
            self._claims.clear()
            self._spool_queued = self.spooled = 0
        from_spool = [False] * len(left)
        for claim in claims:
            for i in range(max(claim.start - first, 0), max(claim.end - first, 0)):
                from_spool[i] = True
            claim.file.release()
        own = [hit for hit, spooled in zip(left, from_spool, strict=True) if not spooled]
        if own:
            spool_hits(self.spool_dir, own)
        if left or claims:
            self._progress(settled=self.written - self._spool_committed + len(own))

    def drain(self, session) -> int:
        """Write everything buffered in ``session``'s transaction, now, in this thread.

        For callers that own the transaction (tests, bulk tools) while no writer thread runs, and
        no spool file is claimed (they are let go of only once committed: the writer thread's work).
        """
        if self._claims:
            raise RuntimeError("a store that claimed spool files writes them from its writer thread")
        with self._cond:
            batch = list(self._queue)
            self._queue.clear()
        if batch:
            self.write_batch(session, batch)
        return len(batch)

    # -- the writer thread ---------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.0
        deadline = None
        while True:
            if self.spool_dir is not None and not self._stopping and time.monotonic() >= self._spool_scan_due:
                self._claim_spool()  # another process's spool, or one whose writer died
            if not self._stopping and time.monotonic() >= self._jobs_due:
                self._run_jobs()
            with self._cond:
                # Let a batch fill for up to ``interval``: each batch has a fixed cost.
                if len(self._queue) < self.batch_size and not self._stopping:
                    self._cond.wait(self.interval)
                if not self._queue:
                    if self._stopping:
                        return
                    batch = None
                else:
                    batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
                    self._inflight = len(batch)
            if batch is None:  # idle: salts still expire
                if self._expired_salts() is not None:
                    self._delete_expired_salts_alone()
                continue
            try:
                self._write(batch)
            except (DBAPIError, SQLAlchemyError, OSError) as exc:
                self.failures += 1
                with self._cond:
                    self._queue.extendleft(reversed(batch))
                    self._inflight = 0
                    stopping = self._stopping
                if stopping:
                    deadline = deadline or time.monotonic() + self.shutdown_timeout
                    if time.monotonic() >= deadline:
                        log.error(
                            "database unreachable at shutdown; spooling %d hits, leaving %d in their spool files",
                            len(self._queue) - self.spooled, self.spooled,
                        )
                        return
                backoff = min(max(backoff * 2, 0.1), 2.0)
                log.warning("could not store %d hits (%s); retrying in %.1f s", len(batch), exc.__class__.__name__, backoff)
                time.sleep(backoff)
                continue
            backoff = 0.0
            with self._cond:
                self._inflight = 0
                self.written += len(batch)
                advanced = self._spool_advanced()
                self._cond.notify_all()
            for claim, count in advanced:  # a file is deleted only now, its hits all committed
                claim.file.committed(count)
            self._progress()

    def _run_jobs(self) -> None:
        """Run the jobs that are due, here between batches (see the module's docstring)."""
        self._jobs_due = time.monotonic() + jobs.POLL_SECONDS
        jobs.run_due(self.session_factory)

    def _write(self, batch: list[EnrichedHit]) -> None:
        with self.session_factory() as session:
            with session.begin():
                # On SQLite the transaction takes the database's write lock at once (BEGIN
                # IMMEDIATE): the visits it reads and the ids it reserves stay current until it
                # commits, whatever other server processes write to the same file meanwhile.
                session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
                self.write_batch(session, batch)
                # Due, or the batch needed an expired day's salt (spooled hits): delete it now.
                today = self._expired_salts()
                if today is not None:
                    self._delete_expired_salts(session, today)
        if today is not None:
            self._salts_deleted(today, SALT_PRUNE_SECONDS)

    def write_batch(self, session, batch: list[EnrichedHit]) -> None:
        """Store ``batch`` in ``session``'s transaction: visitor ids, visits, hits, summaries."""
        connection = session.connection()  # Core: plain rows, no ORM machinery on the hot path
        existing_sites = set(connection.scalars(select(Site.id).where(Site.id.in_({hit.site_id for hit in batch}))))
        batch = [hit for hit in batch if hit.site_id in existing_sites]  # sites deleted meanwhile
        if not batch:
            return
        visitors = [visitor_id(self._salt(session, hit.ts.date()), hit.visitor_key) for hit in batch]
        delta = Delta()
        visit_ids = _assign_visits(connection, batch, visitors, delta)
        firsts = _first_hits(connection, batch, visitors)
        rows = []
        for hit, visitor, visit_id, first in zip(batch, visitors, visit_ids, firsts, strict=True):
            rows.append((*_stored_values(hit), visitor, visit_id, first))
            delta.add_hit(hit.site_id, hit.day, hit.ts, hit.event, hit.path, hit.props, first, hit.bot)
        _INSERT_HITS.executemany(connection, rows)
        delta.apply(session)

    # -- salts ---------------------------------------------------------------------------

    def _salt(self, session, day: date) -> bytes:
        salt = self._salts.get(day)
        if salt is not None:
            return salt
        salt = session.scalar(select(DailySalt.salt).where(DailySalt.day == day))
        if salt is None:
            try:
                with session.begin_nested():
                    session.add(DailySalt(day=day, salt=os.urandom(32)))
            except IntegrityError:
                pass  # another process created it first: use theirs
            salt = session.scalar(select(DailySalt.salt).where(DailySalt.day == day))
        # The day a hit brings in rotates the salts too (a store without its writer thread:
        # tests, bulk tools); the writer thread also deletes them by its clock.
        self._delete_expired_salts(session, day)
        self._salts[day] = salt
        return salt

    def _expired_salts(self) -> date | None:
        """The clock's UTC day when expired salts are to be deleted now, else ``None``: at the
        first call, on a new day, every ``SALT_PRUNE_SECONDS``, or when an expired day's salt is
        in memory (a batch of old spooled hits needed it)."""
        today = self.clock().date()
        oldest = today - timedelta(days=SALT_DAYS - 1)
        if today != self._salts_pruned_on or time.monotonic() >= self._salts_due or any(d < oldest for d in self._salts):
            return today
        return None

    def _delete_expired_salts(self, session, today: date) -> None:
        """Delete, in ``session``'s transaction (and from memory), the salts of the days before
        the day before ``today``."""
        oldest = today - timedelta(days=SALT_DAYS - 1)
        self._salts = {d: s for d, s in self._salts.items() if d >= oldest}
        session.execute(delete(DailySalt).where(DailySalt.day < oldest))

    def _delete_expired_salts_alone(self) -> None:
        today = self.clock().date()
        try:
            with self.session_factory() as session:
                with session.begin():
                    self._delete_expired_salts(session, today)
        except (DBAPIError, SQLAlchemyError, OSError) as exc:
            log.warning("could not delete expired salts (%s); retrying in %.0f s", exc.__class__.__name__, SALT_RETRY_SECONDS)
            self._salts_deleted(today, SALT_RETRY_SECONDS)
            return
        self._salts_deleted(today, SALT_PRUNE_SECONDS)

    def _salts_deleted(self, today: date, again_in: float) -> None:
        self._salts_pruned_on = today
        self._salts_due = time.monotonic() + again_in

    # -- spool ---------------------------------------------------------------------------

    def load_spool(self) -> int:
        """Claim the spool files nobody holds and queue their hits (see :mod:`.spool`); returns
        how many. Called before :meth:`start`, so that they are stored first; the writer thread
        then claims those it finds later."""
        count = self._claim_spool()
        self._progress()
        return count

    def _claim_spool(self) -> int:
        self._spool_scan_due = time.monotonic() + SCAN_SECONDS
        claimed = claim(self.spool_dir)
        if not claimed:
            return 0
        count = 0
        with self._cond:
            for file, hits in claimed:
                start = self.written + self._inflight + len(self._queue)
                self._claims.append(_Claim(file, start, start + len(hits)))
                self._queue.extend(hits)
                count += len(hits)
            self.spooled += count
            self._spool_queued += count
            self._cond.notify_all()
        self._progress()
        return count

    def _spool_advanced(self) -> list[tuple["_Claim", int]]:
        """After a commit (``_cond`` held): each claimed file that has more of its hits committed,
        with how many more; forgets the files whose hits are all committed."""
        advanced = []
        for claim in self._claims:
            if claim.start >= self.written:
                break
            count = min(self.written, claim.end) - claim.start - claim.committed
            if count:
                claim.committed += count
                advanced.append((claim, count))
        while self._claims and self._claims[0].end <= self.written:
            self._claims.popleft()
        stored = sum(count for _, count in advanced)
        self._spool_committed += stored
        self.spooled -= stored
        self._spool_queued -= stored
        return advanced

    def _progress(self, settled: int | None = None) -> None:
        if self.on_progress is not None:
            self.on_progress(self.written - self._spool_committed if settled is None else settled, self.spooled)


class _Claim:
    """A claimed spool file and its hits' sequence numbers in a store's queue: ``start`` to
    ``end`` (the order hits are queued and committed in), ``committed`` of them stored."""

    __slots__ = ("file", "start", "end", "committed")

    def __init__(self, file: SpoolFile, start: int, end: int) -> None:
        self.file = file
        self.start = start
        self.end = end
        self.committed = 0


#: The fields of a hit that are columns of ``hits`` (the visitor key becomes the visitor id).
_STORED_FIELDS = tuple(name for name in HIT_FIELDS if name != "visitor_key")
_stored_values = attrgetter(*_STORED_FIELDS)
_HITS = Hit.__table__
_V = Visit.__table__
#: Visit dimensions, in the order of their columns after ``_VISIT_COLUMNS``' first nine.
_DIMS = tuple(VISIT_DIMENSIONS)
_VISIT_COLUMNS = (_V.c.id, _V.c.site_id, _V.c.visitor, _V.c.day, _V.c.is_first, _V.c.started_at, _V.c.ended_at,
                  _V.c.pageviews, _V.c.events, *(_V.c[column] for column in VISIT_DIMENSIONS.values()))


class _State:
    """A visit as this batch leaves it; for a visit read from the database, also its
    counts and exit page before the batch (``before``, ``before_exit``)."""

    __slots__ = ("id", "site_id", "visitor", "day", "is_first", "started", "last", "attrs", "pageviews", "events",
                 "before", "before_exit")

    def __init__(self, id, site_id, visitor, day, is_first, started, last, attrs, pageviews=0, events=0):
        self.id = id
        self.site_id = site_id
        self.visitor = visitor
        self.day = day
        self.is_first = is_first
        self.started = started
        self.last = last
        self.attrs = attrs
        self.pageviews = pageviews
        self.events = events
        self.before = None if id is None else self.counts()
        self.before_exit = None if id is None else attrs["exit"]

    @classmethod
    def from_row(cls, row) -> "_State":
        return cls(row[0], row[1], row[2], row[3], row[4], row[5], row[6], dict(zip(_DIMS, row[9:])), row[7], row[8])

    @property
    def duration(self) -> int:
        return int((self.last - self.started).total_seconds())

    def counts(self) -> tuple[int, ...]:
        return visit_counts(self.is_first, self.pageviews, self.events, self.duration)

    def row(self) -> tuple:
        """The values of ``_VISIT_FIELDS``."""
        return (
            self.id, self.site_id, self.visitor, self.day, self.is_first, self.started, self.last, self.pageviews,
            self.events, *(self.attrs[dim] for dim in _DIMS), self.duration,
        )


def _attrs(hit: EnrichedHit) -> dict[str, str]:
    """A new visit's dimensions: those of its first hit."""
    return {dim: hit.path if dim in ("entry", "exit") else getattr(hit, column) for dim, column in VISIT_DIMENSIONS.items()}


class _Statement:
    """An INSERT or UPDATE of positional rows: the driver's executemany (an INSERT on
    PostgreSQL: ``COPY``).

    SQLAlchemy's executemany compiles the parameters of every row (dictionaries in, the
    driver's format out): about a third of the writer's time per hit. Here the SQL is written
    once per dialect and only the columns whose type needs it are converted, with the bind
    processors SQLAlchemy would use (timestamps and JSON are stored exactly the same).
    """

    def __init__(self, table, columns: tuple[str, ...], key: str | None = None) -> None:
        self.table = table
        self.columns = columns  # an UPDATE sets these, in this order, where ``key`` is the last value
        self.key = key
        self._compiled: dict = {}

    def _for(self, dialect):
        key = (type(dialect), dialect.paramstyle)  # not the dialect: each engine has its own
        compiled = self._compiled.get(key)
        if compiled is None:
            quote = dialect.identifier_preparer.quote
            marker = "?" if dialect.paramstyle == "qmark" else "%s"
            table = quote(self.table.name)
            if self.key is None:
                names = ", ".join(quote(column) for column in self.columns)
                sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join([marker] * len(self.columns))})"
                typed = self.columns
            else:
                assignments = ", ".join(f"{quote(column)} = {marker}" for column in self.columns)
                sql = f"UPDATE {table} SET {assignments} WHERE {quote(self.key)} = {marker}"
                typed = (*self.columns, self.key)
            processors = []
            for i, column in enumerate(typed):
                column_type = self.table.c[column].type
                processor = column_type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None:
                    processors.append((i, _faster(processor, column_type)))
            compiled = self._compiled[key] = (sql, tuple(processors))
        return compiled

    def executemany(self, connection, rows: list[tuple]) -> None:
        if not rows:
            return
        sql, processors = self._for(connection.dialect)
        if processors:
            converted = []
            for row in rows:
                row = list(row)
                for i, processor in processors:
                    value = row[i]
                    if value is not None:
                        row[i] = processor(value)
                converted.append(tuple(row))
            rows = converted
        if connection.dialect.name != "postgresql":
            connection.exec_driver_sql(sql, rows)
        elif self.key is None:
            self._copy(connection, rows)
        else:
            self._update_from_arrays(connection, rows)

    def _update_from_arrays(self, connection, rows) -> None:
        """Update with one statement whose parameters are one array per column (``UPDATE …
        FROM unnest``): psycopg's executemany spends Python on every row."""
        dialect = connection.dialect
        sql = self._compiled.get("unnest")
        if sql is None:
            quote = dialect.identifier_preparer.quote
            names = (*self.columns, self.key)
            arrays = ", ".join(f"CAST(%s AS {postgresql_array(self.table.c[name])})" for name in names)
            assignments = ", ".join(f"{quote(column)} = u.{quote(column)}" for column in self.columns)
            table = quote(self.table.name)
            sql = self._compiled["unnest"] = (
                f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS u({', '.join(quote(n) for n in names)})"
                f" WHERE {table}.{quote(self.key)} = u.{quote(self.key)}"
            )
        connection.exec_driver_sql(sql, tuple(list(column) for column in zip(*rows, strict=True)))

    def _copy(self, connection, rows) -> None:
        """Insert with ``COPY``: psycopg formats the rows in C, where its executemany spends
        Python on every row (the writer's largest cost on PostgreSQL). Driver errors are raised
        as SQLAlchemy's, as for any other statement."""
        dialect = connection.dialect
        quote = dialect.identifier_preparer.quote
        sql = f"COPY {quote(self.table.name)} ({', '.join(quote(column) for column in self.columns)}) FROM STDIN"
        cursor = connection.connection.cursor()
        try:
            with cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        except dialect.loaded_dbapi.Error as error:
            invalidated = dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)
            if invalidated:
                connection.invalidate(error)
            raise DBAPIError.instance(
                sql, None, error, dialect.loaded_dbapi.Error, connection_invalidated=invalidated, dialect=dialect
            ) from error
        finally:
            cursor.close()


#: C implementations of what SQLite's timestamp and date bind processors write, for values of
#: each type, used when they write the same (SQLAlchemy's default formats: ``2026-03-01 04:05:06.000007``).
_ISO_FORMATS = {
    datetime: (methodcaller("isoformat", " ", "microseconds"), (datetime(2026, 3, 1, 4, 5, 6, 7), datetime(999, 1, 2))),
    date: (date.isoformat, (date(2026, 3, 1), date(999, 1, 2))),
}


def _faster(processor, column_type):
    """``processor``, or a C function that converts the column's values the same way."""
    try:
        faster, samples = _ISO_FORMATS[column_type.python_type]
    except (KeyError, NotImplementedError):
        return processor
    return faster if all(faster(sample) == processor(sample) for sample in samples) else processor


#: A hit's stored fields, then its visitor id, visit id and whether it is the visitor's first.
_INSERT_HITS = _Statement(_HITS, (*_STORED_FIELDS, "visitor", "visit_id", "is_first"))
_VISIT_FIELDS = tuple(c.name for c in _VISIT_COLUMNS) + ("duration",)
_INSERT_VISITS = _Statement(_V, _VISIT_FIELDS)
_UPDATE_VISITS = _Statement(_V, ("ended_at", "exit_path", "pageviews", "events", "duration"), key="id")


def _assign_visits(connection, batch: list[EnrichedHit], visitors: list[int], delta: Delta) -> list[int | None]:
    """The visit id of each hit (``None`` for bots), opening and extending visits.

    The visitors' visits are read from the database (locked on PostgreSQL, so that server
    processes extending the same visit take turns; on SQLite the writer's transaction holds
    the database's write lock); visitor ids change daily, so that is every visit they had
    today, and any at all means this is not their first visit today.
    """
    people = [(i, hit) for i, hit in enumerate(batch) if not hit.bot]
    result: list[int | None] = [None] * len(batch)
    if not people:
        return result
    keys = {(hit.site_id, visitors[i]) for i, hit in people}
    postgresql = connection.dialect.name == "postgresql"
    current: dict[tuple[int, int], _State] = {}
    for row in connection.execute(_VISITS_OF[postgresql], _visitor_parameters(postgresql, keys)).all():
        key = (row[1], row[2])  # rows come by ended_at: the last visit of each visitor wins
        if key in keys:
            current[key] = _State.from_row(row)
    seen = set(current)

    new: list[_State] = []
    assigned: list[tuple[int, _State]] = []
    for i, hit in sorted(people, key=lambda item: item[1].ts):
        key = (hit.site_id, visitors[i])
        state = current.get(key)
        if state is None or hit.ts - state.last > VISIT_GAP:
            state = _State(None, hit.site_id, visitors[i], hit.day, key not in seen, hit.ts, hit.ts, _attrs(hit))
            seen.add(key)
            current[key] = state
            new.append(state)
        if hit.event == "pageview":
            state.pageviews += 1
            if hit.ts >= state.last:
                state.attrs["exit"] = hit.path
        else:
            state.events += 1
        if hit.ts > state.last:
            state.last = hit.ts
        assigned.append((i, state))

    if new:
        for state, new_id in zip(new, _reserve_visit_ids(connection, postgresql, len(new)), strict=True):
            state.id = new_id
        # Ids chosen here: a plain executemany, cheaper than RETURNING row by row.
        _INSERT_VISITS.executemany(connection, [state.row() for state in new])
    extended = list({state.id: state for _, state in assigned if state.before is not None}.values())
    _UPDATE_VISITS.executemany(
        connection, [(s.last, s.attrs["exit"], s.pageviews, s.events, s.duration, s.id) for s in extended]
    )
    for state in new:
        delta.add_visit(state.site_id, state.day, state.attrs, state.counts())
        delta.add_visit_start(state.site_id, state.started, state.is_first)
    for state in extended:
        delta.change_visit(state.site_id, state.day, state.attrs, state.before, state.before_exit, state.counts())
    for i, state in assigned:
        result[i] = state.id
    return result


_RESERVE_VISIT_IDS = text("SELECT nextval(pg_get_serial_sequence('visits', 'id')) FROM generate_series(1, :n)")
_LAST_VISIT_ID = select(func.coalesce(func.max(_V.c.id), 0))


def _reserve_visit_ids(connection, postgresql: bool, n: int) -> list[int]:
    """``n`` unused visit ids, in one round trip.

    PostgreSQL: from the table's sequence. SQLite: the ids after the largest one, which is what
    SQLite itself would assign (``INTEGER PRIMARY KEY`` without ``AUTOINCREMENT``). Safe across
    processes because the writer's transaction holds the write lock from ``BEGIN IMMEDIATE``;
    in a deferred transaction another process's commit after this read makes the insert fail
    (stale snapshot, or a duplicate key) rather than reuse an id.
    """
    if postgresql:
        return connection.scalars(_RESERVE_VISIT_IDS, {"n": n}).all()
    last = connection.scalar(_LAST_VISIT_ID)
    return list(range(last + 1, last + 1 + n))


def _json_values(name: str):
    """The values of a JSON array parameter, as a one-column subquery (SQLite)."""
    return select(func.json_each(bindparam(name)).table_valued("value").c.value).scalar_subquery()


def _visitors_in(postgresql: bool, table):
    """Rows of the (site, visitor) pairs given by :func:`_visitor_parameters`: a superset the
    caller narrows down. Two parameters whatever the batch: thousands of separate ones make
    compiling the statement and the driver's query parsing the writer's main cost."""
    if postgresql:
        return and_(
            table.c.site_id == any_(bindparam("sites", type_=ARRAY(Integer))),
            table.c.visitor == any_(bindparam("visitors", type_=ARRAY(BigInteger))),
        )
    return and_(table.c.site_id.in_(_json_values("sites")), table.c.visitor.in_(_json_values("visitors")))


def _visitor_parameters(postgresql: bool, keys: set[tuple[int, int]]) -> dict:
    sites = sorted({site for site, _ in keys})
    visitors = [visitor for _, visitor in keys]
    if postgresql:
        return {"sites": sites, "visitors": visitors}
    return {"sites": json.dumps(sites), "visitors": json.dumps(visitors)}


#: The visits of some visitors, by ``ended_at``; on PostgreSQL locked (keyed by ``postgresql``).
_VISITS_OF = {
    False: select(*_VISIT_COLUMNS).where(_visitors_in(False, _V)).order_by(_V.c.ended_at),
    True: select(*_VISIT_COLUMNS).where(_visitors_in(True, _V)).order_by(_V.c.ended_at).with_for_update(),
}

#: Which of the keys (site, visitor, event, path for a page view or "" for an event) already
#: have a hit: one row per key that does (its position in the parameters, from 1).
_SEEN_KEYS = {
    False: text(
        "SELECT k.key + 1 FROM json_each(:keys) AS k WHERE EXISTS (SELECT 1 FROM hits AS h"
        " WHERE h.site_id = k.value ->> 0 AND h.visitor = k.value ->> 1 AND h.event = k.value ->> 2"
        " AND (h.event <> 'pageview' OR h.path = k.value ->> 3))"
    ),
    # A lateral subquery with LIMIT: one index probe per key, whatever the planner thinks of
    # the array's size (as a semi-join it may scan all the hits).
    True: text(
        "SELECT k.n FROM unnest(CAST(:sites AS integer[]), CAST(:visitors AS bigint[]), CAST(:events AS text[]),"
        " CAST(:paths AS text[])) WITH ORDINALITY AS k(site_id, visitor, event, path, n)"
        " CROSS JOIN LATERAL (SELECT 1 FROM hits AS h WHERE h.site_id = k.site_id AND h.visitor = k.visitor"
        " AND h.event = k.event AND (h.event <> 'pageview' OR h.path = k.path) LIMIT 1) AS seen"
    ),
}


def _first_hits(connection, batch: list[EnrichedHit], visitors: list[int]) -> list[bool]:
    """Whether each hit is its visitor's first page view of that path (first event of that name) today."""
    keys = list(dict.fromkeys(
        (hit.site_id, visitors[i], hit.event, hit.path if hit.event == "pageview" else "")
        for i, hit in enumerate(batch) if not hit.bot
    ))
    seen: set[tuple] = set()
    if keys:
        if connection.dialect.name == "postgresql":
            sites, people, events, paths = zip(*keys, strict=True)
            parameters = {"sites": list(sites), "visitors": list(people), "events": list(events), "paths": list(paths)}
            found = connection.scalars(_SEEN_KEYS[True], parameters)
        else:
            found = connection.scalars(_SEEN_KEYS[False], {"keys": json.dumps(keys)})
        seen = {keys[n - 1] for n in found}
    result = [False] * len(batch)
    for i in sorted(range(len(batch)), key=lambda i: batch[i].ts):
        hit = batch[i]
        if hit.bot:
            continue
        key = (hit.site_id, visitors[i], hit.event, hit.path if hit.event == "pageview" else "")
        if key not in seen:
            seen.add(key)
            result[i] = True
    return result
