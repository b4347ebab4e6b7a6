"""Traffic sources (tracking.ingest.enrich.referrers): classify_source."""

from __future__ import annotations

import pytest

from tracking.ingest.enrich import SOURCE_CLASSES, classify_source

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
