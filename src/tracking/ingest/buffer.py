"""The beacon's side of a hit writer: a bounded buffer of acknowledged hits.

Both writers (:class:`~.store.Store`, a thread of the server; :class:`~.writer.WriterProcess`, a
process of its own) keep the hits the beacon acknowledged here until they are committed, so the
buffer's bound (``tracking.buffer_size``; the beacon answers 503 beyond) counts every hit not yet
in the database.
"""

import threading
import time
from collections import deque

from .pipeline import EnrichedHit

#: Hits written in one transaction at most; a writer starts as soon as this many wait.
BATCH_SIZE = 5_000


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
    _inflight: int  # an attribute of a Store, a property of the writer process

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

    def submit_batch(self, hits: list[EnrichedHit]) -> bool:
        """Buffer all of ``hits``, or none (``False``) when the buffer has no room for them all."""
        with self._cond:
            if len(self._queue) + self._inflight - self._spool_queued + len(hits) > self.max_pending or self._stopping:
                return False
            self._queue.extend(hits)
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
