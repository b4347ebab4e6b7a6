"""Storing hits: a bounded in-memory buffer drained by one writer thread in batches.

Durability contract (also in the README):

* A ``204`` from the beacon means the hit is in this process's buffer. The writer thread
  commits what is buffered in one transaction per batch, continuously: under load a batch
  holds whatever arrived while the previous one was being written (group commit), and an idle
  buffer is written within ``interval`` seconds.
* When the database is unreachable, the batch stays in the buffer and is retried with back-off
  until it is written; new hits keep being accepted until ``max_pending`` hits wait, after
  which the beacon answers ``503`` (the hit was not accepted, the client may retry).
* On a clean shutdown (SIGTERM, SIGINT, interpreter exit) the buffer is written before the
  process exits. If the database stays unreachable for ``shutdown_timeout`` seconds, the
  remaining hits are written to a spool file in ``spool_dir`` and stored by the next start.
* A hard kill (SIGKILL, power loss) loses the hits still in the buffer: at most about
  ``interval`` seconds of traffic in normal operation.

Sessions: a visitor's hits less than 30 minutes apart form one session (a "visit" in the
reports). The writer keeps recent sessions in memory and asks the database for the others, so
several server processes continue each other's sessions; two processes seeing a brand-new
visitor within the same instant may each open one.
"""

import json
import logging
import os
import threading
import time
from collections import deque
from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, bindparam, case, delete, insert, select, tuple_
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from ..models import DailySalt, Site, Visit, VisitSession
from .enrich import visitor_id
from .pipeline import Hit

log = logging.getLogger(__name__)

SESSION_GAP = timedelta(minutes=30)
#: Salts are kept for today and yesterday, then deleted: a visitor id cannot be recomputed later.
SALT_DAYS = 2


class _Session:
    """What the writer remembers of an open session."""

    __slots__ = ("id", "last", "new", "started", "entry", "exit", "pageviews", "events", "key")

    def __init__(self, id, last, new=False, started=None, entry="", exit="", key=(0, 0)):
        self.id = id
        self.key = key
        self.last = last
        self.new = new
        self.started = started
        self.entry = entry
        self.exit = exit
        self.pageviews = 0
        self.events = 0


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
        self._sessions: dict[tuple[int, int], _Session] = {}
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
                if not self._queue and not self._stopping:
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
        self._forget_old_sessions(batch[-1].ts)

    def write_batch(self, session, batch: list[Hit]) -> None:
        """Store ``batch`` in ``session``'s transaction: salts, visitor ids, sessions, rows."""
        existing_sites = set(session.scalars(select(Site.id).where(Site.id.in_({hit.site_id for hit in batch}))))
        batch = [hit for hit in batch if hit.site_id in existing_sites]  # sites deleted meanwhile
        if not batch:
            return
        visitors = [visitor_id(self._salt(session, hit.ts.date()), hit.visitor_key) for hit in batch]
        sessions = self._sessionize(session, batch, visitors)
        rows = []
        for hit, visitor, open_session in zip(batch, visitors, sessions, strict=True):
            row = asdict(hit)
            del row["visitor_key"]
            row["visitor"] = visitor
            row["session_id"] = open_session.id if open_session else None
            rows.append(row)
        session.execute(insert(Visit), rows)

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

    # -- sessions ------------------------------------------------------------------------

    def _sessionize(self, session, batch: list[Hit], visitors: list[int]) -> list[_Session | None]:
        """The session of each hit (``None`` for bots), creating and extending sessions."""
        people = [(i, hit) for i, hit in enumerate(batch) if not hit.bot]
        keys = {(hit.site_id, visitors[i]) for i, hit in people}
        earliest = min((hit.ts for _, hit in people), default=None)
        unknown = [
            key for key in keys if key not in self._sessions or earliest - self._sessions[key].last > SESSION_GAP
        ]
        if unknown:
            for session_id, site_id, visitor, ended in session.execute(
                select(VisitSession.id, VisitSession.site_id, VisitSession.visitor, VisitSession.ended_at)
                .where(tuple_(VisitSession.site_id, VisitSession.visitor).in_(unknown))
                .where(VisitSession.ended_at >= earliest - SESSION_GAP)
                .order_by(VisitSession.ended_at)
            ):
                self._sessions[(site_id, visitor)] = _Session(session_id, ended)

        result: list[_Session | None] = [None] * len(batch)
        touched: dict[int, _Session] = {}
        new: list[_Session] = []
        for i, hit in sorted(people, key=lambda item: item[1].ts):
            key = (hit.site_id, visitors[i])
            current = self._sessions.get(key)
            if current is None or hit.ts - current.last > SESSION_GAP:
                current = _Session(None, hit.ts, new=True, started=hit.ts, entry=hit.path, exit=hit.path, key=key)
                self._sessions[key] = current
                new.append(current)
            if hit.event == "pageview":
                current.pageviews += 1
                if hit.ts >= current.last:
                    current.exit = hit.path
            else:
                current.events += 1
            current.last = max(current.last, hit.ts)
            if not current.new:
                touched[current.id] = current
            result[i] = current

        if new:
            ids = session.scalars(
                insert(VisitSession).returning(VisitSession.id, sort_by_parameter_order=True),
                [
                    {
                        "site_id": s.key[0],
                        "visitor": s.key[1],
                        "started_at": s.started,
                        "ended_at": s.last,
                        "entry_path": s.entry,
                        "exit_path": s.exit,
                        "pageviews": s.pageviews,
                        "events": s.events,
                    }
                    for s in new
                ],
            ).all()
            for s, new_id in zip(new, ids, strict=True):
                s.id = new_id
        if touched:
            session.connection().execute(
                _EXTEND_SESSION,
                [
                    {"sid": s.id, "pv": s.pageviews, "ev": s.events, "last": s.last, "exit": s.exit}
                    for s in touched.values()
                ],
            )
        # What was counted is now in the database; later batches count from zero again.
        for s in [*new, *touched.values()]:
            s.new = False
            s.pageviews = s.events = 0
        return result

    def _forget_old_sessions(self, now: datetime) -> None:
        if len(self._sessions) < 50_000:
            return
        cutoff = now - SESSION_GAP
        self._sessions = {key: s for key, s in self._sessions.items() if s.last >= cutoff}

    # -- spool ---------------------------------------------------------------------------

    def _spool(self, hits: list[Hit]) -> None:
        if self.spool_dir is None:
            log.error("no spool directory: %d acknowledged hits are lost", len(hits))
            return
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        path = self.spool_dir / f"hits-{os.getpid()}-{time.time_ns()}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for hit in hits:
                row = asdict(hit)
                row["ts"] = hit.ts.isoformat()
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
                    row["visitor_key"] = bytes.fromhex(row["visitor_key"])
                    self._queue.append(Hit(**row))
            claimed.unlink()
            log.warning("loaded spooled hits from %s", path)


_sessions_table = VisitSession.__table__
#: Add a batch's counts to a session that already exists; the exit page moves only forward.
_EXTEND_SESSION = (
    _sessions_table.update()
    .where(_sessions_table.c.id == bindparam("sid"))
    .values(
        pageviews=_sessions_table.c.pageviews + bindparam("pv"),
        events=_sessions_table.c.events + bindparam("ev"),
        exit_path=case(
            (and_(bindparam("pv") > 0, _sessions_table.c.ended_at <= bindparam("last")), bindparam("exit")),
            else_=_sessions_table.c.exit_path,
        ),
        ended_at=case(
            (_sessions_table.c.ended_at < bindparam("last"), bindparam("last")), else_=_sessions_table.c.ended_at
        ),
    )
)
