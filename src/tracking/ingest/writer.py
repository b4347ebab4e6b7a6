"""The hit writer in a process of its own, so that writing never holds the server's GIL.

The server process (:class:`WriterProcess`, the beacon's side) keeps the bounded buffer and hands
hits over, a batch at a time, through a pipe to a child process (:func:`main`) that runs a
:class:`~.store.Store`: visits, hits and summaries are written there, with the store's
batching, retries and spool. The child reports through a second pipe how many of the hits it
received are committed (or spooled), and how many hits of the spool files it claimed wait; the
server keeps every hit until then, so:

* the buffer's fill (the 503 bound) counts every hit this server acknowledged and has not seen
  committed, wherever it is; ``pending`` (``/healthz``'s figure) adds the spooled hits the child
  holds (and, until the child first reports, those in spool files nobody holds);
* a child killed while it holds spool files leaves them on disk, as they were before the last
  commit: the kernel lets go of its locks and the next child claims them again (see :mod:`.spool`);
* a writer process that dies (a crash, the OOM killer) is started again and given every hit it
  had not committed (a batch committed in the instant before the crash may then be written
  twice: at least once, never lost);
* on shutdown the server hands over what it holds and closes the pipe; the child writes
  everything (or spools it after ``shutdown_timeout``) and exits, and the server waits for it.
  The child ignores SIGTERM and SIGINT (a service manager signals the whole group): it stops
  when its pipe closes, so a server killed outright still has its handed-over hits written.

The hand-over is one pickled message per batch every ``interval`` (20 ms), framed by
:class:`multiprocessing.connection.Connection` (``send_bytes``/``recv_bytes``) over the pipe;
the writer's own work runs on another core (the costs of both: BENCHMARKS.md). The child is told
its settings first, in the same way: a :class:`~tracking.settings.StoreSettings`, only what a
writer needs.
"""

import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import Connection

from zope.interface import implementer

from ..interfaces import IHitStore
from ..settings import StoreSettings
from .buffer import HitBuffer
from .pipeline import EnrichedHit
from .spool import count_unclaimed, spool_hits
from .store import Store

log = logging.getLogger(__name__)

#: The child's reports: how many of the hits its server sent are settled, and how many hits read
#: from spool files it holds, not yet committed.
_PROGRESS = struct.Struct("!QQ")
#: The child's program (not ``-m``: this module is imported with its package first).
_CHILD = "from tracking.ingest.writer import main; main()"
#: The longest wait before starting a writer again after it died young (doubling from 0.1 s).
RESPAWN_DELAY_MAX = 5.0


@implementer(IHitStore)
class WriterProcess(HitBuffer):
    """The beacon's side: ``submit`` / ``pending`` / ``flush`` / ``start`` / ``close``, as
    :class:`~.store.Store` (both are the :class:`~tracking.interfaces.IHitStore` service)."""

    def __init__(self, settings: StoreSettings, *, interval: float = 0.02) -> None:
        """``settings``: what the child is given (the database's, the batches' and the spool's).
        The buffer holds ``settings.buffer_size`` hits; they are handed over every ``interval``
        seconds, or as soon as a store's batch waits."""
        self.settings = settings
        super().__init__(settings.buffer_size)
        self.shutdown_timeout = settings.shutdown_seconds
        self.spool_dir = settings.spool_dir  # absolute: the child's is the same
        self.interval = interval
        # ``_queue``: acknowledged, not yet handed over.
        self._unacked: deque[EnrichedHit] = deque()  # handed over, not yet committed
        self._generation = 0  # bumped at each (re)start of the child
        self._child: subprocess.Popen | None = None
        self._hits_pipe: Connection | None = None
        self._sender: threading.Thread | None = None
        self.restarts = 0
        self._quick_deaths = 0

    # A Store keeps this count as an attribute; here it is the unacknowledged hits (read only).
    @property
    def _inflight(self) -> int:  # type: ignore[override]
        return len(self._unacked)

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        # Until the child reports the spool files it claimed: the hits in those nobody holds.
        self.spooled = count_unclaimed(self.spool_dir)
        with self._cond:
            self._spawn()
        self._sender = threading.Thread(target=self._send_loop, name="tracking-hand-over", daemon=True)
        self._sender.start()

    def close(self) -> None:
        """Hand everything over, let the child write it (or spool it), wait for the child."""
        if not self._stop_accepting():
            return
        if self._sender is not None:
            self._sender.join(10)
        child = self._child
        if child is not None:
            try:
                child.wait(self.shutdown_timeout + 15)
            except subprocess.TimeoutExpired:
                log.error("the writer process did not finish in time; stopping it")
                child.kill()
                child.wait()
        with self._cond:
            left = [*self._unacked, *self._queue]
            self._unacked.clear()
            self._queue.clear()
            self._cond.notify_all()
        if left:  # the child died on the way out: keep what it had not committed
            spool_hits(self.spool_dir, left)

    # -- the child -----------------------------------------------------------------------

    def _spawn(self) -> None:
        """Start a child (with ``_cond`` held) and its acknowledgement reader."""
        hits_read, hits_write = os.pipe()
        acks_read, acks_write = os.pipe()
        try:
            self._child = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(hits_read), str(acks_write)],
                pass_fds=(hits_read, acks_write),
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(hits_read)
            os.close(acks_write)
        self._hits_pipe = Connection(hits_write, readable=False)
        self._generation += 1
        self._hits_pipe.send_bytes(_dumps(self.settings))
        reader = threading.Thread(
            target=self._read_acks, args=(self._child, acks_read, self._generation), name="tracking-writer-acks", daemon=True
        )
        reader.start()

    def _read_acks(self, child: subprocess.Popen, fd: int, generation: int) -> None:
        """Drop the hits the child reports committed; restart it if it dies while serving.

        A dead child's spool files are let go of by the kernel; its last ``spooled`` figure
        stands until the next child reports the files it claimed again."""
        started = time.monotonic()
        committed = 0
        with Connection(fd, writable=False) as acks:
            while (data := _receive(acks)) is not None:
                count, spooled = _PROGRESS.unpack(data)
                with self._cond:
                    for _ in range(count - committed):
                        self._unacked.popleft()
                    committed = max(committed, count)
                    self.spooled = spooled
                    self._cond.notify_all()
        status = child.wait()
        lived = time.monotonic() - started
        # A child that cannot start (a broken install, a bad setting) is retried, not spun.
        delay = 0.0 if lived > RESPAWN_DELAY_MAX else min(RESPAWN_DELAY_MAX, 0.1 * 2**self._quick_deaths)
        self._quick_deaths = 0 if lived > RESPAWN_DELAY_MAX else self._quick_deaths + 1
        with self._cond:
            if self._stopping or generation != self._generation:
                return
            log.error(
                "the writer process exited (status %s); starting another in %.1f s with %d hits"
                " (and %d hits in spool files for it to claim again)",
                status, delay, len(self._unacked), self.spooled,
            )
            self._cond.wait_for(lambda: self._stopping, timeout=delay)
            if self._stopping:
                return
            # Its hits go again, first, to the next child.
            self._queue.extendleft(reversed(self._unacked))
            self._unacked.clear()
            if self._hits_pipe is not None:
                self._hits_pipe.close()
            self.restarts += 1
            self._spawn()
            self._cond.notify_all()

    def _send_loop(self) -> None:
        while True:
            with self._cond:
                if not self._stopping:
                    self._cond.wait(self.interval)
                batch = list(self._queue)
                self._queue.clear()
                self._unacked.extend(batch)
                pipe, generation, stopping = self._hits_pipe, self._generation, self._stopping
            if batch and pipe is not None:
                try:
                    pipe.send_bytes(_dumps(list(map(tuple, batch))))
                except (OSError, ValueError):
                    # The child is gone: its reader requeues these and starts another.
                    with self._cond:
                        while generation == self._generation and not self._stopping:
                            self._cond.wait(0.1)
                    continue
            if stopping:
                with self._cond:
                    if self._queue:
                        continue
                    if self._hits_pipe is not None:
                        self._hits_pipe.close()  # end of input: the child writes what it has, then exits
                return


def _dumps(value) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _receive(connection: Connection) -> bytes | None:
    """The next message, or ``None`` at the end of the stream (or within a message cut short:
    its sender was killed)."""
    try:
        return connection.recv_bytes()
    except (EOFError, OSError):
        return None


def serve(hits_fd: int, acks_fd: int) -> None:
    """The child: read batches of hits until the pipe closes, store them, report progress."""
    from ..models import get_engine, get_session_factory
    from ..server import freeze_startup_objects

    # Stopped by the end of its input, not by the signals meant for the server.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with Connection(hits_fd, writable=False) as hits, Connection(acks_fd, readable=False) as acks:
        message = _receive(hits)
        if message is None:
            return
        settings: StoreSettings = pickle.loads(message)  # from our own parent, through a pipe only it holds
        engine = get_engine(settings.database)
        lock = threading.Lock()

        def report(settled: int, spooled: int) -> None:
            with lock:
                try:
                    acks.send_bytes(_PROGRESS.pack(settled, spooled))
                except OSError:  # the server is gone (killed): the hits are written all the same
                    pass

        store = Store(
            get_session_factory(engine),
            max_pending=sys.maxsize,  # the server bounds the buffer
            interval=settings.flush_seconds,
            shutdown_timeout=settings.shutdown_seconds,
            spool_dir=settings.spool_dir,
            on_progress=report,
        )
        store.load_spool()  # reports how many hits its claimed files hold, even none
        # What exists now (modules, the mappers, the engine) lives as long as the process, as in
        # the server: each full collection then looks only at the batches' own objects
        # (BENCHMARKS.md: the writer's time a hit, with and without).
        freeze_startup_objects()
        store.start()
        while (message := _receive(hits)) is not None:
            store.submit_many(list(map(EnrichedHit._make, pickle.loads(message))))
        store.close()
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)-5.5s [%(name)s][writer %(process)d] %(message)s"
    )
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    serve(int(argv[0]), int(argv[1]))

