"""Geolocation (tracking.ingest.enrich.geo): geoip2fast's country and AS tables, and the city
database."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from array import array
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from types import SimpleNamespace

import geoip2.database
import pytest
from _maxminddb_geolite2 import geolite2_database

from tests.support import preserved_environment
from tracking.ingest.enrich import Geo, GeoLocator
from tracking.ingest.enrich import geo as geo_module

CITY_DB = geolite2_database()
# What must never reach storage: C0/C1 controls, DEL, lone surrogates.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


# --------------------------------------------------------------------------
# GeoLocator
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def geo() -> GeoLocator:
    return GeoLocator()


@pytest.fixture(scope="module")
def city_geo() -> Iterator[GeoLocator]:
    locator = GeoLocator(CITY_DB)
    yield locator
    locator.close()


def test_geo_ipv4(geo: GeoLocator) -> None:
    assert geo.lookup("8.8.8.8") == Geo(country="US", as_org="GOOGLE")
    assert geo.lookup("1.1.1.1") == Geo(country="AU", as_org="CLOUDFLARENET")
    assert geo.lookup(" 81.2.69.142 ") == Geo(country="GB", as_org="Andrews & Arnold Ltd")


def test_geo_ipv6(geo: GeoLocator) -> None:
    assert geo.lookup("2001:4860:4860::8888") == Geo(country="US", as_org="GOOGLE")
    assert geo.lookup("2606:4700:4700::1111").as_org == "CLOUDFLARENET"
    assert geo.lookup("2001:67c:2e8:22::c100:68b").country == "NL"  # RIPE NCC, Amsterdam
    assert geo.lookup("2001:4860:4860:0000:0000:0000:0000:8888") == Geo(country="US", as_org="GOOGLE")


@pytest.fixture(scope="module")
def reference():
    """geoip2fast's own lookup over the data file the tables are read from."""
    with preserved_environment("PYTHONWARNINGS", "PYTHONIOENCODING"):
        import geoip2fast  # sets both variables
    return geoip2fast.GeoIP2Fast(
        geoip2fast_data_file=os.path.join(os.path.dirname(geoip2fast.__file__), geo_module._GEOIP2FAST_DATA_FILE)
    )


def sample_addresses(seed: int, firsts: list[list[int]], prefixes: list[list[int]]) -> list:
    """Random IPv4 and IPv6 (2000::/3) addresses, and both edges of 2000 networks taken at random
    from geoip2fast's lists (first addresses and prefix lengths, by chunk)."""
    rng = random.Random(seed)
    addresses = [IPv4Address(rng.getrandbits(32)) for _ in range(5000)]
    addresses += [IPv6Address((2 << 124) | rng.getrandbits(125)) for _ in range(5000)]
    networks = [
        (first, prefix)
        for chunk_firsts, chunk_prefixes in zip(firsts, prefixes, strict=True)
        for first, prefix in zip(chunk_firsts, chunk_prefixes, strict=True)
    ]
    for first, prefix in rng.sample(networks, 2000):
        size = 1 << ((32 if first < 1 << 32 else 128) - prefix)
        for number in (first - 1, first, first + size - 1, first + size):
            if 0 <= number < 1 << 32:
                addresses.append(IPv4Address(number))
            elif 1 << 32 <= number < 1 << 128:
                addresses.append(IPv6Address(number))
    return addresses


def test_country_table_answers_as_geoip2fast_does(reference) -> None:
    """The compact table gives the country geoip2fast's own lookup gives for the same data
    file: random IPv4 and IPv6 addresses, and both edges of networks taken at random."""
    import geoip2fast.geoip2fast as data

    table = geo_module._geoip2fast_tables()[0]

    def expected(address) -> str:
        detail = reference.lookup(str(address))
        code = detail.country_code or ""
        return code if not detail.is_private and re.fullmatch("[A-Z]{2}", code) else ""

    addresses = sample_addresses(7, data.mainListFirstIP, data.mainListNetlength)
    assert [table.country(a) for a in addresses] == [expected(a) for a in addresses]
    assert sum(1 for a in addresses if table.country(a)) > len(addresses) // 2


def test_country_table_is_compact() -> None:
    table = geo_module._geoip2fast_tables()[0]
    assert len(table.v4_first) > 100_000 and len(table.v6_high) > 100_000
    assert all(isinstance(a, array) for a in table.arrays())
    assert sum(a.itemsize * len(a) for a in table.arrays()) < 12_000_000


def reference_as_org(reference, address) -> str:
    """geoip2fast's own answer, when the address is inside the network it names (for an IPv4
    address in a gap between networks it gives the previous one's name)."""
    detail = reference.lookup(str(address))
    if not detail.asn_cidr or address not in ip_network(detail.asn_cidr, strict=False):
        return ""
    return "" if detail.asn_name in ("<unknown>", "IANA.ORG") else detail.asn_name


def test_as_table_answers_as_geoip2fast_does(reference) -> None:
    """The compact AS table names the organisation geoip2fast names for the same data file:
    random IPv4 and IPv6 addresses, and both edges of networks taken at random."""
    import geoip2fast.geoip2fast as data

    assert reference.asn
    _, systems = geo_module._geoip2fast_tables()
    addresses = sample_addresses(11, data.mainListFirstIPASN, data.mainListNetlengthASN)
    assert [systems.organisation(a) for a in addresses] == [reference_as_org(reference, a) for a in addresses]
    assert sum(1 for a in addresses if systems.organisation(a)) > len(addresses) // 2


def test_as_table_is_compact() -> None:
    _, systems = geo_module._geoip2fast_tables()
    assert len(systems.v4_first) > 100_000 and len(systems.v6_high) > 100_000
    assert all(isinstance(a, array) for a in (*systems.arrays(), systems.offsets))
    assert isinstance(systems.names, bytes) and len(systems.offsets) > 70_000
    size = sum(a.itemsize * len(a) for a in (*systems.arrays(), systems.offsets)) + len(systems.names)
    assert size < 14_000_000


@pytest.mark.parametrize("ip", ["10.0.0.1", "192.168.1.1", "127.0.0.1", "::1", "fe80::1", "0.0.0.0"])
def test_as_table_has_no_organisation_for_reserved_networks(ip: str) -> None:
    """geoip2fast fills reserved networks in with "IANA.ORG", no autonomous system."""
    _, systems = geo_module._geoip2fast_tables()
    assert systems.organisation(ip_address(ip)) == ""


def test_as_org_is_clean_and_bounded() -> None:
    """Whatever a data file holds, an organisation comes out without control characters and
    at most AS_ORG_LIMIT characters long."""
    systems = geo_module._geoip2fast_tables()[1]
    google = systems.find(int(IPv4Address("8.8.8.8")))
    assert google > 0
    name = ("\x00Evil\x85\x1b[31m " + "x" * 500).encode()
    table = geo_module.AsTable.from_state({**systems.state(), "names": name, "offsets": array("I", [0] * (google + 1) + [len(name)])})
    as_org = table.organisation(IPv4Address("8.8.8.8"))
    assert as_org.startswith("Evil[31m x") and len(as_org) == geo_module.AS_ORG_LIMIT and not UNSAFE.search(as_org)


def test_geoip2fast_tables_read_in_a_child_equal_those_read_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tables come from a child process (the server never holds geoip2fast's lists); when
    the child cannot run, the file is read in the process itself, to the same tables."""
    countries, systems = geo_module._geoip2fast_tables()
    monkeypatch.setattr(geo_module.sys, "executable", "/nonexistent/python")
    here_countries, here_systems = geo_module._geoip2fast_tables.__wrapped__()
    assert here_countries.state() == countries.state()
    assert here_systems.state() == systems.state()


def test_loading_the_geo_data_keeps_the_process_small() -> None:
    """Loading the country and AS data grows a process by its arrays (~19 MB), not by the
    ~90 MB of Python integers that unpickling geoip2fast's file takes for a moment."""
    script = (
        "def status():\n"
        "    fields = dict(line.split(':', 1) for line in open('/proc/self/status'))\n"
        "    return int(fields['VmRSS'].split()[0]), int(fields['VmHWM'].split()[0])\n"
        "from tracking.ingest import enrich\n"
        "rss, hwm = status()\n"
        "enrich.GeoLocator().warm_up()\n"
        "after, peak = status()\n"
        "print(after - rss, peak - hwm)\n"
    )
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", script], capture_output=True, text=True, timeout=60, check=True)
    grown, peak = map(int, done.stdout.split())
    assert grown < 30_000 and peak < 80_000, (grown, peak)  # KiB


def test_geo_ipv4_mapped_ipv6_is_looked_up_as_ipv4(geo: GeoLocator) -> None:
    assert geo.lookup("::ffff:8.8.8.8") == geo.lookup("8.8.8.8")


@pytest.mark.parametrize(
    "ip",
    [
        "10.0.0.1", "172.16.5.4", "192.168.1.1", "100.64.0.1",  # private / CGNAT
        "127.0.0.1", "::1",  # loopback
        "169.254.1.1", "fe80::1", "fe80::1%eth0",  # link-local
        "0.0.0.0", "::", "240.0.0.1", "255.255.255.255", "192.0.2.1", "2001:db8::1",  # reserved
        "224.0.0.1", "ff02::1",  # multicast
        "::ffff:10.0.0.1",
    ],
)
def test_geo_non_public_addresses_are_empty(city_geo: GeoLocator, ip: str) -> None:
    assert city_geo.lookup(ip) == Geo()


@pytest.mark.parametrize(
    "ip", ["", "garbage", "1.2.3", "256.1.1.1", "1.2.3.4.5", "01.2.3.4", ":::", "1.2.3.4%eth0", "8.8.8.8" + " " * 100]
)
def test_geo_malformed_addresses_are_empty(city_geo: GeoLocator, ip: str) -> None:
    assert city_geo.lookup(ip) == Geo()


def test_geo_public_but_unknown_address_is_empty(city_geo: GeoLocator) -> None:
    assert city_geo.lookup("3fff::1") == Geo()


def test_geo_city_database(city_geo: GeoLocator) -> None:
    assert city_geo.lookup("81.2.69.142") == Geo(
        country="GB",
        region="England",
        city="Willesden",
        postal="NW10",
        latitude=51.5333,
        longitude=-0.2333,
        as_org="Andrews & Arnold Ltd",
    )
    assert city_geo.lookup("::ffff:81.2.69.142") == city_geo.lookup("81.2.69.142")


def test_geo_city_database_ipv6(city_geo: GeoLocator) -> None:
    result = city_geo.lookup("2001:4860:4860::8888")
    assert (result.country, result.region, result.city, result.postal) == ("US", "California", "Mountain View", "94043")
    assert result.latitude == pytest.approx(37.4192)
    assert result.longitude == pytest.approx(-122.0574)


def test_geo_city_database_country_only_record(city_geo: GeoLocator) -> None:
    result = city_geo.lookup("8.8.8.8")
    assert (result.country, result.region, result.city) == ("US", "", "")


def test_geo_city_database_disagreeing_country_is_ignored(city_geo: GeoLocator) -> None:
    # geoip2fast (2024) says US, the 2018 city database says FR.
    assert city_geo.lookup("9.9.9.9") == Geo(country="US", as_org="QUAD9-AS-1")


def test_geo_close_falls_back_to_country_data() -> None:
    with GeoLocator(CITY_DB) as locator:
        assert locator.lookup("81.2.69.142").city == "Willesden"
    assert locator.lookup("81.2.69.142") == Geo(country="GB", as_org="Andrews & Arnold Ltd")


def test_geo_rejects_non_city_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        geoip2.database.Reader, "metadata", lambda self: SimpleNamespace(database_type="GeoLite2-Country")
    )
    with pytest.raises(ValueError, match="not a City"):
        GeoLocator(CITY_DB)
