"""Is a User-Agent a person's browser, or a program? The reason a hit is a bot hit.

A beacon hit is a bot hit when :func:`tracking.ingest.enrich.detect_bot` names a reason; the
reason is stored in ``hits.bot`` and shown in the site's list of bot hits. Reasons, checked in
this order (the first that applies wins):

``empty-ua``
    nothing is left of the User-Agent once control characters and spaces are removed.
``probe``
    the User-Agent carries an attack payload (:data:`_PROBE`): markup (``<script``, ``<svg``,
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
    (``googleweblight``), see :data:`_TRANSCODER`.
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
  (``crawlerdetect``, with its exclusions, without its catch-all: see ``_CATCH_ALL``). They
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

The packages' files are read by a short-lived child process (this module run as a script),
which hands back the patterns alone: the YAML and JSON libraries and the parsed lists never
take memory in the server. Each list is then compiled into a few large regexes run by the Rust
engine of ua-parser (``ua-parser-rs``, installed by ``ua-parser[regex]``): a few microseconds
for a whole list. The few patterns that engine cannot run (look-around) are run by :mod:`re`,
in list order, and only where the pattern without its look-arounds, run by the Rust engine,
matches.

:func:`classify` reads a User-Agent already bounded and cleaned;
:func:`tracking.ingest.enrich.detect_bot` bounds, cleans and caches.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import pickle
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator

import ua_parser
import ua_parser_rs

log = logging.getLogger(__name__)

__all__ = ["REASONS", "classify", "warm_up"]

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

# Automation and lab-testing markers; none appears in a real browser's UA.
_HEADLESS = (
    r"headless|phantomjs|slimerjs|lighthouse|\bptst/|puppeteer|playwright"
    r"|selenium|webdriver|cypress/|jsdom/|htmlunit|\bsplash version/"
)
# HTTP libraries and command-line clients, which put their name first.
_TOOL = (
    r"^(?:curl|wget|python-requests|python-urllib|python-httpx|python|aiohttp"
    r"|go-http-client|okhttp|java|apache-httpclient|node-fetch|node|axios|undici"
    r"|got|deno|bun|httpie|postmanruntime|insomnia|libwww-perl|lwp-\w+"
    r"|guzzlehttp|ruby|faraday|dart|rest-client|php|scrapy|powershell)"
    r"(?:[/ ;(]|$)"
)
# Synthetic monitoring names itself so (see "monitor" above): the word anywhere, in any case.
_SYNTHETIC = r"synthetic"
# Google Web Light, the transcoding proxy of Google Search on slow connections (2015-2022):
# Google listed its "googleweblight" token among its own crawlers, as a fetcher that a person's
# click sets going and that ignores robots.txt. It fetched the page on Google's servers and
# sent the person a transcoded copy without the page's scripts (Google Analytics alone was
# kept, run by Google): a hit with this token is the transcoder fetching, for instance, the
# noscript pixel, not the person's browser; the person's own browser never sends the token.
# Google retired the service in December 2022, so the token is now only seen from replays and
# impersonators. A bot hit, "crawler", as Google's own list had it.
_TRANSCODER = r"googleweblight"
# A second user agent after a comma or a bar (see "joined-agents" above).
_JOINED = r"[^\s,|][,|]\s*Mozilla/\d"
# Attack payloads (see "probe" above). A quote counts when code follows it and no digit (an
# inch mark) or quote comes before it.
_PROBE = (
    # markup that runs or loads something, PHP and ASP openings, a javascript: address
    r"<\s*/?\s*(?:script|iframe|frame|svg|img|image|object|embed|applet|body|style|link|meta|base"
    r"|form|input|marquee|details|video|audio|math)\b|<[?%!]|\bjavascript:"
    # a quote that closes a string and goes on in code
    r"|(?:^|[^\d'\"])['\"]\s*(?:[)<>;+]|--|/\*|(?:or|and|union)\b)"
    # SQL
    r"|\bunion\s+(?:all\s+)?select\b|\bselect\b.{1,80}\bfrom\b|\b(?:pg_)?sleep\s*\(|\bbenchmark\s*\("
    r"|\bwaitfor\s+delay\b"
    # template, expression and shell syntax (Log4Shell's ${jndi:, Shellshock's "() {")
    r"|\$\{|\$\(|\{\{|#\{|\(\)\s*\{"
    # path traversal and system files
    r"|\.\./|/etc/passwd|\bcmd\.exe\b|/bin/(?:ba)?sh\b"
    # out-of-band testing services: Burp Collaborator's hosts, interactsh's public servers
    r"|\bburpcollaborator\.net|\boastify\.com|\binteract\.sh\b|\boast\.(?:pro|live|site|online|fun|me)\b"
)
# A web address: a scheme, or "www." and a dotted name.
_URL = r"https?://|\bwww\.[a-z0-9-]+\.[a-z]"
# An e-mail address whose domain ends in letters ("android@150.0.0.0", the version that
# Ecosia's browser appends, is none).
_EMAIL = r"[\w.+-]+@(?:[a-z0-9-]+\.)+[a-z]{2,}\b"

# The vendor's model name and the firmware build in the platform comment of an Android
# User-Agent: "(Linux; Android 14; <model> Build/<build>; wv)".
_ANDROID_MODEL = re.compile(r"(Android[^;)]*;(?:\s*[a-z]{2,3}[-_][a-z]{2,4};)?)[^;)]*", re.IGNORECASE)
_BUILD = re.compile(r"\bBuild/[^;)]*", re.IGNORECASE)

# The browsers bots imitate: Matomo naming one of these in a User-Agent says nothing about who
# sent it, so it does not overrule the broad lists.
_COMMON_BROWSERS = frozenset(
    {
        "Android Browser", "Chrome", "Chrome Frame", "Chrome Mobile", "Chrome Mobile iOS",
        "Chrome Webview", "Chromium", "Firefox", "Firefox Mobile", "Headless Chrome",
        "IE Mobile", "Internet Explorer", "Microsoft Edge", "Mobile Safari", "Netscape",
        "Opera", "Opera Mobile", "Safari",
    }
)
# uap-core's device families that name no device ("Generic Feature Phone" is its answer for
# any short "Name/1.0").
_NO_DEVICE = frozenset({"Other", "Spider", "Generic Feature Phone"})

# Matomo Device Detector searches every pattern after this prefix, so that a name matches only
# at the start of a word.
_MATOMO_PREFIX = r"(?:^|[^A-Z0-9_-]|[^A-Z0-9-]_|sprd-|MZ-)(?:{})"
_MATOMO_MONITORS = frozenset({"Site Monitor", "Network Monitor"})
# CrawlerDetect's catch-all, "[a-z0-9\-_]*(bot|crawl|...|cron|...)", finds "bot" and "cron" inside
# words (Banca Caboto, turbotabbee, fuboTV, Cronet); Matomo's own catch-all looks for the same
# words at the start of a word, with exceptions for the phones named so. Only Matomo's is used.
_CATCH_ALL = re.compile(r"\[a-z0-9")


# --------------------------------------------------------------------------
# Many regexes searched as one
# --------------------------------------------------------------------------

_GROUP = 50
# Look-around and back-references, which the Rust engine does not run.
_LOOK_AROUND = re.compile(r"\(\?<?[=!]|\\[1-9]")


class _PatternList:
    """An ordered list of ``(regex, tag, wrap)``: :meth:`first` answers the tag of the first regex
    found in a text, or None.

    Each regex is searched inside its *wrap* (a format string; ``"{}"`` leaves it as it is), with
    or without regard to case (*ignore_case*, for the whole list). Neighbours with the same tag
    and wrap are joined in alternations of up to :data:`_GROUP` regexes, all run by one
    :class:`ua_parser_rs.DeviceExtractor`, which answers the first of its regexes that matches
    (here the index of the group's first regex): compiling a few dozen large regexes costs a
    fraction of compiling a thousand small ones. The regexes the Rust engine does not run are
    compiled by :mod:`re` (see :func:`_fixed_lookbehinds`) and tried when they come before the
    Rust engine's match and their relaxed form (:func:`_relaxed`), which it runs, matches. A
    regex that neither compiles is left out, with a warning.
    """

    __slots__ = ("_rust", "_python", "_tags")

    def __init__(self, entries: Iterable[tuple[str, str, str]], *, ignore_case: bool) -> None:
        listed = list(entries)
        self._tags = tuple(tag for _, tag, _ in listed)
        flag = "i" if ignore_case else None
        in_python = {index for index, (pattern, _, _) in enumerate(listed) if _LOOK_AROUND.search(pattern)}
        try:
            self._rust = _extractor(listed, in_python, flag)
        except ValueError:  # a regex the Rust engine refuses for another reason: find it
            in_python |= {
                index for index, (pattern, _, wrap) in enumerate(listed) if _rust(wrap.format(pattern), flag) is None
            }
            self._rust = _extractor(listed, in_python, flag)
        python = []
        for index in sorted(in_python):
            pattern, _, wrap = listed[index]
            try:
                compiled = re.compile(_fixed_lookbehinds(wrap.format(pattern)), re.IGNORECASE if ignore_case else 0)
            except re.error as exc:
                log.warning("bot pattern %r left out: %s", pattern, exc)
                continue
            python.append((index, compiled, _rust(wrap.format(_relaxed(pattern)), flag)))
        self._python = tuple(python)

    def first(self, text: str) -> str | None:
        found = self._rust.extract(text)
        limit = int(found.family) if found is not None else len(self._tags)
        for index, pattern, gate in self._python:
            if index >= limit:
                break
            if (gate is None or gate.extract(text) is not None) and pattern.search(text):
                return self._tags[index]
        return self._tags[limit] if found is not None else None


def _extractor(listed: list[tuple[str, str, str]], in_python: set[int], flag: str | None) -> ua_parser_rs.DeviceExtractor:
    groups: list[list[int]] = []
    for index, (_, tag, wrap) in enumerate(listed):
        if index in in_python:
            continue
        if groups:
            group = groups[-1]
            _, first_tag, first_wrap = listed[group[0]]
            if group[-1] == index - 1 and (first_tag, first_wrap) == (tag, wrap) and len(group) < _GROUP:
                group.append(index)
                continue
        groups.append([index])
    return ua_parser_rs.DeviceExtractor(
        (
            listed[group[0]][2].format("|".join(f"(?:{listed[index][0]})" for index in group)),
            flag,
            str(group[0]),
            None,
            None,
        )
        for group in groups
    )


def _rust(pattern: str, flag: str | None) -> ua_parser_rs.DeviceExtractor | None:
    """*pattern* alone in the Rust engine, or None when it refuses it."""
    try:
        return ua_parser_rs.DeviceExtractor([(pattern, flag, "0", None, None)])
    except ValueError:
        return None


def _relaxed(pattern: str) -> str:
    """*pattern* without its look-around groups: it matches wherever *pattern* does, and more."""
    out: list[str] = []
    for start, end, look_around in _pieces(pattern):
        if not look_around:
            out.append(pattern[start:end])
    return "".join(out)


def _fixed_lookbehinds(pattern: str) -> str:
    """*pattern* with each look-behind of alternatives split into one look-behind per alternative,
    which :mod:`re` compiles when each alternative has a fixed width: ``(?<!ab|c)`` becomes
    ``(?<!ab)(?<!c)``, ``(?<=ab|c)`` becomes ``(?:(?<=ab)|(?<=c))``."""
    out: list[str] = []
    for start, end, look_around in _pieces(pattern):
        piece = pattern[start:end]
        if look_around and piece.startswith(("(?<!", "(?<=")):
            head, body = piece[:4], piece[4:-1]
            alternatives = [f"{head}{_fixed_lookbehinds(alternative)})" for alternative in _alternatives(body)]
            piece = "".join(alternatives) if head == "(?<!" else "(?:" + "|".join(alternatives) + ")"
        out.append(piece)
    return "".join(out)


def _pieces(pattern: str) -> Iterator[tuple[int, int, bool]]:
    """*pattern* cut into ``(start, end, is_look_around)``: look-around groups whole, the rest in
    pieces that never split an escape or a character class."""
    position = 0
    while position < len(pattern):
        if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), position):
            end = _group_end(pattern, position)
            yield position, end, True
        else:
            end = _token_end(pattern, position)
            yield position, end, False
        position = end


def _alternatives(body: str) -> list[str]:
    """*body* split at its top-level ``|``."""
    parts, depth, start, position = [], 0, 0, 0
    while position < len(body):
        char = body[position]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(body[start:position])
            start = position + 1
        position = _token_end(body, position)
    parts.append(body[start:])
    return parts


def _token_end(pattern: str, start: int) -> int:
    """The index after the escape, character class or single character at *start*."""
    char = pattern[start]
    if char == "\\":
        return start + 2
    if char != "[":
        return start + 1
    position = start + 1
    if pattern.startswith("^", position):
        position += 1
    if pattern.startswith("]", position):
        position += 1
    while position < len(pattern) and pattern[position] != "]":
        position += 2 if pattern[position] == "\\" else 1
    return position + 1


def _group_end(pattern: str, start: int) -> int:
    """The index after the group that opens at *start*."""
    depth = 0
    position = start
    while position < len(pattern):
        char = pattern[position]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return position + 1
        position = _token_end(pattern, position)
    return position


# --------------------------------------------------------------------------
# The lists
# --------------------------------------------------------------------------

Patterns = dict[str, list[tuple[str, str, str]]]


def read_patterns() -> Patterns:
    """Every list's ``(regex, tag, wrap)``, read from the installed packages.

    This imports the packages and their YAML and JSON parsers: :func:`_patterns` runs it in a
    child process.
    """
    import crawleruseragents
    import yaml_rs
    from crawlerdetect.providers.crawlers import data as crawlerdetect_patterns
    from crawlerdetect.providers.exclusions import data as crawlerdetect_exclusions

    spec = importlib.util.find_spec("device_detector")  # its files, without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the device-detector package (Matomo's lists) is not installed")
    matomo_root = os.path.join(spec.submodule_search_locations[0], "regexes", "upstream")

    def matomo(*paths: str) -> Iterator[tuple[str, dict]]:
        for path in paths:
            with open(os.path.join(matomo_root, path), encoding="utf-8") as file:
                for entry in yaml_rs.loads(file.read()):
                    yield path, entry

    known = [
        (_HEADLESS, "headless", "{}"),
        (_TOOL, "tool", "{}"),
        (_SYNTHETIC, "monitor", "{}"),
        (_TRANSCODER, "crawler", "{}"),
    ]
    for path, entry in matomo("bots.yml", "client/libraries.yml", "client/feed_readers.yml"):
        if path == "client/libraries.yml":
            reason = "tool"
        else:
            reason = "monitor" if entry.get("category") in _MATOMO_MONITORS else "crawler"
        known.append((entry["regex"], reason, _MATOMO_PREFIX))

    broad = []
    for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA:
        tags = entry.get("tags") or ()
        if "browser-automation" in tags:
            reason = "headless"
        elif "http-library" in tags:
            reason = "tool"
        elif "monitoring" in tags:
            reason = "monitor"
        else:
            reason = "crawler"
        broad.append((entry["pattern"], reason, "{}"))

    # Matomo's clients in Matomo's order (apps before browsers, each list's own names before the
    # common ones), so that the first match names the client.
    clients = []
    for path, entry in matomo("client/mobile_apps.yml", "client/mediaplayers.yml", "client/pim.yml", "client/browsers.yml"):
        if path != "client/browsers.yml":
            kind = "app"
        else:
            kind = "common browser" if entry.get("name") in _COMMON_BROWSERS else "browser"
        clients.append((entry["regex"], kind, _MATOMO_PREFIX))

    return {
        "probe": [(_PROBE, "probe", "{}")],
        "known": known,
        "broad": broad,
        "crawlerdetect": [(pattern, "crawler", "{}") for pattern in crawlerdetect_patterns if not _CATCH_ALL.match(pattern)],
        "crawlerdetect exclusions": [(pattern, "", "{}") for pattern in crawlerdetect_exclusions],
        "signs": [(_URL, "url-in-agent", "{}"), (_EMAIL, "email-in-agent", "{}"), (_JOINED, "joined-agents", "{}")],
        "clients": clients,
        "engines and systems": [
            (entry["regex"], "platform", _MATOMO_PREFIX) for _, entry in matomo("client/browser_engine.yml", "oss.yml")
        ],
    }


def _patterns() -> Patterns:
    """:func:`read_patterns`, in a child process; should the child fail, here."""
    if sys.executable:
        try:
            done = subprocess.run(
                [sys.executable, "-I", os.path.abspath(__file__)], capture_output=True, timeout=120, check=False
            )
            if done.returncode == 0:
                return pickle.loads(done.stdout)  # our own child's answer
            lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
            reason = lines[-1] if lines else f"exit status {done.returncode}"
        except (OSError, subprocess.SubprocessError, pickle.UnpicklingError, EOFError) as exc:
            reason = str(exc)
        log.warning("reading the bot lists in a child process failed (%s); reading them here", reason)
    return read_patterns()


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


def warm_up() -> None:
    """Read and compile the lists ahead of the first hit (about a second)."""
    _lists()


# --------------------------------------------------------------------------
# Classifying
# --------------------------------------------------------------------------


def classify(text: str, platforms: ua_parser.Parser) -> str | None:
    """Why the User-Agent *text* is not a person's browser (one of :data:`REASONS`), or None.

    *text* is a User-Agent already bounded and cleaned of control characters and surrounding
    spaces (:func:`tracking.ingest.enrich.clean_text`); *platforms* is the ua-parser that also
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


if __name__ == "__main__":  # the child of _patterns: the lists' patterns, pickled, on stdout
    sys.stdout.buffer.write(pickle.dumps(read_patterns(), pickle.HIGHEST_PROTOCOL))
