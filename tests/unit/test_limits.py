"""The beacon's per-client limit on a clock of the test's own: no sleeping."""

import sys
import threading

import pytest

from tracking.ingest.limits import DEFAULT_BURST, DEFAULT_RATE, RateLimiter, client_network
from tracking.settings import Settings, UnsafeSettings


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def allowed(limiter, address, site, times):
    """How many of ``times`` hits at the same instant go through."""
    return sum(limiter.check(address, site) == 0.0 for _ in range(times))


def test_a_full_bucket_lets_the_burst_through_then_refuses(clock):
    limiter = RateLimiter(rate=10, burst=5, clock=clock)
    assert allowed(limiter, "198.51.100.1", 1, 5) == 5
    wait = limiter.check("198.51.100.1", 1)
    assert wait == pytest.approx(0.1, abs=1e-5)  # the next token, at 10 a second
    assert RateLimiter.retry_after(wait) == 1


def test_tokens_come_back_at_the_rate(clock):
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    assert allowed(limiter, "198.51.100.1", 1, 10) == 3
    clock.now += 0.5  # one token
    assert allowed(limiter, "198.51.100.1", 1, 10) == 1
    clock.now += 1.0  # two more
    assert allowed(limiter, "198.51.100.1", 1, 10) == 2
    clock.now += 3600  # a long pause fills the bucket, and no more than that
    assert allowed(limiter, "198.51.100.1", 1, 10) == 3


def test_a_steady_client_at_the_rate_is_never_refused(clock):
    limiter = RateLimiter(rate=50, burst=1, clock=clock)
    for _ in range(10_000):
        assert limiter.check("198.51.100.1", 1) == 0.0
        clock.now += 1 / 50


def test_refused_hits_are_not_counted_and_do_not_lengthen_the_wait(clock):
    limiter = RateLimiter(rate=1, burst=2, clock=clock)
    assert allowed(limiter, "198.51.100.1", 1, 2) == 2
    waits = [limiter.check("198.51.100.1", 1) for _ in range(1000)]
    assert waits == [pytest.approx(1.0, abs=1e-5)] * 1000
    clock.now += 1.0
    assert limiter.check("198.51.100.1", 1) == 0.0


def test_retry_after_is_whole_seconds_and_at_least_one(clock):
    limiter = RateLimiter(rate=0.25, burst=1, clock=clock)
    assert limiter.check("198.51.100.1", 1) == 0.0
    clock.now += 0.5
    wait = limiter.check("198.51.100.1", 1)
    assert wait == pytest.approx(3.5, abs=1e-5)
    assert RateLimiter.retry_after(wait) == 4
    assert RateLimiter.retry_after(0.001) == 1


def test_clients_and_sites_have_buckets_of_their_own(clock):
    limiter = RateLimiter(rate=1, burst=3, clock=clock)
    assert allowed(limiter, "198.51.100.1", 1, 10) == 3
    assert allowed(limiter, "198.51.100.1", 2, 10) == 3  # the same client on another site
    assert allowed(limiter, "198.51.100.2", 1, 10) == 3  # the next address on the same site
    assert allowed(limiter, "", 1, 10) == 3  # no address (a Unix socket) is one client


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2::1", bytes.fromhex("20010db800010002")),
        ("2001:0db8:0001:0002:ffff:ffff:ffff:ffff", bytes.fromhex("20010db800010002")),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("fe80::1%eth0", bytes.fromhex("fe80000000000000")),
        ("not:an:address", "not:an:address"),
        ("", ""),
    ],
)
def test_a_client_is_an_ipv4_address_or_an_ipv6_64(address, network):
    assert client_network(address) == network


def test_an_ipv6_64_shares_one_bucket_and_the_next_64_has_its_own(clock):
    limiter = RateLimiter(rate=1, burst=4, clock=clock)
    assert allowed(limiter, "2001:db8:1:2::1", 1, 2) == 2
    assert allowed(limiter, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", 1, 10) == 2  # the rest of the same bucket
    assert allowed(limiter, "2001:db8:1:3::1", 1, 10) == 4
    assert allowed(limiter, "::ffff:198.51.100.9", 1, 2) == 2
    assert allowed(limiter, "198.51.100.9", 1, 10) == 2  # an IPv4-mapped address is its IPv4 address


def test_memory_is_bounded_whatever_addresses_the_clients_use(clock):
    limiter = RateLimiter(rate=1, burst=5, max_clients=1024, clock=clock)
    for n in range(100_000):
        limiter.check(f"2001:db8:{n >> 16:x}:{n & 0xFFFF:x}::1", n % 7)
        assert len(limiter) <= 1024
    assert len(limiter) > 512  # and it holds a fair share of them


def test_buckets_full_again_go_first(clock):
    limiter = RateLimiter(rate=1, burst=3, max_clients=64, shards=1, clock=clock)
    assert allowed(limiter, "198.51.100.66", 1, 10) == 3  # a flood, which then pauses
    clock.now += 0.5
    for n in range(63):  # visitors, one hit each
        limiter.check(f"192.0.2.{n}", 1)
    clock.now += 1.5  # the visitors' buckets are full again; the flood has two tokens back
    limiter.check("203.0.113.1", 1)  # one bucket too many: the full ones go
    assert len(limiter) == 2
    assert allowed(limiter, "198.51.100.66", 1, 10) == 2  # its bucket was kept, not refilled


def test_when_room_runs_out_the_least_recently_used_buckets_go(clock):
    limiter = RateLimiter(rate=1, burst=3, max_clients=64, shards=1, clock=clock)
    assert allowed(limiter, "198.51.100.66", 1, 10) == 3  # the flood, refused from here on
    flood = 0
    for n in range(200):  # more visitors than there is room for, while the flood goes on
        limiter.check(f"203.0.113.{n}", 1)
        flood += limiter.check("198.51.100.66", 1) == 0.0
        assert len(limiter) <= 64
    # Each use moved the flood's bucket to the back of the line: it was never dropped (which
    # would have given it a fresh burst).
    assert flood == 0


def test_threads_share_the_buckets_without_losing_a_count(clock):
    """Eight threads (waitress's) hammer one bucket with the clock stopped: exactly ``burst``
    hits go through. Switching threads every microsecond makes a lost update likely."""
    limiter = RateLimiter(rate=1, burst=20_000, shards=1, clock=clock)
    results = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        def hammer():
            results.append(allowed(limiter, "198.51.100.66", 1, 5_000))

        threads = [threading.Thread(target=hammer) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert sum(results) == 20_000


def from_settings(values):
    settings = Settings.from_ini({"sqlalchemy.url": "sqlite://", "tracking.secret": "s", **values}, environ={})
    return (settings.beacon_rate, settings.beacon_burst) if settings.beacon_limited else None


def test_settings_default_to_the_documented_numbers_and_zero_turns_the_limit_off():
    assert from_settings({}) == (DEFAULT_RATE, DEFAULT_BURST) == (50.0, 500)
    assert from_settings({"tracking.beacon_rate": "2.5", "tracking.beacon_burst": "40"}) == (2.5, 40)
    assert from_settings({"tracking.beacon_rate": "0"}) is None
    assert from_settings({"tracking.beacon_burst": "0"}) is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"tracking.beacon_rate": "-1"}, "tracking.beacon_rate must be a number, 0 or more, not '-1'"),
        ({"tracking.beacon_rate": "fast"}, "tracking.beacon_rate must be a number"),
        ({"tracking.beacon_rate": "inf"}, "tracking.beacon_rate must be a number"),
        ({"tracking.beacon_rate": "nan"}, "tracking.beacon_rate must be a number"),
        ({"tracking.beacon_burst": "-5"}, "tracking.beacon_burst must be a number"),
        ({"tracking.beacon_burst": "2.5"}, "tracking.beacon_burst must be a whole number"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(UnsafeSettings, match=message):
        from_settings(settings)
