"""What bot detection looks for: the rules of our own and the maintained lists, as patterns.

:func:`read_patterns` gives every list's ``(regex, tag, wrap)``: our own rules (see the reasons
in :mod:`.bots`) and the lists of Matomo Device Detector, crawler-user-agents and CrawlerDetect,
read from their installed packages. :func:`_patterns` reads them in a short-lived child process
(this module run as a script), which hands back the patterns alone: the YAML and JSON libraries
and the parsed lists never take memory in the server. So this module imports nothing of its
package.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pickle
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

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
# Synthetic monitoring names itself so (see "monitor" in bots.py): the word anywhere, in any case.
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
# A second user agent after a comma or a bar (see "joined-agents" in bots.py).
_JOINED = r"[^\s,|][,|]\s*Mozilla/\d"
# Attack payloads (see "probe" in bots.py). A quote counts when code follows it and no digit (an
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

# Matomo Device Detector searches every pattern after this prefix, so that a name matches only
# at the start of a word.
_MATOMO_PREFIX = r"(?:^|[^A-Z0-9_-]|[^A-Z0-9-]_|sprd-|MZ-)(?:{})"
_MATOMO_MONITORS = frozenset({"Site Monitor", "Network Monitor"})
# CrawlerDetect's catch-all, "[a-z0-9\-_]*(bot|crawl|...|cron|...)", finds "bot" and "cron" inside
# words (Banca Caboto, turbotabbee, fuboTV, Cronet); Matomo's own catch-all looks for the same
# words at the start of a word, with exceptions for the phones named so. Only Matomo's is used.
_CATCH_ALL = re.compile(r"\[a-z0-9")


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

    def matomo(*paths: str) -> Iterator[tuple[str, Any]]:
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


if __name__ == "__main__":  # the child of _patterns: the lists' patterns, pickled, on stdout
    sys.stdout.buffer.write(pickle.dumps(read_patterns(), pickle.HIGHEST_PROTOCOL))
