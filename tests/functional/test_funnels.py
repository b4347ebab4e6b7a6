"""Funnels on a hand-worked site: which visits pass which steps, on both databases.

Goals: P (page ``/pricing``), S (event ``Signup``), W (page ``/welcome``). The funnel P → S → W.
Visitors on 2026-06-03 (UTC), one visit each but visitor 5 (two visits an hour apart):

====  ======================================================  ========  ==============================
ip    hits, in order                                          passes    why
====  ======================================================  ========  ==============================
.1    /pricing → Signup → /welcome                            3         in order
.2    Signup → /pricing → /welcome                            1         Signup came before /pricing
.3    /pricing → /pricing → /other → Signup → Signup → /x      2         repeats and detours are fine
.4    /welcome → /pricing                                     1         /welcome came first
.5    /pricing → Signup ‖ (next visit) /welcome               2         visits are not joined
.6    /other                                                  0
.7    Signup                                                  0         never saw /pricing
.8    /pricing, Signup in the same second                     2         hits of a second: by arrival
====  ======================================================  ========  ==============================
"""

import random
import re
from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.hits import make_hit
from tracking.goals import resolve_filters, spec
from tracking.ingest.store import Store
from tracking.models import Goal, Hit, Visit
from tracking.reports.funnels import BASE, funnel, passes, report, steps_passed
from tracking.reports.periods import Period
from tracking.reports.query import Filter, SiteRef

DAY = datetime(2026, 6, 3, 9, 0)
PERIOD = Period("custom", date(2026, 6, 3), date(2026, 6, 4))
SIGNUP = {"event": "Signup"}

VISITS = {
    1: [(0, "/pricing", {}), (1, "/", SIGNUP), (2, "/welcome", {})],
    2: [(0, "/", SIGNUP), (1, "/pricing", {}), (2, "/welcome", {})],
    3: [(0, "/pricing", {}), (1, "/pricing", {}), (2, "/other", {}), (3, "/", SIGNUP), (4, "/", SIGNUP), (5, "/x", {})],
    4: [(0, "/welcome", {}), (1, "/pricing", {})],
    5: [(0, "/pricing", {}), (1, "/", SIGNUP), (62, "/welcome", {})],
    6: [(0, "/other", {})],
    7: [(0, "/", SIGNUP)],
    8: [(0, "/pricing", {}), (0, "/", SIGNUP)],
}


@pytest.fixture
def shop(dbsession, make_site, owner):
    site = make_site(owner, url="https://example.com", timezone="UTC")
    hits = [
        make_hit(site, DAY + timedelta(minutes=minute, seconds=visitor), path, ip=f"198.51.100.{visitor}", **extra)
        for visitor, steps in VISITS.items() for minute, path, extra in steps
    ]
    Store(None).write_batch(dbsession, hits)
    made = {
        "P": Goal(site_id=site.id, name="Pricing", kind="page", pattern="/pricing"),
        "S": Goal(site_id=site.id, name="Sign-up", kind="event", event="Signup"),
        "W": Goal(site_id=site.id, name="Welcome", kind="page", pattern="/welc*"),
    }
    dbsession.add_all(made.values())
    dbsession.flush()
    return site, {name: spec(goal) for name, goal in made.items()}


def _funnel(dbsession, shop, names, filters=()):
    site, goals = shop
    filters = resolve_filters(dbsession, site.id, tuple(filters))
    result = funnel(dbsession, SiteRef(site.id, "UTC"), PERIOD, filters, [goals[name] for name in names])
    return [(row.visitors, row.dropped) for row in result.steps], result


def test_a_funnel_as_worked_out_by_hand(dbsession, shop):
    counts, result = _funnel(dbsession, shop, "PSW")
    assert counts == [(6, 0), (4, 2), (1, 3)]
    assert [row.name for row in result.steps] == ["Pricing", "Sign-up", "Welcome"]
    assert [row.rate for row in result.steps] == [1.0, pytest.approx(4 / 6), pytest.approx(1 / 4)]
    assert [row.overall for row in result.steps] == [1.0, pytest.approx(4 / 6), pytest.approx(1 / 6)]
    assert result.conversion == pytest.approx(1 / 6)


def test_the_same_goal_twice_needs_two_hits(dbsession, shop):
    counts, _ = _funnel(dbsession, shop, "PP")
    assert counts == [(6, 0), (1, 5)]  # only visitor 3 viewed /pricing twice


def test_the_order_of_the_steps_matters(dbsession, shop):
    counts, _ = _funnel(dbsession, shop, "SP")
    # Sign-ups 1, 2, 3, 5, 7, 8; then /pricing after it: visitor 2 only (8's came first, by arrival).
    assert counts == [(6, 0), (1, 5)]


def test_filters_select_the_visits(dbsession, shop):
    counts, _ = _funnel(dbsession, shop, "PSW", [Filter("page", "/other")])
    assert counts == [(1, 0), (1, 0), (0, 1)]  # visitor 3 (6 never reached /pricing)
    site, goals = shop
    welcome = next(goal for goal in goals.values() if goal.name == "Welcome")
    counts, _ = _funnel(dbsession, shop, "PSW", [Filter("goal", str(welcome.id))])
    # The visits that reached /welcome: 1, 2, 4 and 5's second (without /pricing); then as above.
    assert counts == [(3, 0), (1, 2), (1, 0)]


def test_another_period_has_nothing(dbsession, shop):
    site, goals = shop
    result = funnel(dbsession, SiteRef(site.id, "UTC"), Period("custom", date(2026, 6, 4), date(2026, 6, 5)), (),
                    [goals["P"], goals["S"]])
    assert [(row.visitors, row.rate, row.overall) for row in result.steps] == [(0, None, None), (0, None, None)]


@pytest.mark.parametrize("masks,passed", [
    ([], 0), ([0b001], 1), ([0b010, 0b001], 1), ([0b001, 0b010, 0b100], 3), ([0b011, 0b011], 2),
    ([0b111], 1), ([0b001, 0b001, 0b100, 0b010], 2), ([0b001, 0b010, 0b100, 0b001], 3),
])
def test_steps_passed(masks, passed):
    assert steps_passed(masks, 3) == passed


def test_report_counts_each_visitor_at_every_step_they_reached():
    result = report(["a", "b", "c"], [3, 1, 1, 2, 0])
    assert [(r.visitors, r.dropped) for r in result.steps] == [(4, 0), (2, 2), (1, 1)]


def test_a_funnel_left_with_one_step_counts_its_visitors(dbsession, shop):
    counts, result = _funnel(dbsession, shop, "P")  # its other goals deleted
    assert counts == [(6, 0)] and result.conversion == 1.0


# -- random visits against the plain walk ---------------------------------------------------------

RANDOM_PAGES = ["/", "/pricing", "/blog/a", "/blog/b", "/signup", "/other"]
RANDOM_EVENTS = [("Signup", None), ("Buy", {"plan": "pro"}), ("Buy", {"plan": "free"})]
RANDOM_GOALS = {
    "home": {"kind": "page", "pattern": "/"},
    "pricing": {"kind": "page", "pattern": "/pricing"},
    "blog": {"kind": "page", "pattern": "/blog/*"},
    "signup": {"kind": "event", "event": "Signup"},
    "pro": {"kind": "event", "event": "Buy", "prop_key": "plan", "prop_value": "pro"},
}
#: Funnels: repeated goals, a goal with a property first and later, wildcards.
RANDOM_FUNNELS = [
    ["home", "pricing"],
    ["home", "pricing", "signup", "pro"],
    ["pricing", "home", "pricing", "home"],
    ["blog", "blog", "signup"],
    ["pro", "home", "pro"],
    ["signup", "blog", "pricing", "home", "signup", "pro", "blog", "home"],
]


@pytest.fixture
def random_site(dbsession, make_site, owner):
    """Some 150 visitors over three days, each with one to three visits of random page views and
    events (some in the same second, stored in a shuffled order)."""
    rng = random.Random(20261206)
    site = make_site(owner, url="https://example.com", timezone="UTC")
    hits = []
    for person in range(150):
        day = DAY + timedelta(days=rng.randrange(3))
        at = day + timedelta(seconds=rng.randrange(3600))
        for _ in range(rng.randint(1, 3)):
            for _ in range(rng.randint(1, 9)):
                if rng.random() < 0.3:
                    name, props = rng.choice(RANDOM_EVENTS)
                    extra = {"event": name, "props": props}
                else:
                    extra = {}
                path = rng.choice(RANDOM_PAGES)
                hits.append(make_hit(site, at, path, ip=f"198.51.{person // 250}.{person % 250}", **extra))
                at += timedelta(seconds=rng.choice([0, 0, 1, 5, 60]))
            at += timedelta(minutes=45)  # the next visit
    rng.shuffle(hits)
    Store(None).write_batch(dbsession, hits)
    made = {name: Goal(site_id=site.id, name=name, **values) for name, values in RANDOM_GOALS.items()}
    dbsession.add_all(made.values())
    dbsession.flush()
    return site, {name: spec(goal) for name, goal in made.items()}


def walked_by_hand(dbsession, site, period, goals, visit_filter=None) -> list[int]:
    """The reference: each visit of the period read through its hits, in order (time, then id),
    each step passed at the first hit after the step before; a visitor at their best visit."""
    own = defaultdict(list)
    for hit in dbsession.scalars(select(Hit).where(Hit.site_id == site.id).order_by(Hit.ts, Hit.id)):
        own[hit.visit_id].append(hit)
    best: dict[tuple, int] = {}
    for visit in dbsession.scalars(select(Visit).where(Visit.site_id == site.id)):
        hits = own[visit.id]
        if not period.start <= visit.day < period.end:
            continue
        if visit_filter and not any(visit_filter.matches_hit(h.event, h.path, h.props) for h in hits):
            continue
        passed = 0
        for hit in hits:
            if passed < len(goals) and goals[passed].matches_hit(hit.event, hit.path, hit.props):
                passed += 1
        if passed:  # a visitor is one person on one day
            best[(visit.day, visit.visitor)] = max(best.get((visit.day, visit.visitor), 0), passed)
    return [sum(1 for reached in best.values() if reached > n) for n in range(len(goals))]


@pytest.mark.parametrize("steps", RANDOM_FUNNELS, ids="-".join)
def test_random_visits_as_walked_by_hand(dbsession, random_site, steps):
    site, goals = random_site
    chosen = [goals[name] for name in steps]
    for period in (Period("custom", DAY.date(), DAY.date() + timedelta(days=3)),
                   Period("custom", DAY.date() + timedelta(days=1), DAY.date() + timedelta(days=2))):
        result = funnel(dbsession, SiteRef(site.id, "UTC"), period, (), chosen)
        expected = walked_by_hand(dbsession, site, period, chosen)
        assert [row.visitors for row in result.steps] == expected
        assert expected[1] > 0 or steps[0] == "pro"  # the walk has something to decide
        # A goal filter with a property selects the visits (its hits read in a subquery of its own).
        filters = resolve_filters(dbsession, site.id, (Filter("goal", str(goals["pro"].id)),))
        result = funnel(dbsession, SiteRef(site.id, "UTC"), period, filters, chosen)
        assert [row.visitors for row in result.steps] == walked_by_hand(dbsession, site, period, chosen, goals["pro"])


def test_the_regular_expressions_follow_the_walk():
    """What PostgreSQL runs (a visit's masks as characters, :func:`passes`) against
    :func:`steps_passed`, on random masks of up to 8 steps."""
    rng = random.Random(7)
    for _ in range(3000):
        steps = rng.randint(2, 8)
        masks = [rng.randrange(1, 1 << steps) if rng.random() < 0.5 else 1 << rng.randrange(steps)
                 for _ in range(rng.randint(0, 12))]
        text = "".join(chr(BASE + mask) for mask in masks)
        found = [n for n in range(1, steps + 1) if re.search(passes(steps, n), text)]
        assert len(found) == steps_passed(masks, steps) and found == list(range(1, len(found) + 1))
