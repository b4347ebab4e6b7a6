"""Storing hits: a bounded in-memory buffer (:mod:`.buffer`) drained by one writer thread in batches.

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

Each batch is one transaction: the hits' visitor ids (salted here), their visits
(:mod:`.visits`), the hits themselves (:mod:`.statements`), the summary tables
(:mod:`tracking.summaries.delta`) and, for sites with goals, their goals' conversions
(:mod:`tracking.summaries.goals`) and how far each visit went in their funnels
(:mod:`tracking.summaries.funnels`).

Jobs: between batches, when idle and at least every ``jobs.POLL_SECONDS``, the writer thread runs
the jobs that are due (a time-zone change's rebuild: :mod:`tracking.summaries.jobs`), so that they
never race this process's hit writes; hits keep being accepted into the buffer meanwhile.
"""

import logging
import os
import threading
import time
from collections import deque
from datetime import date, timedelta
from operator import attrgetter
from pathlib import Path

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from zope.interface import implementer

from ..interfaces import IHitStore
from ..models import DailySalt, Hit, Site
from ..models.types import utcnow
from ..summaries import jobs
from ..summaries.delta import Delta
from ..summaries.funnels import FunnelWalks, batch_funnels
from ..summaries.goals import GoalDelta, batch_goals, goal_matches, prune_visitors, record_conversions
from ..summaries.segments import site_values
from .buffer import BATCH_SIZE, HitBuffer
from .enrich import visitor_id
from .pipeline import EnrichedHit
from .spool import HIT_FIELDS, SCAN_SECONDS, SpoolFile, spool_hits
from .spool import claim as claim_spool_files
from .statements import Statement
from .visits import assign_visits, record_engagements

log = logging.getLogger(__name__)

#: Salts are kept for today and yesterday, then deleted: a visitor id cannot be recomputed later.
SALT_DAYS = 2
#: The writer thread deletes expired salts at least this often, and whenever the UTC day changes.
SALT_PRUNE_SECONDS = 60.0
#: After a failed attempt (the database away), the next one is this much later.
SALT_RETRY_SECONDS = 5.0


@implementer(IHitStore)
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
        # The clock's day the values jobs were last queued: first on the next day (an upgrade
        # queued every site's first; a new site's first waits for the next day).
        self._values_queued_on: date = clock().date()
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
        """Run the jobs that are due, here between batches (see the module's docstring); when
        the day changes, first queue each site's choice of its common values
        (:mod:`~tracking.summaries.segments`)."""
        self._jobs_due = time.monotonic() + jobs.POLL_SECONDS
        now = self.clock()
        if now.date() != self._values_queued_on and jobs.queue_values(self.session_factory, now) is not None:
            self._values_queued_on = now.date()
        jobs.run_due(self.session_factory, clock=self.clock)

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
        """Store ``batch`` in ``session``'s transaction: visitor ids, visits, hits, summaries;
        then the batch's engagements (measurements of page views, after the page views of the
        same batch: :func:`~.visits.record_engagements`)."""
        connection = session.connection()  # Core: plain rows, no ORM machinery on the hot path
        # Sites deleted meanwhile lose their hits here. On PostgreSQL the sites stay locked (key
        # share) until the batch commits: a site's deletion waits for it, then deletes its hits
        # (``hits.site_id`` is no foreign key: see ``models.hits``). On SQLite the writer's
        # transaction holds the database's write lock.
        existing_sites = set(connection.scalars(_EXISTING_SITES, {"ids": sorted({hit.site_id for hit in batch})}))
        batch = [hit for hit in batch if hit.site_id in existing_sites]
        engagements = [hit for hit in batch if hit.engaged_ms is not None]
        if engagements:
            batch = [hit for hit in batch if hit.engaged_ms is None]
        # The sites' common values with rows of their own (segments.choose_values writes them
        # with the site locked against this batch's key-share lock, taken above).
        delta = Delta(site_values(connection, sorted(existing_sites)) if existing_sites else None)
        conversions = GoalDelta()
        walks = FunnelWalks()
        goals = batch_goals(connection, sorted(existing_sites)) if existing_sites else {}
        if batch:
            visitors = [visitor_id(self._salt(session, hit.ts.date()), hit.visitor_key) for hit in batch]
            # The goals each hit converts on (none for a bot's: it has no visit).
            converting = goal_matches(goals, batch) if goals else None
            visit_ids, firsts, days, attrs, joined = assign_visits(connection, batch, visitors, delta, converting,
                                                                   conversions)
            rows = []
            for hit, visitor, visit_id, first, its_visit, its_segments in zip(batch, visitors, visit_ids, firsts, attrs,
                                                                             joined, strict=True):
                rows.append((*_stored_values(hit), visitor, visit_id, first))
                delta.add_hit(hit.site_id, hit.day, hit.ts, hit.event, hit.path, hit.props, first, hit.bot, its_visit,
                              its_segments)
            INSERT_HITS.executemany(connection, rows)
            if converting is not None:
                record_conversions(conversions, batch, visitors, visit_ids, days, converting)
                # Now: the engagements below read which goals their visits converted on.
                conversions.apply(connection)
                funnels = batch_funnels(connection, sorted(goals))
                if funnels:
                    walks.add(funnels, batch, visit_ids, visitors, days, converting)
        if engagements:
            visitors = [visitor_id(self._salt(session, hit.ts.date()), hit.visitor_key) for hit in engagements]
            record_engagements(connection, engagements, visitors, delta, bool(goals))
        delta.apply(session)
        walks.apply(connection, goals)

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
        the day before ``today``, and the goals' converting visitors of days past
        (:func:`~tracking.summaries.goals.prune_visitors`)."""
        oldest = today - timedelta(days=SALT_DAYS - 1)
        self._salts = {d: s for d, s in self._salts.items() if d >= oldest}
        session.execute(delete(DailySalt).where(DailySalt.day < oldest))
        # The goals' converting visitors of days no visitor id can come back to.
        prune_visitors(session.connection(), today)

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
        claimed = claim_spool_files(self.spool_dir)
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


#: Which of some sites exist, locked against deletion until the transaction ends (PostgreSQL;
#: SQLite has no row locks and renders no ``FOR`` clause).
_EXISTING_SITES = select(Site.id).where(Site.id.in_(bindparam("ids", expanding=True))).with_for_update(read=True, key_share=True)
#: The fields of a hit that are columns of ``hits`` (the visitor key becomes the visitor id).
_STORED_FIELDS = tuple(name for name in HIT_FIELDS if name not in ("visitor_key", "engaged_ms", "scroll_depth"))
_stored_values = attrgetter(*_STORED_FIELDS)
#: A hit's stored fields, then its visitor id, visit id and whether it is the visitor's first.
INSERT_HITS = Statement(Hit.__table__, (*_STORED_FIELDS, "visitor", "visit_id", "is_first"))
