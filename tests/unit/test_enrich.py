"""The beacon enrichment steps as one package (tracking.ingest.enrich): its public names, and
nothing raises on hostile text, whichever step reads it. Each step has its own test module
(test_enrich_<module>.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from _maxminddb_geolite2 import geolite2_database
from hypothesis import given, settings
from hypothesis import strategies as st

from tracking.ingest.enrich import (
    DEVICE_CLASSES,
    IP_MODES,
    SOURCE_CLASSES,
    Geo,
    GeoLocator,
    VisitorKeys,
    classify_source,
    clean_text,
    detect_bot,
    host_matches,
    parse_agent,
    parse_page_url,
    truncate_ip,
    visitor_id,
)
from tracking.ingest.enrich.bots import REASONS

CITY_DB = geolite2_database()
# What must never reach storage: C0/C1 controls, DEL, lone surrogates.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

SECRET = "test-secret-" + "k" * 32
KEYS = VisitorKeys(SECRET)
SALT = b"s" * 32


def visitor_hash(salt: bytes, site_id: int, ip: str, ua: str) -> int:
    return visitor_id(salt, KEYS(site_id, ip, ua))


@pytest.fixture(scope="module")
def city_geo() -> Iterator[GeoLocator]:
    locator = GeoLocator(CITY_DB)
    yield locator
    locator.close()


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
