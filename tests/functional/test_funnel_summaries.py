"""The funnels' rows (how far each visit went): kept by the writer batch by batch, hits arriving
late included, recounted by the ``goals`` job when a funnel or one of its goals changes, and read
by the funnel report — always the numbers the raw hits give, on both databases."""

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.functional.test_funnels import DAY, RANDOM_EVENTS, RANDOM_FUNNELS, RANDOM_GOALS, RANDOM_PAGES, walked_by_hand
from tests.hits import make_hit
from tracking import conversions
from tracking.goals import resolve_filters, spec
from tracking.ingest.store import Store
from tracking.models import Funnel, FunnelStat, FunnelStep, FunnelVisit, FunnelVisitor, Goal, Job
from tracking.reports.funnels import funnel
from tracking.reports.periods import Period
from tracking.reports.query import Filter, SiteRef
from tracking.summaries import jobs
from tracking.summaries.funnels import rebuild_funnels
from tracking.summaries.goals import prune_visitors, rebuild_goals, visitors_kept_since


def funnel_rows(dbsession, funnel_ids) -> set[tuple]:
    dbsession.flush()
    return {(r.funnel_id, r.day, r.visit_id, r.visitor, r.passed, r.seen_at)
            for r in dbsession.scalars(select(FunnelVisit).where(FunnelVisit.funnel_id.in_(funnel_ids)))}


def day_rows(dbsession, funnel_ids) -> dict:
    """The funnels' visitors per day and step (zero counts as absent), and each visitor's best."""
    dbsession.flush()
    return {
        "stats": {(r.funnel_id, r.day, r.passed): r.visitors
                  for r in dbsession.scalars(select(FunnelStat).where(FunnelStat.funnel_id.in_(funnel_ids))) if r.visitors},
        "visitors": {(r.funnel_id, r.day, r.visitor): r.passed
                     for r in dbsession.scalars(select(FunnelVisitor).where(FunnelVisitor.funnel_id.in_(funnel_ids)))},
    }


def random_hits(site, rng: random.Random, start=DAY) -> list:
    """Some 60 visitors over three days, one to three visits each, hits in the same second too."""
    hits = []
    for person in range(60):
        at = start + timedelta(days=rng.randrange(3), seconds=rng.randrange(3600))
        for _ in range(rng.randint(1, 3)):
            for _ in range(rng.randint(1, 9)):
                name, props = rng.choice(RANDOM_EVENTS) if rng.random() < 0.3 else ("pageview", None)
                extra = {"event": name, "props": props} if name != "pageview" else {}
                hits.append(make_hit(site, at, rng.choice(RANDOM_PAGES), ip=f"198.51.100.{person}", **extra))
                at += timedelta(seconds=rng.choice([0, 0, 1, 5, 60]))
            at += timedelta(minutes=45)  # the next visit
    return sorted(hits, key=lambda hit: hit.ts)


def write_with_late_hits(dbsession, hits: list, rng: random.Random) -> int:
    """The hits in batches of random sizes, each shuffled; one hit in ten held back and sent in a
    later batch (a page that queued it offline): its time is earlier than hits already stored.
    How many were sent late."""
    pending = list(hits)
    late: list = []
    sent_late = 0
    while pending or late:
        size = rng.randrange(1, 30)
        batch, pending = pending[:size], pending[size:]
        held = [hit for hit in batch if rng.random() < 0.1 and pending]
        batch = [hit for hit in batch if hit not in held]
        if late and (rng.random() < 0.5 or not pending):
            batch += late
            sent_late += len(late)
            late = []
        late += held
        rng.shuffle(batch)
        if batch:
            Store(None).write_batch(dbsession, batch)
    return sent_late


@pytest.mark.parametrize("timezone", ["UTC", "America/New_York"])
def test_the_writer_keeps_what_a_recount_gives_and_the_raw_hits_say(dbsession, make_site, owner, timezone):
    """Random visits written in random batches, some hits arriving late: the rows the writer kept
    equal a recount, and the funnel report read from them equals the raw hits' walk, for every
    funnel, period and filter tried."""
    rng = random.Random(20261207)
    site = make_site(owner, url="https://example.com", timezone=timezone)
    made = {name: Goal(site_id=site.id, name=name, **values) for name, values in RANDOM_GOALS.items()}
    dbsession.add_all(made.values())
    dbsession.flush()
    goals = {name: spec(goal) for name, goal in made.items()}
    funnels = [conversions.create_funnel(dbsession, site.id, "-".join(steps), [goals[name].id for name in steps])
               for steps in RANDOM_FUNNELS]
    assert write_with_late_hits(dbsession, random_hits(site, rng), rng) > 20

    ids = [f.id for f in funnels]
    kept, days = funnel_rows(dbsession, ids), day_rows(dbsession, ids)
    assert {passed for *_, passed, _ in kept} >= {0, 1, 2, 3}
    assert len(days["stats"]) > 20 and len(days["visitors"]) > 50
    assert rebuild_funnels(dbsession, site.id, DAY.date() - timedelta(days=1)) == len(funnels)
    assert funnel_rows(dbsession, ids) == kept
    assert day_rows(dbsession, ids) == days
    # Days later, the visits that passed no step and each visitor's best of the day are gone;
    # the counts stay. A recount then keeps the same.
    today = DAY.date() + timedelta(days=4)
    prune_visitors(dbsession.connection(), today)
    since = visitors_kept_since(today)
    pruned = {row for row in kept if row[4] or row[1] >= since}
    assert funnel_rows(dbsession, ids) == pruned != kept
    assert day_rows(dbsession, ids)["stats"] == days["stats"]
    assert rebuild_funnels(dbsession, site.id, since) == len(funnels)
    assert funnel_rows(dbsession, ids) == pruned
    assert day_rows(dbsession, ids) == {"stats": days["stats"],
                                        "visitors": {k: v for k, v in days["visitors"].items() if k[1] >= since}}

    dbsession.expire_all()
    where = SiteRef(site.id, timezone)
    pro = resolve_filters(dbsession, site.id, (Filter("goal", str(goals["pro"].id)),))
    periods = [Period("custom", DAY.date() - timedelta(days=1), DAY.date() + timedelta(days=4)),
               Period("custom", DAY.date() + timedelta(days=1), DAY.date() + timedelta(days=2))]
    for f, steps in zip(funnels, RANDOM_FUNNELS, strict=True):
        chosen = [goals[name] for name in steps]
        assert conversions.summarized(f, chosen) == f.id
        for period in periods:
            expected = walked_by_hand(dbsession, site, period, chosen)
            assert [row.visitors for row in funnel(dbsession, where, period, (), chosen, f.id).steps] == expected
            assert [row.visitors for row in funnel(dbsession, where, period, (), chosen).steps] == expected
            filtered = walked_by_hand(dbsession, site, period, chosen, goals["pro"])
            assert [row.visitors for row in funnel(dbsession, where, period, pro, chosen, f.id).steps] == filtered
    assert any(walked_by_hand(dbsession, site, periods[0], [goals[n] for n in steps])[1] for steps in RANDOM_FUNNELS)


def test_a_hit_arriving_late_is_walked_in_its_place(dbsession, make_site, owner):
    """Home, then the sign-up event: one step passed (pricing was not seen between them). The
    pricing view then arrives, dated between the two: the visit passed all three steps."""
    site = make_site(owner, url="https://example.com", timezone="UTC")
    made = [Goal(site_id=site.id, name="Home", kind="page", pattern="/"),
            Goal(site_id=site.id, name="Pricing", kind="page", pattern="/pricing"),
            Goal(site_id=site.id, name="Signed up", kind="event", event="signup")]
    dbsession.add_all(made)
    dbsession.flush()
    f = conversions.create_funnel(dbsession, site.id, "Sign-up", [goal.id for goal in made])
    ip = "198.51.100.7"
    Store(None).write_batch(dbsession, [make_hit(site, DAY, "/", ip=ip),
                                        make_hit(site, DAY + timedelta(minutes=3), "/", event="signup", ip=ip)])
    [(_, _, _, _, passed, seen_at)] = funnel_rows(dbsession, [f.id])
    assert (passed, seen_at) == (1, DAY + timedelta(minutes=3))
    Store(None).write_batch(dbsession, [make_hit(site, DAY + timedelta(minutes=1), "/pricing", ip=ip)])
    [(_, _, _, _, passed, seen_at)] = funnel_rows(dbsession, [f.id])
    assert (passed, seen_at) == (3, DAY + timedelta(minutes=3))
    # A later hit goes on from there (the walk is done: nothing changes).
    Store(None).write_batch(dbsession, [make_hit(site, DAY + timedelta(minutes=4), "/pricing", ip=ip)])
    assert {row[4] for row in funnel_rows(dbsession, [f.id])} == {3}
    period = Period("custom", DAY.date(), DAY.date() + timedelta(days=1))
    report = funnel(dbsession, SiteRef(site.id, "UTC"), period, (), [spec(goal) for goal in made], f.id)
    assert [row.visitors for row in report.steps] == [1, 1, 1]


def test_a_funnel_is_counted_from_the_raw_hits_until_its_job_is_done(testapp, dbsession, app, make_site, owner):
    """A funnel added on its page queues a recount and is read from the raw hits until it ran;
    a rename queues nothing; new steps, or a step goal's new pattern, make it raw again until the
    next recount. The page shows the same numbers all along."""
    from tracking.interfaces import IDatabase

    factory = app.registry.getUtility(IDatabase).session_factory
    site = make_site(owner, url="https://example.com", timezone="UTC")
    made = {name: Goal(site_id=site.id, name=name, **values) for name, values in RANDOM_GOALS.items()}
    dbsession.add_all(made.values())
    dbsession.flush()
    Store(None).write_batch(dbsession, random_hits(site, random.Random(3), DAY.replace(month=12, day=1)))
    queued = lambda: [(j.kind, j.state) for j in dbsession.scalars(select(Job).where(Job.site_id == site.id).order_by(Job.id))]  # noqa: E731

    testapp.login(owner.email)
    form = testapp.get(f"/sites/{site.id}/funnels").forms["funnel-add"]
    form["name"] = "Home to pro"
    for index, name in enumerate(("home", "pricing", "pro")):
        form.set("step", str(made[name].id), index=index)
    form.submit("submit")
    dbsession.expire_all()
    [f] = dbsession.scalars(select(Funnel).where(Funnel.site_id == site.id)).all()
    steps = lambda: [spec(dbsession.get(Goal, goal_id)) for goal_id in f.goal_ids]  # noqa: E731
    assert queued() == [("goals", "pending")] and conversions.summarized(f, steps()) is None
    period = "?period=custom&from=2026-12-01&to=2026-12-04"

    def shown() -> list[str]:
        page = testapp.get(f"/sites/{site.id}/funnels{period}&funnel={f.id}")
        return [row.select("td")[0].get_text() + " " + row.select("td")[1].get_text()
                for row in page.html.select("#funnel-steps tbody tr")]

    raw = shown()
    assert raw[0] != "1. home 0"
    assert jobs.run_due(factory) == 1
    dbsession.expire_all()
    assert queued() == [("goals", "done")] and conversions.summarized(f, steps()) == f.id
    assert shown() == raw

    form = testapp.get(f"/sites/{site.id}/funnels?funnel={f.id}").forms["funnel-edit"]
    form["name"] = "Renamed"
    form.submit("submit")
    dbsession.expire_all()
    assert queued() == [("goals", "done")] and conversions.summarized(f, steps()) == f.id

    form = testapp.get(f"/sites/{site.id}/goals/{made['pricing'].id}/").forms["edit-goal"]
    form["pattern"] = "/blog/*"
    form.submit("submit")
    dbsession.expire_all()
    assert queued() == [("goals", "done"), ("goals", "pending")] and conversions.summarized(f, steps()) is None
    blog = shown()
    assert blog != raw
    assert jobs.run_due(factory) == 1
    dbsession.expire_all()
    assert conversions.summarized(f, steps()) == f.id and shown() == blog

    form = testapp.get(f"/sites/{site.id}/funnels?funnel={f.id}").forms["funnel-edit"]
    form.set("step", str(made["home"].id), index=1)
    form.submit("submit")
    dbsession.expire_all()
    assert queued()[-1] == ("goals", "pending") and conversions.summarized(f, steps()) is None
    again = shown()
    assert jobs.run_due(factory) == 1
    dbsession.expire_all()
    assert conversions.summarized(f, steps()) == f.id and shown() == again


def test_a_funnel_left_without_steps_does_not_stop_the_recount(dbsession, make_site, owner):
    """Goals deleted by the database's cascade alone (not through the goal's deletion page) can
    leave a funnel with no step: the goals job still recounts the site's goals and other funnels."""
    site = make_site(owner, url="https://example.com", timezone="UTC")
    made = [Goal(site_id=site.id, name=name, kind="page", pattern=path) for name, path in (("Home", "/"), ("Pricing", "/pricing"))]
    dbsession.add_all(made)
    dbsession.flush()
    emptied = conversions.create_funnel(dbsession, site.id, "Emptied", [made[0].id, made[1].id])
    kept = conversions.create_funnel(dbsession, site.id, "Kept", [made[1].id, made[1].id])
    Store(None).write_batch(dbsession, [make_hit(site, DAY, "/pricing"), make_hit(site, DAY + timedelta(minutes=1), "/pricing")])
    dbsession.execute(FunnelStep.__table__.delete().where(FunnelStep.funnel_id == emptied.id))
    dbsession.expire_all()
    assert rebuild_goals(dbsession, site.id, today=DAY.date()) == 2
    dbsession.expire_all()
    assert conversions.summarized(emptied, []) == emptied.id
    assert {row[4] for row in funnel_rows(dbsession, [kept.id])} == {2}
