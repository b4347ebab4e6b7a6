"""Flood benchmark: one client floods a site as fast as it can; do the others still get 204?

1. A fresh database (SQLite or PostgreSQL), migrated; one user, sites A and B.
2. ``pserve production.ini`` (8 waitress threads, the default per-client limit: 50 hits a
   second, 500 at once, per client and site). The clients differ by ``X-Forwarded-For``:
   production.ini trusts the proxy at 127.0.0.1, so waitress gives the app that address, as
   nginx in front would.
3. **Quiet**: the visitors alone for ``--quiet`` seconds, then **flood**: the visitors go on
   while the flooding client sends site A hits as fast as it can for ``--duration`` seconds
   (``wrk -t1 -c16``, or Python threads with ``--load python``). The visitors are three
   streams, paced at ``--visitor-rate`` hits a second in all, one connection per hit:

   * *another client, the flooded site*: 192.0.2.10 to site A;
   * *another client, another site*: 192.0.2.20 to site B;
   * *the flooding client, another site*: the flooder's own address to site B.

4. SIGTERM (the server writes what it buffered), then the rows of each site are counted.

Reported: the flood's answers (its share of 429s; its 204s against what the limit allows,
``burst + rate x seconds``), each visitor stream's share of 204s and its latency (p50, p99,
max) in the quiet phase and under the flood, and the stored rows against the 204s: a refused
hit must not be stored. ``--compare`` runs it all again with the limit off
(``tracking.beacon_rate = 0``), to show what the flood does then. With ``--outage`` the
database refuses the server for the flood's time (SQLite locked, PostgreSQL closed to new
connections), so hits pile up in the buffer as they would while the database is slow or
away; with ``--buffer-size 5000`` that shows in 10 s what a flood does to production's 100,000
in a minute: without the limit it fills the buffer, and every site gets 503.

    .venv/bin/python -m bench.flood                      # SQLite, 10 s of flood
    .venv/bin/python -m bench.flood --compare --json var/flood.json
    .venv/bin/python -m bench.flood --compare --outage --buffer-size 5000

Not a test (tests/slow/test_beacon_flood.py is the bounded one). Figures go to BENCHMARKS.md.
All traffic goes to 127.0.0.1. Exit status 1 when a visitor hit was not answered 204, when
the flood got more 204s than the limit allows, or when a refused hit was stored.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.ingest import CHROME, INI, SITE_URL, count_rows, create_sites, fresh_database, migrate, percentile
from tests.servers import Server, database_outage
from tracking.ingest.limits import DEFAULT_BURST, DEFAULT_RATE

FLOODER = "198.51.100.66"
STREAMS = (  # name, X-Forwarded-For, site ("A" or "B")
    ("another client, the flooded site", "192.0.2.10", "A"),
    ("another client, another site", "192.0.2.20", "B"),
    ("the flooding client, another site", FLOODER, "B"),
)
PAGE = SITE_URL.replace(":", "%3A").replace("/", "%2F")

LUA = r"""-- written by bench/flood.py: one client, as fast as it can
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  path = "/sites/" .. args[1] .. "/hit?url=%(page)s%%2Fflood"
  address = args[2]
  statuses = {}
end

function request()
  return wrk.format("GET", path, {["User-Agent"] = %(agent)s, ["X-Forwarded-For"] = address})
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  for status, n in pairs(counts) do
    io.write(string.format("FLOOD status %%d %%d\n", status, n))
  end
  local e = summary.errors
  io.write(string.format("FLOOD errors %%d\n", e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class Stream:
    """One paced stream of visitor hits."""

    name: str
    address: str
    site: str
    statuses: Counter = field(default_factory=Counter)
    latency_us: Counter = field(default_factory=Counter)

    @property
    def hits(self) -> int:
        return sum(self.statuses.values())

    @property
    def ok(self) -> int:
        return self.statuses[204]

    def figures(self) -> dict:
        return {
            "hits": self.hits,
            "204": self.ok,
            "share_204": self.ok / self.hits if self.hits else math.nan,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items(), key=str)},
            "p50_ms": percentile(self.latency_us, 50) / 1e3,
            "p99_ms": percentile(self.latency_us, 99) / 1e3,
            "max_ms": max(self.latency_us, default=math.nan) / 1e3,
        }


@dataclass
class Flood:
    statuses: Counter = field(default_factory=Counter)
    errors: int = 0
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


@dataclass
class Run:
    limited: bool
    rate: float
    burst: int
    flood: Flood
    quiet: list[Stream]
    flooded: list[Stream]
    stored: dict[str, int]
    exit_status: int

    @property
    def allowed(self) -> int:
        """The most 204s the limit lets one client have on one site in the flood's time (the
        quiet phase's own hits from other clients do not count against it)."""
        return math.floor(self.burst + self.rate * self.flood.seconds) if self.limited else self.flood.requests

    def acknowledged(self, site: str) -> int:
        return self.flood.statuses[204] * (site == "A") + sum(
            s.ok for s in (*self.quiet, *self.flooded) if s.site == site
        )

    def checks(self, connections: int) -> list[tuple[str, bool]]:
        visitors_ok = all(s.ok == s.hits for s in (*self.quiet, *self.flooded))
        checks = [("every visitor hit answered 204", visitors_ok)]
        if self.limited:
            ok = self.flood.statuses[204]
            checks.append((f"flood 204s {ok} <= {self.allowed} allowed", ok <= self.allowed))
        for site in ("A", "B"):
            # The flood stops with requests in flight: their hits may be stored, unread.
            slack = connections if site == "A" else 0
            stored, read = self.stored[site], self.acknowledged(site)
            name = f"site {site}: stored {stored} = 204s read {read} (+{stored - read}, at most {slack} in flight)"
            checks.append((name, 0 <= stored - read <= slack))
        checks.append((f"server exit status {self.exit_status}", self.exit_status == 0))
        return checks


def paced_streams(server_url: str, sites: dict[str, int], seconds: float, rate: float) -> list[Stream]:
    """The visitor streams, ``rate`` hits a second in all, taking turns, for ``seconds``."""
    port = int(server_url.rsplit(":", 1)[1])
    streams = [Stream(name, address, site) for name, address, site in STREAMS]
    start = time.monotonic()
    n = 0
    while True:
        due = start + n / rate
        if due >= start + seconds:
            break
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        stream = streams[n % len(streams)]
        path = f"/sites/{sites[stream.site]}/hit?url={PAGE}%2Fvisitor%2F{n}"
        began = time.monotonic()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path, headers={"User-Agent": CHROME[n % len(CHROME)], "X-Forwarded-For": stream.address})
            answer = conn.getresponse()
            answer.read()
            status = answer.status
            conn.close()
        except OSError as error:
            status = type(error).__name__
        stream.statuses[status] += 1
        stream.latency_us[round((time.monotonic() - began) * 1e6)] += 1
        n += 1
    return streams


def wrk_flood(server_url: str, site: int, seconds: int, connections: int, script: Path) -> Flood:
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script),
        server_url, "--", str(site), FLOODER,
    ]  # fmt: skip
    began = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    flood = Flood(seconds=time.monotonic() - began)
    flood.statuses.update({int(s): int(n) for s, n in re.findall(r"FLOOD status (\d+) (\d+)", result.stdout)})
    flood.errors = sum(int(n) for n in re.findall(r"FLOOD errors (\d+)", result.stdout))
    return flood


def python_flood(server_url: str, site: int, seconds: int, connections: int, script: Path) -> Flood:
    """``connections`` threads, each sending hits one after the other on a kept-alive
    connection (waitress closes it after a 204; a 429 has a body and keeps it)."""
    port = int(server_url.rsplit(":", 1)[1])
    flood = Flood()
    lock = threading.Lock()
    end = time.monotonic() + seconds
    path = f"/sites/{site}/hit?url={PAGE}%2Fflood"

    def run() -> None:
        statuses: Counter = Counter()
        errors = 0
        conn = None
        while time.monotonic() < end:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", path, headers={"User-Agent": CHROME[0], "X-Forwarded-For": FLOODER})
                answer = conn.getresponse()
                answer.read()
                statuses[answer.status] += 1
                if answer.will_close:
                    conn.close()
                    conn = None
            except OSError:
                errors += 1
                conn = None
        if conn is not None:
            conn.close()
        with lock:
            flood.statuses.update(statuses)
            flood.errors += errors

    began = time.monotonic()
    threads = [threading.Thread(target=run) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 30)
    flood.seconds = time.monotonic() - began
    return flood


def app_ini(workdir: Path, settings: dict[str, str]) -> Path:
    """production.ini, or a copy with some ``[app:main]`` settings added."""
    if not settings:
        return INI
    lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
    path = workdir / "production-flood.ini"
    path.write_text(INI.read_text().replace("[app:main]\n", f"[app:main]\n{lines}", 1))
    return path


def run(database: str, args, limited: bool) -> Run:
    with tempfile.TemporaryDirectory(prefix=f"bench-flood-{database}-") as tmp:
        workdir = Path(tmp)
        script = workdir / "flood.lua"
        script.write_text(LUA % {"page": PAGE, "agent": json.dumps(CHROME[0])})
        settings = {} if limited else {"tracking.beacon_rate": "0"}
        if args.buffer_size:
            settings["tracking.buffer_size"] = str(args.buffer_size)
        ini = app_ini(workdir, settings)
        with fresh_database(database, workdir) as url:
            migrate(url)
            site_a, site_b = create_sites(url)
            sites = {"A": site_a, "B": site_b}
            server = Server(str(ini), url, workdir)
            try:
                server.start()
                say(f"[{database}, limit {'on' if limited else 'off'}] quiet: visitors alone for {args.quiet} s")
                quiet = paced_streams(server.url, sites, args.quiet, args.visitor_rate)
                say(f"[{database}, limit {'on' if limited else 'off'}] flood: {FLOODER} floods site A for {args.duration} s")
                box: dict = {}

                def flood() -> None:
                    box["flood"] = args.load_fn(server.url, site_a, args.duration, args.connections, script)

                flooder = threading.Thread(target=flood)
                with database_outage(database, url) if args.outage else contextlib.nullcontext():
                    flooder.start()
                    time.sleep(0.2)  # the flood is under way
                    flooded = paced_streams(server.url, sites, args.duration - 0.5, args.visitor_rate)
                    flooder.join(args.duration + 90)
                exit_status = server.terminate()
            finally:
                server.stop()
            counts = count_rows(url, site_a, site_b)
    if "flood" not in box:
        raise RuntimeError("the flood did not finish")
    return Run(
        limited=limited,
        rate=DEFAULT_RATE,
        burst=DEFAULT_BURST,
        flood=box["flood"],
        quiet=quiet,
        flooded=flooded,
        stored={"A": counts["stored"], "B": counts["stored_b"]},
        exit_status=exit_status,
    )


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def report(r: Run, args) -> str:
    f = r.flood
    share = lambda n: f"{100 * n / f.requests:.1f} %" if f.requests else "-"  # noqa: E731
    lines = [
        f"limit {'on: ' + f'{r.rate:g} hits/s, burst {r.burst}' if r.limited else 'off (tracking.beacon_rate = 0)'}"
        f"; buffer {args.buffer_size or 100_000} hits" + ("; the database away during the flood" if args.outage else ""),
        f"  flood ({FLOODER} -> site A, {args.load_name}, {f.seconds:.1f} s): {f.requests} requests,"
        f" {f.requests / f.seconds:.0f} req/s; "
        + ", ".join(f"{status}: {n} ({share(n)})" for status, n in sorted(f.statuses.items()))
        + f"; socket errors: {f.errors}"
        + (f"; the limit allows at most {r.allowed} 204s" if r.limited else ""),
        "  | visitors (one hit per connection) | phase | hits | 204 | p50 ms | p99 ms | max ms |",
        "  |---|---|---|---|---|---|---|",
    ]
    for phase, streams in (("quiet", r.quiet), ("flood", r.flooded)):
        for s in streams:
            x = s.figures()
            lines.append(
                f"  | {s.name} ({s.address} -> site {s.site}) | {phase} | {x['hits']} |"
                f" {x['204']} ({100 * x['share_204']:.1f} %) | {x['p50_ms']:.1f} | {x['p99_ms']:.1f} | {x['max_ms']:.1f} |"
            )
    for name, ok in r.checks(args.connections):
        lines.append(f"  {'OK  ' if ok else 'FAIL'} {name}")
    others = Counter()
    for s in r.flooded:
        others.update({k: v for k, v in s.statuses.items() if k != 204})
    if others:
        lines.append(f"  visitors' other answers under the flood: {dict(others)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--duration", type=int, default=10, help="seconds of flood (default 10)")
    parser.add_argument("--quiet", type=float, default=4.0, help="seconds of visitors alone first (default 4)")
    parser.add_argument("--visitor-rate", type=float, default=30.0, help="visitor hits a second, all streams (default 30)")
    parser.add_argument("--connections", type=int, default=16, help="the flood's connections (default 16)")
    parser.add_argument("--load", choices=("wrk", "python"), help="the flood's load generator (default: wrk if installed)")
    parser.add_argument("--compare", action="store_true", help="run again with the limit off")
    parser.add_argument("--buffer-size", type=int, help="tracking.buffer_size (default: production's 100,000)")
    parser.add_argument(
        "--outage", action="store_true", help="the database refuses the server during the flood: hits pile up in the buffer"
    )
    parser.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    args = parser.parse_args(argv)
    if args.duration < 2:
        parser.error("--duration must be at least 2 seconds")
    load = args.load or ("wrk" if shutil.which("wrk") else "python")
    args.load_fn = wrk_flood if load == "wrk" else python_flood
    args.load_name = f"wrk -t1 -c{args.connections}" if load == "wrk" else f"{args.connections} Python threads"

    load_before = os.getloadavg()
    runs = [run(args.database, args, limited=True)]
    if args.compare:
        runs.append(run(args.database, args, limited=False))
    load_after = os.getloadavg()

    print(f"database {args.database}; {os.cpu_count()} CPUs; load average before"
          f" {' '.join(f'{x:.2f}' for x in load_before)}, after {' '.join(f'{x:.2f}' for x in load_after)}")
    for r in runs:
        print(report(r, args))
    if args.json:
        Path(args.json).write_text(json.dumps([
            {
                "limited": r.limited, "rate": r.rate, "burst": r.burst, "allowed": r.allowed,
                "flood": {"requests": r.flood.requests, "seconds": r.flood.seconds, "errors": r.flood.errors,
                          "statuses": {str(k): v for k, v in r.flood.statuses.items()}},
                "quiet": {s.name: s.figures() for s in r.quiet},
                "flooded": {s.name: s.figures() for s in r.flooded},
                "stored": r.stored, "exit_status": r.exit_status,
                "checks": {name: ok for name, ok in r.checks(args.connections)},
            }
            for r in runs
        ], indent=2))  # fmt: skip
    failed = [name for name, ok in runs[0].checks(args.connections) if not ok]
    if failed:
        print("\nFAIL (limit on): " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
