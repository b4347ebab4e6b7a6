"""The User-Agent: browser, major version, operating system and device class.

Parsed by ua-parser (``ua-parser[regex]``, the Rust-backed resolver), cached per distinct
User-Agent. Whether it is a person's browser at all is :mod:`.bots`'s question.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import ua_parser
from ua_parser.regex import Resolver as RegexResolver

from .text import clean_text

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
    A spider is ua-parser's "Spider" device that :func:`.bots.detect_bot` also
    calls a bot: ua-parser's patterns alone take real browsers for bots
    ("Banca Caboto" has "bot", so has "turbotabbee"), and a hit is a bot hit
    exactly when ``detect_bot`` says so.
    """
    if device_family == "Spider" and _is_bot(ua):
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


def _is_bot(ua: str) -> bool:
    """Whether :func:`.bots.detect_bot` names a reason; imported on first use, as :mod:`.bots`
    builds on this module's parser."""
    from .bots import detect_bot

    return detect_bot(ua) is not None
