"""The beacon's per-client rate limit: one client cannot fill the buffer that every site shares.

The beacon is the only public write. Without a limit, one address sending hits as fast as it
can takes the store's buffer (``tracking.buffer_size``, 100,000 hits) for every site on the
server, and they all get ``503``. :class:`RateLimiter` gives each *client* on each *site* a
token bucket, checked in the request before anything else is done with the hit: a hit over
the limit is answered ``429`` with ``Retry-After`` and is neither stored nor counted anywhere.

**The client** is the address waitress gives the request (``REMOTE_ADDR``: the visitor's, when
the hit comes through the configured trusted proxy; see :func:`client_network`): an IPv4
address as it is, an IPv6 address by its /64 (one host or one home usually owns a whole /64,
so per address would be no limit at all). Each site has its own bucket per client: a client
flooding one site does not take the allowance of the same address (an office, a carrier's NAT)
on another site.

**The numbers** (``tracking.beacon_rate`` hits per second, ``tracking.beacon_burst`` hits at
once; :data:`DEFAULT_RATE` and :data:`DEFAULT_BURST`). Many people share one address: an
office, a school, a mobile carrier's NAT. A sustained 50 hits a second from one address to
one site is 180,000 hits an hour: 3,000 people behind one address, every one of them loading
a page of that site every minute, all day. The burst of 500 lets a whole floor open
the intranet in the same second. A visitor's browser sends one hit per page view (plus the
site's custom events); nobody reading pages comes near either number. A flood does: at
50 hits a second a single client needs more than half an hour to put 100,000 hits into the
buffer, which the writer empties at thousands of hits a second. ``0`` (either setting) turns the
limit off.

**Per process.** Each server process keeps its own buckets: behind nginx with two processes,
a client whose hits are spread over both gets twice the allowance. The limit is there to
protect a process's buffer, which is per process too.

**The algorithm** is GCRA (the "generic cell rate algorithm", a token bucket kept as one
number): each bucket is the time at which it would be full again, ``tat``. A hit at ``now`` is
allowed when ``tat - now <= (burst - 1) / rate`` (the bucket has a token left), and then moves
``tat`` on by ``1 / rate``; a refused hit changes nothing, so hammering during the wait does not
lengthen it. ``Retry-After`` is the time until the next token, rounded up to whole seconds.

**Memory** is bounded whatever addresses the clients use: at most ``max_clients`` buckets
(:data:`MAX_CLIENTS`, about 100 bytes each), in ``shards`` dicts kept in order of last use.
When a shard is over its share, the buckets that are full again (a bucket whose ``tat`` has
passed is the same as no bucket) are dropped, then, if that was not enough, the least recently
used ones. A bucket of a real visitor is full again a fraction of a second after its hit, so
in normal traffic only the first kind goes. The second happens only when more clients than
``max_clients`` are active within a few seconds: then a client whose bucket is dropped starts
afresh with a full burst, so the limit errs towards letting hits through rather than refusing
visitors it cannot tell apart. (A client that commands that many addresses - a botnet, or an
IPv6 /48 with its 65,536 /64s - gets one allowance per address anyway: a per-client limit
cannot stop it.)

**Privacy.** Buckets are keyed by Python's ``hash`` of (client network, site id), which hashes
strings and bytes with SipHash under a random key of the process (unless ``PYTHONHASHSEED`` is
set): no address is kept, and nothing is written anywhere. Two clients share a bucket only if
their 64-bit hashes collide.

**Threads.** waitress serves with several threads. Each shard has its own lock, held for one
dictionary update (or, rarely, one sweep of that shard's share): a check is cheap (BENCHMARKS.md,
"The limit's cost per hit") and the threads seldom meet on a lock.
"""

import math
import socket
import threading
import time
from collections.abc import Callable

from zope.interface import classImplements

from ..interfaces import IBeaconLimiter
from ..settings import DEFAULT_BEACON_BURST, DEFAULT_BEACON_RATE

#: Hits a second, sustained, that one client may send to one site (``tracking.beacon_rate``).
DEFAULT_RATE = DEFAULT_BEACON_RATE
#: Hits one client may send to one site at once (``tracking.beacon_burst``).
DEFAULT_BURST = DEFAULT_BEACON_BURST
#: Buckets kept at most (per process); ~100 bytes each.
MAX_CLIENTS = 65_536
SHARDS = 16

_V4_MAPPED = b"\x00" * 10 + b"\xff\xff"
_AF_INET6 = socket.AF_INET6
_inet_pton = socket.inet_pton


def client_network(address: str) -> str | bytes:
    """What one client is: an IPv4 address as it is, the first 64 bits of an IPv6 address (an
    IPv4-mapped IPv6 address is its IPv4 address). Anything else (no address: a Unix socket)
    stands for itself."""
    if ":" not in address:
        return address
    try:
        packed = _inet_pton(_AF_INET6, address)
    except OSError:  # a zone index ("fe80::1%eth0") or not an address
        scoped, percent, _ = address.partition("%")
        if not percent:
            return address
        return client_network(scoped)
    if packed.startswith(_V4_MAPPED):
        return socket.inet_ntop(socket.AF_INET, packed[12:])
    return packed[:8]


class _Shard:
    __slots__ = ("lock", "buckets")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        #: key -> the time its bucket is full again, least recently used first.
        self.buckets: dict[int, float] = {}


class RateLimiter:
    """Token buckets per (client network, site id): :meth:`check` says whether a hit may go on."""

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        *,
        max_clients: int = MAX_CLIENTS,
        shards: int = SHARDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive number of hits a second, not {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst!r}")
        if shards < 1 or shards & (shards - 1):
            raise ValueError(f"shards must be a power of two, not {shards!r}")
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self._interval = 1.0 / rate
        # (burst - 1) intervals, and a microsecond for float rounding: the burst-th hit of an
        # instant must not be refused because 4 * 0.1 - 0.4 > 0.
        self._tolerance = (burst - 1) / rate + 1e-6
        self._clock = clock
        self._mask = shards - 1
        self._shards = tuple(_Shard() for _ in range(shards))
        #: A shard is swept when it holds more than this, down to ``_keep``.
        self._shard_max = max(1, max_clients // shards)
        self._keep = self._shard_max * 3 // 4

    def check(self, address: str, site_id: int) -> float:
        """``0.0`` when a hit from ``address`` to site ``site_id`` may go on (it is counted); else
        the seconds until one may (nothing is counted)."""
        client = client_network(address) if ":" in address else address
        key = hash((client, site_id))
        now = self._clock()
        # Not by the low bits: each shard's dict places its keys by them.
        shard = self._shards[(key >> 20) & self._mask]
        lock = shard.lock
        lock.acquire()  # not ``with``: it costs twice as much (~0.4 µs here)
        try:
            buckets = shard.buckets
            # Taken out and put back: the dict stays in order of last use.
            tat = buckets.pop(key, now)
            if tat < now:
                tat = now
            wait = tat - self._tolerance - now
            if wait > 0:
                buckets[key] = tat
                return wait
            buckets[key] = tat + self._interval
            if len(buckets) > self._shard_max:
                self._sweep(buckets, now)
        finally:
            lock.release()
        return 0.0

    def _sweep(self, buckets: dict[int, float], now: float) -> None:
        """Drop the buckets that are full again, then the least recently used, down to ``_keep``."""
        for key in [key for key, tat in buckets.items() if tat <= now]:
            del buckets[key]
        excess = len(buckets) - self._keep
        if excess > 0:
            for key in [key for _, key in zip(range(excess), buckets, strict=False)]:
                del buckets[key]

    def __len__(self) -> int:
        """How many buckets are kept (for memory: each is one dict entry)."""
        return sum(len(shard.buckets) for shard in self._shards)

    @staticmethod
    def retry_after(wait: float) -> int:
        """``Retry-After`` for a wait of ``wait`` seconds: whole seconds, at least 1."""
        return max(1, math.ceil(wait))


class Unlimited:
    """The limiter when ``tracking.beacon_rate`` or ``tracking.beacon_burst`` is 0: every hit may go on."""

    def check(self, address: str, site_id: int) -> float:
        return 0.0


UNLIMITED = Unlimited()
classImplements(Unlimited, IBeaconLimiter)
classImplements(RateLimiter, IBeaconLimiter)
