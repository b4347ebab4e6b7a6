"""IP addresses (tracking.ingest.enrich.addresses): truncate_ip, visitor keys and visitor ids."""

from __future__ import annotations

import hashlib

import pytest

from tracking.ingest.enrich import IP_MODES, VisitorKeys, truncate_ip, visitor_id

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"

SECRET = "test-secret-" + "k" * 32
KEYS = VisitorKeys(SECRET)


def visitor_hash(salt: bytes, site_id: int, ip: str, ua: str) -> int:
    return visitor_id(salt, KEYS(site_id, ip, ua))


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
