"""Page addresses and host names (tracking.ingest.enrich.urls): parse_page_url, host_matches."""

from __future__ import annotations

import pytest

from tracking.ingest.enrich import PageURL, host_matches, parse_page_url

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
