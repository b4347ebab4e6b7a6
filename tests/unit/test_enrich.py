"""Tests for the beacon enrichment steps (tracking.ingest.enrich)."""

from __future__ import annotations

import hashlib
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
from hypothesis import given, settings
from hypothesis import strategies as st

from tracking.ingest import enrich
from tracking.ingest.bots import REASONS
from tracking.ingest.enrich import (
    DEVICE_CLASSES,
    IP_MODES,
    SOURCE_CLASSES,
    Agent,
    Geo,
    GeoLocator,
    PageURL,
    VisitorKeys,
    classify_source,
    clean_text,
    detect_bot,
    host_matches,
    parse_agent,
    parse_page_url,
    truncate_ip,
    visitor_id,
    warm_up,
)

from support import preserved_environment

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4.1 Safari/605.1.15"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1"
)
IPAD_SAFARI = (
    "Mozilla/5.0 (iPad; CPU OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1"
)
ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
# Brand-named tablets: only the missing "Mobile" token says "tablet".
SAMSUNG_TABLET = (
    "Mozilla/5.0 (Linux; Android 12; SAMSUNG SM-X906B) AppleWebKit/537.36 "
    "(KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Safari/537.36"
)
LENOVO_TABLET = (
    "Mozilla/5.0 (Linux; Android 11; Lenovo TB-J606F) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
KINDLE_FIRE = (
    "Mozilla/5.0 (Linux; Android 9; KFMAWI) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Silk/123.4.1 like Chrome/123.0.6312.118 Safari/537.36"
)
SMART_TV = (
    "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36"
)
ANDROID_TV = (
    "Mozilla/5.0 (Linux; Android 9; BRAVIA 4K UR2 Build/PTT1.190515.001.S52) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
XBOX = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edge/44.18363.8131"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GOOGLEBOT_SMARTPHONE = (
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.6367.201 Mobile Safari/537.36 "
    "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
HEADLESS_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/124.0.6367.60 Safari/537.36"
)
LIGHTHOUSE = (
    "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/114.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse"
)
CURL = "curl/8.5.0"

CITY_DB = geolite2_database()
# What must never reach storage: C0/C1 controls, DEL, lone surrogates.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


SECRET = "test-secret-" + "k" * 32
KEYS = VisitorKeys(SECRET)


def visitor_hash(salt: bytes, site_id: int, ip: str, ua: str) -> int:
    return visitor_id(salt, KEYS(site_id, ip, ua))


# --------------------------------------------------------------------------
# clean_text
# --------------------------------------------------------------------------


def test_clean_text_removes_control_characters_and_trims() -> None:
    assert clean_text("  a\x00b\x01c\x7fd\x85e\x9f\tf\n  ", 100) == "abcdef"


def test_clean_text_removes_lone_surrogates() -> None:
    assert clean_text("a\ud800b\udfffc", 10) == "abc"


def test_clean_text_truncates_and_keeps_unicode() -> None:
    assert clean_text("héllo wörld 😀", 5) == "héllo"
    assert clean_text("ab cd", 3) == "ab"
    assert clean_text("😀😀😀", 2) == "😀😀"


def test_clean_text_non_positive_limit() -> None:
    assert clean_text("abc", 0) == ""
    assert clean_text("abc", -1) == ""


def test_clean_text_huge_input_is_bounded() -> None:
    assert clean_text("x" * 10_000_000, 7) == "x" * 7


# --------------------------------------------------------------------------
# parse_agent
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (CHROME_WINDOWS, Agent("Chrome", "124", "Windows", "desktop")),
        (FIREFOX_LINUX, Agent("Firefox", "125", "Linux", "desktop")),
        (SAFARI_MAC, Agent("Safari", "17", "Mac OS X", "desktop")),
        (IPHONE_SAFARI, Agent("Mobile Safari", "17", "iOS", "mobile")),
        (IPAD_SAFARI, Agent("Mobile Safari", "17", "iOS", "tablet")),
        (ANDROID_PHONE, Agent("Chrome Mobile", "124", "Android", "mobile")),
        (ANDROID_TABLET, Agent("Chrome", "124", "Android", "tablet")),
        (SAMSUNG_TABLET, Agent("Samsung Internet", "23", "Android", "tablet")),
        (LENOVO_TABLET, Agent("Chrome", "124", "Android", "tablet")),
        (KINDLE_FIRE, Agent("Amazon Silk", "123", "Android", "tablet")),
        (SMART_TV, Agent("Samsung Internet", "4", "Tizen", "other")),
        (ANDROID_TV, Agent("Chrome", "124", "Android", "other")),
        (XBOX, Agent("Edge", "44", "Windows", "other")),
        (GOOGLEBOT, Agent("Googlebot", "2", "", "bot")),
        (GOOGLEBOT_SMARTPHONE, Agent("Googlebot", "2", "Android", "bot")),
        (BINGBOT, Agent("bingbot", "2", "", "bot")),
        (HEADLESS_CHROME, Agent("HeadlessChrome", "124", "Linux", "desktop")),
        (CURL, Agent("curl", "8", "", "other")),
        ("", Agent("", "", "", "other")),
        ("asdkjh 123 ÿ😀", Agent("", "", "", "other")),
    ],
)
def test_parse_agent(ua: str, expected: Agent) -> None:
    assert parse_agent(ua) == expected


def test_parse_agent_only_reads_first_512_characters() -> None:
    assert parse_agent("x" * 512 + CHROME_WINDOWS) == Agent("", "", "", "other")
    assert parse_agent(CHROME_WINDOWS + "x" * 100_000) == parse_agent(CHROME_WINDOWS)


def test_parse_agent_survives_nul_bytes_and_surrogates() -> None:
    assert parse_agent("\x00" + CHROME_WINDOWS + "\ud800") == parse_agent(CHROME_WINDOWS)


def test_parse_agent_device_is_a_known_class() -> None:
    assert parse_agent(CHROME_WINDOWS).device in DEVICE_CLASSES


# --------------------------------------------------------------------------
# detect_bot
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ua", [CHROME_WINDOWS, FIREFOX_LINUX, SAFARI_MAC, IPHONE_SAFARI, IPAD_SAFARI, ANDROID_PHONE, ANDROID_TABLET]
)
def test_detect_bot_passes_browsers(ua: str) -> None:
    assert detect_bot(ua) is None


@pytest.mark.parametrize(
    ("ua", "reason"),
    [
        ("", "empty-ua"),
        ("   \t ", "empty-ua"),
        ("\x00\x01", "empty-ua"),
        (HEADLESS_CHROME, "headless"),
        (LIGHTHOUSE, "headless"),
        ("Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
         "headless"),
        (CURL, "tool"),
        ("Wget/1.21.4", "tool"),
        ("python-requests/2.31.0", "tool"),
        ("Python/3.11 aiohttp/3.9.5", "tool"),
        ("Go-http-client/1.1", "tool"),
        ("undici", "tool"),
        (GOOGLEBOT, "crawler"),
        (GOOGLEBOT_SMARTPHONE, "crawler"),
        (BINGBOT, "crawler"),
        ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "crawler"),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "crawler"),
    ],
)
def test_detect_bot_reasons(ua: str, reason: str) -> None:
    assert detect_bot(ua) == reason


def test_detect_bot_only_reads_first_512_characters() -> None:
    assert detect_bot(CHROME_WINDOWS + " " * 600 + "Googlebot/2.1") is None


def test_warm_up_runs() -> None:
    warm_up()
    assert detect_bot(CHROME_WINDOWS) is None


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
        geoip2fast_data_file=os.path.join(os.path.dirname(geoip2fast.__file__), enrich._GEOIP2FAST_DATA_FILE)
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

    table = enrich._geoip2fast_tables()[0]

    def expected(address) -> str:
        detail = reference.lookup(str(address))
        code = detail.country_code or ""
        return code if not detail.is_private and re.fullmatch("[A-Z]{2}", code) else ""

    addresses = sample_addresses(7, data.mainListFirstIP, data.mainListNetlength)
    assert [table.country(a) for a in addresses] == [expected(a) for a in addresses]
    assert sum(1 for a in addresses if table.country(a)) > len(addresses) // 2


def test_country_table_is_compact() -> None:
    table = enrich._geoip2fast_tables()[0]
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
    _, systems = enrich._geoip2fast_tables()
    addresses = sample_addresses(11, data.mainListFirstIPASN, data.mainListNetlengthASN)
    assert [systems.organisation(a) for a in addresses] == [reference_as_org(reference, a) for a in addresses]
    assert sum(1 for a in addresses if systems.organisation(a)) > len(addresses) // 2


def test_as_table_is_compact() -> None:
    _, systems = enrich._geoip2fast_tables()
    assert len(systems.v4_first) > 100_000 and len(systems.v6_high) > 100_000
    assert all(isinstance(a, array) for a in (*systems.arrays(), systems.offsets))
    assert isinstance(systems.names, bytes) and len(systems.offsets) > 70_000
    size = sum(a.itemsize * len(a) for a in (*systems.arrays(), systems.offsets)) + len(systems.names)
    assert size < 14_000_000


@pytest.mark.parametrize("ip", ["10.0.0.1", "192.168.1.1", "127.0.0.1", "::1", "fe80::1", "0.0.0.0"])
def test_as_table_has_no_organisation_for_reserved_networks(ip: str) -> None:
    """geoip2fast fills reserved networks in with "IANA.ORG", no autonomous system."""
    _, systems = enrich._geoip2fast_tables()
    assert systems.organisation(ip_address(ip)) == ""


def test_as_org_is_clean_and_bounded() -> None:
    """Whatever a data file holds, an organisation comes out without control characters and
    at most AS_ORG_LIMIT characters long."""
    systems = enrich._geoip2fast_tables()[1]
    google = systems.find(int(IPv4Address("8.8.8.8")))
    assert google > 0
    name = ("\x00Evil\x85\x1b[31m " + "x" * 500).encode()
    table = enrich.AsTable.from_state({**systems.state(), "names": name, "offsets": array("I", [0] * (google + 1) + [len(name)])})
    as_org = table.organisation(IPv4Address("8.8.8.8"))
    assert as_org.startswith("Evil[31m x") and len(as_org) == enrich.AS_ORG_LIMIT and not UNSAFE.search(as_org)


def test_geoip2fast_tables_read_in_a_child_equal_those_read_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tables come from a child process (the server never holds geoip2fast's lists); when
    the child cannot run, the file is read in the process itself, to the same tables."""
    countries, systems = enrich._geoip2fast_tables()
    monkeypatch.setattr(enrich.sys, "executable", "/nonexistent/python")
    here_countries, here_systems = enrich._geoip2fast_tables.__wrapped__()
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
        "enrich.GeoLocator()\n"
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


# --------------------------------------------------------------------------
# classify_source
# --------------------------------------------------------------------------


def test_source_classes() -> None:
    assert SOURCE_CLASSES == ("search", "social", "email", "referral", "direct")


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        ("https://www.google.com/", ("google.com", "search")),
        ("https://www.google.co.uk/search?q=x", ("google.co.uk", "search")),
        ("https://google.de/", ("google.de", "search")),
        ("https://www.google.com.br/", ("google.com.br", "search")),
        ("https://www.bing.com/search?q=x", ("bing.com", "search")),
        ("https://duckduckgo.com/", ("duckduckgo.com", "search")),
        ("https://uk.search.yahoo.com/", ("uk.search.yahoo.com", "search")),
        ("https://yandex.ru/", ("yandex.ru", "search")),
        ("https://search.brave.com/search?q=x", ("search.brave.com", "search")),
        ("android-app://com.google.android.googlequicksearchbox/", ("com.google.android.googlequicksearchbox", "search")),
        ("https://l.facebook.com/l.php?u=x", ("l.facebook.com", "social")),
        ("https://m.facebook.com/", ("m.facebook.com", "social")),
        ("https://old.reddit.com/r/python/", ("old.reddit.com", "social")),
        ("https://t.co/abc", ("t.co", "social")),
        ("https://x.com/someone", ("x.com", "social")),
        ("https://www.linkedin.com/feed/", ("linkedin.com", "social")),
        ("https://news.ycombinator.com/item?id=1", ("news.ycombinator.com", "social")),
        ("https://bsky.app/profile/x", ("bsky.app", "social")),
        ("https://www.pinterest.co.uk/pin/1/", ("pinterest.co.uk", "social")),
        ("https://mail.google.com/mail/u/0/", ("mail.google.com", "email")),
        ("https://outlook.live.com/mail/0/", ("outlook.live.com", "email")),
        ("https://webmail.provider.net/", ("webmail.provider.net", "email")),
        ("android-app://com.google.android.gm/", ("com.google.android.gm", "email")),
        ("https://docs.google.com/document/d/1", ("docs.google.com", "referral")),
        ("https://google.evil.com/", ("google.evil.com", "referral")),
        ("https://Blog.Other.ORG:8443/post", ("blog.other.org", "referral")),
        ("https://evil-example.com/", ("evil-example.com", "referral")),
        ("https://example.com.evil.net/", ("example.com.evil.net", "referral")),
        ("", ("", "direct")),
        ("about:blank", ("", "direct")),
        ("javascript:alert(1)", ("", "direct")),
        ("http://[::1", ("", "direct")),
        ("not a url", ("", "direct")),
    ],
)
def test_classify_source_by_referrer(referrer: str, expected: tuple[str, str]) -> None:
    assert classify_source(referrer, "example.com") == expected


@pytest.mark.parametrize(
    ("referrer", "page_host"),
    [
        ("https://example.com/other", "example.com"),
        ("https://www.example.com:8443/", "example.com"),
        ("https://blog.example.com/post", "example.com"),
        ("https://example.com/", "shop.example.com"),
        ("https://EXAMPLE.com./", "www.example.com"),
    ],
)
def test_classify_source_internal_referrer_is_direct(referrer: str, page_host: str) -> None:
    assert classify_source(referrer, page_host) == ("", "direct")


def test_classify_source_sibling_subdomains_are_referrals() -> None:
    assert classify_source("https://shop.example.com/", "blog.example.com") == ("shop.example.com", "referral")


@pytest.mark.parametrize(
    ("referrer", "utm_source", "utm_medium", "expected"),
    [
        ("", "spring", "email", ("", "email")),
        ("", "", "Newsletter", ("", "email")),
        ("https://www.google.com/", "", "email", ("google.com", "email")),
        ("https://www.google.com/", "", "social", ("google.com", "social")),
        ("", "", "Paid_Social", ("", "social")),
        ("", "x", "organic", ("", "search")),
        ("https://www.google.com/", "", "cpc", ("google.com", "search")),
        ("", "facebook", "cpc", ("", "social")),
        ("https://l.facebook.com/", "", "ppc", ("l.facebook.com", "social")),
        ("", "", "display", ("", "referral")),
        ("", "newsletter", "", ("", "email")),
        ("", "Facebook", "", ("", "social")),
        ("", "news.ycombinator.com", "", ("", "social")),
        ("https://www.google.com/", "twitter", "", ("google.com", "social")),
        ("", "partner-site", "", ("", "referral")),
        ("", "", "print", ("", "referral")),
        ("https://example.com/page", "newsletter", "email", ("", "email")),
    ],
)
def test_classify_source_utm_overrides(
    referrer: str, utm_source: str, utm_medium: str, expected: tuple[str, str]
) -> None:
    assert classify_source(referrer, "example.com", utm_source, utm_medium) == expected


def test_classify_source_hostile_input() -> None:
    assert classify_source("https://goo\x00gle.com/\ud800", "example.com") == ("google.com", "search")
    assert classify_source("https://a.com/" + "x" * 1_000_000, "example.com") == ("a.com", "referral")
    assert classify_source("https://<script>.com/", "example.com") == ("", "direct")


# --------------------------------------------------------------------------
# parse_page_url
# --------------------------------------------------------------------------


def test_parse_page_url_basic() -> None:
    assert parse_page_url("https://Example.COM:8080/a/b?x=1&y=%20") == PageURL(
        host="example.com",
        path="/a/b",
        query="x=1&y=%20",
        utm_source="",
        utm_medium="",
        utm_campaign="",
        utm_term="",
        utm_content="",
    )


def test_parse_page_url_keeps_www_and_defaults_path() -> None:
    result = parse_page_url("http://www.example.com")
    assert result is not None
    assert (result.host, result.path, result.query) == ("www.example.com", "/", "")


def test_parse_page_url_extracts_utm_and_strips_click_ids() -> None:
    result = parse_page_url(
        "https://example.com/p?a=1&utm_source=News%20letter&UTM_Medium=email&utm_campaign=Spring+Sale"
        "&utm_term=shoes&utm_content=hero&utm_id=7&fbclid=abc&gclid=def&msclkid=ghi&mc_eid=jkl&b=2"
    )
    assert result == PageURL(
        host="example.com",
        path="/p",
        query="a=1&b=2",
        utm_source="News letter",
        utm_medium="email",
        utm_campaign="Spring Sale",
        utm_term="shoes",
        utm_content="hero",
    )


def test_parse_page_url_first_utm_occurrence_wins() -> None:
    result = parse_page_url("https://example.com/?utm_source=a&utm_source=b")
    assert result is not None
    assert result.utm_source == "a"


def test_parse_page_url_strips_fragment_and_credentials() -> None:
    result = parse_page_url("https://user:secret@example.com./p?q=1#section-2")
    assert result is not None
    assert (result.host, result.path, result.query) == ("example.com", "/p", "q=1")


def test_parse_page_url_ipv6_host() -> None:
    result = parse_page_url("http://[2001:db8::1]:8080/x")
    assert result is not None
    assert result.host == "2001:db8::1"


def test_parse_page_url_bounds() -> None:
    result = parse_page_url(
        "https://example.com/" + "p" * 2000 + "?" + "&".join(f"k{i}=v" for i in range(400))
        + "&utm_campaign=" + "c" * 500
    )
    assert result is not None
    assert len(result.path) == 1024
    assert len(result.query) <= 512
    assert result.query.startswith("k0=v&k1=v&")
    assert all(part.startswith("k") for part in result.query.split("&"))  # no half parameters
    assert result.utm_campaign == ""  # beyond the 4096 characters examined

    result = parse_page_url("https://example.com/?utm_campaign=" + "c" * 500 + "&x=" + "y" * 600)
    assert result is not None
    assert result.utm_campaign == "c" * 128
    assert result.query == ""


def test_parse_page_url_removes_control_characters() -> None:
    result = parse_page_url("https://ex\x00ample.com/\x00pa\x01th?a=\x7f1&utm_source=x%00y\x00#\x00")
    assert result is not None
    assert (result.host, result.path, result.query, result.utm_source) == ("example.com", "/path", "a=1", "xy")


@pytest.mark.parametrize(
    "url",
    [
        "", "javascript:alert(1)", "data:text/html,hi", "/relative/path", "example.com/page",
        "ftp://example.com/", "https:///nohost", "http://exa mple.com/", "http://<script>/",
        "http://[::1", "\x00\x00", "https://",
    ],
)
def test_parse_page_url_rejects_non_http_urls(url: str) -> None:
    assert parse_page_url(url) is None


# --------------------------------------------------------------------------
# host_matches
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("example.com", "example.com"),
        ("EXAMPLE.com", "example.COM"),
        ("www.example.com", "example.com"),
        ("example.com", "www.example.com"),
        ("blog.example.com", "example.com"),
        ("a.b.example.com", "www.example.com"),
        ("example.com:8080", "example.com"),
        ("example.com.", "example.com"),
        ("[::1]:8080", "::1"),
    ],
)
def test_host_matches_positive(host: str, domain: str) -> None:
    assert host_matches(host, domain)


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("evil-example.com", "example.com"),
        ("example.com.evil.net", "example.com"),
        ("notexample.com", "example.com"),
        ("example.com", "blog.example.com"),
        ("example.org", "example.com"),
        ("www.com", "example.com"),
        ("example.com", ""),
        ("", "example.com"),
        ("exa mple.com", "exa mple.com"),
        ("x" * 300 + ".example.com", "example.com"),
    ],
)
def test_host_matches_negative(host: str, domain: str) -> None:
    assert not host_matches(host, domain)


# --------------------------------------------------------------------------
# truncate_ip
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "mode", "expected"),
    [
        ("203.0.113.77", "truncated", "203.0.113.0"),
        ("203.0.113.77", "full", "203.0.113.77"),
        ("203.0.113.77", "none", None),
        ("2001:db8:abcd:1234:5678::1", "truncated", "2001:db8:abcd::"),
        ("2001:DB8:ABCD:1234::1", "full", "2001:db8:abcd:1234::1"),
        ("2001:db8::1", "none", None),
        ("::ffff:203.0.113.77", "truncated", "203.0.113.0"),
        ("::ffff:203.0.113.77", "full", "203.0.113.77"),
        ("fe80::1%eth0", "full", "fe80::1"),
        (" 10.1.2.3 ", "truncated", "10.1.2.0"),
        ("garbage", "full", None),
        ("256.0.0.1", "truncated", None),
        ("", "truncated", None),
        ("1.2.3.4" + "0" * 100, "full", None),
    ],
)
def test_truncate_ip(ip: str, mode: str, expected: str | None) -> None:
    assert truncate_ip(ip, mode) == expected


def test_truncate_ip_unknown_mode_is_a_configuration_error() -> None:
    assert IP_MODES == ("none", "truncated", "full")
    with pytest.raises(ValueError):
        truncate_ip("1.2.3.4", "partial")


# --------------------------------------------------------------------------
# visitor_key / visitor_id
# --------------------------------------------------------------------------

SALT = b"s" * 32


def test_visitor_hash_is_deterministic() -> None:
    assert visitor_hash(SALT, 1, "203.0.113.7", CHROME_WINDOWS) == visitor_hash(SALT, 1, "203.0.113.7", CHROME_WINDOWS)


def test_visitor_hash_depends_on_every_input() -> None:
    base = visitor_hash(SALT, 1, "203.0.113.7", CHROME_WINDOWS)
    assert visitor_hash(b"t" * 32, 1, "203.0.113.7", CHROME_WINDOWS) != base
    assert visitor_hash(SALT, 2, "203.0.113.7", CHROME_WINDOWS) != base
    assert visitor_hash(SALT, 1, "203.0.113.8", CHROME_WINDOWS) != base
    assert visitor_hash(SALT, 1, "203.0.113.7", FIREFOX_LINUX) != base


def test_visitor_hash_fields_are_separated() -> None:
    assert visitor_hash(SALT, 1, "1", "2") != visitor_hash(SALT, 11, "", "2")


def test_visitor_key_is_blake2b_keyed_with_a_key_derived_from_the_secret() -> None:
    key = hashlib.blake2b(b"tracking visitor key\x00" + SECRET.encode(), digest_size=32).digest()
    assert KEYS(1, "ip", "ua") == hashlib.blake2b(b"1\x00ip\x00ua", key=key, digest_size=16).digest()
    digest = hashlib.blake2b(KEYS(1, "ip", "ua"), key=SALT, digest_size=8).digest()
    assert visitor_hash(SALT, 1, "ip", "ua") == int.from_bytes(digest, "big", signed=True)


def test_visitor_key_cannot_be_recomputed_without_the_secret() -> None:
    """What a spool file keeps of an address is no plain digest that trying every IPv4
    address would reverse: it is not the unkeyed digest, nor one keyed with the bare secret,
    and another secret gives another key for the same (site, ip, ua)."""
    ip = "203.0.113.7"
    key = KEYS(1, ip, CHROME_WINDOWS)
    message = f"1\x00{ip}\x00{CHROME_WINDOWS}".encode()
    assert key != hashlib.blake2b(message, digest_size=16).digest()
    assert key != hashlib.blake2b(message, key=SECRET.encode()[:64], digest_size=16).digest()
    assert VisitorKeys(SECRET + "2")(1, ip, CHROME_WINDOWS) != key
    assert VisitorKeys(SECRET)(1, ip, CHROME_WINDOWS) == key  # the same secret, in another process
    assert len(key) == 16


def test_visitor_key_takes_any_text() -> None:
    assert len(KEYS(1, "\ud800", "\x00" * 10_000)) == 16


def test_visitor_id_salts_a_precomputed_key() -> None:
    assert visitor_id(SALT, b"key") == visitor_id(SALT, b"key")
    assert visitor_id(SALT, b"key") != visitor_id(b"t" * 32, b"key")
    assert visitor_id(SALT, b"key") != visitor_id(SALT, b"kez")


def test_visitor_hash_fits_signed_bigint() -> None:
    values = {visitor_hash(SALT, site, f"198.51.100.{site}", "ua") for site in range(256)}
    assert len(values) == 256
    assert all(-(2**63) <= value < 2**63 for value in values)
    assert any(value < 0 for value in values)


# --------------------------------------------------------------------------
# Nothing raises on hostile text
# --------------------------------------------------------------------------

hostile_text = st.one_of(
    st.text(),
    st.text(alphabet=st.characters()),  # includes lone surrogates
    st.text(alphabet=st.one_of(st.characters(categories=["Cc", "Cs"]), st.sampled_from("a.:/?&=%"))),
    st.builds(lambda a, b: a + b, st.sampled_from(["http://", "https://", "android-app://", "//", "[", "::ffff:"]), st.text()),
    st.from_regex(r"[0-9a-f:.%\[\]]{0,50}", fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(a=hostile_text, b=hostile_text, c=hostile_text, d=hostile_text, mode=st.sampled_from(IP_MODES))
def test_nothing_raises_on_arbitrary_text(city_geo: GeoLocator, a: str, b: str, c: str, d: str, mode: str) -> None:
    agent = parse_agent(a)
    assert agent.device in DEVICE_CLASSES
    assert detect_bot(a) in (None, *REASONS)
    geo = city_geo.lookup(b)
    assert isinstance(geo, Geo)
    ref_host, source_class = classify_source(a, b, c, d)
    assert source_class in SOURCE_CLASSES
    assert not UNSAFE.search(ref_host)
    page = parse_page_url(a)
    if page is not None:
        assert page.host
        for value in (page.host, page.path, page.query, page.utm_source, page.utm_medium, page.utm_campaign):
            assert not UNSAFE.search(value)
    assert isinstance(host_matches(a, b), bool)
    truncated = truncate_ip(b, mode)
    assert truncated is None or isinstance(truncated, str)
    assert -(2**63) <= visitor_hash(SALT, 1, b, a) < 2**63
    assert len(clean_text(c, 10)) <= 10

