"""Bot detection benchmark: recall on public crawler lists, false positives on public browser lists,
and the cost of :func:`tracking.ingest.enrich.detect_bot` per hit.

The lists are other projects' test data, pinned by version, and none of them was written for
this project:

crawlers (recall: the share of the list that ``detect_bot`` flags)
    * ``crawler-user-agents`` 1.67.0 (PyPI; the monperrus list): every ``instances`` entry.
      The detector uses this package's patterns, which its maintainers test against these
      instances: this list says whether the patterns are used whole, not how they generalise.
    * isbot 5.2.1, ``fixtures/crawlers.yml`` (``bench/data/isbot/``, see its README): a list
      the detector uses nothing of.
    * Matomo Device Detector's ``Tests/fixtures/bots.yml`` as shipped in ``device-detector``
      6.5.1 (PyPI): like the first, the detector uses this project's bot list.

browsers (false positives: the share of the list that ``detect_bot`` flags)
    * ordinary: ``user-agents`` 2.1.198 (npm; a weighted sample of real visitors' browsers):
      its distinct user agents, and the same weighted by the sample's own weights;
    * ordinary: the browser fixtures of Matomo Device Detector (``device-detector`` 6.5.1) on
      desktops, phones and tablets, less the hard ones below;
    * hard: the same fixtures selected by rule (``hard_kind``): text and early browsers,
      in-app web views (an app client whose user agent is a web view), Android WebView
      (``; wv)``), iOS web views without a Safari token, feature phones, TVs, consoles, cars,
      watches and other devices, old platforms (BlackBerry, Symbian, KaiOS, Java ME, Windows
      Phone/Mobile/CE, Bada, Brew, MRE, Palm, webOS, Tizen, Fire OS) and old browsers (IE 5-8,
      Presto, Opera Mini, Silk);
    * hard: isbot 5.2.1, ``fixtures/browsers.yml``: what isbot means not to flag, which also
      holds apps' HTTP clients, media players, mail clients, crawlers, attack strings and a
      few user agents that the other lists name as bots. Each entry the detector flags is
      printed with its class: ``disputed`` when one of the other lists gives that exact
      string as a bot's (``crawler-user-agents`` instances, Matomo's bot fixtures, isbot's
      own crawlers); ``payload`` or ``fetcher`` when it was reviewed (:data:`NOT_PEOPLE`, each
      with the reason) as an attack string, or as a program that fetches without a person's
      browser loading a page (a crawler, an HTTP library, an app's own HTTP client); and
      ``person`` otherwise, reviewed or not: an entry nobody looked at counts against the
      detector.
    * hard: the same list less its disputed entries and those reviewed as payloads or
      fetchers: the browsers of people. Only flagged entries are reviewed, so this list may
      still hold programs the detector lets pass; they weigh in its denominator only, so they
      lower its rate a little, and change nothing while no entry of it is flagged.

The packages are downloaded by version (``pip download``, ``npm pack``) into ``--cache``
(default ``var/bench-data``) on the first run and read from there afterwards; nothing is
installed. Without ``npm`` the ``user-agents`` list is skipped, and said so.

A user agent counts as flagged when the beacon would store it as a bot hit: ``detect_bot``, or
``parse_agent``'s device class ``bot`` (``decision``, the expression of ``Pipeline.process``).

Cost: each list's distinct user agents, with the caches emptied first, through ``parse_agent``
(which the beacon asks first), then ``detect_bot`` (uncached: a user agent seen for the first
time), then ``detect_bot`` again (cached); best of ``--repeat`` rounds, in microseconds per
call; and the time and resident memory ``warm_up`` takes in a fresh process (the UA parser and
the bot lists). The script also runs
against an older checkout (``PYTHONPATH=<checkout>/src``): it asks only ``detect_bot``,
``parse_agent``, ``warm_up`` and their caches.

``.venv/bin/python -m bench.bots`` prints the tables (Markdown) that BENCHMARKS.md keeps;
``--show N`` prints up to N flagged browsers and missed crawlers of every list. The exit status
is 0; missed targets are reported, not fatal.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import yaml_rs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ISBOT = HERE / "data" / "isbot"
ISBOT_SOURCE = "isbot 5.2.1 (github.com/omrilotan/isbot at 344052d, 2026-07-20)"

CRAWLER_USER_AGENTS = ("crawler-user-agents", "1.67.0")
DEVICE_DETECTOR = ("device-detector", "6.5.1")
USER_AGENTS = ("user-agents", "2.1.198")

RECALL_TARGET = 0.95
ORDINARY_TARGET = 0.005
HARD_TARGET = 0.01

# Matomo's fixture files of devices that are not desktops, phones or tablets.
HARD_FILES = (
    "feature_phone", "console", "tv", "car_browser", "wearable", "smart_display", "smart_speaker",
    "portable_media_player", "peripheral", "camera",
)
ORDINARY_FILES = ("desktop", "smartphone", "phablet", "tablet", "clienthints", "unknown")
TEXT_BROWSERS = frozenset({"Lynx", "Links", "Elinks", "w3m", "NCSA Mosaic", "VMS Mosaic"})
OLD_PLATFORMS = frozenset(
    {
        "BlackBerry OS", "BlackBerry Tablet OS", "Symbian", "Symbian OS", "Symbian OS Series 40",
        "Symbian OS Series 60", "Symbian^3", "KaiOS", "Java ME", "Windows Phone", "Windows Mobile",
        "Windows CE", "Bada", "Brew", "MRE", "palmOS", "webOS", "Tizen", "Fire OS",
    }
)
OLD_BROWSER = re.compile(r"MSIE [5-8]\.|Presto/|Opera Mini|\bSilk/")

# isbot's browsers.yml, reviewed: every entry the detector flags that no other list names as a
# bot, and that is not a person's browser loading a page, with the reason. An entry flagged and
# not here counts as a person's browser.
NOT_PEOPLE: dict[str, tuple[str, str]] = {
    "LWPrCa2l') OR 941=(SELECT 941 FROM PG_SLEEP(15))--": (
        "payload", "a time-based SQL injection (PostgreSQL's pg_sleep)"),
    "MozacFetch/49.0.20200702190156": (
        "fetcher", "the default User-Agent of Mozilla Android Components' fetch client, with which Firefox for "
        "Android fetches icons, downloads and the like; the pages a person views carry Firefox's own"),
    "NetworkingExtension/8618.1.15.10.15 CFNetwork/1494.0.7 Darwin/23.4.0": (
        "fetcher", "CFNetwork's default User-Agent in WebKit's network process (iOS/macOS 17.4; 8618 is a WebKit "
        "build): a request no page made, since a page's requests carry Safari's User-Agent"),
    "NetworkingExtension/8618.2.12.10.9 CFNetwork/1496.0.7 Darwin/23.5.0": (
        "fetcher", "the same, iOS/macOS 17.5"),
    "Microsoft Office/16.0 (Windows NT 10.0; MAPI 16.0.8431; Pro)": (
        "fetcher", "Office's own HTTP client: Outlook and Word request a link themselves (to check it, to preview "
        "it) before a browser opens it, and the browser's visit has its own User-Agent"),
    "Microsoft Office/16.0 (Microsoft Outlook Mail 16.0.8008; Pro)": (
        "fetcher", "the same, from Outlook"),
    "PS4Application libhttp/1.000 (PS4) CoreMedia libhttp/6.72 (PlayStation 4)": (
        "fetcher", "the PlayStation 4's HTTP and media libraries fetching for an app (Matomo lists libhttp as a "
        "library); the console's browser says Mozilla/5.0 (PlayStation 4 ...)"),
    "GoogleApp/14.35.18.28.arm64": (
        "fetcher", "the Google app's own HTTP client; the pages it shows carry a browser User-Agent with GSA/"),
    "LibWWW/5.0 (Linux; Android 7.0; Samsung Galaxy S8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/123.0.0000.0 Mobile Safari/537.36": (
        "fetcher", "names an HTTP library (libwww), with a Chrome version no Chrome release has (123.0.0000.0)"),
    "Mozilla/5.0 (compatible; Lucidworks-Anda/2.0/0.10; +; )": (
        "fetcher", "the web crawler of Lucidworks' search platform, its '+' (where crawlers give their address) "
        "left empty"),
    "MyLib/1.11 (vert.x/4.11.2; GraalVM/21; Java; custom-client)": (
        "fetcher", "a Java program on Vert.x's HTTP client"),
    "Mozilla/5.0 (compatible; Yahoo! Slurp)": (
        "fetcher", "Yahoo!'s search crawler, without the address of its help page"),
    "pinterest/0.": (
        "fetcher", "Pinterest's fetcher: a name and no browser, engine or platform"),
}
#: The classes of isbot's browsers.yml entries, in the order they are reported.
CLASSES = ("disputed", "payload", "fetcher", "person")
WEB_VIEW = re.compile(r"AppleWebKit|Gecko/|; wv\)")
IOS_WEB_VIEW = re.compile(r"\((?:iPhone|iPad|iPod)")


@dataclass
class UAList:
    name: str
    source: str
    kind: str  # "crawlers", "ordinary" or "hard"
    agents: list[str]
    weights: list[float] | None = None
    #: user agent -> a label printed beside a flagged one (the hard kind)
    labels: dict[str, str] = field(default_factory=dict)
    #: user agent -> (class, why) for the reviewed list (see CLASSES); absent: a person
    classes: dict[str, tuple[str, str]] | None = None
    #: timed in the cost table (a list that is part of another is not)
    timed: bool = True


# --------------------------------------------------------------------------
# Fetching the pinned packages
# --------------------------------------------------------------------------


def pypi_wheel(cache: Path, name: str, version: str) -> Path:
    stem = name.replace("-", "_")
    found = sorted(cache.glob(f"{stem}-{version}-*.whl"))
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--dest", str(cache), f"{name}=={version}"],
            check=True,
        )
        found = sorted(cache.glob(f"{stem}-{version}-*.whl"))
    return found[0]


def npm_tarball(cache: Path, name: str, version: str) -> Path | None:
    target = cache / f"{name}-{version}.tgz"
    if not target.exists():
        npm = shutil.which("npm")
        if npm is None:
            return None
        subprocess.run([npm, "pack", f"{name}@{version}", "--silent", "--pack-destination", str(cache)], check=True,
                       stdout=subprocess.DEVNULL)
    return target


# --------------------------------------------------------------------------
# The lists
# --------------------------------------------------------------------------


def isbot_list(file: str) -> list[str]:
    data = yaml_rs.loads((ISBOT / file).read_text(encoding="utf-8"))
    return [agent for agents in data.values() for agent in agents]


def load_lists(cache: Path) -> list[UAList]:
    lists: list[UAList] = []

    wheel = pypi_wheel(cache, *CRAWLER_USER_AGENTS)
    with zipfile.ZipFile(wheel) as archive:
        entries = json.loads(archive.read("crawleruseragents/crawler-user-agents.json"))
    monperrus = [agent for entry in entries for agent in entry.get("instances", ())]
    lists.append(UAList("crawler-user-agents", f"{wheel.name}: instances (in the detector's lists)", "crawlers",
                        monperrus))

    isbot_crawlers = isbot_list("crawlers.yml")
    lists.append(UAList("isbot crawlers", f"{ISBOT_SOURCE}: fixtures/crawlers.yml (independent)", "crawlers",
                        isbot_crawlers))

    wheel = pypi_wheel(cache, *DEVICE_DETECTOR)
    fixtures = "device_detector/tests/fixtures/upstream/"
    hard: list[str] = []
    hard_kinds: dict[str, str] = {}
    ordinary: list[str] = []
    with zipfile.ZipFile(wheel) as archive:
        matomo_bots = [entry["user_agent"] for entry in yaml_rs.loads(archive.read(fixtures + "bots.yml").decode())]
        for member in sorted(archive.namelist()):
            if not (member.startswith(fixtures) and member.endswith(".yml")) or member.endswith("/bots.yml"):
                continue
            stem = Path(member).stem.split("-")[0]
            data = yaml_rs.loads(archive.read(member).decode())
            for entry in data if isinstance(data, list) else ():
                kind = hard_kind(stem, entry)
                agent = entry.get("user_agent")
                if not isinstance(agent, str):
                    continue
                if kind is not None:
                    hard.append(agent)
                    hard_kinds[agent] = kind
                elif (entry.get("client") or {}).get("type") == "browser" and stem in ORDINARY_FILES:
                    ordinary.append(agent)
    lists.append(UAList("Matomo bots", f"{wheel.name}: Tests/fixtures/bots.yml (in the detector's lists)", "crawlers",
                        matomo_bots))

    tarball = npm_tarball(cache, *USER_AGENTS)
    if tarball is None:
        print(f"npm not found: the {USER_AGENTS[0]} list is skipped", file=sys.stderr)
    else:
        with tarfile.open(tarball) as archive:
            member = archive.extractfile("package/dist/user-agents.json")
            assert member is not None
            sample = json.loads(member.read())
        weights: Counter[str] = Counter()
        for row in sample:
            weights[row["userAgent"]] += row["weight"]
        agents = sorted(weights)
        lists.append(UAList("user-agents", f"{tarball.name}: dist/user-agents.json, distinct", "ordinary", agents))
        lists.append(UAList("user-agents, weighted", f"{tarball.name}: the same, by the sample's weights", "ordinary",
                            agents, [weights[agent] for agent in agents]))

    lists.append(UAList("Matomo browsers", f"{DEVICE_DETECTOR[0]} {DEVICE_DETECTOR[1]}: browser fixtures of "
                        "desktops, phones, tablets, less the hard ones", "ordinary", ordinary))
    lists.append(UAList("Matomo hard browsers", f"{DEVICE_DETECTOR[0]} {DEVICE_DETECTOR[1]}: fixtures selected by "
                        "rule (bench/bots.py hard_kind)", "hard", hard, labels=hard_kinds))

    isbot_browsers = isbot_list("browsers.yml")
    classes = review(isbot_browsers, {"crawler-user-agents": set(monperrus), "Matomo bots": set(matomo_bots),
                                      "isbot crawlers": set(isbot_crawlers)})
    lists.append(UAList("isbot browsers", f"{ISBOT_SOURCE}: fixtures/browsers.yml", "hard", isbot_browsers,
                        classes=classes))
    lists.append(UAList("isbot browsers, people's", "the same, less its entries that are disputed or reviewed as "
                        "payloads or fetchers (bench/bots.py NOT_PEOPLE)", "hard",
                        [agent for agent in isbot_browsers if agent not in classes], timed=False))
    return lists


def review(agents: list[str], bot_lists: dict[str, set[str]]) -> dict[str, tuple[str, str]]:
    """The class and reason of each entry of *agents* that is not a person's browser: ``disputed``
    when one of *bot_lists* holds it, else its :data:`NOT_PEOPLE` review."""
    classes: dict[str, tuple[str, str]] = {}
    for agent in agents:
        naming = [name for name, bots in bot_lists.items() if agent in bots]
        if naming:
            classes[agent] = ("disputed", "a bot's user agent in " + ", ".join(naming))
        elif agent in NOT_PEOPLE:
            classes[agent] = NOT_PEOPLE[agent]
    return classes


def hard_kind(stem: str, entry: dict) -> str | None:
    """Why a Matomo fixture is a hard real browser, or None (not a browser, or an ordinary one)."""
    client = entry.get("client") or {}
    agent = entry.get("user_agent") or ""
    kind = client.get("type")
    if kind == "mobile app":
        return "in-app web view" if WEB_VIEW.search(agent) else None
    if kind != "browser":
        return None
    platform = entry.get("os") if isinstance(entry.get("os"), dict) else {}
    if client.get("name") in TEXT_BROWSERS:
        return "text or early browser"
    if "; wv)" in agent:
        return "Android WebView"
    if IOS_WEB_VIEW.search(agent) and "AppleWebKit" in agent and "Safari" not in agent:
        return "iOS web view"
    if stem in HARD_FILES:
        return stem.replace("_", " ")
    if platform.get("name") in OLD_PLATFORMS:
        return "old platform"
    if OLD_BROWSER.search(agent):
        return "old browser"
    return None


# --------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------


def rate(flags: list[bool], weights: list[float] | None) -> float:
    if weights is None:
        return sum(flags) / len(flags)
    return sum(weight for flag, weight in zip(flags, weights, strict=True) if flag) / sum(weights)


def decision(enrich, agent: str) -> str | None:  # noqa: ANN001 - the module
    """The bot reason the beacon stores for *agent*: ``Pipeline.process``'s own expression."""
    return enrich.detect_bot(agent) or ("crawler" if enrich.parse_agent(agent).device == "bot" else None)


def timed(enrich, agents: Iterable[str], repeat: int) -> tuple[float, float, float]:  # noqa: ANN001
    """Microseconds per call, best of *repeat* rounds: ``parse_agent`` uncached, then ``detect_bot``
    uncached (``parse_agent`` cached, as the beacon asks it first), then ``detect_bot`` cached."""
    agents = list(dict.fromkeys(agents))[:8000]  # within both caches
    best = [float("inf")] * 3
    for _ in range(repeat):
        # The result caches: in the modules of the enrich package, or in the module itself (an
        # older checkout, where enrich was one module).
        getattr(enrich, "bots", enrich)._detect_bot.cache_clear()
        getattr(enrich, "agents", enrich)._parse_agent.cache_clear()
        if hasattr(enrich, "_crawler_detect"):  # an older checkout: CrawlerDetect caches too
            enrich._crawler_detect()._cached_check.cache_clear()
        marks = [time.perf_counter()]
        for call in (enrich.parse_agent, enrich.detect_bot, enrich.detect_bot):
            for agent in agents:
                call(agent)
            marks.append(time.perf_counter())
        best = [min(old, (end - start) / len(agents) * 1e6) for old, (start, end) in zip(best, pairwise(marks), strict=True)]
    return best[0], best[1], best[2]


WARM_UP_MEMORY = """
import ctypes, gc, time, warnings
warnings.filterwarnings("ignore")
def rss():
    gc.collect()
    ctypes.CDLL(None).malloc_trim(0)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
from tracking.ingest import enrich
before = rss()
start = time.perf_counter()
enrich.warm_up()
print(time.perf_counter() - start, rss() - before, enrich.__file__)
"""


def warm_up_cost() -> tuple[float, float, str]:
    """(seconds, MB of resident memory, enrich's file) of ``enrich.warm_up`` in a fresh process."""
    done = subprocess.run([sys.executable, "-c", WARM_UP_MEMORY], capture_output=True, text=True, check=True)
    seconds, megabytes, path = done.stdout.split()
    return float(seconds), float(megabytes), path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "bench-data",
                        help="where the pinned packages are downloaded (default: var/bench-data)")
    parser.add_argument("--show", type=int, default=0, metavar="N",
                        help="print up to N flagged browsers and missed crawlers of each list")
    parser.add_argument("--repeat", type=int, default=3, help="timing rounds (best is kept)")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)

    lists = load_lists(args.cache)

    from tracking.ingest import enrich  # after the downloads: its import takes a moment

    enrich.warm_up()

    print("| list | kind | user agents | flagged | target | met | source |")
    print("|---|---|---|---|---|---|---|")
    details: list[str] = []
    for ua_list in lists:
        reasons = [decision(enrich, agent) for agent in ua_list.agents]
        flags = [reason is not None for reason in reasons]
        share = rate(flags, ua_list.weights)
        if ua_list.kind == "crawlers":
            target, met = f"≥ {RECALL_TARGET:.0%}", share >= RECALL_TARGET
        else:
            limit = ORDINARY_TARGET if ua_list.kind == "ordinary" else HARD_TARGET
            target, met = f"≤ {limit:.1%}", share <= limit
        print(f"| {ua_list.name} | {ua_list.kind} | {len(ua_list.agents)} | {share:.2%} | {target} | "
              f"{'yes' if met else 'NO'} | {ua_list.source} |")
        if ua_list.weights is not None:
            continue
        counted = Counter(reason for reason in reasons if reason is not None)
        line = f"- {ua_list.name}: " + ", ".join(f"{reason} {count}" for reason, count in counted.most_common())
        if ua_list.kind == "crawlers":
            line += f"; missed {flags.count(False)}"
        else:
            flagged = [agent for agent, flag in zip(ua_list.agents, flags, strict=True) if flag]
            if ua_list.classes is not None:
                classes = Counter(ua_list.classes.get(agent, ("person", ""))[0] for agent in flagged)
                line += "; flagged by class: " + ", ".join(f"{name} {classes[name]}" for name in CLASSES)
            kinds = Counter(ua_list.labels[agent] for agent in flagged if agent in ua_list.labels)
            if kinds:
                line += "; by kind: " + ", ".join(
                    f"{kind} {count}/{sum(1 for agent in ua_list.agents if ua_list.labels.get(agent) == kind)}"
                    for kind, count in kinds.most_common()
                )
        details.append(line)
        if args.show:
            shown = [(reason, agent) for reason, agent in zip(reasons, ua_list.agents, strict=True)
                     if (reason is None) == (ua_list.kind == "crawlers")]
            for reason, agent in shown[: args.show]:
                label = ua_list.labels.get(agent, "")
                if ua_list.classes is not None:
                    label = "{}: {}".format(*ua_list.classes.get(agent, ("person", "not reviewed as anything else")))
                details.append(f"    {reason or 'missed'}{f' ({label})' if label else ''}: {agent[:200]}")
    print()
    print("\n".join(details))

    print()
    print("| list | parse_agent, uncached | detect_bot, uncached | detect_bot, cached |")
    print("|---|---|---|---|")
    for ua_list in lists:
        if ua_list.weights is not None or not ua_list.timed:
            continue
        parse, uncached, cached = timed(enrich, ua_list.agents, args.repeat)
        print(f"| {ua_list.name} | {parse:.1f} µs | {uncached:.1f} µs | {cached:.2f} µs |")
    seconds, megabytes, path = warm_up_cost()
    print()
    print(f"warm_up (UA parser and bot lists) in a fresh process: {seconds:.2f} s, resident memory "
          f"+{megabytes:.0f} MB; detector: {path}; Python {sys.version.split()[0]}, "
          f"load average {' '.join(f'{value:.1f}' for value in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
