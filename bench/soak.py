"""Soak benchmark: the beacon at 80 % of its measured peak rate for ten minutes.

1. A fresh database (SQLite or PostgreSQL), migrated; one site.
2. ``pserve production.ini``; its peak rate measured with wrk at full speed (``--peak-seconds``).
3. wrk again, each connection pausing between requests (wrk's Lua ``delay()``) so that the
   rate is about ``--fraction`` of that peak, for ``--minutes``.
   The hits come from the 1000 visitor addresses of ``ingest.py`` (``X-Forwarded-For``,
   trusted from 127.0.0.1): from one address they would meet the per-client limit.
4. Reported: the rate reached, errors (non-2xx answers and socket errors: the target is 0),
   the server's RSS after the first minute and at the end (the target: within 10 %), and after
   SIGTERM, the stored hits against the ``204`` answers wrk read (never fewer).

    .venv/bin/python -m bench.soak --database sqlite --minutes 10

Not a test: it takes as long as it says. Figures go to BENCHMARKS.md. All traffic goes to
127.0.0.1.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.ingest import CHROME, SITE_URL, count_rows, create_sites, fresh_database, load_data, migrate, parse_wrk
from tests.servers import Server

LUA = """
local site, interval = 0, 0
local pages = {"/", "/pricing", "/blog/a", "/blog/b", "/docs", "/about"}
local agents = {%(agents)s}
local ips = {%(ips)s}
local ok, other = 0, 0

function init(args)
  site = tonumber(args[1])
  interval = tonumber(args[2])
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

function request()
  local page = pages[math.random(#pages)]
  local path = "/sites/" .. site .. "/hit?url=" .. "%(site)s" .. page
  return wrk.format("GET", path, {
    ["User-Agent"] = agents[math.random(#agents)],
    ["X-Forwarded-For"] = ips[math.random(#ips)],
  })
end

function delay()
  return interval
end

function response(status, headers, body)
  if status == 204 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("SOAK requests=%%d\\n", summary.requests))
end
"""


def wrk(url: str, script: Path, site: int, interval_ms: int, seconds: int, connections: int) -> str:
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency",
        "-s", str(script), url, "--", str(site), str(interval_ms),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed: {result.stdout}\n{result.stderr}")
    return result.stdout


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--fraction", type=float, default=0.8)
    parser.add_argument("--peak-seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    script = workdir / "soak.lua"
    agents = ", ".join(f'"{agent}"' for agent in CHROME)
    ips = ", ".join(f'"{ip}"' for ip in load_data()["ips"])
    script.write_text(LUA % {"agents": agents, "ips": ips, "site": SITE_URL.replace(":", "%3A").replace("/", "%2F")})
    with fresh_database(args.database, workdir) as url:
        migrate(url)
        site, _ = create_sites(url)
        server = Server("production.ini", url, workdir).start()
        try:
            peak = parse_wrk(wrk(server.url, script, site, 0, args.peak_seconds, args.connections))
            target = args.fraction * peak.rps
            # Each connection: one request, then a pause; the pause sets the rate.
            interval = max(1, round(args.connections * 1000 / target - peak.p50_ms * args.fraction))
            print(f"peak {peak.rps:.0f} req/s (p50 {peak.p50_ms:.1f} ms); soaking at ~{target:.0f} req/s "
                  f"({args.connections} connections, {interval} ms pause) for {args.minutes:g} min", flush=True)
            samples: list[tuple[float, float]] = []
            halt = threading.Event()

            def sample() -> None:
                start = time.monotonic()
                while not halt.wait(10):
                    samples.append((time.monotonic() - start, rss_mb(server.process.pid)))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            soak = parse_wrk(wrk(server.url, script, site, interval, int(args.minutes * 60), args.connections))
            halt.set()
            sampler.join()
            status = server.terminate()
        finally:
            server.stop()
        rows = count_rows(url, site, site)
    start_rss = next((rss for t, rss in samples if t >= 60), samples[0][1] if samples else 0.0)
    end_rss = samples[-1][1] if samples else 0.0
    drift = 100.0 * (end_rss - start_rss) / start_rss if start_rss else 0.0
    errors = soak.non_2xx + sum(soak.socket_errors.values())
    acknowledged = peak.requests - peak.non_2xx + soak.requests - soak.non_2xx
    print(f"database      {args.database}")
    print(f"rate          {soak.rps:.0f} req/s over {soak.requests} requests (target ~{target:.0f})")
    print(f"latency       p50 {soak.p50_ms:.1f} ms, p99 {soak.p99_ms:.1f} ms")
    print(f"errors        {errors} (non-2xx {soak.non_2xx}, socket {soak.socket_errors})")
    print(f"RSS           {start_rss:.0f} MB after 1 min, {end_rss:.0f} MB at the end ({drift:+.1f} %)")
    print(f"stored        {rows['stored']} hits for {acknowledged} 204 answers read by wrk (peak run included; "
          f"hits in flight when wrk stopped are stored too); server exit status {status}")
    ok = errors == 0 and abs(drift) <= 10 and status == 0 and rows["stored"] >= acknowledged
    print("result        " + ("OK" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
