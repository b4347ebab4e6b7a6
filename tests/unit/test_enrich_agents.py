"""The User-Agent (tracking.ingest.enrich.agents and .bots): browser, system and device class,
and whether it is a person's browser at all, on common user agents (test_bots.py has the hard
cases of bot detection)."""

from __future__ import annotations

import pytest

from tracking.ingest.enrich import DEVICE_CLASSES, Agent, detect_bot, parse_agent, warm_up

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
