"""Spool files: acknowledged hits kept on disk until a writer has committed them.

A writer that cannot reach the database when it stops writes the hits it holds to a file in
``tracking.spool_dir`` (:func:`spool_hits`): one JSON object per line, written under a name no
one claims, synced, then renamed ``hits-<pid>-<ns>.jsonl``, so a spool file is always whole.

Writers (each server's writer process, or its writer thread) claim the files (:func:`claim`)
when they start, and every ``SCAN_SECONDS`` after, so that another server's spool is stored
without waiting for that server to start again:

* A claim is an exclusive ``flock`` on the open file, held until every hit read from it is
  committed; the file is deleted only then. The kernel releases the lock when its holder dies,
  however it dies (SIGKILL, the OOM killer): the file is then claimed again, by the writer that
  replaces the dead one or by another server's, and no living writer ever holds a file another
  one holds.
* A file stored in part is renamed ``hits-<pid>-<ns>+<n>.jsonl`` after each commit: its first
  ``n`` hits are in the database, and whoever claims it next skips them. A writer killed between
  a commit and that rename leaves the batch's hits from the file to be stored again: at least
  once, never lost.
* A writer that stops before the database returns lets go of its files as they are.
* A file with a line that is not a hit is renamed ``….unreadable`` and left alone (logged as an
  error); nothing is deleted unread.

:func:`count_unclaimed` counts the hits waiting in the files nobody holds: what a server reports
as pending until its writer process has claimed them.
"""

import fcntl
import json
import logging
import os
import re
import time
from datetime import date, datetime
from functools import partial
from pathlib import Path

from .pipeline import EnrichedHit

log = logging.getLogger(__name__)

#: A running writer looks for spool files nobody holds this often.
SCAN_SECONDS = 5.0

HIT_FIELDS = EnrichedHit._fields
#: Fields of a hit that spool files written by earlier versions lack, with their value then.
SPOOL_DEFAULTS = {"as_org": ""}
#: A spool file: its id (``<pid>-<ns>`` of the process and instant that wrote it) and how many of
#: its hits are stored. ``.loading``: a file an earlier version was reading when it died.
_NAME = re.compile(r"hits-(?P<id>[0-9]+-(?P<ns>[0-9]+))(?:\+(?P<stored>[0-9]+))?\.(?:jsonl|loading)")


def spool_hits(spool_dir: str | Path | None, hits: list[EnrichedHit]) -> None:
    """Write ``hits`` to a new spool file in ``spool_dir``, for a writer to claim and store."""
    if spool_dir is None:
        log.error("no spool directory: %d acknowledged hits are lost", len(hits))
        return
    spool_dir = Path(spool_dir)
    spool_dir.mkdir(parents=True, exist_ok=True)
    name = f"hits-{os.getpid()}-{time.time_ns()}.jsonl"
    partial = spool_dir / f".{name}.partial"  # not a spool file's name: nobody claims it half-written
    with partial.open("w", encoding="utf-8") as out:
        for hit in hits:
            row = {name: getattr(hit, name) for name in HIT_FIELDS}
            row["ts"] = hit.ts.isoformat()
            row["day"] = hit.day.isoformat()
            row["visitor_key"] = hit.visitor_key.hex()
            out.write(json.dumps(row) + "\n")
        out.flush()
        os.fsync(out.fileno())
    partial.rename(spool_dir / name)
    _sync_directory(spool_dir)
    log.warning("spooled %d hits to %s", len(hits), spool_dir / name)


class SpoolFile:
    """A claimed spool file: the lock is held as long as ``_file`` is open."""

    def __init__(self, path: Path, id: str, file, stored: int, total: int) -> None:
        self.path = path
        self.id = id
        self._file = file
        self.stored = stored  # its hits already in the database
        self.total = total

    def committed(self, count: int) -> None:
        """``count`` more of its hits are in the database: delete the file once all are, else
        record how many in its name."""
        if self._file.closed:  # let go at shutdown: no longer this process's to change
            return
        self.stored += count
        try:
            if self.stored >= self.total:
                self.path.unlink()
                self.release()
            else:
                path = self.path.with_name(f"hits-{self.id}+{self.stored}.jsonl")
                self.path.rename(path)
                self.path = path
        except OSError as exc:  # at worst, its stored hits are stored again by the next claim
            log.error("could not record the progress of %s (%s)", self.path, exc)

    def release(self) -> None:
        """Let go of the file (and its lock) as it is."""
        self._file.close()

    def __repr__(self) -> str:
        return f"<SpoolFile {self.path.name} {self.stored}/{self.total}>"


def claim(spool_dir: str | Path | None) -> list[tuple[SpoolFile, list[EnrichedHit]]]:
    """Claim the spool files no living process holds: each with its hits not yet stored, oldest
    file first. A file with none left is deleted."""
    claimed = []
    for path, match in _spool_files(spool_dir):
        file = _lock(path, fcntl.LOCK_EX)
        if file is None:
            continue
        try:
            hits = _read(file, path)
        except (OSError, ValueError) as exc:
            # Never deleted unread: set aside, for someone to look at (an error a writer would
            # otherwise meet at every scan).
            log.error("could not read the spool file %s (%s); renamed %s.unreadable", path, exc, path.name)
            try:
                path.rename(path.with_name(path.name + ".unreadable"))
            finally:
                file.close()
            continue
        stored = min(int(match["stored"] or 0), len(hits))
        spool = SpoolFile(path, match["id"], file, stored, len(hits))
        if stored == len(hits):
            spool.committed(0)  # nothing left to store
            continue
        claimed.append((spool, hits[stored:]))
        log.warning("claimed %d spooled hits from %s", len(hits) - stored, path)
    return claimed


def count_unclaimed(spool_dir: str | Path | None) -> int:
    """The hits not yet stored in the spool files no living process holds (one per line)."""
    count = 0
    for path, match in _spool_files(spool_dir):
        file = _lock(path, fcntl.LOCK_SH)  # for an instant: a writer claiming it now tries again later
        if file is None:
            continue
        with file:
            lines = sum(chunk.count(b"\n") for chunk in iter(partial(file.read, 1 << 20), b""))
        count += max(0, lines - int(match["stored"] or 0))
    return count


def _spool_files(spool_dir) -> list[tuple[Path, re.Match]]:
    if spool_dir is None:
        return []
    try:
        names = os.listdir(spool_dir)
    except FileNotFoundError:
        return []
    found = [(Path(spool_dir, name), match) for name in names if (match := _NAME.fullmatch(name))]
    return sorted(found, key=lambda item: (int(item[1]["ns"]), item[1]["id"]))


def _lock(path: Path, operation: int):
    """``path`` opened and locked (``flock``), or ``None`` if another process holds it or it is
    gone (stored and deleted, or renamed, since it was listed)."""
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.error("could not open the spool file %s (%s)", path, exc)
        return None
    try:
        fcntl.flock(file.fileno(), operation | fcntl.LOCK_NB)
        if os.path.samestat(os.fstat(file.fileno()), os.stat(path)):
            return file
    except (BlockingIOError, FileNotFoundError):
        pass
    file.close()
    return None


def _read(file, path: Path) -> list[EnrichedHit]:
    """The hits of a spool file; ``ValueError`` if a line is not one. A last line cut short (a
    crash while earlier versions wrote the file in place) is skipped."""
    hits = []
    for number, line in enumerate(file, 1):
        try:
            row = json.loads(line)
            row["ts"] = datetime.fromisoformat(row["ts"])
            row["day"] = date.fromisoformat(row["day"])
            row["visitor_key"] = bytes.fromhex(row["visitor_key"])
            hits.append(EnrichedHit(**{**SPOOL_DEFAULTS, **row}))
        except (ValueError, TypeError, KeyError) as exc:
            if line.endswith(b"\n"):
                raise ValueError(f"line {number} is not a hit: {exc}") from exc
            log.error("%s: the last line was cut short; %d hits before it", path, len(hits))
    return hits


def _sync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
