"""Goals on a hand-worked site: which hits convert, which visits converted, on both databases.

Four visitors on 2026-06-03 (UTC), each one visit:

====  ========================================================================  ==================
ip    hits, in order                                                            converts on
====  ========================================================================  ==================
.1    /  →  /blog/a  →  /blog/a/b                                               blog (once: /blog/a)
.2    /docs/  →  /docs/x/y  →  Signup {plan: pro} 29.90 EUR                     docs ×2, signup, pro
.3    /pricing  →  Signup {plan: free}  →  Signup {plan: pro} 10 USD             signup ×2, pro
.4    /blog  →  /blog/x/y  →  Download                                          nothing
====  ========================================================================  ==================
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.apiclient import bearer, error_of, make_key
from tests.hits import make_hit
from tests.reading import SiteReports
from tracking.goals import hit_converts, resolve_filters, spec, visit_converts
from tracking.ingest.store import Store
from tracking.models import Goal, Hit, Visit
from tracking.reports.goals import GoalNumbers, goal_rows
from tracking.reports.periods import Period
from tracking.reports.query import Filter, InvalidQuery

DAY = datetime(2026, 6, 3, 9, 0)
PERIOD = Period("custom", date(2026, 6, 3), date(2026, 6, 4))

VISITS = {
    1: [("/", {}), ("/blog/a", {}), ("/blog/a/b", {})],
    2: [("/docs/", {}), ("/docs/x/y", {}),
        ("/", {"event": "Signup", "props": {"plan": "pro"}, "revenue": {"amount": "29.90", "currency": "EUR"}})],
    3: [("/pricing", {}), ("/", {"event": "Signup", "props": {"plan": "free"}}),
        ("/", {"event": "Signup", "props": {"plan": "pro"}, "revenue": {"amount": "10", "currency": "USD"}})],
    4: [("/blog", {}), ("/blog/x/y", {}), ("/", {"event": "Download"})],
}


@pytest.fixture
def goals(dbsession, make_site, owner):
    site = make_site(owner, url="https://example.com", timezone="UTC")
    hits = [
        make_hit(site, DAY + timedelta(minutes=10 * visitor + minute), path, ip=f"198.51.100.{visitor}", **extra)
        for visitor, steps in VISITS.items() for minute, (path, extra) in enumerate(steps)
    ]
    Store(None).write_batch(dbsession, hits)
    made = {
        "blog": Goal(site_id=site.id, name="Blog post", kind="page", pattern="/blog/*"),
        "docs": Goal(site_id=site.id, name="Docs", kind="page", pattern="/docs/**"),
        "pricing": Goal(site_id=site.id, name="Pricing", kind="page", pattern="/pricing"),
        "signup": Goal(site_id=site.id, name="Sign-up", kind="event", event="Signup", currency="EUR"),
        "pro": Goal(site_id=site.id, name="Pro", kind="event", event="Signup", prop_key="plan", prop_value="pro"),
        "none": Goal(site_id=site.id, name="Never", kind="event", event="Purchase"),
    }
    dbsession.add_all(made.values())
    dbsession.flush()
    return site, made


EXPECTED = {  # goal → (visitors' numbers, conversions)
    "blog": ({1}, 1),
    "docs": ({2}, 2),
    "pricing": ({3}, 1),
    "signup": ({2, 3}, 3),
    "pro": ({2, 3}, 2),
    "none": (set(), 0),
}


@pytest.mark.parametrize("name", EXPECTED)
def test_hits_and_visits_convert_as_worked_out_by_hand(dbsession, goals, name):
    site, made = goals
    goal = spec(made[name])
    visitors, conversions = EXPECTED[name]
    converted = dbsession.scalars(select(Visit.id).where(Visit.site_id == site.id, visit_converts(goal))).all()
    assert {_visitor_number(dbsession, v) for v in converted} == visitors
    assert dbsession.scalar(select(func.count()).select_from(Hit).where(Hit.site_id == site.id, hit_converts(goal))) \
        == conversions


def _visitor_number(dbsession, visit_id: int) -> int:
    first = dbsession.scalars(select(Hit).where(Hit.visit_id == visit_id).order_by(Hit.ts)).first()
    return int((first.ts - DAY).total_seconds()) // 600  # visitor n's visit starts 10 n minutes in


def test_revenue_is_stored_exactly_with_its_currency(dbsession, goals):
    site, _ = goals
    stored = dbsession.execute(
        select(Hit.revenue_amount, Hit.revenue_currency).where(Hit.site_id == site.id, Hit.revenue_amount.is_not(None))
        .order_by(Hit.ts)
    ).all()
    assert stored == [(Decimal("29.9"), "EUR"), (Decimal("10"), "USD")]
    assert dbsession.scalar(select(func.sum(Hit.revenue_amount)).where(Hit.site_id == site.id)) == Decimal("39.9")


@pytest.mark.parametrize("name", EXPECTED)
def test_the_goal_filter_keeps_the_visits_that_converted(dbsession, goals, name):
    site, made = goals
    reports = SiteReports(dbsession, site.id, "UTC")
    totals = reports.totals(PERIOD, {"goal": str(made[name].id)})
    visitors, _ = EXPECTED[name]
    assert (totals.visitors, totals.visits) == (len(visitors), len(visitors))


def test_a_goal_filter_names_a_goal_of_the_site(dbsession, goals, make_site, owner):
    site, made = goals
    elsewhere = make_site(owner, url="https://other.example.com")
    with pytest.raises(InvalidQuery):
        resolve_filters(dbsession, elsewhere.id, (Filter("goal", str(made["blog"].id)),))
    for value in ("0", "01", "x", "-1", str(2**31), "１"):
        with pytest.raises(InvalidQuery):
            Filter("goal", value)


def test_the_goals_panel_counts_visitors_conversions_and_revenue_per_currency(dbsession, goals):
    site, made = goals
    reports = SiteReports(dbsession, site.id, "UTC")
    query = reports.query(PERIOD, {}, compare=True)
    rows = {row.goal.name: row for row in goal_rows(dbsession, query, [spec(g) for g in made.values()], 4, 0)}
    numbers = {name: (row.now.visitors, row.now.conversions, row.rate) for name, row in rows.items()}
    assert numbers == {"Blog post": (1, 1, 25.0), "Docs": (1, 2, 25.0), "Pricing": (1, 1, 25.0),
                       "Sign-up": (2, 3, 50.0), "Pro": (2, 2, 50.0), "Never": (0, 0, 0.0)}
    signup = rows["Sign-up"]
    assert signup.revenue() == Decimal("29.9") and signup.average() == Decimal("29.9")
    assert signup.other_currencies == [("USD", Decimal("10"))]  # never converted into euros
    assert rows["Pro"].revenue() is None and rows["Pro"].other_currencies == [("EUR", Decimal("29.9")),
                                                                            ("USD", Decimal("10"))]
    assert rows["Blog post"].before == GoalNumbers() and rows["Blog post"].rate_before is None


def test_the_goals_panel_follows_the_filters(dbsession, goals):
    site, made = goals
    reports = SiteReports(dbsession, site.id, "UTC")
    # The visits that converted on "Docs" only: visitor 2.
    query = reports.query(PERIOD, {"goal": str(made["docs"].id)})
    rows = {row.goal.name: row.now for row in goal_rows(dbsession, query, [spec(g) for g in made.values()], 1, 0)}
    assert rows["Sign-up"].visitors == 1 and rows["Sign-up"].conversions == 1
    assert rows["Sign-up"].revenue == {"EUR": (Decimal("29.9"), 1)}
    assert rows["Blog post"].visitors == 0


# -- the API: a breakdown by goal, the goal filter -----------------------------------------------

DAY_PARAMS = {"period": "custom", "from": "2026-06-03", "to": "2026-06-03"}


def test_the_api_breaks_down_by_goal_with_exact_revenue(testapp, dbsession, goals, owner):
    site, made = goals
    key = make_key(dbsession, owner, scopes=("stats:read",))
    body = testapp.get(f"/api/v1/sites/{site.id}/breakdown", params={**DAY_PARAMS, "dimension": "goal"},
                       headers=bearer(key)).json
    assert body["dimension"] == "goal" and body["metrics"] == ["visitors", "conversions", "conversion_rate"]
    rows = {row["value"]: row for row in body["results"]}
    assert list(rows) == ["Blog post", "Docs", "Pricing", "Sign-up", "Pro", "Never"]
    assert rows["Sign-up"] == {
        "value": "Sign-up", "goal_id": made["signup"].id, "visitors": 2, "conversions": 3, "conversion_rate": 50.0,
        "revenue": {"amount": "29.90", "currency": "EUR"}, "average_revenue": {"amount": "29.90", "currency": "EUR"},
        "other_revenue": [{"amount": "10.00", "currency": "USD"}], "share": 50.0,
    }
    assert rows["Docs"]["revenue"] is None and rows["Docs"]["conversions"] == 2
    paged = testapp.get(f"/api/v1/sites/{site.id}/breakdown",
                        params={**DAY_PARAMS, "dimension": "goal", "limit": "2", "offset": "2", "metrics": "conversions"},
                        headers=bearer(key)).json
    assert [row["value"] for row in paged["results"]] == ["Pricing", "Sign-up"] and paged["next_offset"] == 4
    assert "visitors" not in paged["results"][0]


def test_the_api_filters_by_goal_and_refuses_another_sites_goal(testapp, dbsession, goals, owner, make_site):
    site, made = goals
    key = make_key(dbsession, owner, scopes=("stats:read",))
    body = testapp.get(f"/api/v1/sites/{site.id}/aggregate", params={**DAY_PARAMS, "goal": str(made["pro"].id)},
                       headers=bearer(key)).json
    assert body["results"]["visitors"] == 2 and body["filters"] == {"goal": str(made["pro"].id)}
    elsewhere = make_site(owner, url="https://other.example.com")
    for value in (str(made["pro"].id + 1000), "abc", "0"):
        res = testapp.get(f"/api/v1/sites/{elsewhere.id}/aggregate", params={**DAY_PARAMS, "goal": value},
                          headers=bearer(key), status=400)
        assert error_of(res)["field"] == "goal"
    res = testapp.get(f"/api/v1/sites/{elsewhere.id}/aggregate", params={**DAY_PARAMS, "goal": str(made["pro"].id)},
                      headers=bearer(key), status=400)
    assert error_of(res)["field"] == "goal"
    res = testapp.get(f"/api/v1/sites/{site.id}/breakdown", params={**DAY_PARAMS, "dimension": "goal",
                                                                    "metrics": "pageviews"}, headers=bearer(key), status=400)
    assert error_of(res)["field"] == "metrics"


# -- the API: goals added, read, changed and deleted with a sites:write key ---------------------


def test_goals_through_the_api(testapp, dbsession, owner, site):
    write = bearer(make_key(dbsession, owner, scopes=("sites:write",)))
    read = bearer(make_key(dbsession, owner, scopes=("stats:read",)))
    base = f"/api/v1/sites/{site.id}/goals"
    made = testapp.post_json(base, {"name": "Pro", "kind": "event", "event": "Signup", "prop_key": "plan",
                                    "prop_value": "pro", "currency": "eur"}, headers=write, status=201).json
    assert made == {"id": made["id"], "name": "Pro", "kind": "event", "pattern": "", "event": "Signup",
                    "prop_key": "plan", "prop_value": "pro", "currency": "EUR"}
    assert testapp.get(base, headers=read).json == {"results": [made]}
    changed = testapp.patch_json(f"{base}/{made['id']}", {"kind": "page", "pattern": "/docs/**"}, headers=write).json
    assert (changed["kind"], changed["pattern"], changed["event"], changed["currency"]) == ("page", "/docs/**", "", None)
    assert testapp.get(f"{base}/{made['id']}", headers=read).json == changed
    # A stats:read key reads goals and changes none.
    testapp.patch_json(f"{base}/{made['id']}", {"name": "X"}, headers=read, status=403)
    testapp.delete(f"{base}/{made['id']}", headers=read, status=403)
    testapp.delete(f"{base}/{made['id']}", headers=write, status=204)
    testapp.get(f"{base}/{made['id']}", headers=read, status=404)
    assert testapp.get(base, headers=read).json == {"results": []}


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "A", "kind": "page", "pattern": "blog"}, "pattern"),
    ({"name": "A", "kind": "event", "event": "Buy", "currency": "XYZ"}, "currency"),
    ({"name": "", "kind": "page", "pattern": "/a"}, "name"),
    ({"kind": "page", "pattern": "/a"}, "name"),
    ({"name": "A", "kind": "funnel"}, "kind"),
    ({"name": "A", "kind": "page", "pattern": 3}, "pattern"),
    ({"name": "A", "kind": "page", "pattern": "/a", "colour": "red"}, "colour"),
])
def test_a_wrong_goal_through_the_api_is_a_400_naming_the_field(testapp, dbsession, owner, site, body, field):
    write = bearer(make_key(dbsession, owner, scopes=("sites:write",)))
    res = testapp.post_json(f"/api/v1/sites/{site.id}/goals", body, headers=write, status=400)
    assert error_of(res)["field"] == field
    assert dbsession.scalars(select(Goal).where(Goal.site_id == site.id)).all() == []


def test_the_api_adds_no_hundred_and_first_goal(testapp, dbsession, owner, site):
    dbsession.add_all(Goal(site_id=site.id, name=f"G{n}", kind="page", pattern=f"/{n}") for n in range(100))
    dbsession.flush()
    write = bearer(make_key(dbsession, owner, scopes=("sites:write",)))
    res = testapp.post_json(f"/api/v1/sites/{site.id}/goals", {"name": "A", "kind": "page", "pattern": "/a"},
                            headers=write, status=400)
    assert "at most 100 goals" in error_of(res)["message"]


def test_a_viewer_s_key_cannot_change_goals(testapp, dbsession, make_user, site):
    from tracking.models import SiteMember

    viewer = make_user(email="viewer@example.com")
    site.members.append(SiteMember(user_id=viewer.id, role="viewer"))
    dbsession.flush()
    key = bearer(make_key(dbsession, viewer, scopes=("sites:write", "stats:read")))
    testapp.post_json(f"/api/v1/sites/{site.id}/goals", {"name": "A", "kind": "page", "pattern": "/a"},
                      headers=key, status=403)
    assert testapp.get(f"/api/v1/sites/{site.id}/goals", headers=key).json == {"results": []}


def test_another_user_s_key_finds_no_goal_of_the_site(testapp, dbsession, make_user, site):
    """A goal of a site the key may not see is a 404, as the site is, whether the goal exists or not."""
    goal = Goal(site_id=site.id, name="Pricing", kind="page", pattern="/pricing")
    dbsession.add(goal)
    dbsession.flush()
    stranger = make_user(email="stranger@example.com")
    key = bearer(make_key(dbsession, stranger, scopes=("sites:write", "stats:read")))
    base = f"/api/v1/sites/{site.id}/goals"
    for path in (base, f"{base}/{goal.id}", f"{base}/{goal.id + 1000}"):
        testapp.get(path, headers=key, status=404)
    testapp.patch_json(f"{base}/{goal.id}", {"name": "X"}, headers=key, status=404)
    testapp.delete(f"{base}/{goal.id}", headers=key, status=404)
    testapp.get(f"{base}/{goal.id}", status=401)
    assert dbsession.get(Goal, goal.id).name == "Pricing"


def test_a_visitor_s_hostile_path_cannot_stall_a_goal_with_many_wildcards(dbsession, goals):
    """A path made to blow up a backtracking regular expression (seconds to hours per visit on
    SQLite, where Python runs it) is matched at once; the goal's numbers stay exact."""
    site, made = goals
    hostile = "/blog/" + "-" * 1000
    matching = "/blog/2026-06-03.html"
    hits = [make_hit(site, DAY + timedelta(hours=2, minutes=n), path, ip=f"198.51.100.{50 + n}")
            for n, path in enumerate([hostile, hostile + "/", matching])]
    Store(None).write_batch(dbsession, hits)
    dated = Goal(site_id=site.id, name="Dated post", kind="page", pattern="/blog/*-*-*.html")
    greedy = Goal(site_id=site.id, name="Greedy", kind="page", pattern="/**-**-**-**-**x")
    dbsession.add_all([dated, greedy])
    dbsession.flush()
    reports = SiteReports(dbsession, site.id, "UTC")
    query = reports.query(PERIOD, {}, compare=False)
    rows = {row.goal.name: row for row in goal_rows(dbsession, query, [spec(dated), spec(greedy)], 7, 0)}
    assert (rows["Dated post"].now.visitors, rows["Dated post"].now.conversions) == (1, 1)
    assert (rows["Greedy"].now.visitors, rows["Greedy"].now.conversions) == (0, 0)
    assert reports.totals(PERIOD, {"goal": str(dated.id)}).visitors == 1
    converted = dbsession.scalars(select(Hit.path).where(Hit.site_id == site.id, hit_converts(spec(dated)))).all()
    assert converted == [matching]


def test_revenue_sums_exactly_past_what_a_64_bit_integer_holds(dbsession, goals):
    """A thousand of the largest amounts (10^15 in all: past 2^63 ten-thousandths, how SQLite
    stores them) — anyone may send them — sum exactly on both databases."""
    site, _ = goals
    amount = {"amount": "999999999999.99", "currency": "EUR"}
    hits = [make_hit(site, DAY + timedelta(hours=3, seconds=n), "/", ip=f"203.0.113.{n % 250}", event="Buy",
                     revenue=amount) for n in range(1000)]
    Store(None).write_batch(dbsession, hits)
    buy = Goal(site_id=site.id, name="Buy", kind="event", event="Buy", currency="EUR")
    dbsession.add(buy)
    dbsession.flush()
    query = SiteReports(dbsession, site.id, "UTC").query(PERIOD, {}, compare=False)
    [row] = goal_rows(dbsession, query, [spec(buy)], 254, 0)
    assert row.now.conversions == 1000
    assert row.revenue() == Decimal("999999999999990")
    assert row.average() == Decimal("999999999999.99")
