"""What the beacon needs to know about a site, cached per process.

The beacon answers thousands of hits a second; loading the site row for each would cost a
database round trip per hit. :class:`SiteDirectory` keeps an immutable :class:`SiteInfo` per
site id for ``ttl`` seconds (unknown ids for ``negative_ttl``), so a setting changed in
another server process takes effect within that time; in this process an edit or deletion
calls :meth:`SiteDirectory.forget` and takes effect at once.

When the database cannot be reached, the loader raises :class:`SiteUnavailable`. A site known
before keeps its last info (loads are tried again every ``retry_seconds``): its hits go on being
acknowledged and wait in the store's buffer. A site not known yet cannot be checked, so the
error goes up to the caller (the beacon answers ``503`` with ``Retry-After``).
"""

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from zope.interface import implementer

from ..interfaces import ISiteDirectory

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SiteInfo:
    id: int
    owner_id: int
    domain: str
    timezone: str
    honor_dnt: bool
    honor_gpc: bool
    restrict_hosts: bool

    @classmethod
    def from_row(cls, site) -> "SiteInfo":
        return cls(
            id=site.id,
            owner_id=site.owner_id,
            domain=urlsplit(site.url).hostname or "",
            timezone=site.timezone,
            honor_dnt=site.honor_dnt,
            honor_gpc=site.honor_gpc,
            restrict_hosts=site.restrict_hosts,
        )


class SiteUnavailable(Exception):
    """The site could not be loaded: the database is unreachable."""


@implementer(ISiteDirectory)
class SiteDirectory:
    def __init__(
        self,
        ttl: float = 30.0,
        negative_ttl: float = 5.0,
        max_entries: int = 10_000,
        retry_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.retry_seconds = retry_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[int, tuple[float, SiteInfo | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._unavailable_until = 0.0  # monotonic time before which no load is tried

    def get(self, site_id: int, load: Callable[[int], SiteInfo | None]) -> SiteInfo | None:
        """The site's info, from the cache or from ``load(site_id)`` (``None``: no such site).

        Raises :class:`SiteUnavailable` when the database is unreachable and the site was never
        known. After a failed load, no load is tried for ``retry_seconds``, however many hits
        arrive during an outage."""
        now = self.clock()
        entry = self._entries.get(site_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        if now < self._unavailable_until:
            if entry is None:
                raise SiteUnavailable("the database was unreachable a moment ago")
            return entry[1]
        try:
            info = load(site_id)
        except SiteUnavailable as error:
            self._unavailable_until = now + self.retry_seconds
            log.warning("sites cannot be loaded (%s): known sites keep their last settings, others answer 503", error)
            if entry is None:
                raise
            return entry[1]
        expires = now + (self.ttl if info is not None else self.negative_ttl)
        with self._lock:
            self._entries[site_id] = (expires, info)
            self._entries.move_to_end(site_id)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return info

    def forget(self, site_id: int) -> None:
        with self._lock:
            self._entries.pop(site_id, None)
