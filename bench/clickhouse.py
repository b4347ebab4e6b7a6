"""The raw rows on a column store: one filtered report query translated to ClickHouse and timed
on ``chdb`` (ClickHouse in-process), beside the same query on PostgreSQL.

Copies ``visits`` and ``hits`` of a PostgreSQL database (the dashboard benchmark's kept one:
``bench/dashboard.py --keep``: its name is in the note the benchmark keeps) into chdb ``MergeTree`` tables ordered by (site, day / time),
through ClickHouse's ``postgresql()`` table function, then times the visit pass of a filtered
dashboard — totals, the chart's visitors and every visit panel in one ``GROUPING SETS``
statement, as ``tracking.reports.raw_runner`` sends it to PostgreSQL — on both engines:
``--repeat`` runs each, median. ``chdb`` is a benchmark-only dependency (``pip install chdb``).

    .venv/bin/python -m bench.clickhouse --database tracking_bench_... --filter browser=Chrome --days 30
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import psycopg

DIMS = ("entry_path", "exit_path", "source", "ref_host", "utm_source", "utm_medium", "utm_campaign", "country",
        "region", "city", "browser", "os", "device")
VISIT_COLUMNS = ("id", "site_id", "visitor", "started_at", "day", "is_first", "pageviews", "events", "duration",
                 *DIMS, "pages", "event_names")


def visit_pass(filter_sql: str, start: str, end: str) -> str:
    """The visit pass of a filtered dashboard (the SQL is the same on both engines)."""
    sets = ", ".join(["()", "(day)", *(f"({dim})" for dim in DIMS)])
    return (
        f"SELECT day, {', '.join(DIMS)}, sum(CASE WHEN is_first THEN 1 ELSE 0 END) AS visitors, count(*) AS visits,"
        " sum(pageviews), sum(CASE WHEN pageviews <= 1 AND events = 0 THEN 1 ELSE 0 END), sum(duration), sum(events)"
        f" FROM visits WHERE site_id = 1 AND day >= '{start}' AND day < '{end}' AND {filter_sql}"
        f" GROUP BY GROUPING SETS ({sets})"
    )


def timed(run, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="a PostgreSQL database of the dashboard benchmark")
    parser.add_argument("--dsn", default="host=127.0.0.1 port=5432 user=postgres")
    parser.add_argument("--filter", default="browser=Chrome", help="column=value of visits")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--with-hits", action="store_true", help="copy the hits too (for their size on disk)")
    args = parser.parse_args()
    from chdb import session  # a benchmark-only dependency

    column, value = args.filter.split("=", 1)
    with psycopg.connect(f"{args.dsn} dbname={args.database}") as pg:
        end = pg.execute("SELECT max(day) + 1 FROM visits").fetchone()[0]
        start = pg.execute(f"SELECT date '{end}' - {args.days}").fetchone()[0]
        hits, visits = (pg.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("hits", "visits"))
        statement = visit_pass(f"{column} = '{value}'", str(start), str(end))
        pg.execute("SET jit = off")
        pg.execute("SET work_mem = '32MB'")
        pg_ms = timed(lambda: pg.execute(statement).fetchall(), args.repeat)
        pg_load = os.getloadavg()[0]

    with tempfile.TemporaryDirectory() as path:
        ch = session.Session(path)
        source = f"postgresql('127.0.0.1:5432', '{args.database}', '{{}}', 'postgres', '')"
        started = time.perf_counter()
        ch.query(
            "CREATE TABLE visits ENGINE = MergeTree ORDER BY (site_id, day, id) AS SELECT "
            + ", ".join(VISIT_COLUMNS) + " FROM " + source.format("visits")
        )
        if args.with_hits:  # not read by the query timed: for the storage figure
            ch.query(
                "CREATE TABLE hits ENGINE = MergeTree ORDER BY (site_id, ts) AS SELECT site_id, ts, day, visit_id,"
                " visitor, is_first, event, path, props FROM " + source.format("hits")
            )
        copied = time.perf_counter() - started
        sizes = ch.query("SELECT table, sum(bytes_on_disk) FROM system.parts WHERE active GROUP BY table", "CSV")
        ch_ms = timed(lambda: ch.query(statement, "CSV"), args.repeat)
        ch_load = os.getloadavg()[0]
        ch_rows = len(str(ch.query(statement, "CSV")).strip().splitlines())
        ch.close()
    print(f"{hits:,} hits, {visits:,} visits; filter {args.filter}, {args.days} days ({start} to {end})")
    print(f"copied into chdb in {copied:.1f} s; on disk (bytes): {' '.join(str(sizes).split())}")
    print(f"visit pass, median of {args.repeat}: PostgreSQL {pg_ms:.1f} ms (load {pg_load:.1f}), "
          f"chdb {ch_ms:.1f} ms (load {ch_load:.1f}), {ch_rows} rows")


if __name__ == "__main__":
    main()
