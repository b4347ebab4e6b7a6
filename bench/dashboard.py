"""Dashboard benchmark: full dashboard pages of a big site, served by ``pserve production.ini``.

For each database (SQLite, PostgreSQL):

1. a fresh database, migrated with ``alembic -c production.ini upgrade head``, one user and one
   site (``tests/servers.py``), filled by ``tracking-demo``'s generator (default: 1,000,000
   hits on SQLite, 10,000,000 on PostgreSQL, over 365 days ending today); the seed rate and
   the rebuild of the summary tables are timed and reported. PostgreSQL's raw tables are then
   ``VACUUM ANALYZE``d, as autovacuum would have done on a live server (the visibility map
   decides whether index-only scans are possible);
2. ``pserve production.ini`` (``tests/servers.py``), and the owner logs in through the real
   form (CSRF token from ``GET /login``, session cookie kept);
3. each scenario (``SCENARIOS``): 2 warm-up requests, then ``--requests`` timed requests, one at
   a time on one keep-alive connection, from sending the request to the last byte of the
   body; p50 and p95 (nearest rank) are printed;
4. every response must be a ``200`` showing the numbers the reports compute directly from the
   database (the headline visitors of a dashboard, the top row of a panel), and more than zero.

``--keep DIR`` keeps the seeded databases (an SQLite file in DIR; a PostgreSQL database named
after the dataset and DIR) and a note of them in DIR, so that a rerun with the same ``--hits`` and
``--days`` skips the seeding (a kept database is migrated to the code's schema first, and the
jobs its migrations queued are run, as the hit writer would). ``--profile`` then times each report call of each scenario and
its SQL statements, calling the reports directly as the views do, and shows the plan of the
slowest statement (``EXPLAIN ANALYZE`` on PostgreSQL, ``EXPLAIN QUERY PLAN`` on SQLite).

Exit status: 1 when a response is wrong (or a server failed), 0 otherwise; missed speed targets
are reported, not fatal. ``.venv/bin/python -m bench.dashboard --help`` lists the options.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
INI = ROOT / "production.ini"

# Pyramid (imported with the models and reports) still imports pkg_resources.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")

import psycopg
from sqlalchemy import delete, event, text, update
from sqlalchemy.orm import Session, sessionmaker

from tests.postgresql import ADMIN_URL, throwaway_database
from tests.servers import Server, seed_site
from tracking.conversions import create_funnel, site_funnels, summarized
from tracking.goals import resolve_filters, site_goals, spec
from tracking.models import Funnel, Goal, Site, User, get_engine
from tracking.models.accounts import password_context
from tracking.models.types import utcnow
from tracking.reports import api
from tracking.reports.funnels import FunnelReport
from tracking.reports.funnels import funnel as funnel_report
from tracking.reports.goals import goal_rows
from tracking.reports.periods import period_from
from tracking.reports.query import DETAILS, SiteRef, StatsQuery, filters_from
from tracking.scripts.demo import ProgressBar, generate
from tracking.summaries.goals import rebuild_goals
from tracking.summaries.jobs import queue_values, run_due
from tracking.templating import number
from tracking.timezones import today
from tracking.views.dashboard import GROUPS, MORE_LIMIT

PASSWORD = "dashboard-bench-password"
DEFAULT_HITS = {"sqlite": 1_000_000, "postgresql": 10_000_000}
WARMUP = 2


@dataclass(frozen=True)
class Scenario:
    name: str
    #: ``""`` for the dashboard, ``"panel"`` for a panel's full list, ``"funnels"`` for a funnel's page
    view: str
    params: dict[str, str]
    #: p50 targets in milliseconds, by database
    targets: dict[str, float]
    #: The site has :data:`GOALS` while this scenario runs (without, it has none); a value
    #: ``{name}`` in ``params`` is the id of that goal.
    goals: bool = False

    def resolved(self, ids: dict[str, int]) -> dict[str, str]:
        """``params`` with each ``{goal name}`` replaced by that goal's id."""
        return {key: value.format(**ids) if "{" in value else value for key, value in self.params.items()}


#: One value of each filter kind, as the demo generator makes them (``tracking-demo``): for
#: most, its most common value (the filter that keeps the most rows).
FILTERS = (
    ("source", "search"),
    ("referrer", "google.com"),
    ("utm_source", "newsletter"),
    ("utm_medium", "email"),
    ("utm_campaign", "brand"),
    ("country", "DE"),
    ("region", "California"),
    ("city", "Berlin"),
    ("browser", "Chrome"),
    ("os", "Windows"),
    ("device", "mobile"),
    ("entry", "/"),
    ("exit", "/"),
    ("page", "/"),
    ("event", "signup"),
)
#: p50 targets (ms) of the goal: unfiltered; one filter over 30 days, over 12 months; two
#: filters; a panel's full list under a filter.
UNFILTERED_30D = {"postgresql": 100.0, "sqlite": 150.0}
UNFILTERED_12MO = {"postgresql": 250.0}
ONE_FILTER_30D = {"postgresql": 300.0, "sqlite": 300.0}
ONE_FILTER_12MO = {"postgresql": 1000.0}
TWO_FILTERS_30D = {"postgresql": 500.0, "sqlite": 500.0}
DETAILS_FILTERED = {"postgresql": 300.0, "sqlite": 300.0}
#: A funnel's page (``/sites/<id>/funnels``, its report over the raw rows).
FUNNEL_30D = {"postgresql": 500.0, "sqlite": 500.0}
FUNNEL_12MO = {"postgresql": 1500.0, "sqlite": 1500.0}
#: The benchmark's funnel, on the demo generator's pages and events: home, pricing, the sign-up
#: page, the sign-up event (``set_funnel`` gives the site its goals and itself).
FUNNEL_STEPS = (("Home", "page", "/"), ("Pricing", "page", "/pricing"), ("Sign-up page", "page", "/signup"),
                ("Sign-up", "event", "signup"))

#: The goals of the goal scenarios, one of each kind, as the demo's traffic has them: a wildcard
#: page, pages across segments, an exact page, an event, an event with a property.
GOALS = {
    "blog": {"name": "Blog post", "kind": "page", "pattern": "/blog/*/*"},
    "docs": {"name": "Docs", "kind": "page", "pattern": "/docs/**"},
    "pricing": {"name": "Pricing", "kind": "page", "pattern": "/pricing"},
    "signup": {"name": "Sign-up", "kind": "event", "event": "signup"},
    "pro": {"name": "Pro sign-up", "kind": "event", "event": "signup", "prop_key": "plan", "prop_value": "pro"},
}
#: p50 targets (ms): the goals panel's added cost is its scenario's p50 minus "30 days"' (< 50 ms).
GOALS_30D = {"postgresql": UNFILTERED_30D["postgresql"] + 50.0, "sqlite": UNFILTERED_30D["sqlite"] + 50.0}
#: A goal filter: a single filter like any (< 300 ms over 30 days, < 1 s over 12 months), under
#: the conversion targets (< 500 ms, < 1.5 s).
GOAL_FILTER_30D = ONE_FILTER_30D
GOAL_FILTER_12MO = ONE_FILTER_12MO

SCENARIOS = (
    Scenario("30 days", "", {"period": "30d"}, UNFILTERED_30D),
    Scenario("30 days, goals panel", "", {"period": "30d"}, GOALS_30D, goals=True),
    Scenario("30 days, goal=Sign-up", "", {"period": "30d", "goal": "{signup}"}, GOAL_FILTER_30D, goals=True),
    Scenario("30 days, goal=Blog post", "", {"period": "30d", "goal": "{blog}"}, GOAL_FILTER_30D, goals=True),
    Scenario("30 days, goal=Pro sign-up", "", {"period": "30d", "goal": "{pro}"}, GOAL_FILTER_30D, goals=True),
    Scenario("12 months, goal=Sign-up", "", {"period": "12mo", "goal": "{signup}"}, GOAL_FILTER_12MO, goals=True),
    Scenario("12 months, goal=Docs", "", {"period": "12mo", "goal": "{docs}"}, GOAL_FILTER_12MO, goals=True),
    Scenario("12 months", "", {"period": "12mo"}, UNFILTERED_12MO),
    *(Scenario(f"30 days, {dim}={value}", "", {"period": "30d", dim: value}, ONE_FILTER_30D) for dim, value in FILTERS),
    *(Scenario(f"12 months, {dim}={value}", "", {"period": "12mo", dim: value}, ONE_FILTER_12MO)
      for dim, value in FILTERS),
    Scenario("30 days, country=DE, browser=Chrome", "", {"period": "30d", "country": "DE", "browser": "Chrome"},
             TWO_FILTERS_30D),
    Scenario("30 days, page=/, device=mobile", "", {"period": "30d", "page": "/", "device": "mobile"},
             TWO_FILTERS_30D),
    Scenario("30 days, event=signup, source=search", "", {"period": "30d", "event": "signup", "source": "search"},
             TWO_FILTERS_30D),
    Scenario("panel: pages, 30 days", "panel", {"dim": "page", "period": "30d"}, {}),
    Scenario("panel: pages, 30 days, country=DE", "panel", {"dim": "page", "period": "30d", "country": "DE"},
             DETAILS_FILTERED),
    Scenario("panel: countries, 30 days, page=/", "panel", {"dim": "country", "period": "30d", "page": "/"},
             DETAILS_FILTERED),
    Scenario("panel: events, 30 days, browser=Chrome", "panel",
             {"dim": "event", "period": "30d", "browser": "Chrome"}, DETAILS_FILTERED),
    Scenario("funnel 30d", "funnels", {"period": "30d"}, FUNNEL_30D),
    Scenario("funnel 12mo", "funnels", {"period": "12mo"}, FUNNEL_12MO),
)


@dataclass
class Dataset:
    """A seeded database: where it is, its site, and how long the seeding took."""

    url: str
    site_id: int
    email: str
    hits: int
    days: int
    seeded_on: str
    seed_seconds: float
    rebuild_seconds: float
    #: The part of ``seed_seconds`` spent building indexes and keys and updating statistics.
    index_seconds: float = 0.0
    #: The site's (``seed_site`` makes it in UTC).
    timezone: str = "UTC"

    @property
    def seed_rate(self) -> float:
        return self.hits / self.seed_seconds if self.seed_seconds else 0.0


# -- the dataset ---------------------------------------------------------------------------


def migrate(url: str) -> None:
    """``alembic -c production.ini upgrade head``, as an admin does."""
    env = {**os.environ, "TRACKING_DATABASE_URL": url}
    subprocess.run([str(BIN / "alembic"), "-c", str(INI), "upgrade", "head"], env=env, check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_jobs(url: str) -> None:
    """The jobs a migration queued (a rebuild that counts new summaries) and the choice of the
    site's common values (``values``, which the hit writer queues when it starts and then daily),
    run as the hit writer would before the pages are timed."""
    engine = get_engine({"sqlalchemy.url": url})
    try:
        started = time.perf_counter()
        ran = 0
        queue_values(sessionmaker(engine), utcnow())
        while run_due(sessionmaker(engine)):
            ran += 1
        if ran:
            print(f"  ran {ran} job(s) (the migrations', the common values') in {time.perf_counter() - started:.1f} s",
                  flush=True)
    finally:
        engine.dispose()


def seed(url: str, hits: int, days: int) -> Dataset:
    """Migrate, create the owner (with a known password) and the site, fill it, vacuum it."""
    migrate(url)
    engine = get_engine({"sqlalchemy.url": url})
    user_id, site_id = seed_site(engine)
    with Session(engine) as session, session.begin():
        session.execute(update(User).where(User.id == user_id).values(password_hash=password_context.hash(PASSWORD)))
        email = session.get(User, user_id).email
        print(f"  seeding {hits:,} hits over {days} days", flush=True)
        result = generate(session, site_id, hits, days, seed=1, progress=ProgressBar(hits))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE hits, visits, daily_stats, hourly_stats"))
    engine.dispose()
    run_jobs(url)
    return Dataset(url, site_id, email, hits, days, date.today().isoformat(), result.load_seconds,
                   result.rebuild_seconds, result.index_seconds)


def kept_postgresql_url(name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(ADMIN_URL)
    return "postgresql+psycopg://{user}@{host}:{port}/{name}".format(
        user=info.get("user", "postgres"), host=info.get("host", "127.0.0.1"), port=info.get("port", 5432), name=name
    )


@contextlib.contextmanager
def dataset(database: str, hits: int, days: int, keep: Path | None) -> Iterator[Dataset]:
    """The seeded database: made for this run (and dropped), or kept in ``keep`` between runs."""
    if keep is None:
        if database == "postgresql":
            with throwaway_database("tracking_bench_dashboard") as url:
                yield seed(url, hits, days)
        else:
            with tempfile.TemporaryDirectory() as workdir:
                yield seed(f"sqlite:///{workdir}/dashboard.sqlite", hits, days)
        return
    keep = keep.resolve()
    keep.mkdir(parents=True, exist_ok=True)
    name = f"dashboard_{database}_{hits}_{days}"
    # One PostgreSQL server, several checkouts: each keep directory has its own database.
    database_name = f"tracking_bench_{name}_{hashlib.sha256(str(keep).encode()).hexdigest()[:8]}"
    note = keep / f"{name}.json"
    if note.exists():
        noted = json.loads(note.read_text())
        if "visits" in noted:  # a note written when hits were called visits
            noted["hits"] = noted.pop("visits")
        kept = Dataset(**noted)
        print(f"  reusing the database seeded on {kept.seeded_on} ({note})", flush=True)
        migrate(kept.url)
        run_jobs(kept.url)
        yield kept
        return
    if database == "postgresql":
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{database_name}"')
        url = kept_postgresql_url(database_name)
    else:
        path = keep / f"{name}.sqlite"
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    seeded = seed(url, hits, days)
    note.write_text(json.dumps(seeded.__dict__, indent=2))
    yield seeded


def set_funnel(url: str, site_id: int) -> int:
    """Give the site the benchmark's funnel (:data:`FUNNEL_STEPS`) as its only funnel, with its
    goals; its id. A funnel already counted for these steps is kept; a new one is counted at
    once, as the writer's ``goals`` job would (its time is printed)."""
    engine = get_engine({"sqlalchemy.url": url})
    try:
        with Session(engine) as session, session.begin():
            by_id = {goal.id: goal for goal in site_goals(session, site_id)}
            funnels = site_funnels(session, site_id)
            if len(funnels) == 1 and [
                (by_id[i].name, by_id[i].kind, by_id[i].pattern or by_id[i].event) for i in funnels[0].goal_ids
            ] == list(FUNNEL_STEPS) and summarized(funnels[0], [spec(by_id[i]) for i in funnels[0].goal_ids]):
                return funnels[0].id
            session.execute(delete(Funnel).where(Funnel.site_id == site_id))
            session.execute(delete(Goal).where(Goal.site_id == site_id, Goal.name.in_([n for n, _, _ in FUNNEL_STEPS])))
            goals = [Goal(site_id=site_id, name=name, kind=kind, pattern=value if kind == "page" else "",
                          event=value if kind == "event" else "") for name, kind, value in FUNNEL_STEPS]
            session.add_all(goals)
            session.flush()
            funnel = create_funnel(session, site_id, "Sign-up", [goal.id for goal in goals])
            started = time.perf_counter()
            rebuild_goals(session, site_id)
            print(f"  goals' and funnel's rows counted in {time.perf_counter() - started:.1f} s (the goals job)",
                  flush=True)
            return funnel.id
    finally:
        engine.dispose()


def funnel_of(session: Session, site: Site, period) -> FunnelReport:
    """The report of the site's first funnel (the one its page shows) over ``period``."""
    funnel = site_funnels(session, site.id)[0]
    by_id = {goal.id: spec(goal) for goal in site_goals(session, site.id)}
    steps = [by_id[i] for i in funnel.goal_ids]
    return funnel_report(session, SiteRef.of(site), period, (), steps, summarized(funnel, steps))


# -- HTTP ----------------------------------------------------------------------------------


class Browser:
    """One keep-alive connection and the session cookie, like one person's browser tab.

    production.ini marks the session cookie ``Secure``; the benchmark talks plain HTTP to
    127.0.0.1, so it sends the cookie back itself instead of using a cookie jar.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.cookie = ""

    def request(self, method: str, path: str, body: dict[str, str] | None = None) -> tuple[int, str, float]:
        """(status, body, seconds from sending the request to the last byte of the answer)."""
        headers = {"Cookie": self.cookie} if self.cookie else {}
        data = None
        if body is not None:
            data = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        self.connection.request(method, path, body=data, headers=headers)
        response = self.connection.getresponse()
        content = response.read()
        elapsed = time.perf_counter() - started
        for header, value in response.getheaders():
            if header.lower() == "set-cookie" and value.startswith("tracking_session="):
                self.cookie = value.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
        return response.status, content.decode(), elapsed

    def log_in(self, email: str) -> None:
        status, page, _ = self.request("GET", "/login")
        form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
        form.update(email=email, password=PASSWORD, submit="submit")
        status, _, _ = self.request("POST", "/login", form)
        if status != 303:
            raise RuntimeError(f"log-in failed with status {status}")


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


HEADLINE_VISITORS = re.compile(r'id="metric-visitors"[^>]*>.*?class="[^"]*metric-value">([^<]+)<', re.S)
FIRST_NUMBER_CELL = re.compile(r'<tbody>.*?<td class="table-num">([^<]+)</td>', re.S)


def set_goals(data: Dataset, wanted: bool) -> dict[str, int]:
    """Give the site :data:`GOALS` (or none): their ids by name. The goals it has are kept when
    they are these, counted; new goals' summary rows are counted at once, as the writer's
    ``goals`` job would (its time is printed)."""
    engine = get_engine({"sqlalchemy.url": data.url})
    try:
        with Session(engine) as session, session.begin():
            kept = {goal.name: goal for goal in site_goals(session, data.site_id)}
            if wanted and sorted(kept) == sorted(fields["name"] for fields in GOALS.values()) and all(
                spec(kept[fields["name"]]).summarized
                and all(getattr(kept[fields["name"]], key) == value for key, value in fields.items())
                for fields in GOALS.values()
            ):
                return {name: kept[fields["name"]].id for name, fields in GOALS.items()}
            session.execute(delete(Goal).where(Goal.site_id == data.site_id))
            if not wanted:
                return {}
            made = {name: Goal(site_id=data.site_id, **fields) for name, fields in GOALS.items()}
            session.add_all(made.values())
            session.flush()
            started = time.perf_counter()
            rebuild_goals(session, data.site_id)
            print(f"  goals' summary rows counted in {time.perf_counter() - started:.1f} s (the goals job)", flush=True)
            return {name: goal.id for name, goal in made.items()}
    finally:
        engine.dispose()


def expected_text(data: Dataset, scenario: Scenario, day: date, params: dict[str, str]) -> str:
    """What the page must show on ``day``, computed by the reports straight from the database."""
    engine = get_engine({"sqlalchemy.url": data.url})
    try:
        with Session(engine) as session:
            site = session.get(Site, data.site_id)
            query = StatsQuery(SiteRef.of(site), period_from(params, day),
                               resolve_filters(session, site.id, filters_from(params)))
            if scenario.view == "funnels":
                value = funnel_of(session, site, query.period).steps[0].visitors
            elif scenario.view == "panel":
                dim = scenario.params["dim"]
                rows = api.breakdown(session, StatsQuery(query.site, query.period, query.filters, (dim,),
                                                         DETAILS[dim], limit=MORE_LIMIT)).rows
                value = getattr(rows[0], DETAILS[dim][0]) if rows else 0  # the list's first column
            else:
                value = api.aggregate(session, query).totals.visitors
    finally:
        engine.dispose()
    if not value:
        raise RuntimeError(f"{scenario.name}: the reports find nothing to show")
    return number(value)


FUNNEL_FIRST_STEP = re.compile(r'id="funnel-steps".*?<tbody>.*?<td class="table-num">([^<]+)</td>', re.S)


def shown_text(scenario: Scenario, page: str) -> str:
    shown = {"panel": FIRST_NUMBER_CELL, "funnels": FUNNEL_FIRST_STEP}.get(scenario.view, HEADLINE_VISITORS)
    match = shown.search(page)
    return match.group(1).strip() if match else "(not found)"


def measure(data: Dataset, database: str, requests: int, workdir: Path,
            scenarios: tuple[Scenario, ...] = SCENARIOS, warmup: int = WARMUP) -> list[tuple[Scenario, float, float, bool]]:
    """Serve the dataset with pserve and time each scenario; (scenario, p50 ms, p95 ms, right answer)."""
    results = []
    # PYTHONPATH passes on to the server (to time another checkout's code on the same data).
    passed = {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}
    server = Server("production.ini", data.url, workdir, env=passed)
    # A loaded machine may take long to answer the first page (templates compile).
    server.start(timeout=300)
    try:
        browser = Browser(server.port)
        browser.log_in(data.email)
        for scenario in scenarios:
            if scenario.view == "funnels":
                set_funnel(data.url, data.site_id)
                params = scenario.params
            else:
                params = scenario.resolved(set_goals(data, scenario.goals))
            browser.connection.close()  # the server may have closed it while the goals were set
            path = f"/sites/{data.site_id}/{scenario.view}?{urlencode(params)}"
            # The periods end today: past midnight (the site's), the page shows another period.
            expectations: dict[date, str] = {}
            timings = []
            right = True
            for attempt in range(warmup + requests):
                before = today(data.timezone)
                status, page, seconds = browser.request("GET", path)
                days = {before, today(data.timezone)}
                try:
                    for day in days - expectations.keys():
                        expectations[day] = expected_text(data, scenario, day, params)
                except RuntimeError as exc:
                    print(f"  WRONG {exc}")
                    right = False
                    break
                expected = expectations[max(days)]
                shown = shown_text(scenario, page)
                if status != 200 or shown not in {expectations[day] for day in days}:
                    print(f"  WRONG {scenario.name}: status {status}, shows {shown!r}, expected {expected!r}")
                    right = False
                    break
                if attempt >= warmup:
                    timings.append(seconds * 1000)
            if not timings:
                results.append((scenario, math.nan, math.nan, right))
                continue
            p50, p95 = percentile(timings, 0.5), percentile(timings, 0.95)
            target = scenario.targets.get(database)
            verdict = "" if target is None else (f"  target < {target:.0f} ms: " + ("met" if p50 < target else "MISSED"))
            print(f"  {scenario.name:40s} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   (visitors/top row {expected}, "
                  f"load {os.getloadavg()[0]:.1f}){verdict}", flush=True)
            results.append((scenario, p50, p95, right))

    finally:
        server.stop()
    return results


# -- profile -------------------------------------------------------------------------------


def dashboard_queries(session: Session, site: Site, scenario: Scenario, call: Callable[[str], None],
                      params: dict[str, str] | None = None) -> None:
    """The report calls the view of ``scenario`` makes, in its order (see tracking.views.dashboard);
    ``call(name)`` is told before each."""
    params = scenario.params if params is None else params
    where = SiteRef.of(site)
    period = period_from(params, today(site.timezone))
    filters = resolve_filters(session, site.id, filters_from(params))
    if scenario.view == "funnels":
        call("funnel (the site's first)")
        funnel_of(session, site, period)
        return
    if scenario.view == "panel":
        dim = scenario.params["dim"]
        call(f"panel {dim} (full list)")
        api.breakdown(session, StatsQuery(where, period, filters, (dim,), DETAILS[dim], limit=MORE_LIMIT))
        return
    query = StatsQuery(where, period, filters, tuple(dim for _, dims in GROUPS for dim in dims), compare=True)
    call("overview: totals, chart and panels of both periods, bot hits, has data")
    api.overview(session, query)
    call("realtime")
    api.realtime(session, query, utcnow())
    goals = [spec(goal) for goal in site_goals(session, site.id)]
    if goals:
        call("goals panel, both periods")
        totals = api.aggregate(session, query)
        goal_rows(session, query, goals, totals.totals.visitors, totals.previous.visitors if totals.previous else 0)


@dataclass
class Call:
    """One report call: its time (SQL, fetching and Python) and the statements it ran."""

    name: str
    seconds: float = 0.0
    statements: list[tuple[float, str, object]] = field(default_factory=list)


#: ``--profile`` lists each statement of a slow call that took at least this long (seconds).
SLOW_STATEMENT = 0.010


def profile(data: Dataset, top: int = 6, scenarios: tuple[Scenario, ...] = SCENARIOS) -> None:
    """Time every report call of each scenario with its statements; show the slowest's plan.

    A statement's time is from sending it to the driver's first answer (PostgreSQL sends all
    rows by then; SQLite computes them as they are fetched, so there a call's time is the
    figure to read).
    """
    engine = get_engine({"sqlalchemy.url": data.url})
    calls: list[Call] = []

    @event.listens_for(engine, "before_cursor_execute")
    def started(conn, cursor, statement, parameters, context, executemany):
        conn.info["started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def finished(conn, cursor, statement, parameters, context, executemany):
        if calls:
            calls[-1].statements.append((time.perf_counter() - conn.info["started"], statement, parameters))

    postgresql = engine.dialect.name == "postgresql"
    for scenario in scenarios:
        if scenario.view == "funnels":
            set_funnel(data.url, data.site_id)
            params = scenario.params
        else:
            params = scenario.resolved(set_goals(data, scenario.goals))
        with Session(engine) as session:
            site = session.get(Site, data.site_id)
            dashboard_queries(session, site, scenario, lambda name: None, params)  # warm the caches
            calls.clear()
            clock = {"last": time.perf_counter()}

            def call(name: str, clock: dict[str, float] = clock) -> None:  # this round's clock
                now = time.perf_counter()
                if calls:
                    calls[-1].seconds = now - clock["last"]
                clock["last"] = now
                calls.append(Call(name))

            dashboard_queries(session, site, scenario, call, params)
            calls[-1].seconds = time.perf_counter() - clock["last"]
            total = sum(c.seconds for c in calls)
            sql = sum(seconds for c in calls for seconds, *_ in c.statements)
            print(f"\n### {scenario.name}: {len(calls)} report calls, "
                  f"{sum(len(c.statements) for c in calls)} statements, {total * 1000:.0f} ms "
                  f"({sql * 1000:.0f} ms until the statements' first answers)")
            slowest = sorted(calls, key=lambda c: c.seconds, reverse=True)[:top]
            for c in slowest:
                statement = max(c.statements, key=lambda item: item[0])[1] if c.statements else ""
                print(f"  {c.seconds * 1000:8.1f} ms  {c.name:26s} {len(c.statements)} statement(s): "
                      f"{' '.join(statement.split())[:140]}")
                for seconds, each, _ in c.statements:
                    if seconds >= SLOW_STATEMENT:
                        print(f"      {seconds * 1000:8.1f} ms  {' '.join(each.split())[:150]}")
            _, statement, parameters = max(slowest[0].statements, key=lambda item: item[0])
            explain = "EXPLAIN (ANALYZE, BUFFERS) " if postgresql else "EXPLAIN QUERY PLAN "
            print(f"  plan of the slowest statement of {slowest[0].name}:")
            for row in session.connection().exec_driver_sql(explain + statement, parameters):
                print("    " + " | ".join(str(value) for value in row))
    engine.dispose()


# -- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time full dashboard pages of a big site.")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--hits", type=int, help="hits to seed (default: 1,000,000 on SQLite, 10,000,000 on PostgreSQL)")
    parser.add_argument("--days", type=int, default=365, help="over this many days, ending today")
    parser.add_argument("--requests", type=int, default=10, help="timed requests per scenario, after the warm-up ones")
    parser.add_argument("--warmup", type=int, default=WARMUP, help=f"warm-up requests per scenario (default {WARMUP})")
    parser.add_argument("--keep", type=Path, help="keep the seeded databases (and a note of them) in this directory")
    parser.add_argument("--profile", action="store_true", help="time each SQL statement of each scenario and show plans")
    parser.add_argument("--only", metavar="REGEX", help="only the scenarios whose name matches (re.search)")
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    databases = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    print(f"dashboard benchmark: {os.cpu_count()} cores ({cpu}), {date.today().isoformat()}")
    scenarios = tuple(s for s in SCENARIOS if not args.only or re.search(args.only, s.name))
    ok = True
    for database in databases:
        hits = args.hits or DEFAULT_HITS[database]
        print(f"\n== {database}: {hits:,} hits over {args.days} days ==", flush=True)
        with dataset(database, hits, args.days, args.keep) as data, tempfile.TemporaryDirectory() as workdir:
            print(f"  seeded at {data.seed_rate:,.0f} hits/s ({data.seed_seconds:.1f} s, of which indexes and "
                  f"statistics {data.index_seconds:.1f} s), summaries rebuilt in {data.rebuild_seconds:.1f} s", flush=True)
            load = os.getloadavg()[0]
            try:
                results = measure(data, database, args.requests, Path(workdir), scenarios, args.warmup)
            except RuntimeError as exc:
                print(f"  FAILED: {exc}")
                ok = False
                continue
            ok = ok and all(right for *_, right in results)
            verdicts = [p50 < s.targets[database] for s, p50, _, _ in results if database in s.targets]
            print(f"  targets met: {sum(verdicts)} of {len(verdicts)}; load average {os.getloadavg()[0]:.2f} "
                  f"(at start {load:.2f})", flush=True)
            if args.profile:
                profile(data, scenarios=scenarios)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
