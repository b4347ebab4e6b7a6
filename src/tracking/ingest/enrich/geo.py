"""Geolocation: the country and autonomous system of an IP address from geoip2fast's bundled data
(in compact tables), and region and city from an optional city ``.mmdb`` (:class:`GeoLocator`).

This module also runs as a script, with no package around it: the child process of
:func:`_geoip2fast_tables`, which reads geoip2fast's data file and hands back the tables. The
helpers of the lookups are imported only when it is imported as a module.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import logging
import os
import pickle
import re
import subprocess
import sys
import threading
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

import geoip2.database
import geoip2.errors

if __name__ != "__main__":  # run as the child of _read_in_child, it only reads a data file
    from .addresses import _IP_TEXT_LIMIT, _parse_ip
    from .text import clean_text

log = logging.getLogger(__name__)

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

    The country and AS tables are loaded at the first lookup, or by
    :meth:`warm_up` (the server calls it before serving); the city database
    is opened at once, so a wrong path stops the start.
    """

    def __init__(self, city_db_path: str | None = None) -> None:
        self._tables: tuple[CountryTable, AsTable] | None = None
        self._tables_lock = threading.Lock()
        self._reader: geoip2.database.Reader | None = None
        if city_db_path is not None:
            reader = geoip2.database.Reader(city_db_path)
            database_type = reader.metadata().database_type
            if "City" not in database_type:
                reader.close()
                raise ValueError(f"{city_db_path} is a {database_type} database, not a City one")
            self._reader = reader
        self._cached_lookup = functools.lru_cache(maxsize=_GEO_CACHE_SIZE)(self._lookup)

    def warm_up(self) -> None:
        """Load the country and AS tables now rather than at the first lookup."""
        self._load_tables()

    def _load_tables(self) -> tuple[CountryTable, AsTable]:
        with self._tables_lock:
            if self._tables is None:
                self._tables = _geoip2fast_tables()
            return self._tables

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
        countries, systems = self._tables or self._load_tables()
        country = countries.country(address)
        as_org = systems.organisation(address)
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


if __name__ == "__main__":  # the child of _geoip2fast_tables: a data file's tables, pickled, on stdout
    _countries, _systems = read_geoip2fast(sys.argv[1])
    sys.stdout.buffer.write(
        pickle.dumps((_countries.state(), _systems.state()), pickle.HIGHEST_PROTOCOL)
    )
