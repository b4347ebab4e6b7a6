"""Stats API benchmark: ``/api/v1/sites/<id>/{aggregate,timeseries,breakdown,realtime}`` on a big
site, served by ``pserve production.ini``, against the dashboard's budgets.

The dataset is :mod:`bench.dashboard`'s (same seeding, same ``--keep`` directory, so a database
kept by one is reused by the other). A ``stats:read`` key is made for the site's owner; each
scenario is requested ``--warmup`` times, then ``--requests`` times on one keep-alive connection
with ``Authorization: Bearer``; p50 and p95 (nearest rank) from sending the request to the last
byte. Every answer must be a ``200`` whose numbers equal what the read API
(:mod:`tracking.reports.api`, the same planner) computes directly from the database — the
visitors of the period, or the top row of the breakdown. Targets are the dashboard's: the whole
page of the same period and filters (``bench.dashboard``) holds all of these and more.

``.venv/bin/python -m bench.api_stats --help`` lists the options.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.dashboard import (
    DEFAULT_HITS,
    ONE_FILTER_12MO,
    ONE_FILTER_30D,
    UNFILTERED_12MO,
    UNFILTERED_30D,
    dataset,
    percentile,
)
from tests.servers import Server
from tracking import api_keys
from tracking.models import Site, User, get_engine
from tracking.reports import api
from tracking.reports.periods import period_from
from tracking.reports.query import DETAILS, FILTERABLE, SiteRef, StatsQuery, filters_from
from tracking.timezones import today

#: (name, endpoint, parameters, p50 targets in ms by database)
SCENARIOS = (
    ("aggregate 30d", "aggregate", {"period": "30d"}, UNFILTERED_30D),
    ("aggregate 30d, compare", "aggregate", {"period": "30d", "compare": "true"}, UNFILTERED_30D),
    ("timeseries 30d by day", "timeseries", {"period": "30d", "interval": "day"}, UNFILTERED_30D),
    # The dashboard's Pages panel (page views); then every metric of the Pages details page, which
    # has no budget of its own (the dashboard's details page takes as long: same planner).
    ("breakdown pages 30d, pageviews", "breakdown", {"period": "30d", "dimension": "page", "metrics": "pageviews"},
     UNFILTERED_30D),
    ("breakdown pages 30d, all metrics", "breakdown", {"period": "30d", "dimension": "page"}, {}),
    ("breakdown countries 30d", "breakdown", {"period": "30d", "dimension": "country"}, UNFILTERED_30D),
    ("realtime", "realtime", {}, UNFILTERED_30D),
    ("aggregate 12mo", "aggregate", {"period": "12mo"}, UNFILTERED_12MO),
    ("timeseries 12mo by month", "timeseries", {"period": "12mo", "interval": "month"}, UNFILTERED_12MO),
    ("breakdown sources 12mo", "breakdown", {"period": "12mo", "dimension": "source"}, UNFILTERED_12MO),
    ("aggregate 30d, country=DE", "aggregate", {"period": "30d", "country": "DE"}, ONE_FILTER_30D),
    ("aggregate 12mo, country=DE", "aggregate", {"period": "12mo", "country": "DE"}, ONE_FILTER_12MO),
)


def make_key(url: str) -> str:
    engine = get_engine({"sqlalchemy.url": url})
    with Session(engine) as session, session.begin():
        user_id = session.scalar(select(User.id).order_by(User.id))
        _, key = api_keys.create(session, user_id, "api stats benchmark", {"stats:read"})
    engine.dispose()
    return key


def expected(url: str, site_id: int, endpoint: str, params: dict[str, str]):
    """What the answer must show, computed by the read API directly."""
    engine = get_engine({"sqlalchemy.url": url})
    try:
        with Session(engine) as session:
            site = session.get(Site, site_id)
            ref = SiteRef.of(site)
            period = period_from(params, today(site.timezone))
            filters = filters_from({dim: value for dim, value in params.items() if dim in FILTERABLE})
            if endpoint == "breakdown":
                dim = params["dimension"]
                metrics = tuple(params["metrics"].split(",")) if "metrics" in params else DETAILS[dim]
                panel = api.breakdown(session, StatsQuery(ref, period, filters, (dim,), metrics, limit=1))
                return panel.rows[0].value if panel.rows else None
            if endpoint == "realtime":
                return None  # a moving number: only the status and shape are checked
            return api.aggregate(session, StatsQuery(ref, period, filters)).totals.visitors
    finally:
        engine.dispose()


def shown(endpoint: str, body: dict):
    if endpoint == "breakdown":
        return body["results"][0]["value"] if body["results"] else None
    if endpoint == "realtime":
        return None
    if endpoint == "timeseries":
        return sum(point["visitors"] for point in body["results"])
    return body["results"]["visitors"] if isinstance(body.get("results"), dict) else body["visitors"]


def measure(url: str, site_id: int, database: str, requests: int, warmup: int, workdir: Path) -> bool:
    key = make_key(url)
    server = Server("production.ini", url, workdir)  # 600 requests a minute: more than this asks
    server.start(timeout=300)
    ok = True
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        for name, endpoint, params, targets in SCENARIOS:
            path = f"/api/v1/sites/{site_id}/{endpoint}?{urlencode(params)}"
            want = expected(url, site_id, endpoint, params)
            timings = []
            for attempt in range(warmup + requests):
                started = time.perf_counter()
                connection.request("GET", path, headers={"Authorization": f"Bearer {key}"})
                response = connection.getresponse()
                content = response.read()
                elapsed = time.perf_counter() - started
                body = json.loads(content) if response.status == 200 else {}
                got = shown(endpoint, body) if body else None
                # timeseries: a sum of daily visitors, which is not the period's visitors (a
                # visitor of two days counts twice): checked to be at least that.
                right = response.status == 200 and (
                    want is None or got == want or (endpoint == "timeseries" and got is not None and got >= want))
                if not right:
                    print(f"  WRONG {name}: status {response.status}, shows {got!r}, expected {want!r}: {content[:300]!r}")
                    ok = False
                    break
                if attempt >= warmup:
                    timings.append(elapsed * 1000)
            if not timings:
                continue
            p50, p95 = percentile(timings, 0.5), percentile(timings, 0.95)
            target = targets.get(database)
            verdict = "" if target is None else f"  target < {target:.0f} ms: " + ("met" if p50 < target else "MISSED")
            print(f"  {name:32s} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   (load {os.getloadavg()[0]:.1f}){verdict}",
                  flush=True)
    finally:
        server.stop()
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--hits", type=int, help="hits to seed (default: as bench.dashboard)")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="keep (or reuse) the seeded databases in this directory")
    args = parser.parse_args(argv)
    ok = True
    for database in ("sqlite", "postgresql") if args.database == "both" else (args.database,):
        hits = args.hits or DEFAULT_HITS[database]
        print(f"\n== {database}: {hits:,} hits over {args.days} days ==", flush=True)
        with dataset(database, hits, args.days, args.keep) as data, tempfile.TemporaryDirectory() as workdir:
            ok = measure(data.url, data.site_id, database, args.requests, args.warmup, Path(workdir)) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
