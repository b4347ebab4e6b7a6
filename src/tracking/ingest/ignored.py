"""The hits the beacon ignored (``dnt``, ``gpc``, ``foreign-host``), counted per site and reason
in ``ignored_hits`` for the site's owner (:class:`~tracking.models.IgnoredHits`); those of the
API's batches (``POST /api/v1/events``) with them, one call per reason and batch.

The beacon must stay cheap for the hits it ignores too, whoever sends them: counts are kept in
memory and written in one short transaction at most every ``interval`` seconds per process —
except the first hit of a site and reason this process sees, written at once, so that an owner
who is watching for their first hit learns at once why it did not count. The counts of the
last ``interval`` seconds of a burst are written with the next ignored hit after it: the
figures an owner sees may lag that much behind. A write that fails (the database busy) keeps its
counts for the next one; the beacon's answer never waits on more than that one write.
"""

import logging
import threading
import time
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from zope.interface import implementer

from ..interfaces import IIgnoredHits
from ..models import IgnoredHits

log = logging.getLogger(__name__)

#: At most one write per process this often (seconds).
INTERVAL = 10.0
#: The longest host name kept.
MAX_HOST = 253


@implementer(IIgnoredHits)
class IgnoredCounter:
    def __init__(self, session_factory, interval: float = INTERVAL, clock=time.monotonic) -> None:
        self.session_factory = session_factory
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        #: (site id, reason) → [count, last seen, last host]
        self._pending: dict[tuple[int, str], list] = {}
        self._seen: set[tuple[int, str]] = set()
        self._written = clock()

    def add(self, site_id: int, reason: str, now: datetime, host: str = "", count: int = 1) -> None:
        """Count ``count`` hits ignored for one reason (``host``: the last one's); write the
        counts when due. A batch of the API counts each of its reasons with one call."""
        key = (site_id, reason)
        with self._lock:
            entry = self._pending.setdefault(key, [0, now, ""])
            entry[0] += count
            entry[1] = max(entry[1], now)
            entry[2] = host[:MAX_HOST]
            due = key not in self._seen or self.clock() - self._written >= self.interval
        if due:
            self.flush()

    def flush(self) -> None:
        """Write the pending counts now."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._written = self.clock()
        if not pending:
            return
        try:
            with self.session_factory() as session, session.begin():
                insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
                for (site_id, reason), (count, seen, host) in sorted(pending.items()):
                    statement = insert(IgnoredHits).values(
                        site_id=site_id, reason=reason, count=count, last_seen=seen, last_host=host
                    )
                    table = IgnoredHits.__table__
                    session.execute(statement.on_conflict_do_update(
                        index_elements=[table.c.site_id, table.c.reason],
                        set_={
                            "count": table.c.count + statement.excluded.count,
                            "last_seen": func.max(table.c.last_seen, statement.excluded.last_seen)
                            if insert is sqlite.insert else func.greatest(table.c.last_seen, statement.excluded.last_seen),
                            "last_host": statement.excluded.last_host,
                        },
                    ))
        except Exception:  # the counts are kept for the next write; the beacon's answer stands
            log.warning("could not write the counts of ignored hits; kept for the next write", exc_info=True)
            with self._lock:
                for key, (count, seen, host) in pending.items():
                    entry = self._pending.setdefault(key, [0, seen, host])
                    entry[0] += count
                    entry[1] = max(entry[1], seen)
            return
        with self._lock:
            self._seen.update(pending)
