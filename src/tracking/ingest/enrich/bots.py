"""Is a User-Agent a person's browser, or a program? The reason a hit is a bot hit.

A beacon hit is a bot hit when :func:`detect_bot` names a reason; the
reason is stored in ``hits.bot`` and shown in the site's list of bot hits. Reasons, checked in
this order (the first that applies wins):

``empty-ua``
    nothing is left of the User-Agent once control characters and spaces are removed.
``probe``
    the User-Agent carries an attack payload (:data:`.bot_lists._PROBE`): markup (``<script``, ``<svg``,
    ``<?php``), a quote that closes a string and goes on in code (``'+(select``, ``') OR``,
    ``"><``), SQL (``UNION SELECT``, ``pg_sleep(``), template, expression and shell syntax
    (``${``, ``$(``, ``{{``, ``#{``, the Shellshock ``() {``), a path traversal or a system
    file, or the host of an out-of-band testing service (Burp Collaborator, ProjectDiscovery's
    interactsh). A User-Agent is product tokens and versions, which cannot hold a double quote
    or an angle bracket, and comments about the platform (RFC 9110, section 10.1.5); no
    browser, app or device writes code there. Scanners do, hoping that a server which logs,
    stores or shows the header runs it. Quotes alone are no sign: vendors write screen sizes in
    inches into device names (``Bush Spira B1 10.1"``, ``5''``), and some logs end a User-Agent
    with a stray quote; a quote counts only when code follows it, and not after a digit. A
    payload wins over whatever else the User-Agent claims to be.
``headless``
    headless browsers and automation or lab tools: HeadlessChrome, PhantomJS, Lighthouse,
    WebPageTest, Puppeteer, Playwright, Selenium, ..., and Splash, a "lightweight browser with
    an HTTP API" that renders pages for scrapers (Zyte's Splash, splash.readthedocs.io; Scrapy
    drives it through scrapy-splash). Its User-Agent is Qt WebKit's default, which carries the
    application's name, ``... (KHTML, like Gecko) splash Version/10.0 Safari/602.1``. The lists
    disagree on it: crawler-user-agents tags it ``browser-automation``, Matomo names it a
    browser, and a browser Matomo names overrules the broad lists (see below). It is both, and
    what it is for decides.
``tool``
    HTTP libraries and command-line clients: curl, wget, python-requests, Go-http-client, ...
``monitor``
    uptime and performance monitors: Pingdom, UptimeRobot, Site24x7, ..., and any agent that
    calls itself *synthetic*: synthetic monitoring (scripted visits run on a schedule from a
    vendor's machines) is what the word means in a User-Agent, and its vendors put it there so
    that analytics can leave their visits out: Datadog's browser tests end theirs with
    ``DatadogSynthetics`` and its API tests send ``Datadog/Synthetics`` (Datadog's guide
    "Identify Synthetic Bots"), Splunk's send ``Splunk Synthetics``; the maintained lists name
    a few such agents one by one (``RuxitSynthetic``, ``DynatraceSynthetic``,
    ``Elastic/Synthetics``, ``NewRelicSynthetics``, ``synthetic-monitoring-agent``), always with
    the vendor's capitals, and so miss the same agents written otherwise
    (``splunk synthetics``) and the vendors they do not list. No browser, app or device
    name in the browser lists holds the word.
``crawler``
    any other program a bot list knows: search engines, SEO and AI crawlers, link previewers,
    feed fetchers and feed readers, security scanners; and Google Web Light
    (``googleweblight``), see :data:`.bot_lists._TRANSCODER`.
``url-in-agent``
    the User-Agent carries a web address (``http://``, ``https://``, ``www.``): programs name
    their maker's page so that site owners can look them up; browsers do not.
``email-in-agent``
    the User-Agent carries an e-mail address, for the same reason.
``joined-agents``
    the User-Agent is two User-Agents joined by a comma or a bar (``Thumbor/6.7.5, Mozilla/5.0
    ...``, ``Anonymous, Mozilla/5.0 ...``, ``iphone|Mozilla/5.0 ...``). A User-Agent is a list
    of products and comments separated by spaces (RFC 9110, section 10.1.5), and a comma has
    no place between them: it is how two values get joined. HTTP joins repeated header lines
    with a comma (section 5.3), and programs that fetch on their own account and pass on the
    User-Agent of the request that set them going put their own name before it, after a comma
    or a bar (an image resizer such as Thumbor fetching an original image; relays calling
    themselves "Anonymous"). A proxy that merely forwards a browser's request names itself in
    ``Via`` (section 7.6.3) and leaves the User-Agent alone: the browser named after the comma
    did not send this request as it is.
``no-browser``
    the User-Agent names no browser, no browser engine and no operating system or device at
    all: a bare program name (``Discourse/2.6``, ``MyLib/1.1 (Java)``, ``Mozilla/5.0
    (compatible; Trance/1.0)``). A native app that sends hits itself is counted as long as its
    User-Agent names its platform, as the HTTP stacks of Android and iOS do (``MyApp/2.1
    Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8)``, ``MyApp/3 CFNetwork/1494 Darwin/23.4.0``).

The lists are maintained elsewhere and installed as packages; they are read once, at start
(:func:`warm_up`), and never fetched:

* Matomo Device Detector's bot list (``regexes/upstream/bots.yml`` of the ``device-detector``
  package), with its categories (``Site Monitor`` and ``Network Monitor`` give ``monitor``),
  and its lists of HTTP libraries (``tool``) and feed readers (``crawler``). Matomo is an
  analytics product too, and keeps these lists from matching real visitors: they are trusted
  as they are.
* The broad lists, ``crawler-user-agents`` (its tags ``browser-automation``, ``http-library``
  and ``monitoring`` give ``headless``, ``tool`` and ``monitor``) and CrawlerDetect
  (``crawlerdetect``, with its exclusions, without its catch-all: see ``bot_lists._CATCH_ALL``). They
  know many more bots, and now and then a browser. Their patterns are looked for in the
  User-Agent without the device model and build of an Android platform comment (vendor model
  names such as "XBot Senior", "HTC Butterfly" or "Sonic", and firmware builds, are no agent
  names), and a match does not count when Matomo's browser list names a browser other than the
  common ones that bots imitate (Lynx says ``libwww``), or when Matomo's app lists name an app
  and the User-Agent names its platform (the in-app browsers of Facebook, Viber or Sogou carry
  their app's name, which the broad lists sometimes take for the app's link previewer).
* For ``no-browser``: Matomo's lists of browsers, browser engines and operating systems, then
  uap-core (through ``ua-parser``, which also parses the browser columns) for operating
  systems and devices: Lynx, w3m and AmigaOS are no bots.

Our own rules' patterns and the reading of the lists are in :mod:`.bot_lists`, whose module
is run as a short-lived child process that hands back the patterns alone: the YAML and JSON
libraries and the parsed lists never take memory in the server. Each list is then compiled into
a few large regexes run by the Rust engine of ua-parser (``ua-parser-rs``, installed by
``ua-parser[regex]``): a few microseconds for a whole list. The few patterns that engine cannot
run (look-around) are run by :mod:`re`, in list order, and only where the pattern without its
look-arounds, run by the Rust engine, matches (:mod:`.pattern_lists`).

:func:`classify` reads a User-Agent already bounded and cleaned; :func:`detect_bot` bounds,
cleans and caches.
"""

from __future__ import annotations

import functools
import re

import ua_parser

from .agents import _UA_LIMIT, _ua_parser
from .bot_lists import Patterns, _patterns
from .pattern_lists import _PatternList
from .text import clean_text

__all__ = ["REASONS", "classify", "detect_bot", "warm_up"]

REASONS = (
    "empty-ua",
    "probe",
    "headless",
    "tool",
    "monitor",
    "crawler",
    "url-in-agent",
    "email-in-agent",
    "joined-agents",
    "no-browser",
)
"""Every reason :func:`classify` gives, in the order they are checked."""

# The vendor's model name and the firmware build in the platform comment of an Android
# User-Agent: "(Linux; Android 14; <model> Build/<build>; wv)".
_ANDROID_MODEL = re.compile(r"(Android[^;)]*;(?:\s*[a-z]{2,3}[-_][a-z]{2,4};)?)[^;)]*", re.IGNORECASE)
_BUILD = re.compile(r"\bBuild/[^;)]*", re.IGNORECASE)

# uap-core's device families that name no device ("Generic Feature Phone" is its answer for
# any short "Name/1.0").
_NO_DEVICE = frozenset({"Other", "Spider", "Generic Feature Phone"})


def detect_bot(ua: str) -> str | None:
    """Return why a User-Agent is not a person's browser (one of :data:`REASONS`), or None if it
    looks like one.

    Only the first 512 characters are inspected, without control characters. Results are
    cached (8192 distinct UAs), so a repeated UA costs a dictionary look-up; a new one costs
    tens of microseconds (see BENCHMARKS.md, "Bot detection").
    """
    return _detect_bot(ua[:_UA_LIMIT])


@functools.lru_cache(maxsize=8192)
def _detect_bot(ua: str) -> str | None:
    return classify(clean_text(ua, _UA_LIMIT), _ua_parser())


def warm_up() -> None:
    """Build the UA parser and the bot lists ahead of the first hit.

    Both are built lazily (together about a second); call this at application start to keep
    that cost off the first beacon request.
    """
    _ua_parser().parse("Mozilla/5.0")
    _lists()


# --------------------------------------------------------------------------
# The lists, compiled
# --------------------------------------------------------------------------


class _Lists:
    """The lists, compiled."""

    def __init__(self, patterns: Patterns) -> None:
        self.probe = _PatternList(patterns["probe"], ignore_case=True)
        self.known = _PatternList(patterns["known"], ignore_case=True)
        self.broad = _PatternList(patterns["broad"], ignore_case=False)
        self.crawlerdetect = _PatternList(patterns["crawlerdetect"], ignore_case=True)
        self.crawlerdetect_exclusions = re.compile(
            "|".join(pattern for pattern, _, _ in patterns["crawlerdetect exclusions"]), re.IGNORECASE
        )
        self.signs = _PatternList(patterns["signs"], ignore_case=True)
        self.clients = _PatternList(patterns["clients"], ignore_case=True)
        self.engines_and_systems = _PatternList(patterns["engines and systems"], ignore_case=True)


@functools.lru_cache(maxsize=1)
def _lists() -> _Lists:
    return _Lists(_patterns())


# --------------------------------------------------------------------------
# Classifying
# --------------------------------------------------------------------------


def classify(text: str, platforms: ua_parser.Parser) -> str | None:
    """Why the User-Agent *text* is not a person's browser (one of :data:`REASONS`), or None.

    *text* is a User-Agent already bounded and cleaned of control characters and surrounding
    spaces (:func:`.text.clean_text`); *platforms* is the ua-parser that also
    parses the browser columns, asked here for operating systems and devices.
    """
    if not text:
        return "empty-ua"
    lists = _lists()
    return (
        lists.probe.first(text)
        or lists.known.first(text)
        or _broad_lists(lists, text, platforms)
        or lists.signs.first(text)
        or (None if _names_browser_or_platform(lists, text, platforms) else "no-browser")
    )


def _broad_lists(lists: _Lists, text: str, platforms: ua_parser.Parser) -> str | None:
    """What crawler-user-agents or CrawlerDetect say, unless Matomo names a browser or an app.

    Both are first searched in the whole text, which clears nearly every browser at once; where
    they match, again in the text without an Android model and build, CrawlerDetect also without
    its exclusions (removing text can only remove matches, but for neighbours it joins)."""
    reason = None
    if lists.broad.first(text) is not None:
        reason = lists.broad.first(_without_android_model(text))
    if reason is None and lists.crawlerdetect.first(text) is not None:
        rest = lists.crawlerdetect_exclusions.sub("", _without_android_model(text)).strip()
        reason = lists.crawlerdetect.first(rest) if rest else None
    if reason is None:
        return None
    client = lists.clients.first(text)
    if client == "browser" or (client == "app" and _platform(platforms, text)):
        return None
    return reason


def _without_android_model(text: str) -> str:
    return _BUILD.sub("", _ANDROID_MODEL.sub(r"\1", text, count=1))


def _names_browser_or_platform(lists: _Lists, text: str, platforms: ua_parser.Parser) -> bool:
    """True when Matomo finds a browser, a browser engine or an operating system in *text*, or
    uap-core an operating system or a device."""
    return (
        lists.clients.first(text) in ("browser", "common browser")
        or lists.engines_and_systems.first(text) is not None
        or _platform(platforms, text)
    )


def _platform(platforms: ua_parser.Parser, text: str) -> bool:
    """True when uap-core finds an operating system or a device in *text*."""
    found = platforms(text, ua_parser.Domain.OS | ua_parser.Domain.DEVICE)
    if found.os is not None and found.os.family != "Other":
        return True
    return found.device is not None and found.device.family not in _NO_DEVICE
