"""Storing hits: a bounded in-memory buffer drained by one writer thread in batches.

Durability contract (also in the README):

* A ``204`` from the beacon means the hit is in this process's buffer. The writer thread
  commits what is buffered in one transaction per batch: every ``interval`` seconds, or as
  soon as ``batch_size`` hits wait (group commit).
* When the database is unreachable, the batch stays in the buffer and is retried with back-off
  until it is written; new hits keep being accepted until ``max_pending`` hits wait, after
  which the beacon answers ``503`` (the hit was not accepted, the client may retry).
* On a clean shutdown (SIGTERM, SIGINT, interpreter exit) the buffer is written before the
  process exits. If the database stays unreachable for ``shutdown_timeout`` seconds, the
  remaining hits are written to a spool file in ``spool_dir`` and stored by the next start.
* A hard kill (SIGKILL, power loss) loses the hits still in the buffer: at most about
  ``interval`` seconds of traffic in normal operation.

Sessions: a visitor's hits less than 30 minutes apart form one session (a "visit" in the
reports). For each batch the writer reads the sessions of its visitors from the database (row
locks on PostgreSQL), so several server processes continue each other's sessions; two processes
seeing a brand-new visitor within the same instant may each open one. The summary tables of
:mod:`tracking.stats.rollups` are updated in the same transaction as the hits.
"""

import json
import logging
import os
import threading
import time
from collections import deque
from dataclasses import fields
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import ARRAY, BigInteger, Integer, and_, any_, bindparam, case, delete, select, text, tuple_
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from ..models import DailySalt, Site, Visit, VisitSession
from ..stats.dimensions import SESSION_DIMENSIONS
from ..stats.rollups import Delta, session_counts
from .enrich import visitor_id
from .pipeline import Hit

log = logging.getLogger(__name__)

SESSION_GAP = timedelta(minutes=30)
#: Salts are kept for today and yesterday, then deleted: a visitor id cannot be recomputed later.
SALT_DAYS = 2


class Store:
    def __init__(
        self,
        session_factory,
        *,
        max_pending: int = 100_000,
        batch_size: int = 2_000,
        interval: float = 0.2,
        shutdown_timeout: float = 30.0,
        spool_dir: str | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.max_pending = max_pending
        self.batch_size = batch_size
        self.interval = interval
        self.shutdown_timeout = shutdown_timeout
        self.spool_dir = Path(spool_dir) if spool_dir else None
        self._queue: deque[Hit] = deque()
        self._inflight = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._salts: dict[date, bytes] = {}
        self.written = 0
        self.failures = 0

    # -- the beacon's side ---------------------------------------------------------------

    def submit(self, hit: Hit) -> bool:
        """Buffer ``hit``; ``False`` when the buffer is full (the database has been away too long)."""
        with self._cond:
            if len(self._queue) + self._inflight >= self.max_pending or self._stopping:
                return False
            self._queue.append(hit)
            if len(self._queue) >= self.batch_size:
                self._cond.notify_all()
        return True

    @property
    def pending(self) -> int:
        return len(self._queue) + self._inflight

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._load_spool()
        self._thread = threading.Thread(target=self._run, name="tracking-store", daemon=True)
        self._thread.start()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything submitted so far is written; ``False`` on time-out."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._queue or self._inflight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    def close(self) -> None:
        """Write everything still buffered (or spool it), then stop the writer thread."""
        with self._cond:
            if self._stopping:
                return
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(self.shutdown_timeout + 5)
        if self._queue:
            self._spool(list(self._queue))
            self._queue.clear()

    def drain(self, session) -> int:
        """Write everything buffered in ``session``'s transaction, now, in this thread.

        For callers that own the transaction (tests, bulk tools) while no writer thread runs.
        """
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
            with self._cond:
                # Let a batch fill for up to ``interval``: each batch has a fixed cost.
                if len(self._queue) < self.batch_size and not self._stopping:
                    self._cond.wait(self.interval)
                if not self._queue:
                    if self._stopping:
                        return
                    continue
                batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
                self._inflight = len(batch)
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
                        log.error("database unreachable at shutdown; spooling %d hits", len(self._queue))
                        return
                backoff = min(max(backoff * 2, 0.1), 2.0)
                log.warning("could not store %d hits (%s); retrying in %.1f s", len(batch), exc.__class__.__name__, backoff)
                time.sleep(backoff)
                continue
            backoff = 0.0
            with self._cond:
                self._inflight = 0
                self.written += len(batch)
                self._cond.notify_all()

    def _write(self, batch: list[Hit]) -> None:
        with self.session_factory() as session:
            with session.begin():
                self.write_batch(session, batch)

    def write_batch(self, session, batch: list[Hit]) -> None:
        """Store ``batch`` in ``session``'s transaction: visitor ids, sessions, hits, summaries."""
        existing_sites = set(session.scalars(select(Site.id).where(Site.id.in_({hit.site_id for hit in batch}))))
        batch = [hit for hit in batch if hit.site_id in existing_sites]  # sites deleted meanwhile
        if not batch:
            return
        visitors = [visitor_id(self._salt(session, hit.ts.date()), hit.visitor_key) for hit in batch]
        delta = Delta()
        sessions = _sessionize(session, batch, visitors, delta)
        firsts = _first_hits(session, batch, visitors)
        rows = []
        for hit, visitor, open_session, first in zip(batch, visitors, sessions, firsts, strict=True):
            row = {name: getattr(hit, name) for name in _STORED_FIELDS}
            row["visitor"] = visitor
            row["session_id"] = open_session
            row["is_first"] = first
            rows.append(row)
            delta.add_hit(hit.site_id, hit.day, hit.ts, hit.event, hit.path, hit.props, first, hit.bot)
        # Core, not the ORM's bulk insert: the rows are plain dicts and this is the hot path.
        session.connection().execute(_VISITS.insert(), rows)
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
        oldest = day - timedelta(days=SALT_DAYS - 1)
        session.execute(delete(DailySalt).where(DailySalt.day < oldest))
        self._salts = {d: s for d, s in self._salts.items() if d >= oldest}
        self._salts[day] = salt
        return salt

    # -- spool ---------------------------------------------------------------------------

    def _spool(self, hits: list[Hit]) -> None:
        if self.spool_dir is None:
            log.error("no spool directory: %d acknowledged hits are lost", len(hits))
            return
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        path = self.spool_dir / f"hits-{os.getpid()}-{time.time_ns()}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for hit in hits:
                row = {name: getattr(hit, name) for name in _HIT_FIELDS}
                row["ts"] = hit.ts.isoformat()
                row["day"] = hit.day.isoformat()
                row["visitor_key"] = hit.visitor_key.hex()
                out.write(json.dumps(row) + "\n")
        log.warning("spooled %d hits to %s", len(hits), path)

    def _load_spool(self) -> None:
        if self.spool_dir is None or not self.spool_dir.is_dir():
            return
        for path in sorted(self.spool_dir.glob("hits-*.jsonl")):
            claimed = path.with_suffix(".loading")
            try:
                path.rename(claimed)  # only one process takes each file
            except OSError:
                continue
            with claimed.open(encoding="utf-8") as lines:
                for line in lines:
                    row = json.loads(line)
                    row["ts"] = datetime.fromisoformat(row["ts"])
                    row["day"] = date.fromisoformat(row["day"])
                    row["visitor_key"] = bytes.fromhex(row["visitor_key"])
                    self._queue.append(Hit(**row))
            claimed.unlink()
            log.warning("loaded spooled hits from %s", path)


_HIT_FIELDS = tuple(field.name for field in fields(Hit))
#: The fields of a hit that are columns of ``visits`` (the visitor key becomes the visitor id).
_STORED_FIELDS = tuple(name for name in _HIT_FIELDS if name != "visitor_key")
_VISITS = Visit.__table__


class _State:
    """A session as this batch leaves it, and its contribution before the batch (``before``)."""

    __slots__ = ("id", "site_id", "visitor", "day", "is_first", "started", "last", "attrs", "pageviews", "events", "before")

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
        self.before = None if id is None else (dict(attrs), self.counts())

    @property
    def duration(self) -> int:
        return int((self.last - self.started).total_seconds())

    def counts(self) -> tuple[int, ...]:
        return session_counts(self.is_first, self.pageviews, self.events, self.duration)

    def row(self) -> dict:
        row = {column: self.attrs[dim] for dim, column in SESSION_DIMENSIONS.items()}
        row.update(
            site_id=self.site_id, visitor=self.visitor, day=self.day, is_first=self.is_first, started_at=self.started,
            ended_at=self.last, pageviews=self.pageviews, events=self.events, duration=self.duration,
        )
        return row


def _attrs(hit: Hit) -> dict[str, str]:
    """A new session's dimensions: those of its first hit."""
    return {dim: hit.path if dim in ("entry", "exit") else getattr(hit, column) for dim, column in SESSION_DIMENSIONS.items()}

_S = VisitSession.__table__
_SESSION_COLUMNS = (_S.c.id, _S.c.site_id, _S.c.visitor, _S.c.day, _S.c.is_first, _S.c.started_at, _S.c.ended_at,
                    _S.c.pageviews, _S.c.events, *(_S.c[column] for column in SESSION_DIMENSIONS.values()))
_UPDATE_SESSION = (
    _S.update()
    .where(_S.c.id == bindparam("sid"))
    .values(
        ended_at=bindparam("ended_at"),
        exit_path=bindparam("exit_path"),
        pageviews=bindparam("pageviews"),
        events=bindparam("events"),
        duration=bindparam("duration"),
    )
)


def _sessionize(session, batch: list[Hit], visitors: list[int], delta: Delta) -> list[int | None]:
    """The session id of each hit (``None`` for bots), opening and extending sessions.

    The visitors' sessions are read from the database (locked on PostgreSQL, so that server
    processes extending the same session take turns); visitor ids change daily, so that is
    every session they had today, and any at all means this is not their first visit today.
    """
    people = [(i, hit) for i, hit in enumerate(batch) if not hit.bot]
    result: list[int | None] = [None] * len(batch)
    if not people:
        return result
    keys = {(hit.site_id, visitors[i]) for i, hit in people}
    postgresql = session.get_bind().dialect.name == "postgresql"
    query = select(*_SESSION_COLUMNS).where(_visitors_in(postgresql, _S, keys)).order_by(_S.c.ended_at)
    if postgresql:
        query = query.with_for_update()
    current: dict[tuple[int, int], _State] = {}
    for row in session.execute(query):
        if (row.site_id, row.visitor) not in keys:
            continue
        attrs = {dim: row._mapping[column] for dim, column in SESSION_DIMENSIONS.items()}
        current[(row.site_id, row.visitor)] = _State(
            row.id, row.site_id, row.visitor, row.day, row.is_first, row.started_at, row.ended_at, attrs,
            row.pageviews, row.events,
        )
    seen = set(current)

    new: list[_State] = []
    assigned: list[tuple[int, _State]] = []
    for i, hit in sorted(people, key=lambda item: item[1].ts):
        key = (hit.site_id, visitors[i])
        state = current.get(key)
        if state is None or hit.ts - state.last > SESSION_GAP:
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
        state.last = max(state.last, hit.ts)
        assigned.append((i, state))

    if new:
        rows = [s.row() for s in new]
        if postgresql:
            # Ids reserved in one round trip, then a plain executemany: cheaper than RETURNING.
            ids = session.connection().scalars(_RESERVE_SESSION_IDS, {"n": len(new)}).all()
            for row, new_id in zip(rows, ids, strict=True):
                row["id"] = new_id
            session.connection().execute(_S.insert(), rows)
        else:
            ids = session.connection().scalars(_S.insert().returning(_S.c.id, sort_by_parameter_order=True), rows).all()
        for state, new_id in zip(new, ids, strict=True):
            state.id = new_id
            delta.add_session(state.site_id, state.day, state.attrs, state.counts(), 1)
            delta.add_session_start(state.site_id, state.started, state.is_first)
    extended = {state.id: state for _, state in assigned if state.before is not None}
    if extended:
        session.connection().execute(
            _UPDATE_SESSION,
            [
                {"sid": s.id, "ended_at": s.last, "exit_path": s.attrs["exit"], "pageviews": s.pageviews,
                 "events": s.events, "duration": s.duration}
                for s in extended.values()
            ],
        )
        for state in extended.values():
            before_attrs, before_counts = state.before
            delta.add_session(state.site_id, state.day, before_attrs, before_counts, -1)
            delta.add_session(state.site_id, state.day, state.attrs, state.counts(), 1)
    for i, state in assigned:
        result[i] = state.id
    return result


_RESERVE_SESSION_IDS = text("SELECT nextval(pg_get_serial_sequence('visit_sessions', 'id')) FROM generate_series(1, :n)")


def _visitors_in(postgresql: bool, table, keys: set[tuple[int, int]]):
    """Rows of these (site, visitor) pairs. On PostgreSQL two array parameters (a superset the
    caller narrows down): thousands of separate parameters make the driver's query parsing the
    writer's main cost."""
    if postgresql:
        sites = sorted({site for site, _ in keys})
        return and_(
            table.c.site_id == any_(bindparam("sites", sites, type_=ARRAY(Integer))),
            table.c.visitor == any_(bindparam("visitors", [v for _, v in keys], type_=ARRAY(BigInteger))),
        )
    return tuple_(table.c.site_id, table.c.visitor).in_(keys)


def _first_hits(session, batch: list[Hit], visitors: list[int]) -> list[bool]:
    """Whether each hit is its visitor's first page view of that path (first event of that name) today."""
    keys = {(hit.site_id, visitors[i]) for i, hit in enumerate(batch) if not hit.bot}
    seen: set[tuple] = set()
    if keys:
        v = Visit.__table__
        what = case((v.c.event == "pageview", v.c.path), else_="")
        postgresql = session.get_bind().dialect.name == "postgresql"
        seen = {
            tuple(row)
            for row in session.execute(
                select(v.c.site_id, v.c.visitor, v.c.event, what).distinct().where(_visitors_in(postgresql, v, keys))
            )
        }
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
