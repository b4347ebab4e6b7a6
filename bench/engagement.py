"""What an engagement costs the hit writer, against a page view.

    .venv/bin/python -m bench.engagement                       # SQLite and PostgreSQL
    .venv/bin/python -m bench.engagement --database sqlite --visitors 2000 --rounds 9

A fresh database (SQLite file; PostgreSQL: a throw-away database created through
``TRACKING_TEST_POSTGRESQL``, as the tests do) with one site, where ``--visitors`` visitors
have each viewed one page (committed). Then, in one transaction rolled back, ``--rounds``
times each way, alternating, one batch of ``--visitors`` items through
``Store.write_batch`` (what the writer does with a batch):

* **page views**: each visitor's second page view, 20 s after the first (their visits are
  found, extended and their summaries changed; the hits inserted);
* **engagements**: each visitor's engagement of that first page, 20 s after it (the visits
  are found and extended, their summaries changed; the measurements inserted).

Each figure is the fastest round, per item.
"""

import argparse
import itertools
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from tracking.ingest.enrich import GeoLocator
from tracking.ingest.hit import parse
from tracking.ingest.pipeline import Pipeline
from tracking.ingest.sites import SiteInfo
from tracking.ingest.store import Store
from tracking.models import Engagement, get_engine

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
T0 = datetime(2026, 3, 10, 9, 0)


def items(site_id: int, count: int, seconds: int, *, engaged: bool = False):
    pipeline = Pipeline(GeoLocator())
    info = SiteInfo(site_id, 1, "example.com", "UTC", True, True, True)
    found = []
    for i in range(count):
        path = f"/post-{i % 200}" if seconds == 0 or engaged else f"/next-{i % 50}"
        hit = pipeline.process(info, parse({"url": f"https://example.com{path}"}), ip=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                               user_agent=CHROME, dnt=False, gpc=False, now=T0 + timedelta(seconds=seconds, milliseconds=i))
        if engaged:
            hit = hit._replace(event="engagement", engaged_ms=19_000, scroll_depth=70)
        found.append(hit)
    return found


def measure(url: str, count: int, rounds: int) -> dict[str, float]:
    from tests.servers import seed_site

    engine = get_engine({"sqlalchemy.url": url})
    try:
        _, site_id = seed_site(engine)
        sessions = sessionmaker(engine)
        store = Store(sessions)
        firsts, views, engagements = items(site_id, count, 0), items(site_id, count, 20), items(site_id, count, 20, engaged=True)
        # Each pipeline keys visitors under a secret of its own: the same visitors, the same keys.
        keys = [hit.visitor_key for hit in firsts]
        views, engagements = ([hit._replace(visitor_key=key) for hit, key in zip(batch, keys, strict=True)]
                              for batch in (views, engagements))
        with sessions() as session, session.begin():
            store.write_batch(session, firsts)
        best = {"page views": float("inf"), "engagements": float("inf")}
        for _, (name, batch) in itertools.product(range(rounds), (("page views", views), ("engagements", engagements))):
            with sessions() as session:
                session.begin()
                started = time.perf_counter()
                store.write_batch(session, batch)
                session.flush()
                best[name] = min(best[name], time.perf_counter() - started)
                if name == "engagements":  # every one found its visit
                    assert session.scalar(select(func.count()).select_from(Engagement)) == count
                session.rollback()
        return {name: seconds / count for name, seconds in best.items()}
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--visitors", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    from tests.postgresql import throwaway_database
    from tests.support import migrate

    for database in ("sqlite", "postgresql") if args.database == "both" else (args.database,):
        with ExitStack() as stack:
            if database == "postgresql":
                url = stack.enter_context(throwaway_database("tracking_bench_engagement"))
            else:
                url = f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/bench.sqlite"
            migrate(url)
            result = measure(url, args.visitors, args.rounds)
        print(f"{database}: a batch of {args.visitors}, per item: page views {result['page views'] * 1e6:.0f} µs, "
              f"engagements {result['engagements'] * 1e6:.0f} µs "
              f"({result['engagements'] / result['page views']:.2f}×)")


if __name__ == "__main__":
    main()
