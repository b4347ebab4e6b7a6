"""The goals' summary rows: kept by the writer batch by batch, recounted by a job when a goal is
added or changed, and read by the goals panel without filters — always the numbers the raw rows
give, on both databases."""

import random
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.hits import make_hit, segment_summaries
from tests.reading import SiteReports
from tracking.conversions import delete_goal, goal_deletion
from tracking.goals import spec
from tracking.ingest.store import Store
from tracking.models import Goal, GoalPair, GoalPairVisitor, GoalRevenue, GoalStat, GoalVisit, GoalVisitor, Job
from tracking.reports.goals import goal_numbers, numbers, summarized_numbers
from tracking.reports.periods import Period
from tracking.reports.planner import plan, summarized_goal
from tracking.summaries import jobs
from tracking.summaries.dimensions import GOAL, HIT_DIMENSIONS, VISIT_DIMENSIONS
from tracking.summaries.goals import rebuild_goals

DAY = datetime(2026, 6, 3, 9, 0)

#: One goal of each kind, and revenue in a currency.
GOALS = {
    "blog": {"name": "Blog post", "kind": "page", "pattern": "/blog/*"},
    "docs": {"name": "Docs", "kind": "page", "pattern": "/docs/**"},
    "deep": {"name": "Deep", "kind": "page", "pattern": "/*/x/*"},
    "pricing": {"name": "Pricing", "kind": "page", "pattern": "/pricing"},
    "signup": {"name": "Sign-up", "kind": "event", "event": "Signup", "currency": "EUR"},
    "pro": {"name": "Pro", "kind": "event", "event": "Signup", "prop_key": "plan", "prop_value": "pro"},
}
PATHS = ("/", "/pricing", "/blog/a", "/blog/a/b", "/docs/", "/docs/x/y", "/blog/x/y", "/blog")


def goal_rows(dbsession, site_id: int) -> dict:
    """Every goal row of the site, as plain values (zero rows count as absent)."""
    dbsession.flush()
    stats = {(r.goal_id, r.day): (r.visitors, r.conversions)
             for r in dbsession.scalars(select(GoalStat).where(GoalStat.site_id == site_id)) if r.visitors or r.conversions}
    revenue = {(r.goal_id, r.day, r.currency): (r.high, r.low, r.count)
               for r in dbsession.scalars(select(GoalRevenue).where(GoalRevenue.site_id == site_id))}
    people = {(r.goal_id, r.day, r.visitor) for r in dbsession.scalars(select(GoalVisitor).where(GoalVisitor.site_id == site_id))}
    pairs = {(r.goal_id, r.day, r.paired_id): (r.visitors, r.conversions)
             for r in dbsession.scalars(select(GoalPair).where(GoalPair.site_id == site_id)) if r.visitors or r.conversions}
    paired = {(r.goal_id, r.paired_id, r.day, r.visitor)
              for r in dbsession.scalars(select(GoalPairVisitor).where(GoalPairVisitor.site_id == site_id))}
    return {"stats": stats, "revenue": revenue, "visitors": people, "pairs": pairs, "paired": paired}


def make_goals(dbsession, site) -> dict[str, Goal]:
    made = {key: Goal(site_id=site.id, **fields) for key, fields in GOALS.items()}
    dbsession.add_all(made.values())
    dbsession.flush()
    return made


def random_hits(site, rng: random.Random, count: int, start: datetime = DAY) -> list:
    """Hits of a few visitors over three days: page views, sign-ups with and without a plan,
    some carrying revenue in one of two currencies, gaps that open new visits."""
    hits = []
    at = start
    for _ in range(count):
        at += timedelta(minutes=rng.choice((1, 2, 5, 45, 200)))
        ip = f"198.51.100.{rng.randrange(1, 6)}"
        if rng.random() < 0.25:
            props = rng.choice(({"plan": "pro"}, {"plan": "free"}, {}))
            revenue = rng.choice((None, {"amount": f"{rng.randrange(1, 10_000)}.{rng.randrange(100):02d}",
                                         "currency": rng.choice(("EUR", "USD"))}))
            hits.append(make_hit(site, at, "/", event="Signup", ip=ip, props=props or None, revenue=revenue))
        else:
            hits.append(make_hit(site, at, rng.choice(PATHS), ip=ip))
    return hits


def write(dbsession, hits: list, rng: random.Random) -> None:
    """The hits in batches of random sizes, each shuffled, as the writer gets them."""
    at = 0
    while at < len(hits):
        size = rng.randrange(1, 40)
        batch = hits[at:at + size]
        rng.shuffle(batch)
        Store(None).write_batch(dbsession, batch)
        at += size


@pytest.mark.parametrize("timezone", ["UTC", "America/New_York"])
def test_the_writer_keeps_what_a_recount_gives_and_the_raw_rows_say(dbsession, make_site, owner, timezone):
    """Random hits in random batches: the rows the writer added up equal a recount from the raw
    rows, and the numbers they give, for each day and the three days, equal the raw rows'."""
    rng = random.Random(11)
    site = make_site(owner, url="https://example.com", timezone=timezone)
    made = make_goals(dbsession, site)
    hits = random_hits(site, rng, 300)
    write(dbsession, hits, rng)
    kept = goal_rows(dbsession, site.id)
    assert len(kept["stats"]) > 10 and kept["revenue"] and len(kept["visitors"]) > 10
    assert len(kept["pairs"]) > 10 and kept["paired"]

    # The writer keeps the converting visitors of the last days of its hits; so does a recount
    # on the last of them.
    last = max(hit.ts for hit in hits).date()
    assert {on for _, on, _ in kept["visitors"]} <= {last - timedelta(days=n) for n in range(4)}
    assert rebuild_goals(dbsession, site.id, today=last) == len(GOALS)
    assert goal_rows(dbsession, site.id) == kept

    dbsession.expire_all()
    specs = [spec(goal) for goal in made.values()]
    assert all(goal.summarized for goal in specs)
    days = [DAY.date() - timedelta(days=1) + timedelta(days=n) for n in range(5)]
    for start, end in [(day, day + timedelta(days=1)) for day in days] + [(days[0], days[-1])]:
        q = SiteReports(dbsession, site.id, timezone).query(Period("custom", start, end), {})
        raw = goal_numbers(dbsession, q, q.period, specs)
        assert summarized_numbers(dbsession, q, q.period, specs) == raw
        assert numbers(dbsession, q, q.period, specs) == raw
    q = SiteReports(dbsession, site.id, timezone).query(Period("custom", days[0], days[-1]), {})
    whole = dict(zip(made, goal_numbers(dbsession, q, q.period, specs), strict=True))
    assert whole["signup"].conversions > whole["pro"].conversions > 0
    assert set(whole["signup"].revenue) == {"EUR", "USD"}


def goal_segments(dbsession, site_id: int) -> tuple[dict, set]:
    """The goals' segment rows (zero rows count as absent) and the visits that converted."""
    rows = {key: counts for key, counts in segment_summaries(dbsession, site_id).items() if key[0] == GOAL}
    visits = set(dbsession.execute(select(GoalVisit.goal_id, GoalVisit.day, GoalVisit.visitor, GoalVisit.visit_id)
                                   .where(GoalVisit.site_id == site_id)).tuples())
    return rows, visits


def dashboard(overview) -> tuple:
    """What a dashboard shows: totals (now and before), the chart, every panel's rows."""
    return (overview.totals, overview.before, overview.series, overview.previous_visitors,
            {dim: panel.rows for dim, panel in overview.panels.items()})


@pytest.mark.parametrize("timezone", ["UTC", "America/New_York"])
def test_a_goal_filter_reads_its_segment_rows_and_shows_the_raw_rows_numbers(dbsession, make_site, owner, timezone):
    """Random hits in random batches, visits converting in a later batch than they began: the
    goals' segment rows the writer kept equal a recount, and a dashboard filtered by each goal
    reads them (rule 9) and shows the numbers of the raw rows."""
    rng = random.Random(12)
    site = make_site(owner, url="https://example.com", timezone=timezone)
    made = make_goals(dbsession, site)
    hits = random_hits(site, rng, 300)
    write(dbsession, hits, rng)
    kept = goal_segments(dbsession, site.id)
    assert {key[1] for key in kept[0]} == {str(goal.id) for goal in made.values()}
    rebuild_goals(dbsession, site.id, today=max(hit.ts for hit in hits).date())
    assert goal_segments(dbsession, site.id) == kept
    dbsession.expire_all()
    summarized = SiteReports(dbsession, site.id, timezone, segmented=True)
    raw = SiteReports(dbsession, site.id, timezone)
    dims = (*VISIT_DIMENSIONS, *HIT_DIMENSIONS)
    for days in (1, 2, 5):
        period = Period("custom", DAY.date(), DAY.date() + timedelta(days=days))
        for goal in made.values():
            filters = {"goal": str(goal.id)}
            assert plan(summarized.query(period, filters)).segment == (GOAL, str(goal.id))
            assert plan(raw.query(period, filters)).segment is None
            assert dashboard(summarized.overview(period, filters, dims, limit=100)) == dashboard(
                raw.overview(period, filters, dims, limit=100)), (goal.name, days)
        # The goals panel under a filter: from the visits listed as converted, the raw rows' numbers.
        specs = [spec(goal) for goal in made.values()]
        assert all(goal.summarized for goal in specs)
        for filters in (*({"goal": str(goal.id)} for goal in made.values()), {"page": "/pricing"}, {"source": "direct"}):
            # Under a goal filter, from the goal's pairs with the others (goal_pairs).
            assert (summarized_goal(summarized.query(period, filters).filters) is not None) == ("goal" in filters)
            listed = numbers(dbsession, summarized.query(period, filters), period, specs)
            assert listed == goal_numbers(dbsession, raw.query(period, filters), period, specs), (filters, days)
        assert any(number.revenue for number in listed)


def test_hand_worked_numbers_from_the_summaries(dbsession, make_site, owner):
    """Two visitors, one day: the numbers worked out by hand, read from the rows the writer kept."""
    site = make_site(owner, url="https://example.com", timezone="UTC")
    made = make_goals(dbsession, site)
    one, two = "198.51.100.1", "198.51.100.2"
    hits = [
        make_hit(site, DAY, "/blog/a", ip=one),
        make_hit(site, DAY + timedelta(minutes=1), "/blog/b", ip=one),
        make_hit(site, DAY + timedelta(minutes=2), "/", event="Signup", ip=one, props={"plan": "pro"},
                 revenue={"amount": "29.90", "currency": "EUR"}),
        # The same visitor, a second visit (an hour later): one visitor still, two more conversions.
        make_hit(site, DAY + timedelta(hours=1), "/blog/c", ip=one),
        make_hit(site, DAY + timedelta(hours=1, minutes=1), "/", event="Signup", ip=one,
                 revenue={"amount": "10", "currency": "USD"}),
        make_hit(site, DAY + timedelta(minutes=3), "/docs/a/b", ip=two),
        make_hit(site, DAY + timedelta(minutes=4), "/", event="Signup", ip=two, props={"plan": "free"},
                 revenue={"amount": "0.10", "currency": "EUR"}),
    ]
    for hit in hits:  # one batch a hit: the visitor's earlier conversions are in the database
        Store(None).write_batch(dbsession, [hit])
    for goal in made.values():
        goal.summarized_version = goal.rules_version
    dbsession.flush()
    q = SiteReports(dbsession, site.id, "UTC").query(Period("custom", DAY.date(), DAY.date() + timedelta(days=1)), {})
    found = dict(zip(made, summarized_numbers(dbsession, q, q.period, [spec(g) for g in made.values()]), strict=True))
    assert (found["blog"].visitors, found["blog"].conversions) == (1, 3)
    assert (found["docs"].visitors, found["docs"].conversions) == (1, 1)
    assert (found["deep"].visitors, found["deep"].conversions) == (0, 0)
    assert (found["pricing"].visitors, found["pricing"].conversions) == (0, 0)
    assert (found["signup"].visitors, found["signup"].conversions) == (2, 3)
    assert found["signup"].revenue == {"EUR": (Decimal("30.00"), 2), "USD": (Decimal("10"), 1)}
    assert (found["pro"].visitors, found["pro"].conversions) == (1, 1)
    assert found["pro"].revenue == {"EUR": (Decimal("29.90"), 1)}


def test_huge_amounts_add_up_exactly_and_never_stop_the_writer(dbsession, make_site, owner):
    """The largest amount a hit may carry, many times over: past what a 64-bit column of
    ten-thousandths holds, summed exactly."""
    site = make_site(owner, url="https://example.com", timezone="UTC")
    goal = Goal(site_id=site.id, name="Big", kind="event", event="Buy", currency="EUR")
    dbsession.add(goal)
    dbsession.flush()
    largest = "999999999999.99"  # the most a hit may carry in euros
    hits = [make_hit(site, DAY + timedelta(seconds=n), "/", event="Buy", ip=f"198.51.100.{n % 200 + 1}",
                     revenue={"amount": largest, "currency": "EUR"}) for n in range(1000)]
    for at in range(0, 1000, 250):
        Store(None).write_batch(dbsession, hits[at:at + 250])
    goal.summarized_version = goal.rules_version
    dbsession.flush()
    q = SiteReports(dbsession, site.id, "UTC").query(Period("custom", DAY.date(), DAY.date() + timedelta(days=1)), {})
    [found] = summarized_numbers(dbsession, q, q.period, [spec(goal)])
    assert found.revenue == {"EUR": (Decimal(largest) * 1000, 1000)}
    assert found.conversions == 1000 and found.visitors == 200


def test_a_new_or_changed_goal_is_counted_from_the_raw_rows_until_its_job_is_done(
    testapp, dbsession, app, make_site, owner
):
    """Adding a goal in the browser queues a recount; until it ran the panel reads the raw rows
    (a summary of other rules is never shown); a rename queues nothing, a new pattern does."""
    from tracking.interfaces import IDatabase

    factory = app.registry.getUtility(IDatabase).session_factory
    site = make_site(owner, url="https://example.com", timezone="UTC")
    rng = random.Random(5)
    write(dbsession, random_hits(site, rng, 120), rng)
    testapp.login(owner.email)
    form = testapp.get(f"/sites/{site.id}/goals/").forms["add-goal"]
    form["name"], form["kind"], form["pattern"] = "Blog", "page", "/blog/*"
    form.submit("submit")
    dbsession.expire_all()
    [goal] = dbsession.scalars(select(Goal).where(Goal.site_id == site.id)).all()
    queued = lambda: [(j.kind, j.state) for j in dbsession.scalars(select(Job).where(Job.site_id == site.id).order_by(Job.id))]  # noqa: E731
    assert queued() == [("goals", "pending")] and not spec(goal).summarized
    q = SiteReports(dbsession, site.id, "UTC").query(Period("custom", DAY.date(), DAY.date() + timedelta(days=3)), {})
    raw = goal_numbers(dbsession, q, q.period, [spec(goal)])
    assert raw[0].conversions > 0
    assert numbers(dbsession, q, q.period, [spec(goal)]) == raw  # not summarized: the raw rows

    assert jobs.run_due(factory) == 1
    dbsession.expire_all()
    assert queued() == [("goals", "done")] and spec(goal).summarized
    assert summarized_numbers(dbsession, q, q.period, [spec(goal)]) == raw

    form = testapp.get(f"/sites/{site.id}/goals/{goal.id}/").forms["edit-goal"]
    form["name"] = "Blog posts"
    form.submit("submit")
    dbsession.expire_all()
    assert queued() == [("goals", "done")] and spec(goal).summarized

    form = testapp.get(f"/sites/{site.id}/goals/{goal.id}/").forms["edit-goal"]
    form["pattern"] = "/docs/**"
    form.submit("submit")
    dbsession.expire_all()
    assert queued() == [("goals", "done"), ("goals", "pending")] and not spec(goal).summarized
    docs = goal_numbers(dbsession, q, q.period, [spec(goal)])
    assert docs != raw and numbers(dbsession, q, q.period, [spec(goal)]) == docs
    assert jobs.run_due(factory) == 1
    dbsession.expire_all()
    assert spec(goal).summarized and summarized_numbers(dbsession, q, q.period, [spec(goal)]) == docs


def test_a_goal_job_is_not_shown_as_a_rebuild(testapp, dbsession, make_site, owner):
    site = make_site(owner, url="https://example.com", timezone="UTC")
    jobs.enqueue_goals(dbsession, site.id)
    jobs.enqueue_goals(dbsession, site.id)  # one pending per site
    dbsession.flush()
    assert [j.kind for j in dbsession.scalars(select(Job).where(Job.site_id == site.id))] == ["goals"]
    testapp.login(owner.email)
    assert testapp.get(f"/sites/{site.id}/").html.select_one("#rebuilding") is None


def test_the_raw_count_is_the_same_whichever_way_the_hits_are_read(dbsession, make_site, owner, monkeypatch, database):
    """PostgreSQL: the goals panel reads the hits of a few converted visits through the visit
    index, of many the site's range of hits from the period's start (RawRunner.probes). Both
    ways give the same numbers, filtered or not (SQLite has one way only)."""
    if database != "postgresql":
        pytest.skip("PostgreSQL only: SQLite always reads a visit's hits through its index")
    import tracking.reports.raw_runner as runner

    rng = random.Random(3)
    site = make_site(owner, url="https://example.com", timezone="UTC")
    made = make_goals(dbsession, site)
    write(dbsession, random_hits(site, rng, 200), rng)
    specs = [spec(goal) for goal in made.values()]
    reports = SiteReports(dbsession, site.id, "UTC")
    period = Period("custom", DAY.date(), DAY.date() + timedelta(days=3))
    for filters in ({}, {"goal": str(made["signup"].id)}, {"page": "/pricing"}):
        q = reports.query(period, filters)
        probed = goal_numbers(dbsession, q, q.period, specs)
        monkeypatch.setattr(runner, "PROBE_LIMIT", -1)
        hashed = goal_numbers(dbsession, q, q.period, specs)
        assert probed == hashed and any(n.conversions for n in probed)
        monkeypatch.setattr(runner, "PROBE_LIMIT", 50_000)


def test_a_deleted_goal_takes_its_visits_and_segment_rows_with_it(dbsession, make_site, owner):
    site = make_site(owner, url="https://example.com", timezone="UTC")
    made = make_goals(dbsession, site)
    write(dbsession, random_hits(site, random.Random(3), 120), random.Random(3))
    pricing = made["pricing"]
    rows, visits = goal_segments(dbsession, site.id)
    pairs = dbsession.execute(select(GoalPair.goal_id, GoalPair.paired_id).where(GoalPair.site_id == site.id)).all()
    assert any(pricing.id in pair for pair in pairs)
    assert any(key[1] == str(pricing.id) for key in rows) and any(visit[0] == pricing.id for visit in visits)
    delete_goal(dbsession, goal_deletion(dbsession, pricing), owner)
    rows_after, visits_after = goal_segments(dbsession, site.id)
    assert rows_after == {key: counts for key, counts in rows.items() if key[1] != str(pricing.id)}
    assert visits_after == {visit for visit in visits if visit[0] != pricing.id}
    pairs = dbsession.execute(select(GoalPair.goal_id, GoalPair.paired_id).where(GoalPair.site_id == site.id)).all()
    assert pairs and all(pricing.id not in pair for pair in pairs)
