"""The beacon's per-client limit: one client flooding a site gets ``429``, everyone else ``204``.

The shared test application runs without the limit (``tracking.beacon_rate = 0`` in
conftest.py: its tests send hundreds of hits a second from one address); these tests put a
limiter on a clock of their own into its registry, or build an application from the settings.
"""

import pytest
from sqlalchemy import func, select

from tests.support import TestApp, store_buffered
from tracking import main, make_app
from tracking.ingest.limits import DEFAULT_BURST, RateLimiter
from tracking.interfaces import IBeaconLimiter, IHitPipeline
from tracking.models import Hit
from tracking.settings import ENVIRONMENT, UnsafeSettings

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
#: The test client's address (``REMOTE_ADDR`` of the ``testapp`` fixture).
CLIENT = "203.0.113.7"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def limit(app, monkeypatch, clock):
    """``limit(rate, burst, **options)``: the beacon's limiter from now on, on the test's clock."""

    def install(rate, burst, **options):
        limiter = RateLimiter(rate, burst, clock=clock, **options)
        app.registry.registerUtility(limiter, IBeaconLimiter)
        return limiter

    return install


@pytest.fixture
def shop(make_site, owner):
    return make_site(owner, name="Shop", url="https://shop.example.com")


def hit(client, site, ip=None, method="GET", status="*"):
    host = "shop.example.com" if site.name == "Shop" else "blog.example.com"
    extra = {"REMOTE_ADDR": ip} if ip else {}
    url = f"/sites/{site.id}/hit"
    params = {"url": f"https://{host}/"}
    if method == "POST":
        return client.post_json(url, params, headers={"User-Agent": CHROME}, extra_environ=extra, status=status)
    return client.get(url, params=params, headers={"User-Agent": CHROME}, extra_environ=extra, status=status)


def statuses(client, site, times, ip=None):
    return [hit(client, site, ip).status_code for _ in range(times)]


def test_a_client_over_the_limit_gets_a_json_429_with_retry_after(testapp, site, limit, stored):
    limit(rate=0.5, burst=3)
    assert statuses(testapp, site, 3) == [204, 204, 204]
    res = hit(testapp, site)
    assert res.status_code == 429
    assert res.json == {"errors": {"rate": "too many hits; retry later"}}
    assert res.headers["Content-Type"] == "application/json"
    assert res.headers["Retry-After"] == "2"  # the next token, at one every two seconds
    assert res.headers["Access-Control-Allow-Origin"] == "*"
    assert res.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in res.headers
    assert CLIENT not in res.text and CLIENT.encode() not in res.body
    # A refused hit is not stored, whatever the method.
    assert hit(testapp, site, method="POST").status_code == 429
    assert stored() == 3


def test_one_flooding_client_leaves_other_clients_and_other_sites_at_204(testapp, site, shop, limit, stored, dbsession):
    limit(rate=1, burst=5)
    flood = statuses(testapp, site, 200)
    assert flood.count(204) == 5 and flood.count(429) == 195
    # The same address on another site, and other addresses on the flooded site, are counted.
    assert statuses(testapp, shop, 5) == [204] * 5
    assert statuses(testapp, site, 5, ip="203.0.113.8") == [204] * 5
    assert statuses(testapp, site, 5, ip="2001:db8:1:2::7") == [204] * 5
    assert stored() == 20
    counts = dict(dbsession.execute(select(Hit.site_id, func.count()).group_by(Hit.site_id)).all())
    assert counts == {site.id: 15, shop.id: 5}


def test_the_limit_lets_hits_through_again_at_its_rate(testapp, site, limit, clock):
    limit(rate=2, burst=2)
    assert statuses(testapp, site, 4) == [204, 204, 429, 429]
    clock.now += 0.5  # one token
    assert statuses(testapp, site, 2) == [204, 429]
    clock.now += 60
    assert statuses(testapp, site, 3) == [204, 204, 429]


def test_preflights_are_not_limited_and_take_nothing(testapp, site, limit):
    limit(rate=1, burst=2)
    for _ in range(10):
        res = testapp.options(
            f"/sites/{site.id}/hit",
            headers={"Origin": "https://blog.example.com", "Access-Control-Request-Method": "POST"},
        )
        assert res.status_code == 204
    assert statuses(testapp, site, 3) == [204, 204, 429]
    res = testapp.options(f"/sites/{site.id}/hit", headers={"Origin": "https://blog.example.com"})
    assert res.status_code == 204 and "POST" in res.headers["Access-Control-Allow-Methods"]


def test_an_ipv6_64_is_one_client(testapp, site, limit):
    limit(rate=1, burst=3)
    assert statuses(testapp, site, 2, ip="2001:db8:aa:1::1") == [204, 204]
    assert statuses(testapp, site, 2, ip="2001:db8:aa:1:ffff:ffff:ffff:fffe") == [204, 429]  # the same /64
    assert statuses(testapp, site, 3, ip="2001:db8:aa:2::1") == [204, 204, 204]  # the next /64
    # IPv4 addresses are clients each, however close.
    assert statuses(testapp, site, 4, ip="198.51.100.1") == [204, 204, 204, 429]
    assert statuses(testapp, site, 3, ip="198.51.100.2") == [204, 204, 204]


def test_bad_hits_count_too(testapp, site, limit):
    """A flood of garbage is a flood: every hit takes a token, answered 400 or not."""
    limit(rate=1, burst=3)
    for _ in range(3):
        assert testapp.get(f"/sites/{site.id}/hit", params={"width": "wide"}, status=400).json["errors"]
    assert hit(testapp, site).status_code == 429


def test_many_addresses_keep_the_memory_bounded(testapp, site, limit):
    limiter = limit(rate=1, burst=2, max_clients=64, shards=4)
    for n in range(300):
        assert hit(testapp, site, ip=f"2001:db8:{n:x}::1").status_code == 204
        assert len(limiter) <= 64
    # And the one client that floods through all this is still refused.
    flood = [hit(testapp, site, ip="198.51.100.66").status_code for _ in range(3)]
    for n in range(300, 400):
        flood.append(hit(testapp, site, ip="198.51.100.66").status_code)
        assert hit(testapp, site, ip=f"2001:db8:{n:x}::1").status_code == 204
    assert flood == [204, 204] + [429] * 101


# -- the settings --------------------------------------------------------------------------------


@pytest.fixture
def app_with(app_settings, db_service, dbsession, monkeypatch):
    """``app_with(**settings)``: a client of the application built from the test settings
    (without their ``tracking.beacon_rate``) and ``settings``, and its ``stored()``."""
    for variable in ENVIRONMENT:
        monkeypatch.delenv(variable, raising=False)
    built = []

    def build(**settings):
        base = {key: value for key, value in app_settings.items() if not key.startswith("tracking.beacon_")}
        wsgi = make_app({**base, **settings}, database=db_service)
        built.append(wsgi)
        client = TestApp(wsgi, extra_environ={"HTTP_HOST": "tracking.example.org", "REMOTE_ADDR": CLIENT})
        return client, lambda: store_buffered(wsgi, dbsession)

    yield build
    for wsgi in built:
        wsgi.registry.getUtility(IHitPipeline).geo.close()


def test_the_settings_set_the_limit(app_with, site):
    client, stored = app_with(**{"tracking.beacon_rate": "0.01", "tracking.beacon_burst": "4"})
    assert statuses(client, site, 6) == [204, 204, 204, 204, 429, 429]
    assert hit(client, site).headers["Retry-After"] == "100"
    assert stored() == 4


@pytest.mark.parametrize("setting", ["tracking.beacon_rate", "tracking.beacon_burst"])
def test_zero_turns_the_limit_off(app_with, site, setting):
    other = "tracking.beacon_burst" if setting == "tracking.beacon_rate" else "tracking.beacon_rate"
    client, stored = app_with(**{setting: "0", other: "1"})
    times = DEFAULT_BURST + 20  # more than any limit lets through at once
    assert statuses(client, site, times) == [204] * times
    assert stored() == times


def test_by_default_a_busy_office_is_never_refused(app_with, site):
    """Without settings: 300 people behind one address open a page of the site at once."""
    client, stored = app_with()
    assert statuses(client, site, 300) == [204] * 300
    assert DEFAULT_BURST > 300
    assert stored() == 300


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"tracking.beacon_rate": "lots"}, "tracking.beacon_rate must be a number, 0 or more, not 'lots'"),
        ({"tracking.beacon_burst": "-1"}, "tracking.beacon_burst must be a number, 0 or more, not '-1'"),
        ({"tracking.beacon_burst": "0.5"}, "tracking.beacon_burst must be a whole number of hits"),
    ],
)
def test_bad_settings_stop_the_start(app_settings, settings, message):
    with pytest.raises(UnsafeSettings, match=message):
        main({}, **{**app_settings, **settings})
