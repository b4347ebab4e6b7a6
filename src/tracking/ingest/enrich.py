"""Enrichment steps for a beacon hit.

Every function here is pure (apart from read-only lookup data loaded once)
and cheap enough for the hot path of an analytics beacon.  All inputs come
from untrusted visitors, so every public function accepts *any* ``str`` --
garbage, multi-megabyte values, NUL bytes, lone surrogates from a JSON body
-- and answers with empty/unknown values instead of raising.

Caching: results that depend only on a value which repeats across hits (the
User-Agent, the referrer) are memoised with :func:`functools.lru_cache`.  The
cache key is always the *bounded* input, never the raw one, so a visitor
sending huge headers cannot make a cache hold huge strings.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import logging
import os
import pickle
import re
import socket
import subprocess
import sys
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from urllib.parse import SplitResult, unquote_plus, urlsplit

import geoip2.database
import geoip2.errors
import ua_parser
from ua_parser.regex import Resolver as RegexResolver

log = logging.getLogger(__name__)


__all__ = [
    "DEVICE_CLASSES",
    "IP_MODES",
    "SOURCE_CLASSES",
    "Agent",
    "Geo",
    "GeoLocator",
    "PageURL",
    "VisitorKeys",
    "classify_source",
    "clean_text",
    "detect_bot",
    "host_matches",
    "parse_agent",
    "parse_page_url",
    "truncate_ip",
    "visitor_id",
    "warm_up",
]


# --------------------------------------------------------------------------
# Text hygiene
# --------------------------------------------------------------------------

# C0 controls (incl. NUL), DEL, C1 controls, and UTF-16 surrogates.  Lone
# surrogates are not control characters, but they cannot be encoded as
# UTF-8: they would crash the UA parser (Rust) and the database driver.
_UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_text(value: str, limit: int) -> str:
    """Return *value* without control characters, trimmed, at most *limit* chars.

    Removes C0 (including NUL), DEL and C1 control characters and lone
    surrogates, strips surrounding whitespace and truncates to *limit*
    characters.  Only the first ``2 * limit + 64`` characters are examined,
    so a multi-megabyte hostile value costs no more than a normal one.
    """
    if limit <= 0:
        return ""
    window = value[: 2 * limit + 64]
    return _UNSAFE_CHARS.sub("", window).strip()[:limit].rstrip()


# --------------------------------------------------------------------------
# User-Agent: browser, OS, device class
# --------------------------------------------------------------------------

_UA_LIMIT = 512
"""Only the first 512 characters of a User-Agent are ever looked at."""

DEVICE_CLASSES = ("desktop", "mobile", "tablet", "bot", "other")


@dataclass(frozen=True, slots=True)
class Agent:
    """What a User-Agent string says about the visitor's software.

    ``browser``/``os`` are ua-parser family names ("" when unknown),
    ``browser_version`` is the major version only, ``device`` is one of
    :data:`DEVICE_CLASSES`.
    """

    browser: str
    browser_version: str
    os: str
    device: str


_UNKNOWN_AGENT = Agent(browser="", browser_version="", os="", device="other")

_DESKTOP_OSES = frozenset(
    {
        "Windows", "Mac OS X", "Mac OS", "Chrome OS", "Linux", "Ubuntu", "Kubuntu",
        "Lubuntu", "Linux Mint", "Debian", "Fedora", "Red Hat", "CentOS", "openSUSE",
        "SUSE", "Arch Linux", "Gentoo", "Slackware", "Mageia", "Mandriva", "PCLinuxOS",
        "FreeBSD", "OpenBSD", "NetBSD", "BSD", "Solaris",
    }
)
_MOBILE_OSES = frozenset(
    {
        "iOS", "Windows Phone", "Windows Mobile", "BlackBerry OS", "Symbian OS",
        "Symbian^3", "Symbian^3 Anna", "Symbian^3 Belle", "Nokia Series 40",
        "Nokia Series 30 Plus", "KaiOS", "Firefox OS", "Sailfish", "Bada", "Brew MP",
    }
)
_TABLET_OSES = frozenset({"BlackBerry Tablet OS", "Kindle"})
# TVs, streaming sticks and game consoles: "other", even though several of
# them claim Android, Linux or Windows.
_TV_OR_CONSOLE = re.compile(
    r"smart-?tv|\btv\b|googletv|appletv|crkey|hbbtv|web0s|netcast|bravia|roku"
    r"|playstation|xbox|nintendo",
    re.IGNORECASE,
)
_TABLET_HINTS = re.compile(r"tablet|kindle|\bsilk/|playbook", re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def _ua_parser() -> ua_parser.Parser:
    """The ua-parser instance, built on first use (~0.3 s).

    Uses the Rust-backed ``regex`` resolver (``ua-parser[regex]``) with the
    lazy built-in matchers, which is what the library itself prefers when it
    is available.  Unlike ``ua_parser.parse`` it has no caching layer of its
    own: :func:`parse_agent` caches whole results instead.
    """
    return ua_parser.Parser(RegexResolver(ua_parser.load_lazy_builtins()))


def parse_agent(ua: str) -> Agent:
    """Parse a User-Agent into browser, major version, OS and device class.

    Only the first 512 characters are parsed.  Results are cached (4096
    distinct UAs), which makes repeated UAs cost well under a microsecond.
    """
    return _parse_agent(ua[:_UA_LIMIT])


@functools.lru_cache(maxsize=4096)
def _parse_agent(ua: str) -> Agent:
    text = clean_text(ua, _UA_LIMIT)
    if not text:
        return _UNKNOWN_AGENT
    result = _ua_parser().parse(text)
    browser = version = os_family = ""
    if result.user_agent is not None and result.user_agent.family != "Other":
        browser = clean_text(result.user_agent.family, 64)
        version = clean_text(result.user_agent.major or "", 16)
    if result.os is not None and result.os.family != "Other":
        os_family = clean_text(result.os.family, 64)
    device_family = device_brand = ""
    if result.device is not None:
        device_family = result.device.family
        device_brand = result.device.brand or ""
    return Agent(
        browser=browser,
        browser_version=version,
        os=os_family,
        device=_device_class(text, os_family, device_family, device_brand),
    )


def _device_class(ua: str, os_family: str, device_family: str, device_brand: str) -> str:
    """Classify the device from ua-parser's answers plus a few UA tokens.

    Order matters: spiders first (they often mimic phones), then TVs and
    consoles, then tablets (an Android UA without "Mobile" is a tablet, per
    Google's own guidance), then phones, then desktop operating systems.
    A spider is ua-parser's "Spider" device that :func:`detect_bot` also
    calls a bot: ua-parser's patterns alone take real browsers for bots
    ("Banca Caboto" has "bot", so has "turbotabbee"), and a hit is a bot hit
    exactly when ``detect_bot`` says so.
    """
    if device_family == "Spider" and detect_bot(ua) is not None:
        return "bot"
    if _TV_OR_CONSOLE.search(ua):
        return "other"
    if (
        device_family in ("iPad", "Kindle")
        or "Tablet" in device_family
        or "Tablet" in device_brand
        or os_family in _TABLET_OSES
        or _TABLET_HINTS.search(ua)
    ):
        return "tablet"
    if os_family == "Android":
        return "mobile" if "Mobile" in ua else "tablet"
    if os_family in _MOBILE_OSES or device_family in ("iPhone", "iPod") or "Mobi" in ua:
        return "mobile"
    if os_family in _DESKTOP_OSES or os_family.startswith("Windows"):
        return "desktop"
    return "other"


# --------------------------------------------------------------------------
# Bot detection
# --------------------------------------------------------------------------

def detect_bot(ua: str) -> str | None:
    """Return why a User-Agent is not a person's browser, or None if it looks like one.

    The reasons (one of :data:`tracking.ingest.bots.REASONS`: ``empty-ua``, ``probe``,
    ``headless``, ``tool``, ``monitor``, ``crawler``, ``url-in-agent``, ``email-in-agent``,
    ``joined-agents``, ``no-browser``), the maintained lists and the rules behind them are
    described in :mod:`tracking.ingest.bots`.

    Only the first 512 characters are inspected, without control characters. Results are
    cached (8192 distinct UAs), so a repeated UA costs a dictionary look-up; a new one costs
    tens of microseconds (see BENCHMARKS.md, "Bot detection").
    """
    return _detect_bot(ua[:_UA_LIMIT])


@functools.lru_cache(maxsize=8192)
def _detect_bot(ua: str) -> str | None:
    return _bots().classify(clean_text(ua, _UA_LIMIT), _ua_parser())


def _bots():  # noqa: ANN202 - the module
    """:mod:`tracking.ingest.bots`, imported on first use: this module also runs as a script (the
    child of :func:`_geoip2fast_tables`), which has no package to import from and no use for the
    bot lists."""
    from . import bots

    return bots


def warm_up() -> None:
    """Build the UA parser and the bot lists ahead of the first hit.

    Both are built lazily (together about a second); call this at application start to keep
    that cost off the first beacon request.
    """
    _ua_parser().parse("Mozilla/5.0")
    _bots().warm_up()


# --------------------------------------------------------------------------
# IP addresses
# --------------------------------------------------------------------------

IP_MODES = ("none", "truncated", "full")
"""Accepted values of the *mode* argument of :func:`truncate_ip`."""

_IP_TEXT_LIMIT = 64
_IPV6_48_MASK = ((1 << 48) - 1) << 80
_IPV4_MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"


def _parse_ip(ip: str) -> IPv4Address | IPv6Address | None:
    """Parse an IP address; IPv4-mapped IPv6 becomes IPv4, zone ids are dropped.

    Uses ``inet_pton`` (strict: no shortened or zero-padded IPv4 forms),
    several times faster than ``ipaddress.ip_address`` on text.
    """
    text = ip.strip()
    if not text or len(text) > _IP_TEXT_LIMIT:
        return None
    try:
        if ":" in text:
            packed = socket.inet_pton(socket.AF_INET6, text.partition("%")[0])
            if packed.startswith(_IPV4_MAPPED_PREFIX):
                return IPv4Address(packed[12:])
            return IPv6Address(packed)
        return IPv4Address(socket.inet_pton(socket.AF_INET, text))
    except (OSError, ValueError):  # ValueError: embedded NUL, surrogates
        return None


def truncate_ip(ip: str, mode: str) -> str | None:
    """Return the IP address to store for *mode*, or None to store nothing.

    * ``"none"``: always None.
    * ``"full"``: the normalised address (``::ffff:1.2.3.4`` -> ``1.2.3.4``).
    * ``"truncated"``: IPv4 masked to its /24 (last octet 0), IPv6 to its /48.

    A malformed address gives None.  An unknown *mode* is a configuration
    error, not visitor input, and raises ValueError (see :data:`IP_MODES`).
    """
    if mode not in IP_MODES:
        raise ValueError(f"unknown IP storage mode {mode!r}, expected one of {IP_MODES}")
    if mode == "none":
        return None
    if len(ip) > _IP_TEXT_LIMIT:  # the cache keeps bounded keys only
        return _truncate_ip(ip, mode)
    return _cached_truncate_ip(ip, mode)


def _truncate_ip(ip: str, mode: str) -> str | None:
    address = _parse_ip(ip)
    if address is None:
        return None
    if mode == "full":
        return str(address)
    if isinstance(address, IPv4Address):
        return str(IPv4Address(int(address) & 0xFFFFFF00))
    return str(IPv6Address(int(address) & _IPV6_48_MASK))


_cached_truncate_ip = functools.lru_cache(maxsize=4096)(_truncate_ip)


#: What the key of :class:`VisitorKeys` is for: the same server secret keys other things too.
_VISITOR_KEY_PURPOSE = b"tracking visitor key\x00"


class VisitorKeys:
    """Visitor keys under one server secret: ``keys(site_id, ip, ua)`` is a keyed BLAKE2b digest
    of site, IP address and User-Agent, computed when the hit arrives.

    Only this digest travels on from the beacon -- through the hand-over to the writer process
    and into spool files -- while the raw IP and User-Agent do not; :func:`visitor_id` salts it
    with the day's salt when the hit is stored. The key is derived from *secret* (the server's
    ``tracking.secret``) and a purpose string, so a digest cannot be recomputed -- an IPv4
    address cannot be found by trying them all -- without the secret. Changing the secret
    changes every key: the day's returning visitors then count as new visitors once.

    The key is derived once; a call copies a keyed hasher (as cheap as an unkeyed digest). Lone
    surrogates are hashed as-is (``surrogatepass``) rather than rejected.
    """

    __slots__ = ("_hasher",)

    def __init__(self, secret: str) -> None:
        key = hashlib.blake2b(_VISITOR_KEY_PURPOSE + secret.encode("utf-8", "surrogatepass"), digest_size=32).digest()
        self._hasher = hashlib.blake2b(key=key, digest_size=16)

    def __call__(self, site_id: int, ip: str, ua: str) -> bytes:
        hasher = self._hasher.copy()
        hasher.update(f"{site_id}\x00{ip}\x00{ua}".encode("utf-8", "surrogatepass"))
        return hasher.digest()


def visitor_id(salt: bytes, visitor_key: bytes) -> int:
    """Pseudonymous visitor id: keyed BLAKE2b of a visitor key (:class:`VisitorKeys`) with the day's salt.

    The *salt* is the BLAKE2b key (at most 64 bytes); it rotates daily and is deleted
    after two days, so the same visitor gets a new, unlinkable id every day and a stored
    id cannot be traced back once the salt is gone. The 8-byte digest is returned as a
    signed 64-bit integer so it fits a PostgreSQL BIGINT.
    """
    digest = hashlib.blake2b(visitor_key, key=salt, digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# --------------------------------------------------------------------------
# Geolocation
# --------------------------------------------------------------------------

_GEOIP2FAST_DATA_FILE = "geoip2fast-asn-ipv6.dat.gz"
"""geoip2fast's bundled country and autonomous system data, IPv4 and IPv6 (MaxMind GeoLite2
derived). Its country networks are those of the country-only file (``geoip2fast-ipv6.dat.gz``)."""
_GEO_CACHE_SIZE = 4096
_COUNTRY_CODE = re.compile(r"[A-Z]{2}")
#: The longest autonomous system organisation kept (the bundled data's longest is 93).
AS_ORG_LIMIT = 96


@dataclass(frozen=True, slots=True)
class Geo:
    """Where an IP address is, as far as the databases know ("" / None = unknown).

    ``as_org``: the organisation of the autonomous system announcing the address (its network
    operator: an ISP, a hosting company, a university), from the bundled data."""

    country: str = ""
    region: str = ""
    city: str = ""
    postal: str = ""
    latitude: float | None = None
    longitude: float | None = None
    as_org: str = ""


_UNKNOWN_GEO = Geo()


class NetworkTable:
    """The networks of one list of a geoip2fast data file, in compact arrays, each with the index
    of its value (a country, an autonomous system's name).

    geoip2fast keeps its networks as Python lists of Python integers (~47 MB for the ~790,000
    country networks with IPv6); the same networks in typed arrays take ~9 MB. The lists are read
    as geoip2fast reads them (chunks of sorted first addresses, value indexes and prefix lengths,
    IPv4 and IPv6 in one integer space), emptied as they are copied, and looked up the way it looks
    up: the network with the greatest first address not above the address, if the address is
    inside it.
    """

    def __init__(self, firsts: list[list[int]], values: list[list[int]], prefixes: list[list[int]]) -> None:
        value_type = "H" if max((max(chunk, default=0) for chunk in values), default=0) < 1 << 16 else "I"
        self.v4_first, self.v4_value, self.v4_prefix = array("I"), array(value_type), array("B")
        self.v6_high, self.v6_low, self.v6_value, self.v6_prefix = array("Q"), array("Q"), array(value_type), array("B")
        while firsts:  # chunk by chunk, freeing geoip2fast's lists as they are copied
            chunk, chunk_values, chunk_prefixes = firsts.pop(0), values.pop(0), prefixes.pop(0)
            split = bisect_left(chunk, _IPV4_END)
            self.v4_first.extend(chunk[:split])
            self.v4_value.extend(chunk_values[:split])
            self.v4_prefix.extend(chunk_prefixes[:split])
            self.v6_high.extend([first >> 64 for first in chunk[split:]])
            self.v6_low.extend([first & _LOW_64 for first in chunk[split:]])
            self.v6_value.extend(chunk_values[split:])
            self.v6_prefix.extend(chunk_prefixes[split:])

    def find(self, number: int) -> int:
        """The value index of the network holding address ``number``, or -1."""
        if number < _IPV4_END:
            i = bisect_right(self.v4_first, number) - 1
            if i < 0:
                return -1
            first, value, size = self.v4_first[i], self.v4_value[i], 1 << (32 - self.v4_prefix[i])
        else:
            high, low = number >> 64, number & _LOW_64
            end = bisect_right(self.v6_high, high)
            i = bisect_right(self.v6_low, low, bisect_left(self.v6_high, high, 0, end), end) - 1
            if i >= 0:
                first = (self.v6_high[i] << 64) | self.v6_low[i]
                value, prefix = self.v6_value[i], self.v6_prefix[i]
            elif self.v4_first:  # below every IPv6 network: the last IPv4 one, as geoip2fast has it
                first, value, prefix = self.v4_first[-1], self.v4_value[-1], self.v4_prefix[-1]
            else:
                return -1
            size = 1 << (128 - prefix)
        return value if number < first + size else -1

    def arrays(self) -> tuple[array, ...]:
        return (self.v4_first, self.v4_value, self.v4_prefix, self.v6_high, self.v6_low, self.v6_value, self.v6_prefix)

    def state(self) -> dict:
        """The table as plain values (arrays, bytes, strings), for :meth:`from_state`."""
        return dict(vars(self))

    @classmethod
    def from_state(cls, state: dict):
        table = cls.__new__(cls)
        vars(table).update(state)
        return table


class CountryTable(NetworkTable):
    """The country of every network: country indexes below 16 are geoip2fast's private and
    reserved networks."""

    def __init__(self, names: list[str], firsts, countries, prefixes) -> None:
        super().__init__(firsts, countries, prefixes)
        self.codes = tuple(name.partition(":")[0] for name in names)

    def country(self, address: IPv4Address | IPv6Address) -> str:
        """The ISO country code of a network holding ``address``, or "" (unknown, private)."""
        country = self.find(int(address))
        if country < _PRIVATE_COUNTRIES:
            return ""
        code = self.codes[country]
        return code if _COUNTRY_CODE.fullmatch(code) else ""


class AsTable(NetworkTable):
    """The autonomous system organisation of every network. geoip2fast keeps the organisation's
    name only, not the AS number; its names are kept here in one UTF-8 string (~1.5 MB, where
    72,000 ``str`` objects would take ~6 MB), decoded on lookup."""

    #: geoip2fast's names for "no AS": none known, and the reserved ranges it fills in itself.
    UNKNOWN = frozenset({"<unknown>", "IANA.ORG"})

    def __init__(self, names: list[str], firsts, systems, prefixes) -> None:
        super().__init__(firsts, systems, prefixes)
        encoded = [b"" if name in self.UNKNOWN else name.encode("utf-8", "replace") for name in names]
        self.offsets = array("I", [0])
        for name in encoded:
            self.offsets.append(self.offsets[-1] + len(name))
        self.names = b"".join(encoded)

    def organisation(self, address: IPv4Address | IPv6Address) -> str:
        """The name of the organisation of the AS announcing ``address``, or ""."""
        system = self.find(int(address))
        if system < 0 or system + 1 >= len(self.offsets):
            return ""
        name = self.names[self.offsets[system] : self.offsets[system + 1]]
        return clean_text(name.decode("utf-8", "replace"), AS_ORG_LIMIT) if name else ""


_IPV4_END = 1 << 32
_LOW_64 = (1 << 64) - 1
_PRIVATE_COUNTRIES = 16


def read_geoip2fast(path: str) -> tuple[CountryTable, AsTable]:
    """The tables of a geoip2fast country and AS data file (a pickle, format 120 or 121)."""
    with gzip.open(path, "rb") as data:
        version, _source, _total, database = pickle.load(data)  # the package's own file
    if version not in (120, 121) or len(database) != 10:
        raise ValueError(f"{path} is not a geoip2fast country and AS data file")
    _index, _as_index, names, as_names, firsts, as_firsts, countries, systems, prefixes, as_prefixes = database
    del database, _index, _as_index
    countries_table = CountryTable(names, firsts, countries, prefixes)
    return countries_table, AsTable(as_names, as_firsts, systems, as_prefixes)


@functools.lru_cache(maxsize=1)
def _geoip2fast_tables() -> tuple[CountryTable, AsTable]:
    """geoip2fast's country and AS data, loaded once per process (~0.7 s, ~19 MB of arrays).

    Only its data file is used: importing geoip2fast would change the process's environment (it
    sets PYTHONWARNINGS and PYTHONIOENCODING) and keep the same data as Python lists. The file is
    read by a child process (this module run as a script) which hands back the arrays: unpickling
    it holds ~90 MB of Python integers for a moment, and a process seldom gives such memory back
    to the system. Should the child fail, the file is read here.
    """
    spec = importlib.util.find_spec("geoip2fast")
    if spec is None or spec.origin is None:
        raise RuntimeError("the geoip2fast package (its country data file) is not installed")
    path = os.path.join(os.path.dirname(spec.origin), _GEOIP2FAST_DATA_FILE)
    if sys.executable:
        try:
            return _read_in_child(path)
        except (OSError, subprocess.SubprocessError, pickle.UnpicklingError, EOFError, ValueError) as exc:
            log.warning("reading %s in a child process failed (%s); reading it here", path, exc)
    return read_geoip2fast(path)


def _read_in_child(path: str) -> tuple[CountryTable, AsTable]:
    done = subprocess.run(
        [sys.executable, "-I", os.path.abspath(__file__), path], capture_output=True, timeout=120, check=False
    )
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ValueError(lines[-1] if lines else f"exit status {done.returncode}")
    countries, systems = pickle.loads(done.stdout)  # our own child's answer
    return CountryTable.from_state(countries), AsTable.from_state(systems)


def _is_public(address: IPv4Address | IPv6Address) -> bool:
    """True for globally routable unicast addresses (not private, loopback, ...)."""
    return address.is_global and not (address.is_multicast or address.is_reserved)


class GeoLocator:
    """Look up the country, the AS organisation and optionally city data for an IP.

    The country and the organisation of the autonomous system come from
    geoip2fast's bundled, offline data (MaxMind GeoLite2 derived, IPv4 and
    IPv6; see :class:`CountryTable` and :class:`AsTable`).

    With *city_db_path* (a MaxMind GeoIP2/GeoLite2 City ``.mmdb``), region
    (first-level subdivision name, else its ISO code), city, postal code and
    coordinates are added, and the country is taken from it when geoip2fast
    has none.  When both know a country and disagree, the city database's
    details are dropped so a hit never reads "US / Amsterdam".

    Private, loopback, link-local, reserved, multicast and malformed
    addresses give an empty :class:`Geo`.  Lookups are cached per instance
    (4096 addresses).  Thread-safe for lookups.
    """

    def __init__(self, city_db_path: str | None = None) -> None:
        self._countries, self._systems = _geoip2fast_tables()
        self._reader: geoip2.database.Reader | None = None
        if city_db_path is not None:
            reader = geoip2.database.Reader(city_db_path)
            database_type = reader.metadata().database_type
            if "City" not in database_type:
                reader.close()
                raise ValueError(f"{city_db_path} is a {database_type} database, not a City one")
            self._reader = reader
        self._cached_lookup = functools.lru_cache(maxsize=_GEO_CACHE_SIZE)(self._lookup)

    def __enter__(self) -> GeoLocator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def lookup(self, ip: str) -> Geo:
        """Return what is known about *ip*; never raises."""
        if len(ip) > _IP_TEXT_LIMIT:
            return _UNKNOWN_GEO
        return self._cached_lookup(ip)

    def close(self) -> None:
        """Close the city database (lookups then return country data only)."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._cached_lookup.cache_clear()

    def _lookup(self, ip: str) -> Geo:
        address = _parse_ip(ip)
        if address is None or not _is_public(address):
            return _UNKNOWN_GEO
        country = self._countries.country(address)
        as_org = self._systems.organisation(address)
        reader = self._reader
        if reader is None:
            return Geo(country=country, as_org=as_org)
        try:
            city = reader.city(str(address))
        except (geoip2.errors.AddressNotFoundError, ValueError):
            return Geo(country=country, as_org=as_org)
        city_country = city.country.iso_code or ""
        if country and city_country and city_country != country:
            return Geo(country=country, as_org=as_org)
        region = ""
        if city.subdivisions:
            top = city.subdivisions[0]
            region = clean_text(top.name or top.iso_code or "", 128)
        return Geo(
            country=country or city_country,
            region=region,
            city=clean_text(city.city.name or "", 128),
            postal=clean_text(city.postal.code or "", 32),
            latitude=city.location.latitude,
            longitude=city.location.longitude,
            as_org=as_org,
        )


# --------------------------------------------------------------------------
# Hosts and URLs
# --------------------------------------------------------------------------

_HOST_LIMIT = 253
# Letters (any script), digits, "-", "_", "." and ":" (IPv6).  Rejects
# whitespace, "%", "<", quotes and the like.
_HOST_CHARS = re.compile(r"[\w.:-]+")


def _normalize_host(value: str, *, strip_www: bool = True) -> str:
    """Lowercase a host, drop its port and trailing dot, optionally a "www." prefix.

    Returns "" for anything that is not a plausible host name or address.
    A "www." prefix is kept when nothing with a dot would remain
    ("www.com" stays itself).
    """
    host = value.strip().lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    host = host.rstrip(".")
    if not host or len(host) > _HOST_LIMIT or not _HOST_CHARS.fullmatch(host):
        return ""
    if strip_www and host.startswith("www.") and "." in host[4:]:
        host = host[4:]
    return host


def host_matches(host: str, domain: str) -> bool:
    """True when *host* is *domain* or one of its subdomains.

    Case-insensitive; ports, a trailing dot and a leading "www." on either
    side are ignored.  Only whole labels match: "evil-example.com" and
    "example.com.evil.net" do not match "example.com".
    """
    return _host_matches(host[: _HOST_LIMIT + 16], domain[: _HOST_LIMIT + 16])


@functools.lru_cache(maxsize=4096)
def _host_matches(host: str, domain: str) -> bool:
    host = _normalize_host(host)
    domain = _normalize_host(domain)
    if not host or not domain:
        return False
    return host == domain or host.endswith("." + domain)


_URL_LIMIT = 4096
_PATH_LIMIT = 1024
_QUERY_LIMIT = 512
_UTM_LIMIT = 128
_UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# Per-click / per-recipient identifiers appended by ad and mail platforms.
# They identify individuals and fragment page statistics, so they are never
# stored.
_CLICK_IDS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
        "twclid", "ttclid", "li_fat_id", "igshid", "mc_eid", "_hsenc", "_hsmi",
        "mkt_tok", "_gl", "_ga",
    }
)


@dataclass(frozen=True, slots=True)
class PageURL:
    """A page URL split into what is stored: host, path, cleaned query, UTM tags."""

    host: str
    path: str
    query: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str


def _split_url(url: str) -> SplitResult | None:
    try:
        return urlsplit(url)
    except ValueError:
        return None


def parse_page_url(url: str) -> PageURL | None:
    """Split an absolute http(s) page URL; None for anything else.

    * ``host``: lowercased, without port, user info or trailing dot ("www."
      is kept: it is part of the page's identity).
    * ``path``: as sent (percent-encoding untouched), "/" when empty, at most
      1024 characters.
    * ``query``: the query string as sent, minus every ``utm_*`` parameter
      and minus ad/mail click identifiers (``fbclid``, ``gclid``,
      ``msclkid``, ``mc_eid``, ... see ``_CLICK_IDS``), which identify
      individual clicks or recipients.  Parameters are kept whole, in order,
      while they fit in 512 characters; the rest are dropped.
    * ``utm_*``: the five standard UTM tags, percent-decoded, at most 128
      characters each; the first occurrence wins.

    The fragment is discarded.  Only the first 4096 characters of *url* are
    considered, and control characters are removed from every field.
    Results for URLs of up to 2048 characters are cached (1024 URLs).
    """
    if len(url) > _CACHED_URL_LIMIT:
        return _parse_page_url(url)
    return _cached_parse_page_url(url)


_CACHED_URL_LIMIT = 2048


def _parse_page_url(url: str) -> PageURL | None:
    parts = _split_url(clean_text(url, _URL_LIMIT))
    if parts is None or parts.scheme.lower() not in ("http", "https"):
        return None
    host = _normalize_host(parts.hostname or "", strip_www=False)
    if not host:
        return None
    kept: list[str] = []
    kept_length = 0
    utm: dict[str, str] = {}
    for parameter in parts.query.split("&"):
        if not parameter:
            continue
        raw_name, _, raw_value = parameter.partition("=")
        name = unquote_plus(raw_name).strip().lower()
        if name.startswith("utm_"):
            if name in _UTM_FIELDS and name not in utm:
                utm[name] = clean_text(unquote_plus(raw_value), _UTM_LIMIT)
            continue
        if name in _CLICK_IDS:
            continue
        added = len(parameter) + (1 if kept else 0)
        if kept_length + added <= _QUERY_LIMIT:
            kept.append(parameter)
            kept_length += added
    return PageURL(
        host=host,
        path=clean_text(parts.path, _PATH_LIMIT) or "/",
        query="&".join(kept),
        utm_source=utm.get("utm_source", ""),
        utm_medium=utm.get("utm_medium", ""),
        utm_campaign=utm.get("utm_campaign", ""),
        utm_term=utm.get("utm_term", ""),
        utm_content=utm.get("utm_content", ""),
    )


_cached_parse_page_url = functools.lru_cache(maxsize=1024)(_parse_page_url)


# --------------------------------------------------------------------------
# Traffic source classification
# --------------------------------------------------------------------------

SOURCE_CLASSES = ("search", "social", "email", "referral", "direct")

# Referrer domains by class.  A host matches an entry when it equals it or
# is a subdomain of it (m.facebook.com, old.reddit.com, uk.search.yahoo.com).
# Android apps send "android-app://<package>/" as referrer; their package
# names are listed like hosts.
_SEARCH_DOMAINS = (
    "bing.com", "duckduckgo.com", "search.yahoo.com", "search.yahoo.co.jp",
    "baidu.com", "ecosia.org", "qwant.com", "startpage.com", "search.brave.com",
    "kagi.com", "ya.ru", "naver.com", "seznam.cz", "sogou.com", "so.com",
    "ask.com", "search.aol.com", "yahoo.co.jp",
    "com.google.android.googlequicksearchbox",
)
_SOCIAL_DOMAINS = (
    "facebook.com", "fb.com", "fb.me", "messenger.com", "instagram.com",
    "threads.net", "threads.com", "twitter.com", "t.co", "x.com", "linkedin.com",
    "lnkd.in", "reddit.com", "redd.it", "youtube.com", "youtu.be", "tiktok.com",
    "pin.it", "news.ycombinator.com", "bsky.app", "mastodon.social", "vk.com",
    "ok.ru", "tumblr.com", "quora.com", "discord.com", "t.me", "telegram.org",
    "whatsapp.com", "wa.me", "snapchat.com", "weibo.com", "xing.com", "twitch.tv",
    "com.facebook.katana", "com.facebook.orca", "com.instagram.android",
    "com.twitter.android", "com.linkedin.android", "com.reddit.frontpage",
    "com.zhiliaoapp.musically", "com.pinterest", "org.telegram.messenger",
    "com.whatsapp", "com.google.android.youtube",
)
_EMAIL_DOMAINS = (
    "mail.google.com", "inbox.google.com", "outlook.live.com", "outlook.office.com",
    "outlook.office365.com", "mail.yahoo.com", "mail.aol.com", "mail.proton.me",
    "mail.protonmail.com", "mail.yandex.ru", "mail.yandex.com", "e.mail.ru",
    "mail.zoho.com", "app.fastmail.com", "app.tuta.com", "mail.tutanota.com",
    "com.google.android.gm", "com.microsoft.office.outlook",
)
_DOMAIN_CLASSES: dict[str, str] = {
    **dict.fromkeys(_SEARCH_DOMAINS, "search"),
    **dict.fromkeys(_SOCIAL_DOMAINS, "social"),
    **dict.fromkeys(_EMAIL_DOMAINS, "email"),
}
# Brands with one site per country: matched as "<brand>.<tld>" or
# "<brand>.<second-level>.<tld>" (google.de, google.co.uk, google.com.br),
# but not as a subdomain (docs.google.com is a plain referral).
_BRAND_CLASSES = {"google": "search", "yandex": "search", "pinterest": "social"}
_SECOND_LEVEL_LABELS = frozenset({"co", "com", "net", "org", "ne", "or", "ac", "gob", "gov", "edu"})
# "mail.<domain>" / "webmail.<domain>" are webmail front-ends.
_WEBMAIL_LABELS = frozenset({"mail", "webmail"})

# utm_medium values (lowercased, "_" and " " read as "-") and their class.
# "paid" marks pay-per-click media, which are search ads unless the source
# or referrer is a social network.
_MEDIUM_CLASSES = {
    **dict.fromkeys(("email", "e-mail", "mail", "newsletter", "newsletters"), "email"),
    **dict.fromkeys(
        ("social", "social-media", "socialmedia", "social-network", "sm", "organic-social",
         "paid-social", "paidsocial", "social-paid"),
        "social",
    ),
    **dict.fromkeys(("organic", "organic-search", "seo", "search", "paid-search", "paidsearch", "sem"), "search"),
    **dict.fromkeys(("referral", "display", "banner", "cpm", "affiliate", "affiliates"), "referral"),
    **dict.fromkeys(("cpc", "ppc", "paid"), "paid"),
}
# utm_source values that name a platform rather than a domain.
_SOURCE_NAME_CLASSES = {
    **dict.fromkeys(
        ("google", "bing", "duckduckgo", "ddg", "yahoo", "yandex", "baidu", "ecosia",
         "qwant", "startpage", "brave", "kagi", "naver", "seznam"),
        "search",
    ),
    **dict.fromkeys(
        ("facebook", "fb", "instagram", "ig", "twitter", "x", "linkedin", "reddit",
         "youtube", "tiktok", "pinterest", "hackernews", "hacker-news", "hn",
         "bluesky", "bsky", "threads", "mastodon", "vk", "telegram", "whatsapp",
         "snapchat", "tumblr", "quora", "discord", "xing"),
        "social",
    ),
    **dict.fromkeys(
        ("newsletter", "email", "e-mail", "mail", "mailchimp", "substack", "brevo",
         "sendinblue", "convertkit", "kit", "buttondown", "mailerlite", "klaviyo"),
        "email",
    ),
}
_REFERRER_SCHEMES = frozenset({"http", "https", "android-app"})
_REFERRER_LIMIT = 2048


def _host_class(host: str) -> str | None:
    """Class of a normalised host from the built-in tables, None if unlisted."""
    if not host:
        return None
    suffix = host
    while True:
        found = _DOMAIN_CLASSES.get(suffix)
        if found is not None:
            return found
        dot = suffix.find(".")
        if dot < 0:
            break
        suffix = suffix[dot + 1 :]
    labels = host.split(".")
    brand = _BRAND_CLASSES.get(labels[0])
    if brand is not None and (
        len(labels) == 2 or (len(labels) == 3 and labels[1] in _SECOND_LEVEL_LABELS)
    ):
        return brand
    if len(labels) >= 3 and labels[0] in _WEBMAIL_LABELS:
        return "email"
    return None


def _source_class(utm_source: str) -> str | None:
    """Class of a utm_source value: a platform name or a domain."""
    name = utm_source.lower()
    return _SOURCE_NAME_CLASSES.get(name) or _host_class(_normalize_host(name))


def _referrer_host(referrer: str) -> str:
    parts = _split_url(referrer)
    if parts is None or parts.scheme.lower() not in _REFERRER_SCHEMES:
        return ""
    return _normalize_host(parts.hostname or "")


def classify_source(
    referrer: str, page_host: str, utm_source: str = "", utm_medium: str = ""
) -> tuple[str, str]:
    """Return ``(referrer_host, source_class)`` for a hit.

    ``referrer_host`` is the referrer's host, lowercased, without port or
    "www." -- or "" when there is no usable http(s)/android-app referrer or
    when it is the page's own host, or either is a subdomain of the other
    (internal navigation is no referrer).

    ``source_class`` (one of :data:`SOURCE_CLASSES`) is decided by, in turn:

    1. ``utm_medium`` (email/newsletter -> email, social/sm -> social,
       organic/seo -> search, display/affiliate -> referral; cpc/ppc/paid ->
       social when the source or referrer is a social network, else search);
    2. ``utm_source`` naming a known platform or domain ("google",
       "facebook", "newsletter", "news.ycombinator.com");
    3. the referrer host against the built-in search / social / webmail
       tables (country domains such as google.co.uk and subdomains such as
       l.facebook.com included);
    4. "referral" for any other referrer or for unrecognised UTM tags,
       "direct" when there is neither.
    """
    return _classify_source(
        referrer[:_REFERRER_LIMIT],
        page_host[: _HOST_LIMIT + 16],
        utm_source[:_UTM_LIMIT],
        utm_medium[:_UTM_LIMIT],
    )


@functools.lru_cache(maxsize=4096)
def _classify_source(
    referrer: str, page_host: str, utm_source: str, utm_medium: str
) -> tuple[str, str]:
    ref_host = _referrer_host(clean_text(referrer, _REFERRER_LIMIT))
    if ref_host and page_host and (
        _host_matches(ref_host, page_host) or _host_matches(page_host, ref_host)
    ):
        ref_host = ""
    source = clean_text(utm_source, _UTM_LIMIT)
    medium = clean_text(utm_medium, _UTM_LIMIT).lower().replace("_", "-").replace(" ", "-")
    medium_class = _MEDIUM_CLASSES.get(medium)
    if medium_class is not None and medium_class != "paid":
        return ref_host, medium_class
    known = (_source_class(source) if source else None) or _host_class(ref_host)
    if medium_class == "paid":
        return ref_host, "social" if known == "social" else "search"
    if known is not None:
        return ref_host, known
    if ref_host or source or medium:
        return ref_host, "referral"
    return ref_host, "direct"


if __name__ == "__main__":  # the child of _geoip2fast_tables: a data file's tables, pickled, on stdout
    _countries, _systems = read_geoip2fast(sys.argv[1])
    sys.stdout.buffer.write(
        pickle.dumps((_countries.state(), _systems.state()), pickle.HIGHEST_PROTOCOL)
    )
