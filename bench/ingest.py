"""Ingest benchmark: the beacon (``/sites/<id>/hit``) under load, against a bare WSGI app.

``--endpoint plausible`` / ``umami`` / ``all`` measure the peers' drop-in endpoints the same way
(``POST /api/event`` with the body Plausible's tracker posts, ``POST /api/send`` with Umami's),
against the same bare app; see "The drop-in endpoints" below.

For each database (SQLite, PostgreSQL):

1. a fresh database, migrated with ``alembic -c production.ini upgrade head``, one user and two
   sites (``A`` receives the measured hits, ``B`` absorbs warm-up and end-of-run traffic);
2. two servers: the baseline, a WSGI app answering ``204`` with an empty body, served by the
   ``[server:main]`` of production.ini (same waitress runner, same threads), and ``pserve
   production.ini``; each warmed up, then driven in turns by the same wrk command: ``--rounds``
   rounds of bare then beacon, ``--duration / --rounds`` seconds each, so that a change in the
   machine's speed (it is shared) weighs on both alike. Each server's figures are its rounds
   together (latency percentiles from the merged histograms); the peak RSS of the server and of
   its writer process is read from ``/proc``;
3. SIGTERM (the server writes what it still buffers), and the rows of ``hits`` of site A are
   counted: they must equal the ``204`` answers wrk received for site A.

How "acknowledged" is counted exactly: wrk stops with requests still in flight, and the server
may store those hits although wrk never reads the ``204``. So during the last ``DRAIN`` seconds
of each round the Lua script sends crawler hits to site B instead (the same pipeline, stored
flagged, answered ``204`` with ``X-Tracking-Ignored: bot``): every hit for site A has its answer
read before wrk stops, and the Lua ``response()`` hook counts site A's answers as the ``204``
without that header. The req/s figures cover the whole run, drain included, for both servers.

Load: 16 connections, page paths, referrers, widths, four desktop Chrome user agents and 1000
visitor addresses (``X-Forwarded-For``: production.ini trusts the proxy at 127.0.0.1) picked at
random; waitress closes the connection after every ``204`` (no Content-Length), for the beacon
and the baseline alike. All traffic goes to 127.0.0.1.

The drop-in endpoints: one single-hit ``POST`` a request, bodies made before the clock starts
(the pages, referrers and agents above; Plausible's compact keys as ``text/plain``, Umami's
``{"type": "event", "payload": …}`` with a 1920x1080 screen). Plausible's hits name site A's
domain, Umami's its website id; the warm-up names site B (``warmup.example.com``, which takes
pages of any host, and a website id of its own), and so does the drain. Their answers say
nothing of the hit (``202 ok``, ``200 {}``), so the hits of site A are counted as sent: each
was sent at least ``DRAIN`` seconds before the end, so answered before wrk stops, and when
every answer of the run is ``202`` (Plausible) or ``200`` (Umami), without socket errors, each
was acknowledged (otherwise the run reports 0 acknowledged: a failure). Their target ratio is
``TARGET_RATIOS``'s (0.45: they parse a JSON body the beacon's query string does not have).

``make bench`` runs it; ``.venv/bin/python -m bench.ingest --help`` lists the options.
Exit status: 1 when stored != acknowledged (or a server failed), 0 otherwise; missed speed
targets are reported, not fatal.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
INI = ROOT / "production.ini"

# Pyramid (imported with the models, to create the sites) still imports pkg_resources.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")

#: Targets: beacon/bare req/s ratio, p99 latency, peak RSS of the server.
TARGET_RATIO = 0.50
#: The target ratio of each endpoint (``--endpoint``): the beacon's, and the drop-ins'.
TARGET_RATIOS = {"beacon": TARGET_RATIO, "plausible": 0.45, "umami": 0.45}
ENDPOINTS = tuple(TARGET_RATIOS)
#: Site B's address for the drop-in endpoints (Plausible finds a site by its domain).
WARMUP_URL = "https://warmup.example.com"
#: Site A's and site B's Umami website ids.
UMAMI_IDS = ("6a1f5a3e-9d0c-4c56-8a53-3e1a7c0f0b11", "0b9e4f62-3c1d-4a7e-9f25-7d2e6c8a4b22")
TARGET_P99_MS = 25.0
TARGET_RSS_MB = 200.0
#: Seconds at the end of a run during which only site B (crawler hits) is loaded.
DRAIN = 2
WARMUP = 3
SITE_URL = "https://example.com"

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
)
CRAWLER = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


# -- the load ------------------------------------------------------------------------------


def load_data(seed: int = 1) -> dict:
    """Pages, referrers, widths and visitor addresses the load picks from (deterministic)."""
    rng = random.Random(seed)
    sections = ("blog", "docs", "products", "news", "help")
    pages = ["/", "/about", "/pricing", "/contact"]
    pages += [f"/{s}/{slug}-{n}" for s in sections for n, slug in enumerate(("intro", "guide", "faq", "notes"), 1)]
    pages += [f"/{s}/" for s in sections]
    page_urls = [SITE_URL + p for p in pages]
    page_urls += [SITE_URL + "/blog/intro-1?utm_source=newsletter&utm_medium=email&utm_campaign=launch"]
    page_urls += [SITE_URL + "/products/guide-2?ref=partner&gclid=abc123"]
    referrers = [""] * 6 + [
        "https://www.google.com/",
        "https://www.bing.com/search?q=analytics",
        "https://duckduckgo.com/",
        "https://news.ycombinator.com/item?id=1",
        "https://t.co/abc",
        "https://www.reddit.com/r/selfhosted/",
        "https://blog.example.org/links",
        SITE_URL + "/",
        SITE_URL + "/blog/",
    ]
    widths = ["1920", "1536", "1440", "1366", "1280", "390", "414", "768", ""]
    ips: list[str] = []
    while len(ips) < 1000:  # header values only: nothing is ever sent to these addresses
        first = rng.randint(1, 223)
        if first in (10, 100, 127, 169, 172, 192, 198, 203):
            continue
        ips.append(f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}")
    return {
        "pages": [quote(u, safe="") for u in page_urls],
        "referrers": [quote(r, safe="") for r in referrers],
        "widths": widths,
        "ips": ips,
        "agents": list(CHROME),
    }


def _lua_list(values: list[str]) -> str:
    return "{" + ", ".join(json.dumps(v) for v in values) + "}"


LUA = r"""-- written by bench/ingest.py
local pages = %(pages)s
local referrers = %(referrers)s
local widths = %(widths)s
local ips = %(ips)s
local agents = %(agents)s
local crawler = %(crawler)s
local DRAIN = %(drain)d
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("thread_id", #threads)
end

function init(args)
  site_a, site_b, mode = args[1], args[2], args[4]
  switch_at = os.time() + tonumber(args[3]) - DRAIN
  math.randomseed(os.time() * 7919 + thread_id)
  acked, flagged, other = 0, 0, 0
  statuses = {}
end

local function pick(list)
  return list[math.random(#list)]
end

function request()
  local site, agent = site_a, pick(agents)
  if mode == "warmup" then
    site = site_b
  elseif os.time() >= switch_at then
    site, agent = site_b, crawler
  end
  local path = "/sites/" .. site .. "/hit?url=" .. pick(pages) .. "&referrer=" .. pick(referrers)
    .. "&width=" .. pick(widths)
  return wrk.format("GET", path, {
    ["User-Agent"] = agent,
    ["X-Forwarded-For"] = pick(ips),
    ["Accept"] = "*/*",
    ["Accept-Language"] = "en-US,en;q=0.9",
  })
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 204 then
    if headers["X-Tracking-Ignored"] == nil and headers["x-tracking-ignored"] == nil then
      acked = acked + 1
    else
      flagged = flagged + 1
    end
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local a, f, o, counts = 0, 0, 0, {}
  for _, thread in ipairs(threads) do
    a = a + thread:get("acked")
    f = f + thread:get("flagged")
    o = o + thread:get("other")
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  io.write(string.format("BENCH acked=%%d flagged=%%d other=%%d\n", a, f, o))
  for status, n in pairs(counts) do
    io.write(string.format("BENCH status %%d %%d\n", status, n))
  end
  local e = summary.errors
  io.write(string.format("BENCH summary requests=%%d connect=%%d read=%%d write=%%d status=%%d timeout=%%d\n",
    summary.requests, e.connect, e.read, e.write, e.status, e.timeout))
  -- Every distinct latency (µs) with its count, so that rounds can be merged exactly.
  for i = 1, #latency do
    local value, count = latency(i)
    io.write(string.format("BENCH latency %%d %%d\n", value, count))
  end
end
"""


def write_lua(path: Path) -> None:
    data = load_data()
    path.write_text(
        LUA
        % {
            "pages": _lua_list(data["pages"]),
            "referrers": _lua_list(data["referrers"]),
            "widths": _lua_list(data["widths"]),
            "ips": _lua_list(data["ips"]),
            "agents": _lua_list(data["agents"]),
            "crawler": json.dumps(CRAWLER),
            "drain": DRAIN,
        }
    )


DROPIN_LUA = r"""-- written by bench/ingest.py
local bodies = %(bodies)s
local warmup_bodies = %(warmup_bodies)s
local ips = %(ips)s
local agents = %(agents)s
local PATH = %(path)s
local CONTENT_TYPE = %(content_type)s
local ACK = %(ack)d
local DRAIN = %(drain)d
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("thread_id", #threads)
end

function init(args)
  mode = args[4]
  switch_at = os.time() + tonumber(args[3]) - DRAIN
  math.randomseed(os.time() * 7919 + thread_id)
  sent_a, answered, other = 0, 0, 0
  statuses = {}
  -- wrk calls the first thread's request() once before the run, to check it, and sends nothing.
  unsent = thread_id == 1 and 1 or 0
end

local function pick(list)
  return list[math.random(#list)]
end

function request()
  local body
  if mode == "warmup" or os.time() >= switch_at then
    body = pick(warmup_bodies)
  else
    body = pick(bodies)
    if unsent > 0 then
      unsent = unsent - 1
    else
      sent_a = sent_a + 1
    end
  end
  return wrk.format("POST", PATH, {
    ["User-Agent"] = pick(agents),
    ["X-Forwarded-For"] = pick(ips),
    ["Content-Type"] = CONTENT_TYPE,
    ["Accept"] = "*/*",
    ["Accept-Language"] = "en-US,en;q=0.9",
  }, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == ACK then
    answered = answered + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local a, n, o, counts = 0, 0, 0, {}
  for _, thread in ipairs(threads) do
    a = a + thread:get("sent_a")
    n = n + thread:get("answered")
    o = o + thread:get("other")
    for status, count in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + count
    end
  end
  local e = summary.errors
  -- Every hit for site A was sent at least DRAIN seconds before the end: answered by then. When
  -- every answer was the acknowledging status, each of them was acknowledged.
  if o > 0 or e.connect + e.read + e.write + e.timeout > 0 then
    io.write("BENCH unattributable: answers other than the acknowledging status, or socket errors\n")
    a = 0
  end
  io.write(string.format("BENCH acked=%%d flagged=%%d other=%%d\n", a, n - a, o))
""" + LUA[LUA.index("  for status, n in pairs(counts) do"):]


@dataclass(frozen=True)
class DropIn:
    """How one drop-in endpoint is loaded: its path, content type, acknowledging status, and the
    bodies of site A's hits and of site B's (warm-up and drain)."""

    path: str
    content_type: str
    ack: int
    bodies: list[str]
    warmup_bodies: list[str]


def dropin_load(endpoint: str, count: int = 200, seed: int = 1) -> DropIn:
    """The bodies Plausible's tracker or Umami's post for site A (and B): made
    from :func:`load_data`'s pages and referrers (deterministic)."""
    rng = random.Random(seed)
    data = load_data(seed)
    pages = [unquote(p) for p in data["pages"]]
    referrers = [unquote(r) for r in data["referrers"]]
    if endpoint == "plausible":
        domain, warmup = SITE_URL.split("//")[1], WARMUP_URL.split("//")[1]

        def body(d: str) -> str:
            return json.dumps({"n": "pageview", "v": 36, "u": rng.choice(pages), "d": d, "r": rng.choice(referrers) or None})

        return DropIn("/api/event", "text/plain", 202, [body(domain) for _ in range(count)],
                      [body(warmup) for _ in range(20)])  # fmt: skip

    def payload(website: str) -> str:
        page = urlsplit(rng.choice(pages))
        return json.dumps({"type": "event", "payload": {
            "website": website, "hostname": page.hostname, "url": urlunsplit(("", "", page.path, page.query, "")),
            "referrer": rng.choice(referrers), "title": "A page", "screen": rng.choice(("1920x1080", "390x844")),
            "language": "en-US",
        }})  # fmt: skip

    return DropIn("/api/send", "application/json", 200, [payload(UMAMI_IDS[0]) for _ in range(count)],
                  [payload(UMAMI_IDS[1]) for _ in range(20)])  # fmt: skip


def write_dropin_lua(path: Path, endpoint: str) -> None:
    load, data = dropin_load(endpoint), load_data()
    path.write_text(
        DROPIN_LUA
        % {
            "bodies": _lua_list(load.bodies),
            "warmup_bodies": _lua_list(load.warmup_bodies),
            "ips": _lua_list(data["ips"]),
            "agents": _lua_list(data["agents"]),
            "path": json.dumps(load.path),
            "content_type": json.dumps(load.content_type),
            "ack": load.ack,
            "drain": DRAIN,
        }
    )


def prepare_dropin_sites(url: str, site_a: int, site_b: int, endpoint: str) -> None:
    """Site B on a domain of its own that takes pages of any host (Plausible's warm-up), and
    each site's Umami website id."""
    from sqlalchemy import create_engine, update

    from tracking.models import Site

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            table = Site.__table__
            conn.execute(update(table).where(table.c.id == site_b).values(url=WARMUP_URL, restrict_hosts=False))
            if endpoint == "umami":
                for site, website in zip((site_a, site_b), UMAMI_IDS, strict=True):
                    conn.execute(update(table).where(table.c.id == site).values(umami_website_id=website))
    finally:
        engine.dispose()


@dataclass
class Load:
    """What one load run measured."""

    rps: float = 0.0
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    requests: int = 0
    acked: int = 0  # 204 for site A
    flagged: int = 0  # 204 with X-Tracking-Ignored (site B's crawler hits)
    other: int = 0  # any other status
    non_2xx: int = 0
    socket_errors: dict = field(default_factory=dict)
    statuses: dict = field(default_factory=dict)
    seconds: float = 0.0  # how long the load ran
    latency: dict = field(default_factory=dict)  # µs -> number of requests
    rounds: list = field(default_factory=list)  # the loads merged into this one
    cpu_seconds: float = 0.0  # the server's CPU time (user + system, its writer process included) during the run
    writer_cpu_seconds: float = 0.0  # of which the writer process's
    output: str = ""

    @property
    def cpu_ms_per_request(self) -> float:
        return 1e3 * self.cpu_seconds / self.requests if self.requests else math.nan

    @classmethod
    def merge(cls, rounds: list[Load]) -> Load:
        """The rounds of one server as one load: sums, and percentiles of all their latencies."""
        total = cls(output="\n".join(r.output for r in rounds))
        for r in rounds:
            total.seconds += r.seconds
            total.requests += r.requests
            total.acked += r.acked
            total.flagged += r.flagged
            total.other += r.other
            total.non_2xx += r.non_2xx
            total.cpu_seconds += r.cpu_seconds
            total.writer_cpu_seconds += r.writer_cpu_seconds
            for mapping, into in ((r.socket_errors, total.socket_errors), (r.statuses, total.statuses),
                                  (r.latency, total.latency)):  # fmt: skip
                for key, n in mapping.items():
                    into[key] = into.get(key, 0) + n
        total.rps = total.requests / total.seconds if total.seconds else 0.0
        total.p50_ms, total.p99_ms = (percentile(total.latency, p) / 1e3 for p in (50, 99))
        return total


def percentile(counts: dict[int, int], p: float) -> float:
    """The ``p``-th percentile of a histogram {value: count} (the smallest value with at least
    ``p`` % of the counts at or below it, as wrk computes it); NaN when empty."""
    total = sum(counts.values())
    if not total:
        return math.nan
    wanted = math.ceil(total * p / 100)
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= wanted:
            return float(value)
    return float(max(counts))


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> Load:
    load = Load(output=output)
    if m := re.search(r"Requests/sec:\s+([\d.]+)", output):
        load.rps = float(m.group(1))
    if m := re.search(r"^\s*(\d+) requests in", output, re.M):
        load.requests = int(m.group(1))
    for pct, attr in (("50", "p50_ms"), ("99", "p99_ms")):
        if m := re.search(rf"^\s+{pct}%\s+([\d.]+[a-z]+)", output, re.M):
            setattr(load, attr, _ms(m.group(1)))
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        load.non_2xx = int(m.group(1))
    load.socket_errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        load.socket_errors = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()), strict=True))
    if m := re.search(r"BENCH acked=(\d+) flagged=(\d+) other=(\d+)", output):
        load.acked, load.flagged, load.other = map(int, m.groups())
    load.statuses = {int(s): int(n) for s, n in re.findall(r"BENCH status (\d+) (\d+)", output)}
    load.latency = {int(v): int(n) for v, n in re.findall(r"BENCH latency (\d+) (\d+)", output)}
    return load


def run_wrk(url: str, script: Path, site_a: int, site_b: int, duration: int, mode: str, args) -> Load:
    command = [
        "wrk", f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{duration}s", "--timeout", "2s", "--latency",
        "-s", str(script), url, "--", str(site_a), str(site_b), str(duration), mode,
    ]  # fmt: skip
    if mode == "run":
        args.wrk_command = " ".join(command[:-5]) + " -- <site A> <site B> <seconds> run"
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    load = parse_wrk(result.stdout + result.stderr)
    load.seconds = load.requests / load.rps if load.rps else time.monotonic() - start
    return load


def run_python_load(url: str, script: Path, site_a: int, site_b: int, duration: int, mode: str, args) -> Load:
    """A stand-in for wrk (asyncio, one connection per request): slower, for when wrk is missing."""
    import asyncio

    data = load_data()
    endpoint = getattr(args, "current_endpoint", "beacon")
    dropin = dropin_load(endpoint) if endpoint != "beacon" else None
    sent_a: list[int] = []
    host, port = url.split("//")[1].split(":")
    port = int(port)
    latencies: list[float] = []
    load = Load()
    start = time.monotonic()
    end = start + duration
    switch_at = end - DRAIN

    async def one(rng: random.Random) -> None:
        site, agent = site_a, rng.choice(data["agents"])
        if dropin is not None:
            if mode == "warmup" or time.monotonic() >= switch_at:
                body = rng.choice(dropin.warmup_bodies)
            else:
                body = rng.choice(dropin.bodies)
                sent_a.append(1)
            request = (
                f"POST {dropin.path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: {agent}\r\n"
                f"X-Forwarded-For: {rng.choice(data['ips'])}\r\nContent-Type: {dropin.content_type}\r\n"
                f"Content-Length: {len(body.encode())}\r\nAccept: */*\r\nConnection: close\r\n\r\n{body}"
            )
        else:
            if mode == "warmup":
                site = site_b
            elif time.monotonic() >= switch_at:
                site, agent = site_b, CRAWLER
            path = (
                f"/sites/{site}/hit?url={rng.choice(data['pages'])}&referrer={rng.choice(data['referrers'])}"
                f"&width={rng.choice(data['widths'])}"
            )
            request = (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: {agent}\r\n"
                f"X-Forwarded-For: {rng.choice(data['ips'])}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
            )
        began = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(request.encode())
            answer = await asyncio.wait_for(reader.read(), 2)
            writer.close()
        except (TimeoutError, OSError):
            load.socket_errors["read"] = load.socket_errors.get("read", 0) + 1
            return
        latencies.append(time.monotonic() - began)
        load.requests += 1
        head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        status = int(head.split(" ", 2)[1])
        load.statuses[status] = load.statuses.get(status, 0) + 1
        if dropin is not None:
            if status == dropin.ack:
                load.flagged += 1  # attributed to site A at the end
            else:
                load.other += 1
                load.non_2xx += status >= 300
        elif status == 204:
            if re.search(r"^x-tracking-ignored:", head, re.I | re.M):
                load.flagged += 1
            else:
                load.acked += 1
        else:
            load.other += 1
            load.non_2xx += 1

    async def worker(n: int) -> None:
        rng = random.Random(n)
        while time.monotonic() < end:
            await one(rng)

    async def everyone() -> None:
        await asyncio.wait_for(asyncio.gather(*(worker(n) for n in range(args.connections))), duration + 10)

    # In a thread of its own: the caller may be in a running event loop (a test run after
    # the browser tests), where asyncio.run refuses to start another.
    failed: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(everyone())
        except BaseException as error:  # raised again in the caller's thread
            failed.append(error)

    runner = threading.Thread(target=run, name="python-load")
    runner.start()
    runner.join()
    if failed:
        raise failed[0]
    if dropin is not None and not load.other and not sum(load.socket_errors.values()):
        load.acked, load.flagged = len(sent_a), load.flagged - len(sent_a)
    load.seconds = time.monotonic() - start
    load.rps = load.requests / load.seconds
    for latency in latencies:
        micros = round(latency * 1e6)
        load.latency[micros] = load.latency.get(micros, 0) + 1
    load.p50_ms, load.p99_ms = (percentile(load.latency, p) / 1e3 for p in (50, 99))
    return load


# -- servers -------------------------------------------------------------------------------


def bare_app(environ, start_response):
    """The baseline: an empty ``204`` with the beacon's headers, and nothing else."""
    start_response(
        "204 No Content",
        [
            ("Cache-Control", "no-store"),
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Expose-Headers", "X-Tracking-Ignored"),
        ],
    )
    return []


def serve_bare(ini: str, port: int) -> None:
    """``--serve-bare``: :func:`bare_app` on the same waitress, with the ini's ``[server:main]`` options.

    Not through the ini's server entry point: that one starts the application's background work
    (the hit writer), which a bare app does not have."""
    import plaster
    import waitress

    from tracking.settings import server_options

    loader = plaster.get_loader(ini, protocols=["wsgi"])
    config_vars = {"http_port": str(port), "http_host": "127.0.0.1"}
    loader.setup_logging(config_vars)
    options = dict(loader.get_settings("server:main", defaults=config_vars))
    options.pop("use", None)
    waitress.serve(bare_app, **server_options(config_vars, options, environ={}))


class BareServer:
    def __init__(self, ini: Path, workdir: Path) -> None:
        from tests.servers import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"bare-{self.port}.log"
        self.command = [sys.executable, "-m", "bench.ingest", "--serve-bare", str(ini), "--port", str(self.port)]
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> BareServer:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"bare server exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/sites/1/hit", timeout=1) as answer:
                    if answer.status == 204:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"bare server did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads), from ``/proc/<pid>/stat``."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:  # gone
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (the server's hit writer), from ``/proc``."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as listing:
                found += [int(child) for child in listing.read().split()]
    return found


def tree_cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds of the process and of its children (the writer process), so far."""
    return cpu_seconds(pid), sum(cpu_seconds(child) for child in children(pid))


class RSSSampler(threading.Thread):
    """Polls ``/proc/<pid>/status`` every 0.1 s; ``peak_mb`` is the larger of VmRSS samples and
    VmHWM. ``children_peak_mb``: the same for the process's children (the writer process)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_mb = 0.0
        self.children_peak_mb = 0.0
        self.samples = 0
        self._halt = threading.Event()

    @staticmethod
    def read(pid: int) -> dict[str, float]:
        values = {}
        with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0]) / 1024
        return values

    def sample(self, key: str) -> None:
        self.peak_mb = max(self.peak_mb, self.read(self.pid).get(key, 0.0))
        for child in children(self.pid):
            self.children_peak_mb = max(self.children_peak_mb, self.read(child).get(key, 0.0))

    def run(self) -> None:
        while not self._halt.wait(0.1):
            self.sample("VmRSS")
            self.samples += 1

    def finish(self) -> float:
        self._halt.set()
        self.join()
        self.sample("VmHWM")
        return self.peak_mb


# -- databases -----------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(kind: str, workdir: Path):
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'tracking.sqlite'}"
    else:
        from tests.postgresql import throwaway_database

        with throwaway_database("tracking_bench") as url:
            yield url


def migrate(url: str) -> None:
    """``alembic -c production.ini upgrade head``, the way an admin runs it."""
    env = {**os.environ, "TRACKING_DATABASE_URL": url}
    result = subprocess.run(
        [str(BIN / "alembic"), "-c", str(INI), "upgrade", "head"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"migration failed:\n{result.stdout}\n{result.stderr}")


def create_sites(url: str) -> tuple[int, int]:
    """One user owning site A (measured) and site B (warm-up and drain), both on example.com."""
    from sqlalchemy import create_engine, insert

    from tracking.models import Site, User

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            owner = conn.execute(
                insert(User.__table__).values(name="Bench", email="bench@example.com", password_hash="!"),
            ).inserted_primary_key[0]
            ids = [
                conn.execute(
                    insert(Site.__table__).values(owner_id=owner, name=name, url=SITE_URL, timezone="UTC"),
                ).inserted_primary_key[0]
                for name in ("Bench A", "Bench B")
            ]
    finally:
        engine.dispose()
    return ids[0], ids[1]


def count_rows(url: str, site_a: int, site_b: int) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                "stored": conn.execute(text("SELECT count(*) FROM hits WHERE site_id = :s"), {"s": site_a}).scalar(),
                "stored_bot": conn.execute(
                    text("SELECT count(*) FROM hits WHERE site_id = :s AND bot <> ''"), {"s": site_a}
                ).scalar(),
                "stored_b": conn.execute(text("SELECT count(*) FROM hits WHERE site_id = :s"), {"s": site_b}).scalar(),
                "visits": conn.execute(
                    text("SELECT count(*) FROM visits WHERE site_id = :s"), {"s": site_a}
                ).scalar(),
            }
    finally:
        engine.dispose()


# -- one database --------------------------------------------------------------------------


@dataclass
class Result:
    database: str
    beacon: Load
    bare: Load
    peak_rss_mb: float
    writer_rss_mb: float
    bare_rss_mb: float
    stored: int
    stored_bot: int
    stored_b: int
    visits: int
    exit_status: int
    spooled: int
    server_warnings: list[str]
    queue_warnings: int
    #: What ``beacon`` measured: the beacon, or a drop-in endpoint (``ENDPOINTS``).
    endpoint: str = "beacon"

    @property
    def target_ratio(self) -> float:
        return TARGET_RATIOS[self.endpoint]

    @property
    def ratio(self) -> float:
        return self.beacon.rps / self.bare.rps if self.bare.rps else math.nan

    @property
    def correct(self) -> bool:
        return self.stored == self.beacon.acked and self.exit_status == 0 and self.spooled == 0

    def checks(self) -> list[tuple[str, bool]]:
        return [
            (f"ratio {self.ratio:.2f} >= {self.target_ratio:.2f}", self.ratio >= self.target_ratio),
            (f"p99 {self.beacon.p99_ms:.1f} ms <= {TARGET_P99_MS:.0f} ms", self.beacon.p99_ms <= TARGET_P99_MS),
            (
                f"peak RSS {self.peak_rss_mb:.0f} MB (writer process {self.writer_rss_mb:.0f} MB) < {TARGET_RSS_MB:.0f} MB",
                max(self.peak_rss_mb, self.writer_rss_mb) < TARGET_RSS_MB,
            ),
            (f"stored {self.stored} == acknowledged {self.beacon.acked}", self.correct),
        ]


def ini_threads() -> int:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(INI)
    return int(parser.get("server:main", "threads", fallback="4"))


def server_ini(overrides: dict[str, str], workdir: Path) -> Path:
    """production.ini, or a copy of it with some ``[server:main]`` keys set (``--threads``)."""
    overrides = {key: value for key, value in overrides.items() if value is not None}
    if not overrides:
        return INI
    head, _, tail = INI.read_text().partition("[server:main]")
    section, separator, rest = tail.partition("\n[")
    for key, value in overrides.items():
        section, found = re.subn(rf"^{key}\s*=.*$", f"{key} = {value}", section, count=1, flags=re.M)
        if not found:
            section = section.rstrip("\n") + f"\n{key} = {value}\n"
    copy = workdir / ("production-" + "-".join(f"{k}-{v}" for k, v in overrides.items()) + ".ini")
    copy.write_text(head + "[server:main]" + section + separator + rest)
    return copy


def bench_database(kind: str, args, script: Path, load_fn, endpoint: str = "beacon") -> Result:
    from tests.servers import Server

    args.current_endpoint = endpoint  # for the Python load generator
    name = "the beacon" if endpoint == "beacon" else f"{endpoint}'s endpoint"

    with tempfile.TemporaryDirectory(prefix=f"bench-ingest-{kind}-") as tmp:
        workdir = Path(tmp)
        ini = server_ini({"threads": args.threads}, workdir)
        with fresh_database(kind, workdir) as url:
            migrate(url)
            site_a, site_b = create_sites(url)
            if endpoint != "beacon":
                prepare_dropin_sites(url, site_a, site_b, endpoint)

            # A PYTHONPATH given to the benchmark reaches the server too (to measure a patched copy).
            env = {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}
            bare = BareServer(ini, workdir)
            server = Server(str(ini), url, workdir, env=env)
            try:
                bare.start()
                server.start()
                bare_sampler, sampler = RSSSampler(bare.process.pid), RSSSampler(server.process.pid)
                bare_sampler.start()
                sampler.start()
                say(f"[{kind}] warm-up {WARMUP} s each: bare WSGI app, then {name} (pserve {ini.name})")
                load_fn(bare.url, script, site_a, site_b, WARMUP, "warmup", args)
                load_fn(server.url, script, site_a, site_b, WARMUP, "warmup", args)
                bare_rounds, beacon_rounds = [], []
                seconds = args.duration // args.rounds
                for n in range(1, args.rounds + 1):
                    say(f"[{kind}] round {n}/{args.rounds}: bare {seconds} s, then {endpoint} {seconds} s")
                    cpu = cpu_seconds(bare.process.pid)
                    bare_rounds.append(load_fn(bare.url, script, site_a, site_b, seconds, "run", args))
                    bare_rounds[-1].cpu_seconds = cpu_seconds(bare.process.pid) - cpu
                    server_cpu, writer_cpu = tree_cpu_seconds(server.process.pid)
                    beacon_rounds.append(load_fn(server.url, script, site_a, site_b, seconds, "run", args))
                    time.sleep(0.5)  # the writer's last batches belong to this round's cost
                    server_after, writer_after = tree_cpu_seconds(server.process.pid)
                    beacon_rounds[-1].writer_cpu_seconds = writer_after - writer_cpu
                    beacon_rounds[-1].cpu_seconds = server_after - server_cpu + beacon_rounds[-1].writer_cpu_seconds
                bare_load, beacon_load = Load.merge(bare_rounds), Load.merge(beacon_rounds)
                bare_load.rounds, beacon_load.rounds = bare_rounds, beacon_rounds
                bare_rss = bare_sampler.finish()
                peak = sampler.finish()
                writer_peak = sampler.children_peak_mb
                exit_status = server.terminate()
            finally:
                bare.stop()
                server.stop()
            counts = count_rows(url, site_a, site_b)
            spool = workdir / "spool"
            spooled = sum(p.read_text().count("\n") for p in spool.glob("hits-*")) if spool.is_dir() else 0
            log = server.log.read_text(errors="replace").splitlines()
            queue_depth = sum(1 for line in log if "Task queue depth" in line)
            complaints = [
                line for line in log if re.search(r"\b(WARNI|ERROR|CRITI)", line) and "Task queue depth" not in line
            ]
            if args.keep_logs:
                for path in workdir.glob("*.log"):
                    shutil.copy(path, Path(args.keep_logs) / f"{kind}-{path.name}")
    return Result(
        database=kind,
        beacon=beacon_load,
        bare=bare_load,
        peak_rss_mb=peak,
        writer_rss_mb=writer_peak,
        bare_rss_mb=bare_rss,
        exit_status=exit_status,
        spooled=spooled,
        server_warnings=complaints,
        queue_warnings=queue_depth,
        endpoint=endpoint,
        **counts,
    )


# -- report --------------------------------------------------------------------------------


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


HEADERS = (
    "database", "beacon req/s", "bare req/s", "ratio", "p50 ms", "p99 ms", "bare p99 ms", "peak RSS MB",
    "writer RSS MB", "acknowledged", "stored", "result",
)  # fmt: skip


def _by_endpoint(results: list[Result]) -> bool:
    """Whether the table has an endpoint column (the beacon's own run keeps its table as it was)."""
    return any(r.endpoint != "beacon" for r in results)


def headers(results: list[Result]) -> tuple[str, ...]:
    if not _by_endpoint(results):
        return HEADERS
    return ("database", "endpoint", "req/s", *HEADERS[2:])


def rows(results: list[Result]) -> list[list[str]]:
    out = []
    for r in results:
        failed = [short for (_, ok), short in zip(r.checks(), ("ratio", "p99", "RSS", "stored"), strict=True) if not ok]
        out.append(
            [
                r.database,
                f"{r.beacon.rps:.0f}",
                f"{r.bare.rps:.0f}",
                f"{r.ratio:.2f}",
                f"{r.beacon.p50_ms:.2f}",
                f"{r.beacon.p99_ms:.2f}",
                f"{r.bare.p99_ms:.2f}",
                f"{r.peak_rss_mb:.0f}",
                f"{r.writer_rss_mb:.0f}",
                str(r.beacon.acked),
                str(r.stored),
                "OK" if not failed else "FAIL: " + ", ".join(failed),
            ]
        )
        if _by_endpoint(results):
            out[-1].insert(1, r.endpoint)
    return out


def text_table(results: list[Result]) -> str:
    body, names = rows(results), headers(results)
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(names)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(names, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body]
    return "\n".join(lines)


def markdown_table(results: list[Result]) -> str:
    names = headers(results)
    lines = ["| " + " | ".join(names) + " |", "|" + "|".join("---" for _ in names) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows(results)]
    return "\n".join(lines)


def details(r: Result) -> str:
    b, w = r.beacon, r.bare
    lines = [f"{r.database}:" if r.endpoint == "beacon" else f"{r.database}, {r.endpoint} (POST {dropin_load(r.endpoint, 1).path}):"]
    for name, ok in r.checks():
        lines.append(f"  {'OK  ' if ok else 'FAIL'} {name}")
    lines.append(
        f"  {'beacon' if r.endpoint == 'beacon' else r.endpoint}: {b.requests} requests, {b.rps:.1f} req/s, p50 {b.p50_ms:.2f} ms, p99 {b.p99_ms:.2f} ms,"
        f" statuses {b.statuses}, non-2xx {b.non_2xx}, socket errors {b.socket_errors},"
        f" server CPU {b.cpu_ms_per_request:.2f} ms/request"
        f" (of which the writer process {1e3 * b.writer_cpu_seconds / max(b.requests, 1):.2f})"
    )
    lines.append(
        f"  bare:   {w.requests} requests, {w.rps:.1f} req/s, p50 {w.p50_ms:.2f} ms, p99 {w.p99_ms:.2f} ms,"
        f" statuses {w.statuses}, non-2xx {w.non_2xx}, socket errors {w.socket_errors},"
        f" server CPU {w.cpu_ms_per_request:.2f} ms/request, peak RSS {r.bare_rss_mb:.0f} MB"
    )
    for n, (bare_round, beacon_round) in enumerate(zip(w.rounds, b.rounds, strict=True), 1):
        lines.append(
            f"  round {n}: bare {bare_round.rps:.0f} req/s (p99 {bare_round.p99_ms:.1f} ms),"
            f" beacon {beacon_round.rps:.0f} req/s (p99 {beacon_round.p99_ms:.1f} ms),"
            f" ratio {beacon_round.rps / bare_round.rps:.2f}"
        )
    lines.append(
        f"  CPU per request, bare/{'beacon' if r.endpoint == 'beacon' else r.endpoint}: {w.cpu_ms_per_request / b.cpu_ms_per_request:.2f}"
        " (server CPU time per request; less sensitive to other load on the machine than the req/s ratio)"
    )
    lines.append(
        f"  site A: {b.acked} acknowledged, {r.stored} stored ({r.stored_bot} flagged bot), {r.visits} visits;"
        f" site B (warm-up + drain): {r.stored_b} stored; server exit status {r.exit_status}, spooled {r.spooled}"
    )
    if r.queue_warnings:
        lines.append(f"  waitress logged 'Task queue depth' {r.queue_warnings} times (all its threads were busy)")
    for line in r.server_warnings[:5]:
        lines.append(f"  server log: {line}")
    return "\n".join(lines)


def summary(load: Load) -> dict:
    """A load for the JSON file: its figures, and its rounds' (no wrk output, no histogram)."""
    figures = {k: v for k, v in asdict(load).items() if k not in ("output", "latency", "rounds")}
    if load.rounds:
        figures["rounds"] = [summary(r) for r in load.rounds]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--endpoint", choices=(*ENDPOINTS, "all"), default="beacon",
        help="what is measured against the bare app: the beacon (default), Plausible's /api/event, Umami's"
        " /api/send, or all three in turn",
    )  # fmt: skip
    parser.add_argument("--duration", type=int, default=30, help="seconds of measured load per server (default 30)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds the duration is cut into, bare and beacon taking turns (default 3)"
    )
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--threads", type=int, help="waitress threads (default: production.ini's)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1: 2 cores to share)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown too")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the servers' logs into DIR")
    parser.add_argument("--serve-bare", metavar="INI", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.serve_bare:
        serve_bare(args.serve_bare, args.port)
        return 0
    if args.rounds < 1 or args.duration // args.rounds <= DRAIN + 1:
        parser.error(f"each round (--duration / --rounds) must last more than {DRAIN + 1} seconds")

    if shutil.which("wrk"):
        load_fn = run_wrk
    else:
        say("wrk not found: install it with `apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk`.")
        say("Falling back to a Python load generator: its figures are NOT comparable with wrk's.")
        load_fn = run_python_load
    args.wrk_command = "(python load generator)"

    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    if "postgresql" in kinds:
        from tests.postgresql import ADMIN_URL, available

        if not available():
            say(f"PostgreSQL at {ADMIN_URL} is not reachable (set TRACKING_TEST_POSTGRESQL)")
            if args.database == "both":
                kinds.remove("postgresql")
            else:
                return 1

    results = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        endpoints = list(ENDPOINTS) if args.endpoint == "all" else [args.endpoint]
        scripts = {}
        for endpoint in endpoints:
            scripts[endpoint] = Path(tmp) / f"{endpoint}.lua"
            if endpoint == "beacon":
                write_lua(scripts[endpoint])
            else:
                write_dropin_lua(scripts[endpoint], endpoint)
        for kind in kinds:
            for endpoint in endpoints:
                results.append(bench_database(kind, args, scripts[endpoint], load_fn, endpoint))

    print()
    print(f"load: {args.wrk_command}")
    print(f"waitress threads: {args.threads or ini_threads()}, {os.cpu_count()} CPUs")
    load_after = os.getloadavg()
    print(f"load average (1/5/15 min): before {' '.join(f'{x:.2f}' for x in load_before)},"
          f" after {' '.join(f'{x:.2f}' for x in load_after)} (other work on the machine skews the figures)")
    print()
    print(text_table(results))
    print()
    for r in results:
        print(details(r))
    if args.markdown:
        print()
        print(markdown_table(results))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                [
                    {**{k: v for k, v in asdict(r).items() if k not in ("beacon", "bare")}, "ratio": r.ratio,
                     "beacon": summary(r.beacon), "bare": summary(r.bare)}
                    for r in results
                ],
                indent=2,
            )
        )  # fmt: skip
    for r in results:
        errors = sum(r.beacon.socket_errors.values())
        if r.stored > r.beacon.acked and errors:
            print(f"\n{r.database}: {errors} socket errors: a hit stored whose 204 was lost on the way counts as"
                  " stored but not acknowledged")
    if not all(r.correct for r in results):
        print("\nFAIL: stored != acknowledged (or the server did not stop cleanly): acknowledged hits were lost")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
