"""The hit writer's statements (``tracking.ingest.statements.Statement``) against SQLAlchemy's own
executemany, for one batch of hits.

    .venv/bin/python -m bench.statements                       # SQLite and PostgreSQL
    .venv/bin/python -m bench.statements --database sqlite --hits 2000 --rounds 15

A fresh database (SQLite file; PostgreSQL: a throw-away database created through
``TRACKING_TEST_POSTGRESQL``, as the tests do) with one site. The rows of ``--hits`` hits (as
the writer builds them: random pages, referrers, countries, properties), then their visits and
an update of those visits, are written in one transaction, rolled back, ``--rounds`` times each
way, alternating:

* **ours**: ``INSERT_HITS``, ``INSERT_VISITS``, ``UPDATE_VISITS`` (``Statement.executemany``);
* **SQLAlchemy**: ``connection.execute(table.insert(), [dict, ...])`` and
  ``connection.execute(update(...).where(id == bindparam(...)), [dict, ...])``, the library's
  public way (on PostgreSQL through psycopg's executemany, ``use_insertmanyvalues`` off as the
  application's engine has it).

Each figure is the fastest round, per hit.
"""

import argparse
import itertools
import random
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime, timedelta

from sqlalchemy import bindparam, update

from tracking.ingest.store import INSERT_HITS
from tracking.ingest.visits import INSERT_VISITS, UPDATE_VISITS
from tracking.models import Hit, Visit, get_engine


def rows_for(site_id: int, count: int, seed: int = 7):
    rnd = random.Random(seed)
    start = datetime(2026, 3, 1, 8)
    pages = [f"/blog/post-{n}" for n in range(200)]
    hits, visits, updates = [], [], []
    for i in range(count):
        ts = start + timedelta(seconds=i * 3, microseconds=rnd.randrange(10**6))
        values = {
            "site_id": site_id, "ts": ts, "day": ts.date(), "event": "pageview" if rnd.random() < 0.9 else "signup",
            "host": "example.com", "path": rnd.choice(pages), "query": "", "referrer": "https://www.google.com/",
            "ref_host": "www.google.com", "source": "search", "utm_source": "", "utm_medium": "", "utm_campaign": "",
            "utm_term": "", "utm_content": "", "country": rnd.choice(["DE", "FR", "US", ""]), "region": "", "city": "",
            "postal": "", "latitude": None, "longitude": None, "as_org": "DEUTSCHE TELEKOM AG", "browser": "Chrome",
            "browser_version": "131", "os": "Windows", "device": "desktop", "width": 1280, "bot": "",
            "ip": "203.0.113.0", "props": {"plan": "pro"} if i % 10 == 0 else None,
            "visitor": rnd.getrandbits(63), "visit_id": 10**15 + i // 3, "is_first": i % 3 == 0,
        }
        hits.append(tuple(values[name] for name in INSERT_HITS.columns))
        if i % 3 == 0:
            visit = {
                "id": 10**15 + i // 3, "site_id": site_id, "visitor": values["visitor"], "day": ts.date(),
                "is_first": True, "started_at": ts, "ended_at": ts, "pageviews": 1, "events": 0, "source": "search",
                "ref_host": "www.google.com", "utm_source": "", "utm_medium": "", "utm_campaign": "",
                "country": values["country"], "region": "", "city": "", "browser": "Chrome", "os": "Windows",
                "device": "desktop", "entry_path": values["path"], "exit_path": values["path"], "duration": 0,
            }
            visits.append(tuple(visit[name] for name in INSERT_VISITS.columns))
            updates.append((ts + timedelta(seconds=6), values["path"], 3, 0, 6, visit["id"]))
    return hits, visits, updates


def ours(connection, hits, visits, updates) -> None:
    INSERT_VISITS.executemany(connection, visits)
    UPDATE_VISITS.executemany(connection, updates)
    INSERT_HITS.executemany(connection, hits)


def sqlalchemys(connection, hits, visits, updates) -> None:
    visits_table = Visit.__table__
    connection.execute(visits_table.insert(), [dict(zip(INSERT_VISITS.columns, row, strict=True)) for row in visits])
    statement = update(visits_table).where(visits_table.c.id == bindparam("key")).values(
        {name: bindparam(name) for name in UPDATE_VISITS.columns}
    )
    connection.execute(
        statement, [{**dict(zip(UPDATE_VISITS.columns, row[:-1], strict=True)), "key": row[-1]} for row in updates]
    )
    connection.execute(Hit.__table__.insert(), [dict(zip(INSERT_HITS.columns, row, strict=True)) for row in hits])


def measure(url: str, count: int, rounds: int) -> dict[str, float]:
    from tests.servers import seed_site

    engine = get_engine({"sqlalchemy.url": url})
    try:
        _, site_id = seed_site(engine)
        batch = rows_for(site_id, count)
        best = {"ours": float("inf"), "SQLAlchemy": float("inf")}
        for _, (name, write) in itertools.product(range(rounds), (("ours", ours), ("SQLAlchemy", sqlalchemys))):
            with engine.connect() as connection:
                transaction = connection.begin()
                started = time.perf_counter()
                write(connection, *batch)
                best[name] = min(best[name], time.perf_counter() - started)
                transaction.rollback()
        return {name: seconds / count for name, seconds in best.items()}
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--hits", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    from tests.postgresql import throwaway_database
    from tests.support import migrate

    for database in ("sqlite", "postgresql") if args.database == "both" else (args.database,):
        with ExitStack() as stack:
            if database == "postgresql":
                url = stack.enter_context(throwaway_database("tracking_bench_statements"))
            else:
                url = f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/bench.sqlite"
            migrate(url)
            result = measure(url, args.hits, args.rounds)
        print(
            f"{database}: {args.hits} hits (+{len(range(0, args.hits, 3))} visits inserted and updated), per hit: "
            f"ours {result['ours'] * 1e6:.1f} µs, SQLAlchemy's executemany {result['SQLAlchemy'] * 1e6:.1f} µs "
            f"({result['SQLAlchemy'] / result['ours']:.1f}×)"
        )


if __name__ == "__main__":
    main()
