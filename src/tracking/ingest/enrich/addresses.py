"""IP addresses: parsing, what is stored of them (:func:`truncate_ip`), and the visitor keys and
daily visitor ids derived from them (:class:`VisitorKeys`, :func:`visitor_id`)."""

from __future__ import annotations

import functools
import hashlib
import socket
from ipaddress import IPv4Address, IPv6Address

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
