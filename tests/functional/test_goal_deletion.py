"""Deleting a goal that funnels and experiments are built on: the goal page names each of them
and what happens to it before anything is deleted, the API refuses unless told to go ahead, and
the site's history says what went; the funnels and experiments forms write the history too."""

import re

import pytest
from sqlalchemy import func, select

from tests.apiclient import bearer, error_of, make_key
from tracking.models import Experiment, Funnel, FunnelStep, Goal, SiteEvent


@pytest.fixture
def goals(dbsession, site):
    made = [Goal(site_id=site.id, name=name, kind="page", pattern=pattern)
            for name, pattern in [("Pricing", "/pricing"), ("Sign-up page", "/signup"), ("Welcome", "/welcome")]]
    dbsession.add_all(made)
    dbsession.flush()
    return made


def _funnel(dbsession, site, name, goal_list) -> Funnel:
    funnel = Funnel(site_id=site.id, name=name,
                    steps=[FunnelStep(position=i, goal_id=goal.id) for i, goal in enumerate(goal_list)])
    dbsession.add(funnel)
    dbsession.flush()
    return funnel


@pytest.fixture
def built(dbsession, site, goals):
    """On the goal "Sign-up page": a funnel that keeps two steps without it, two that would keep
    one, an experiment; and a funnel and an experiment that do not use it."""
    pricing, signup, welcome = goals
    made = {
        "flow": _funnel(dbsession, site, "Flow", [pricing, signup, welcome]),
        "short": _funnel(dbsession, site, "Short", [pricing, signup]),
        "twice": _funnel(dbsession, site, "Twice", [signup, signup, welcome]),
        "other": _funnel(dbsession, site, "Other", [pricing, welcome]),
    }
    for key, name, goal in [("checkout", "Checkout", signup), ("prices", "Prices", pricing)]:
        made[key] = Experiment(site_id=site.id, name=name, key=key, control="A", goal_id=goal.id)
        dbsession.add(made[key])
    dbsession.flush()
    return {name: thing.id for name, thing in made.items()}


def _state(dbsession, site) -> dict:
    """The site's goals, funnels (with their steps' goals and positions) and experiments."""
    dbsession.expire_all()
    funnels = dbsession.scalars(select(Funnel).where(Funnel.site_id == site.id).order_by(Funnel.id))
    return {
        "goals": [g.name for g in dbsession.scalars(select(Goal).where(Goal.site_id == site.id).order_by(Goal.id))],
        "funnels": {f.name: [(s.position, s.goal_id) for s in f.steps] for f in funnels},
        "experiments": sorted(dbsession.scalars(select(Experiment.name).where(Experiment.site_id == site.id))),
    }


def _history(dbsession, site) -> list[str]:
    dbsession.expire_all()
    return [e.what for e in dbsession.scalars(select(SiteEvent).where(SiteEvent.site_id == site.id)
                                              .order_by(SiteEvent.id.desc()))]


def _text(node) -> str:
    return re.sub(r"\s+", " ", node.get_text()).strip()


# -- the goal page ---------------------------------------------------------------------------------


def test_the_confirmation_names_every_funnel_and_experiment_and_what_happens_to_it(testapp, dbsession, owner, site,
                                                                                 goals, built):
    before = _state(dbsession, site)
    testapp.login(owner.email)
    page = testapp.get(f"/sites/{site.id}/goals/").click("Delete", href=f"/{goals[1].id}/delete$")
    assert page.request.path == f"/sites/{site.id}/goals/{goals[1].id}/delete"
    assert [_text(li) for li in page.html.select("#goal-uses li")] == [
        "The funnel Flow loses its step on this goal and keeps 2 steps: Pricing → Welcome.",
        "The funnel Short is deleted: without this goal it would keep 1 step, and a funnel has at least 2.",
        "The funnel Twice is deleted: without this goal it would keep 1 step, and a funnel has at least 2.",
        "The experiment Checkout (key checkout) is deleted: it is measured on this goal.",
    ]
    assert "Other" not in page.text and "Prices" not in page.text
    form = page.forms["delete-goal"]
    assert "change or delete the funnels and experiments listed above" in page.text
    # Not ticked: the form again, and nothing is deleted.
    res = form.submit("submit")
    assert res.status_code == 200 and "Tick the box to confirm." in res.text
    assert _state(dbsession, site) == before

    res.forms["delete-goal"]["confirm"] = True
    res = res.forms["delete-goal"].submit("submit")
    assert res.status_code == 303
    flashed = res.follow().text
    assert "Goal “Sign-up page” deleted." in flashed
    assert "Deleted with it: the funnel “Short”, the funnel “Twice”, the experiment “Checkout”." in flashed
    assert "Without its steps: the funnel “Flow”." in flashed
    pricing, _, welcome = (g.id for g in goals)
    assert _state(dbsession, site) == {
        "goals": ["Pricing", "Welcome"],
        "funnels": {"Flow": [(0, pricing), (1, welcome)], "Other": [(0, pricing), (1, welcome)]},
        "experiments": ["Prices"],
    }
    # The funnel that lost a step still reports, with the steps it kept.
    funnels = testapp.get(f"/sites/{site.id}/funnels?funnel={built['flow']}")
    assert [_text(row.select("td")[0]) for row in funnels.html.select("#funnel-steps tbody tr")] == [
        "1. Pricing", "2. Welcome"]


def test_the_history_says_what_went_with_the_goal(testapp, dbsession, owner, site, goals, built):
    testapp.login(owner.email)
    form = testapp.get(f"/sites/{site.id}/goals/{goals[1].id}/delete").forms["delete-goal"]
    form["confirm"] = True
    form.submit("submit")
    assert _history(dbsession, site)[:5] == [
        "deleted the goal “Sign-up page”",
        "deleted the experiment “Checkout” measured on the goal “Sign-up page”",
        "deleted the funnel “Twice” with the goal “Sign-up page” (it would have kept 1 step)",
        "deleted the funnel “Short” with the goal “Sign-up page” (it would have kept 1 step)",
        "removed the goal “Sign-up page” from the funnel “Flow” (it keeps 2 steps)",
    ]
    history = _text(testapp.get(f"/sites/{site.id}/members").html.select_one("#history"))
    assert f"{owner.email} (Olivia Owner) deleted the goal “Sign-up page”" in history


def test_a_goal_nothing_is_built_on_is_deleted_after_a_plain_confirmation(testapp, dbsession, owner, site, goals):
    welcome = goals[2].id
    testapp.login(owner.email)
    page = testapp.get(f"/sites/{site.id}/goals/{welcome}/").click("Delete this goal")
    assert _text(page.html.select_one("#goal-uses")) == "No funnel or experiment uses this goal."
    assert "Yes, delete this goal" in page.text and "listed above" not in page.text
    form = page.forms["delete-goal"]
    form["confirm"] = True
    assert "Goal “Welcome” deleted." in form.submit("submit").follow().text
    assert _state(dbsession, site)["goals"] == ["Pricing", "Sign-up page"]
    assert _history(dbsession, site) == ["deleted the goal “Welcome”"]
    testapp.get(f"/sites/{site.id}/goals/{welcome}/delete", status=404)


def test_a_funnel_made_after_the_page_was_shown_is_shown_before_anything_is_deleted(testapp, dbsession, owner,
                                                                                    site, goals):
    testapp.login(owner.email)
    form = testapp.get(f"/sites/{site.id}/goals/{goals[1].id}/delete").forms["delete-goal"]
    form["confirm"] = True
    _funnel(dbsession, site, "Late", [goals[0], goals[1]])  # meanwhile, in another tab
    res = form.submit("submit")
    assert res.status_code == 303 and res.location.endswith(f"/goals/{goals[1].id}/delete")
    page = res.follow()
    assert "changed since that page was shown: nothing was deleted" in page.text
    assert [_text(li) for li in page.html.select("#goal-uses li")] == [
        "The funnel Late is deleted: without this goal it would keep 1 step, and a funnel has at least 2."]
    assert _state(dbsession, site)["funnels"] == {"Late": [(0, goals[0].id), (1, goals[1].id)]}
    assert _history(dbsession, site) == []


def test_a_viewer_can_neither_see_nor_post_the_confirmation(testapp, dbsession, make_user, site, goals, built):
    from tracking.models import SiteMember

    viewer = make_user(email="viewer@example.com")
    site.members.append(SiteMember(user_id=viewer.id, role="viewer"))
    dbsession.flush()
    before = _state(dbsession, site)
    testapp.login(viewer.email)
    testapp.get(f"/sites/{site.id}/goals/{goals[1].id}/delete", status=403)
    token = testapp.csrf_token(f"/sites/{site.id}/")
    testapp.post(f"/sites/{site.id}/goals/{goals[1].id}/delete",
                 {"__formid__": "delete-goal", "csrf_token": token, "confirm": "true", "uses": ""}, status=403)
    assert _state(dbsession, site) == before


# -- the funnels and experiments forms write the history ---------------------------------------------


def test_funnels_and_experiments_added_changed_and_deleted_are_in_the_history(testapp, dbsession, owner, site,
                                                                              goals):
    testapp.login(owner.email)
    form = testapp.get(f"/sites/{site.id}/funnels").forms["funnel-add"]
    form["name"] = "Flow"
    form.set("step", str(goals[0].id), index=0)
    form.set("step", str(goals[1].id), index=1)
    form.submit("submit")
    funnel = dbsession.scalars(select(Funnel).where(Funnel.site_id == site.id)).one()
    form = testapp.get(f"/sites/{site.id}/funnels?funnel={funnel.id}").forms["funnel-edit"]
    form["name"] = "Sign-up flow"
    form.set("step", str(goals[2].id), index=2)
    form.submit("submit")
    form = testapp.get(f"/sites/{site.id}/funnels?funnel={funnel.id}").forms["funnel-edit"]
    form.submit("submit")  # nothing changed: no line
    form = testapp.get(f"/sites/{site.id}/funnels").forms["funnel-delete"]
    form["funnel"] = str(funnel.id)
    form.submit("submit")

    form = testapp.get(f"/sites/{site.id}/experiments").forms["experiment-add"]
    form["name"], form["key"], form["control"], form["goal"] = "Checkout", "checkout", "A", str(goals[1].id)
    form.submit("submit")
    experiment = dbsession.scalars(select(Experiment).where(Experiment.site_id == site.id)).one()
    form = testapp.get(f"/sites/{site.id}/experiments?experiment={experiment.id}").forms["experiment-edit"]
    form["control"], form["goal"] = "B", str(goals[2].id)
    form.submit("submit")
    form = testapp.get(f"/sites/{site.id}/experiments").forms["experiment-delete"]
    form["experiment"] = str(experiment.id)
    form.submit("submit")

    assert _history(dbsession, site) == [
        "deleted the experiment “Checkout”",
        "changed the experiment “Checkout”: control B, goal “Welcome”",
        "added the experiment “Checkout”: key checkout, control A, goal “Sign-up page”",
        "deleted the funnel “Sign-up flow”",
        "changed the funnel “Flow”: named “Sign-up flow”, steps “Pricing” → “Sign-up page” → “Welcome”",
        "added the funnel “Flow”: “Pricing” → “Sign-up page”",
    ]
    history = _text(testapp.get(f"/sites/{site.id}/members").html.select_one("#history"))
    assert "deleted the funnel “Sign-up flow”" in history and "added the experiment “Checkout”" in history


# -- the API -------------------------------------------------------------------------------------------


def test_the_api_refuses_to_delete_a_goal_things_are_built_on_and_names_them(testapp, dbsession, owner, site,
                                                                           goals, built):
    before = _state(dbsession, site)
    key = bearer(make_key(dbsession, owner, scopes=("sites:write",)))
    pricing, signup, welcome = (g.id for g in goals)
    url = f"/api/v1/sites/{site.id}/goals/{signup}"
    for params in ("", "?cascade=false"):
        res = testapp.delete(url + params, headers=key, status=409)
        assert res.json["error"]["code"] == "goal_in_use" and "cascade=true" in res.json["error"]["message"]
        assert res.json["funnels"] == [
            {"id": built["flow"], "name": "Flow", "outcome": "changed", "steps": [pricing, welcome]},
            {"id": built["short"], "name": "Short", "outcome": "deleted", "steps": [pricing]},
            {"id": built["twice"], "name": "Twice", "outcome": "deleted", "steps": [welcome]},
        ]
        assert res.json["experiments"] == [
            {"id": built["checkout"], "name": "Checkout", "key": "checkout", "outcome": "deleted"}]
    assert _state(dbsession, site) == before and _history(dbsession, site) == []


def test_the_api_deletes_with_cascade_and_says_what_it_did(testapp, dbsession, owner, site, goals, built):
    key = bearer(make_key(dbsession, owner, scopes=("sites:write",)))
    pricing, signup, welcome = (g.id for g in goals)
    res = testapp.delete(f"/api/v1/sites/{site.id}/goals/{signup}?cascade=true", headers=key, status=200)
    assert res.json["goal"]["id"] == signup and res.json["goal"]["name"] == "Sign-up page"
    assert [(f["name"], f["outcome"]) for f in res.json["funnels"]] == [
        ("Flow", "changed"), ("Short", "deleted"), ("Twice", "deleted")]
    assert [e["name"] for e in res.json["experiments"]] == ["Checkout"]
    assert _state(dbsession, site) == {
        "goals": ["Pricing", "Welcome"],
        "funnels": {"Flow": [(0, pricing), (1, welcome)], "Other": [(0, pricing), (1, welcome)]},
        "experiments": ["Prices"],
    }
    history = _history(dbsession, site)
    assert history[0] == "deleted the goal “Sign-up page” (API)"
    assert "removed the goal “Sign-up page” from the funnel “Flow” (it keeps 2 steps) (API)" in history
    assert "deleted the experiment “Checkout” measured on the goal “Sign-up page” (API)" in history
    testapp.delete(f"/api/v1/sites/{site.id}/goals/{signup}?cascade=true", headers=key, status=404)


def test_the_api_deletes_a_goal_nothing_is_built_on_as_before(testapp, dbsession, owner, site, goals, built):
    key = bearer(make_key(dbsession, owner, scopes=("sites:write",)))
    lonely = Goal(site_id=site.id, name="Lonely", kind="event", event="Lonely")
    alone = Goal(site_id=site.id, name="Alone", kind="event", event="Alone")
    dbsession.add_all([lonely, alone])
    dbsession.flush()
    res = testapp.delete(f"/api/v1/sites/{site.id}/goals/{lonely.id}", headers=key, status=204)
    assert res.body == b""
    res = testapp.delete(f"/api/v1/sites/{site.id}/goals/{alone.id}?cascade=true", headers=key, status=200)
    assert res.json == {"goal": {"id": alone.id, "name": "Alone", "kind": "event", "pattern": "", "event": "Alone",
                                 "prop_key": "", "prop_value": "", "currency": None},
                        "funnels": [], "experiments": []}
    assert _state(dbsession, site)["goals"] == ["Pricing", "Sign-up page", "Welcome"]


@pytest.mark.parametrize("query", ["cascade=yes", "cascade=", "cascade=true&cascade=true"])
def test_a_wrong_cascade_is_a_400_and_nothing_is_deleted(testapp, dbsession, owner, site, goals, built, query):
    key = bearer(make_key(dbsession, owner, scopes=("sites:write",)))
    res = testapp.delete(f"/api/v1/sites/{site.id}/goals/{goals[2].id}?{query}", headers=key, status=400)
    assert error_of(res)["field"] == "cascade"
    assert dbsession.scalar(select(func.count()).select_from(Goal).where(Goal.site_id == site.id)) == 3
