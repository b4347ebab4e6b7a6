"""The beacon against raw requests, and the settings that change what it stores.

* Raw query strings, header values and bodies, as a client could send them: never a 5xx,
  errors in JSON, empty 204s, and exactly the accepted hits stored.
* ``tracking.geoip_city_db``: a City database's region, city, postal code and coordinates.
* ``tracking.store_ip``: the address stored whole, cut to its network, or not at all.
"""

import json

import geoip2.database
import pytest
from _maxminddb_geolite2 import geolite2_database
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.support import TestApp, store_buffered
from tracking import make_app
from tracking.interfaces import IHitPipeline
from tracking.models import Hit, Visit
from tracking.settings import ENVIRONMENT

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
CITY_DB = geolite2_database()

#: What the beacon may answer to GET and POST on a known site, the buffer never full.
ANSWERS = {204, 400, 413, 414}


# -- raw requests ----------------------------------------------------------------------------------

#: Pieces of query strings and bodies: field names, separators, percent escapes valid and not.
_PIECES = st.sampled_from([
    "url=", "event=", "referrer=", "width=", "props=", "x=", "%75rl=", "url", "&", "=", ";", "&&", "==", "?", "#",
    "+", "%", "%2", "%zz", "%G1", "%41", "%2F", "%3D", "%26", "%00", "%0A", "%ff", "%C3", "%C3%28", "%e2%82%ac",
    "%F0%9F%98%80", "%ED%A0%80", "é", "€", "\U0001f600", "\x00", "\x7f", " ", "\t", '"', "'", "<", ">", "{", "}",
    "https://blog.example.com/", "https%3A%2F%2Fblog.example.com%2Fa", "http://[::1]:80/", "javascript:alert(1)",
    "https://evil.example/", "1280", "-1", "99999999", '{"a":1}', "%7B%22a%22%3A1%7D", "[1]", "x" * 300,
])
#: A query string's bytes: pieces as UTF-8, any text, any bytes.
_RAW_BYTES = st.lists(
    (_PIECES | st.text(max_size=8)).map(str.encode) | st.binary(max_size=4),
    max_size=30,
).map(b"".join)
#: A raw query string as a WSGI server hands it over: the request's bytes, read as latin-1; half
#: of them after a valid page address, so that the rest decides.
_RAW_QUERY = st.tuples(
    st.sampled_from(["", "", "url=https://blog.example.com/p&", "url=https%3A%2F%2Fblog.example.com%2F%3Fq%3D1&"]),
    _RAW_BYTES.map(lambda raw: raw.decode("latin-1")),
).map("".join)
#: Any header value WSGI can carry: latin-1, no CR or LF.
_HEADER_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=255, exclude_characters="\r\n"), max_size=120)
_HEADERS = st.fixed_dictionaries({}, optional={
    "User-Agent": st.just(CHROME) | _HEADER_TEXT,
    "Referer": st.sampled_from(["https://blog.example.com/from", "https://evil.example/"]) | _HEADER_TEXT,
    "DNT": st.sampled_from(["1", "0"]) | _HEADER_TEXT,
    "Sec-GPC": st.sampled_from(["1", "0"]) | _HEADER_TEXT,
})
_CONTENT_TYPES = st.sampled_from([
    "text/plain;charset=UTF-8", "application/json", "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=latin-1", "multipart/form-data; boundary=x", "", ";", "text/plain; charset=\x00",
]) | _HEADER_TEXT
_JSON_BODIES = st.dictionaries(
    st.sampled_from(["url", "event", "referrer", "width", "props", "x"]),
    st.sampled_from(["https://blog.example.com/json"]) | st.text(max_size=20) | st.integers() | st.none()
    | st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    max_size=5,
).map(lambda data: json.dumps(data).encode())
_BODIES = st.binary(max_size=400) | _RAW_BYTES | _JSON_BODIES


def check_answer(res):
    """What every beacon answer must look like: a known status, errors as JSON, 204s empty."""
    assert res.status_code in ANSWERS, (res.status, res.text)
    if res.status_code == 204:
        assert res.body == b""
        assert res.headers["Cache-Control"] == "no-store"
    else:
        assert res.content_type == "application/json", res.headers
        errors = res.json["errors"]
        assert isinstance(errors, dict) and errors
    assert "Set-Cookie" not in res.headers


def check_privacy_signals(res, headers):
    """``DNT: 1`` and ``Sec-GPC: 1`` (exactly) turn a valid hit away, whatever else it says."""
    signal = "dnt" if headers.get("DNT") == "1" else "gpc" if headers.get("Sec-GPC") == "1" else None
    if res.status_code == 204:
        ignored = res.headers.get("X-Tracking-Ignored")
        assert ignored == signal if signal else ignored in (None, "bot", "foreign-host")


def counted(res):
    """Whether the answer says the hit was taken: a 204, not ignored (bots are stored apart)."""
    return res.status_code == 204 and res.headers.get("X-Tracking-Ignored", "bot") == "bot"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=_RAW_QUERY, headers=_HEADERS)
@example(query="url=https%3A%2F%2Fblog.example.com%2Fok&width=1280", headers={"User-Agent": CHROME})
@example(query="url=https://blog.example.com/a?b=c&d=%ff%C3%28&event=%ED%A0%80;x", headers={"User-Agent": CHROME})
@example(query="%75rl=https://blog.example.com/&&&==&width=%31", headers={"User-Agent": "\x00\xff", "DNT": "1\x00"})
@example(query="", headers={"Referer": "https://blog.example.com/from", "User-Agent": CHROME})
@example(query="url=" + "%ff" * 3000, headers={})
def test_raw_query_strings_and_headers(testapp, site, stored, query, headers):
    res = testapp.get(f"/sites/{site.id}/hit?{query}", headers=headers, expect_errors=True)
    check_answer(res)
    check_privacy_signals(res, headers)
    assert stored() == int(counted(res))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_BODIES, content_type=_CONTENT_TYPES, query=_RAW_QUERY, headers=_HEADERS)
@example(body=b'{"url": "https://blog.example.com/json"}', content_type="text/plain;charset=UTF-8", query="", headers={"User-Agent": CHROME})
@example(body=b"url=https%3A%2F%2Fblog.example.com%2F&event=%ff", content_type="application/x-www-form-urlencoded", query="", headers={"User-Agent": CHROME})
@example(body=b"\xff\xfe{", content_type="application/json", query="url=https://blog.example.com/", headers={})
@example(body=b"--x\r\nContent-Disposition: form-data; name=url\r\n\r\nhttps://blog.example.com/\r\n--x--", content_type="multipart/form-data; boundary=x", query="", headers={})
@example(body=b"{" + b" " * 9000 + b"}", content_type="text/plain", query="", headers={})
def test_raw_bodies_of_any_content_type(testapp, site, stored, body, content_type, query, headers):
    res = testapp.request(
        f"/sites/{site.id}/hit?{query}", method="POST", body=body,
        headers={**headers, "Content-Type": content_type}, expect_errors=True,
    )
    check_answer(res)
    check_privacy_signals(res, headers)
    assert stored() == int(counted(res))


# -- apps built with other settings ----------------------------------------------------------------


@pytest.fixture
def app_with(app_settings, db_service, dbsession, monkeypatch):
    """``app_with(environ=None, **settings)``: a client of the application built from the test
    settings and ``settings`` (and the environment variables ``environ``), in the test's
    transaction, and a function storing what its beacon buffered."""
    built = []

    def build(environ=None, **settings):
        for variable in ENVIRONMENT:  # the settings alone decide, whatever the shell exports
            monkeypatch.delenv(variable, raising=False)
        for variable, value in (environ or {}).items():
            monkeypatch.setenv(variable, value)
        wsgi = make_app({**app_settings, **settings}, database=db_service)
        built.append(wsgi)
        client = TestApp(wsgi, extra_environ={"HTTP_HOST": "tracking.example.org"})
        return client, lambda: store_buffered(wsgi, dbsession)

    yield build
    for wsgi in built:
        wsgi.registry.getUtility(IHitPipeline).geo.close()


def hit_from(client, site, ip, path="/"):
    res = client.get(
        f"/sites/{site.id}/hit", params={"url": f"https://blog.example.com{path}"},
        headers={"User-Agent": CHROME}, extra_environ={"REMOTE_ADDR": ip},
    )
    assert res.status_code == 204 and "X-Tracking-Ignored" not in res.headers
    return res


def hit_at(dbsession, site, path):
    return dbsession.scalars(select(Hit).where(Hit.site_id == site.id, Hit.path == path)).one()


@pytest.mark.parametrize("ip", ["81.2.69.142", "2001:4860:4860::8888", "::ffff:81.2.69.142"])
def test_a_city_database_locates_hits(app_with, dbsession, site, ip):
    with geoip2.database.Reader(CITY_DB) as reader:
        record = reader.city(ip.removeprefix("::ffff:"))
    expected = {
        "country": record.country.iso_code,
        "region": record.subdivisions[0].name,
        "city": record.city.name,
        "postal": record.postal.code,
        "latitude": record.location.latitude,
        "longitude": record.location.longitude,
    }
    assert all(expected.values())  # an address the database knows down to the city
    client, store = app_with(**{"tracking.geoip_city_db": CITY_DB})
    hit_from(client, site, ip, "/located")
    assert store() == 1
    hit = hit_at(dbsession, site, "/located")
    assert {name: getattr(hit, name) for name in expected} == expected
    visit = dbsession.get(Visit, hit.visit_id)
    assert (visit.country, visit.region, visit.city) == (expected["country"], expected["region"], expected["city"])


def test_without_a_city_database_only_the_country_is_known(app_with, dbsession, site):
    client, store = app_with()
    hit_from(client, site, "81.2.69.142", "/country")
    assert store() == 1
    hit = hit_at(dbsession, site, "/country")
    assert (hit.country, hit.region, hit.city, hit.postal, hit.latitude, hit.longitude) == ("GB", "", "", "", None, None)


STORE_IP = [
    ("none", "203.0.113.7", None),
    ("truncated", "203.0.113.7", "203.0.113.0"),
    ("full", "203.0.113.7", "203.0.113.7"),
    ("none", "2001:db8:1234:5678:9abc::7", None),
    ("truncated", "2001:db8:1234:5678:9abc::7", "2001:db8:1234::"),
    ("full", "2001:db8:1234:5678:9abc::7", "2001:db8:1234:5678:9abc::7"),
    ("truncated", "::ffff:198.51.100.77", "198.51.100.0"),
    ("full", "::ffff:198.51.100.77", "198.51.100.77"),
]


@pytest.mark.parametrize(("mode", "ip", "expected"), STORE_IP)
def test_store_ip_setting_decides_the_stored_address(app_with, dbsession, site, mode, ip, expected):
    client, store = app_with(**{"tracking.store_ip": mode})
    hit_from(client, site, ip, "/address")
    assert store() == 1
    assert hit_at(dbsession, site, "/address").ip == expected


def test_the_environment_overrides_the_store_ip_setting(app_with, dbsession, site):
    client, store = app_with(environ={"TRACKING_STORE_IP": "none"}, **{"tracking.store_ip": "full"})
    hit_from(client, site, "203.0.113.7", "/address")
    assert store() == 1
    assert hit_at(dbsession, site, "/address").ip is None
