"""A site's goals page: adding, changing and deleting goals through the forms, what the forms
refuse (beside the field, nothing stored), and the goals panel and filter on the dashboard."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.hits import make_hit
from tracking.goals import MAX_GOALS
from tracking.ingest.store import Store
from tracking.models import Goal, SiteMember
from tracking.models.types import utcnow


def add_goal(testapp, site, **fields):
    page = testapp.get(f"/sites/{site.id}/goals/")
    form = page.forms["add-goal"]
    for name, value in fields.items():
        form[name] = value
    return form.submit("submit")


def goals_of(dbsession, site) -> list[Goal]:
    dbsession.expire_all()
    return list(dbsession.scalars(select(Goal).where(Goal.site_id == site.id).order_by(Goal.id)))


def test_the_owner_adds_a_page_goal_and_an_event_goal_with_revenue(testapp, dbsession, owner, site):
    testapp.login(owner.email)
    res = add_goal(testapp, site, name="Blog", kind="page", pattern="/blog/*")
    assert res.status_code == 303
    res = add_goal(testapp, site, name="Pro sign-up", kind="event", event="Signup", prop_key="plan",
                   prop_value="pro", currency="eur")
    assert res.status_code == 303
    stored = [(g.name, g.kind, g.pattern, g.event, g.prop_key, g.prop_value, g.currency) for g in goals_of(dbsession, site)]
    assert stored == [("Blog", "page", "/blog/*", "", "", "", None),
                      ("Pro sign-up", "event", "", "Signup", "plan", "pro", "EUR")]
    page = testapp.get(f"/sites/{site.id}/goals/")
    assert "page /blog/*" in page.text and "event Signup with plan = pro, revenue in EUR" in page.text


@pytest.mark.parametrize(("fields", "message"), [
    ({"name": "Blog", "kind": "page", "pattern": "blog/*"}, "A page pattern starts with /."),
    ({"name": "Blog", "kind": "page", "pattern": "/a/***"}, "not ***"),
    ({"name": "", "kind": "page", "pattern": "/a"}, "Required"),
    ({"name": "Buy", "kind": "event", "event": "Buy", "currency": "XYZ"}, "Not an ISO 4217 currency code"),
    ({"name": "Buy", "kind": "event", "event": ""}, "Required"),
    ({"name": "Buy", "kind": "page", "pattern": "/a", "currency": "EUR"}, "Only an event goal counts revenue."),
    ({"name": "Buy\x07", "kind": "page", "pattern": "/a"}, "Remove the control characters"),
])
def test_a_wrong_goal_is_a_form_error_and_nothing_is_stored(testapp, dbsession, owner, site, fields, message):
    testapp.login(owner.email)
    res = add_goal(testapp, site, **fields)
    assert res.status_code == 200 and message in res.text
    assert goals_of(dbsession, site) == []


def test_a_site_has_at_most_a_hundred_goals(testapp, dbsession, owner, site):
    dbsession.add_all(Goal(site_id=site.id, name=f"G{n}", kind="page", pattern=f"/{n}") for n in range(MAX_GOALS))
    dbsession.flush()
    testapp.login(owner.email)
    res = add_goal(testapp, site, name="One more", kind="page", pattern="/more")
    assert res.status_code == 200 and f"A site has at most {MAX_GOALS} goals" in res.text
    assert dbsession.scalar(select(func.count()).select_from(Goal).where(Goal.site_id == site.id)) == MAX_GOALS


def test_a_goal_is_changed_and_deleted(testapp, dbsession, owner, site):
    goal = Goal(site_id=site.id, name="Docs", kind="page", pattern="/docs/**")
    dbsession.add(goal)
    dbsession.flush()
    testapp.login(owner.email)
    form = testapp.get(f"/sites/{site.id}/goals/{goal.id}/").forms["edit-goal"]
    assert form["pattern"].value == "/docs/**"
    form["kind"] = "event"
    form["event"] = "Download"
    form["pattern"] = "/docs/**"  # left over from the page kind: dropped
    assert form.submit("submit").status_code == 303
    (changed,) = goals_of(dbsession, site)
    assert (changed.kind, changed.event, changed.pattern) == ("event", "Download", "")
    goal_id = changed.id
    form = testapp.get(f"/sites/{site.id}/goals/{goal_id}/delete").forms["delete-goal"]
    form["confirm"] = True
    assert form.submit("submit").status_code == 303
    assert goals_of(dbsession, site) == []
    token = testapp.csrf_token(f"/sites/{site.id}/goals/")
    testapp.post(f"/sites/{site.id}/goals/{goal_id}/delete", {"__formid__": "delete-goal", "csrf_token": token,
                                                              "confirm": "true"}, status=404)


def test_a_goal_of_another_site_is_not_found_here(testapp, dbsession, owner, site, make_site):
    elsewhere = make_site(owner, name="Shop", url="https://shop.example.com")
    goal = Goal(site_id=elsewhere.id, name="Buy", kind="event", event="Buy")
    dbsession.add(goal)
    dbsession.flush()
    testapp.login(owner.email)
    testapp.get(f"/sites/{site.id}/goals/{goal.id}/", status=404)
    testapp.get(f"/sites/{site.id}/?goal={goal.id}", status=400)
    testapp.get(f"/sites/{site.id}/?goal=abc", status=400)


def test_a_viewer_sees_the_goals_panel_but_cannot_manage_goals(testapp, dbsession, make_user, owner, site):
    viewer = make_user(email="viewer@example.com")
    site.members.append(SiteMember(user_id=viewer.id, role="viewer"))
    goal = Goal(site_id=site.id, name="Blog", kind="page", pattern="/blog/*")
    dbsession.add(goal)
    dbsession.flush()
    testapp.login(viewer.email)
    page = testapp.get(f"/sites/{site.id}/")
    assert 'id="goals"' in page.text and "Manage goals" not in page.text
    testapp.get(f"/sites/{site.id}/goals/", status=403)
    token = testapp.csrf_token(f"/sites/{site.id}/")
    testapp.post(f"/sites/{site.id}/goals/", {"__formid__": "add-goal", "csrf_token": token, "name": "X",
                                             "kind": "page", "pattern": "/x"}, status=403)
    assert [g.name for g in goals_of(dbsession, site)] == ["Blog"]


def test_the_dashboard_shows_each_goal_and_filters_by_it(testapp, app, dbsession, owner, make_site):
    site = make_site(owner, url="https://example.com", timezone="UTC")
    now = utcnow() - timedelta(hours=1)
    hits = [make_hit(site, now, "/blog/a", ip="198.51.100.1"),
            make_hit(site, now, "/", ip="198.51.100.2"),
            make_hit(site, now + timedelta(minutes=1), "/", ip="198.51.100.2", event="Buy",
                     revenue={"amount": "29.90", "currency": "EUR"}),
            make_hit(site, now + timedelta(minutes=2), "/", ip="198.51.100.2", event="Buy",
                     revenue={"amount": "5", "currency": "USD"})]
    Store(None).write_batch(dbsession, hits)
    blog = Goal(site_id=site.id, name="Blog <post>", kind="page", pattern="/blog/*")
    buy = Goal(site_id=site.id, name="Purchase", kind="event", event="Buy", currency="EUR")
    dbsession.add_all([blog, buy])
    dbsession.flush()
    testapp.login(owner.email)
    page = testapp.get(f"/sites/{site.id}/?period=7d")
    goals = page.html.find(id="goals")
    rows = [[cell.get_text(" ", strip=True) for cell in row.find_all(["th", "td"])] for row in goals.tbody.find_all("tr")]
    assert rows[0][:4] == ["Blog <post>", "1", "1", "50%"]
    assert rows[1][:4] == ["Purchase", "1", "2", "50%"]
    assert rows[1][4].startswith("€29.90") and "+ $5.00" in rows[1][4] and rows[1][5] == "€29.90"
    filtered = testapp.get(goals.find("a", string="Purchase")["href"])
    assert "Goal: Purchase" in filtered.text  # the filter's chip names the goal
    # Only visitor 2's visit converted: one visitor, and on it the blog goal has no conversion.
    assert filtered.html.find(id="metric-visitors").find(class_="metric-value").get_text(strip=True) == "1"
    rows = [[cell.get_text(" ", strip=True) for cell in row.find_all(["th", "td"])]
            for row in filtered.html.find(id="goals").tbody.find_all("tr")]
    assert rows[0][:4] == ["Blog <post>", "0", "0", "0%"] and rows[1][:4] == ["Purchase", "1", "2", "100%"]
