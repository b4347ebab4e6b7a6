"""Ingest behind nginx: the beacon through ``deploy/nginx.conf`` (TLS, keep-alive to the app) in
front of one and of two ``pserve production.ini`` processes (each with its writer) on one
PostgreSQL database — how many hits a second, and a day, each core of the machine stores.

    .venv/bin/python -m bench.nginx_ingest                     # 1 and 2 processes, 20 s each
    .venv/bin/python -m bench.nginx_ingest --processes 2 --duration 30

For each count of processes: a fresh database (``alembic upgrade head``), the sites of
``bench/ingest.py``, the processes, nginx configured by ``deploy/nginx.conf`` as the tests run it
(``tests/slow/test_nginx.py``: local ports, a throw-away certificate); one process is the same
upstream named twice. One change to the file, for the benchmark only: nginx passes the load's
``X-Forwarded-For`` on instead of the client's address, so that the 1,000 visitor addresses of
the load reach the app as 1,000 visitors (from one address, every hit would be one of four
visitors, whose visit rows the writers would take turns on). Then wrk, with the beacon's load of
``bench/ingest.py`` (warm-up, then ``--duration`` seconds, the last seconds drained to site B),
against nginx over HTTPS; the processes are stopped (SIGTERM: they write what they buffer) and
site A's stored hits must equal its acknowledged ``204``.

Printed per count of processes: acknowledged hits/s, p50 and p99, stored == acknowledged, and
hits/s and hits a day per core (the whole machine's throughput over its cores: nginx, the app
processes, their writers, PostgreSQL and wrk share them). Exit status 1 when a hit was lost.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from argparse import Namespace
from pathlib import Path

from .ingest import WARMUP, count_rows, create_sites, migrate, run_wrk, write_lua

#: deploy/nginx.conf's client address for the app, and the benchmark's.
CLIENT_ADDRESS = "proxy_set_header X-Forwarded-For $remote_addr;"
LOAD_ADDRESS = "proxy_set_header X-Forwarded-For $http_x_forwarded_for;"


def measure(processes: int, duration: int, connections: int, workdir: Path, script: Path) -> dict:
    from tests.postgresql import throwaway_database
    from tests.servers import Server
    from tests.slow.test_nginx import Nginx

    with throwaway_database("tracking_bench_nginx") as url:
        migrate(url)
        site_a, site_b = create_sites(url)
        servers = [Server("production.ini", url, workdir) for _ in range(processes)]
        for server in servers:
            server.start()
        try:
            ports = tuple(server.port for server in servers)
            nginx = Nginx(workdir, (ports[0], ports[-1]))  # one process: the same upstream twice
            block = workdir / "tracking.conf"
            text = block.read_text()
            assert text.count(CLIENT_ADDRESS) == 1, "deploy/nginx.conf changed: see this benchmark's docstring"
            block.write_text(text.replace(CLIENT_ADDRESS, LOAD_ADDRESS))
            with nginx:
                url_of_nginx = f"https://127.0.0.1:{nginx.https_port}"
                args = Namespace(wrk_threads=1, connections=connections)
                run_wrk(url_of_nginx, script, site_a, site_b, WARMUP, "warmup", args)
                load = run_wrk(url_of_nginx, script, site_a, site_b, duration, "run", args)
            time.sleep(0.5)
        finally:
            statuses = [server.terminate() for server in servers]
            for server in servers:
                server.stop()
        counts = count_rows(url, site_a, site_b)
    cores = os.cpu_count() or 1
    acked_per_second = load.acked / load.seconds if load.seconds else 0.0
    return {
        "processes": processes, "acked": load.acked, "stored": counts["stored"], "rps": load.rps,
        "acked_per_second": acked_per_second, "p50_ms": load.p50_ms, "p99_ms": load.p99_ms,
        "per_core_second": acked_per_second / cores, "per_core_day": acked_per_second / cores * 86_400,
        "exit": statuses, "cores": cores, "non_2xx": load.non_2xx, "socket_errors": load.socket_errors,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, choices=(1, 2), action="append",
                        help="app processes behind nginx (default: 1, then 2)")
    parser.add_argument("--duration", type=int, default=20, help="seconds of measured load (default 20)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    args = parser.parse_args(argv)
    from tests.slow.test_nginx import NGINX

    if NGINX is None or not shutil.which("wrk"):
        print("needs nginx and wrk (Debian: apt-get install nginx wrk; `make nginx-deps bench-deps`)")
        return 1
    lost = False
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as tmp:
        script = Path(tmp) / "beacon.lua"
        write_lua(script)
        for processes in args.processes or [1, 2]:
            workdir = Path(tmp) / f"p{processes}"
            workdir.mkdir()
            r = measure(processes, args.duration, args.connections, workdir, script)
            lost |= r["stored"] != r["acked"]
            print(f"{processes} process(es) behind nginx: {r['acked_per_second']:,.0f} hits/s acknowledged "
                  f"({r['rps']:,.0f} requests/s), p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms; "
                  f"stored {r['stored']:,} of {r['acked']:,} acknowledged; "
                  f"per core ({r['cores']}): {r['per_core_second']:,.0f} hits/s, {r['per_core_day'] / 1e6:,.1f} M hits a day; "
                  f"non-2xx {r['non_2xx']}, socket errors {r['socket_errors']}, exit {r['exit']}", flush=True)
    print(f"load average before {' '.join(f'{x:.2f}' for x in load_before)}, "
          f"after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
