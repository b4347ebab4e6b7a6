"""What a site's goals cost the hit writer: a batch of page views and events stored with no goals,
with the five goals of ``bench/dashboard.py``, with 100 goals (the most a site may have), with
the five goals and three funnels (``tracking.summaries.funnels``: how far each visit went), and
with common values chosen (``tracking.summaries.segments``: the batch's pages, its event, its
entry and exit pages have rows of their own), without goals and with the five; and a batch that
continues the visits of one written before, without and with common values (its visits' exit
pages move between their rows).

    .venv/bin/python -m bench.goal_writer                       # SQLite and PostgreSQL
    .venv/bin/python -m bench.goal_writer --database sqlite --hits 5000 --rounds 7

A fresh database (SQLite file; PostgreSQL: a throw-away database created through
``TRACKING_TEST_POSTGRESQL``, as the tests do) with one site. Then, in one transaction rolled back
each time, ``--rounds`` times each way, alternating, one batch of ``--hits`` hits through
``Store.write_batch`` (what the writer does with a batch): 2,000 visitors' page views of the
demo's kind of paths (``/``, ``/pricing``, ``/blog/<n>/<m>``, ``/docs/<n>/<m>``) and one in ten a
``signup`` event with a plan and an amount. With goals, the hits that convert add their goal rows
in the same transaction (``tracking.summaries.goals``). Each figure is the fastest round, per hit.
"""

import argparse
import itertools
import json
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import sessionmaker

from tracking.conversions import create_funnel
from tracking.ingest.enrich import GeoLocator
from tracking.ingest.hit import parse
from tracking.ingest.pipeline import Pipeline
from tracking.ingest.sites import SiteInfo
from tracking.ingest.store import Store
from tracking.models import FunnelVisit, Goal, GoalStat, SegmentValue, get_engine

from .dashboard import FUNNEL_STEPS, GOALS

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
T0 = datetime(2026, 3, 10, 9, 0)


def hits(site_id: int, count: int, later: int = 0):
    """``later``: the same visitors' next hits, ``later`` seconds on, each on the next path."""
    pipeline = Pipeline(GeoLocator())
    info = SiteInfo(site_id, 1, "example.com", "UTC", True, True, True)
    paths = ("/", "/pricing", "/blog/{n}/{m}", "/docs/{n}/{m}", "/about")
    found = []
    for i in range(count):
        path = paths[(i + (1 if later else 0)) % len(paths)]
        fields = {"url": "https://example.com" + path.format(n=i % 7, m=i % 13)}
        if i % 10 == 9:
            fields.update(event="signup", props=json.dumps({"plan": "pro" if i % 20 == 19 else "free"}),
                          revenue=json.dumps({"amount": f"{i % 90 + 9}.90", "currency": "EUR"}))
        found.append(pipeline.process(info, parse(fields), ip=f"10.0.{i % 2000 // 256}.{i % 256}", user_agent=CHROME,
                                      dnt=False, gpc=False, now=T0 + timedelta(seconds=later, milliseconds=10 * i)))
    return found


#: The common values of the "common values" ways: every page of the batch, its event, its entry
#: and exit pages.
VALUES = [*((segment, path) for segment in ("page", "entry", "exit") for path in ("/", "/pricing", "/about")),
          ("event", "signup")]


def goal_sets(site_id: int) -> dict[str, tuple[list[dict], list[list[int]], list[tuple[str, str]]]]:
    """Each way to measure: the site's goals, its funnels (each its steps, as indexes into the
    goals) and its chosen common values. The ways named "continued" time a second batch that
    goes on with the first batch's visits (written before, untimed), each visit's exit page
    changing: with common values, most visits leave an exit page's rows for another's or none,
    their first batch's hits read back."""
    five = [dict(fields) for fields in GOALS.values()]
    hundred = five + [{"name": f"Page {n}", "kind": "page", "pattern": f"/section-{n}/*"} for n in range(60)] + [
        {"name": f"Event {n}", "kind": "event", "event": f"event-{n}"} for n in range(35)]
    # The dashboard benchmark's funnel (home, pricing, a page, the sign-up event) and two more.
    steps = [{"name": name, "kind": kind, "pattern": value if kind == "page" else "",
              "event": value if kind == "event" else ""} for name, kind, value in FUNNEL_STEPS]
    funnels = [[5, 6, 7, 8], [6, 3], [0, 1, 2, 8, 4]]
    return {"no goals": ([], [], []), "5 goals": (five, [], []), "100 goals": (hundred, [], []),
            "5 goals, 3 funnels": (five + steps, funnels, []), "common values": ([], [], VALUES),
            "5 goals, common values": (five, [], VALUES), "continued": ([], [], []),
            "continued, common values": ([], [], VALUES)}


def measure(url: str, count: int, rounds: int) -> dict[str, float]:
    from tests.servers import seed_site

    engine = get_engine({"sqlalchemy.url": url})
    try:
        _, site_id = seed_site(engine)
        sessions = sessionmaker(engine)
        store = Store(sessions)
        batch = hits(site_id, count)
        later = hits(site_id, count, later=600)
        sets = goal_sets(site_id)
        best = dict.fromkeys(sets, float("inf"))
        for _, name in itertools.product(range(rounds), sets):
            with sessions() as session:
                session.begin()
                session.execute(delete(Goal).where(Goal.site_id == site_id))
                goals, funnels, values = sets[name]
                session.add_all(SegmentValue(site_id=site_id, segment=segment, value=value) for segment, value in values)
                made = [Goal(site_id=site_id, **fields) for fields in goals]
                session.add_all(made)
                session.flush()
                for n, indexes in enumerate(funnels):
                    create_funnel(session, site_id, f"Funnel {n}", [made[i].id for i in indexes])
                continued = name.startswith("continued")
                if continued:
                    store.write_batch(session, batch)
                    session.flush()
                started = time.perf_counter()
                store.write_batch(session, later if continued else batch)
                session.flush()
                best[name] = min(best[name], time.perf_counter() - started)
                rows = session.scalar(select(func.count()).select_from(GoalStat))
                assert (rows > 0) == bool(goals), (name, rows)
                walked = session.scalar(select(func.count()).select_from(FunnelVisit))
                assert (walked > 0) == bool(funnels), (name, walked)
                session.rollback()
        return {name: seconds / count for name, seconds in best.items()}
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--hits", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    from tests.postgresql import throwaway_database
    from tests.support import migrate

    for database in ("sqlite", "postgresql") if args.database == "both" else (args.database,):
        with ExitStack() as stack:
            if database == "postgresql":
                url = stack.enter_context(throwaway_database("tracking_bench_goal_writer"))
            else:
                url = f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/bench.sqlite"
            migrate(url)
            result = measure(url, args.hits, args.rounds)
        base = result["no goals"]
        print(f"{database}: a batch of {args.hits} hits, per hit: "
              + ", ".join(f"{name} {seconds * 1e6:.1f} µs ({seconds / base:.2f}×)" for name, seconds in result.items()))


if __name__ == "__main__":
    main()
