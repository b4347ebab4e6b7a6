"""The funnels and experiments pages: forms that store only what is valid, reports for whoever
may view the site, changes for owners and admins only."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.hits import make_hit
from tests.support import TestApp
from tracking.ingest.store import Store
from tracking.models import Experiment, Funnel, FunnelStep, Goal, SiteMember
from tracking.models.types import utcnow


@pytest.fixture
def goals(dbsession, site):
    made = [Goal(site_id=site.id, name=name, kind="page", pattern=pattern)
            for name, pattern in [("Pricing", "/pricing"), ("Sign-up page", "/signup"), ("Welcome", "/welcome")]]
    made.append(Goal(site_id=site.id, name="Purchase", kind="event", event="Purchase"))
    dbsession.add_all(made)
    dbsession.flush()
    return made


def _count(dbsession, model):
    dbsession.expire_all()
    return dbsession.scalar(select(func.count()).select_from(model))


def _funnel_form(testapp, site, name, goal_ids):
    form = testapp.get(f"/sites/{site.id}/funnels").forms["funnel-add"]
    form["name"] = name
    for index, goal_id in enumerate(goal_ids):
        form.set("step", str(goal_id), index=index)
    return form


def test_the_owner_adds_a_funnel_and_sees_it(testapp, dbsession, owner, site, goals):
    now = utcnow().replace(microsecond=0) - timedelta(hours=1)
    Store(None).write_batch(dbsession, [make_hit(site, now + timedelta(seconds=n), path, ip="198.51.100.9")
                                        for n, path in enumerate(["/pricing", "/signup", "/elsewhere"])])
    testapp.login(owner.email)
    page = testapp.get(f"/sites/{site.id}/funnels")
    assert "No funnels yet" in page.text
    res = _funnel_form(testapp, site, "Sign-up flow", [goals[0].id, goals[1].id, goals[2].id]).submit("submit")
    assert res.status_code == 303
    page = res.follow()
    assert "Sign-up flow" in page.text and "<svg" in page.text
    rows = page.html.select("#funnel-steps tbody tr")
    assert [[td.get_text() for td in row.select("td")][:3] for row in rows] == [
        ["1. Pricing", "1", "—"], ["2. Sign-up page", "1", "0"], ["3. Welcome", "0", "1"],
    ]
    [funnel] = dbsession.scalars(select(Funnel)).all()
    assert funnel.goal_ids == [goals[0].id, goals[1].id, goals[2].id]


@pytest.mark.parametrize("steps", [1, 0])
def test_fewer_than_two_steps_is_a_form_error(testapp, dbsession, owner, site, goals, steps):
    testapp.login(owner.email)
    res = _funnel_form(testapp, site, "Short", [g.id for g in goals[:steps]]).submit("submit")
    assert res.status_code == 200 and "A funnel has 2 to 8 steps" in res.text
    assert _count(dbsession, Funnel) == 0


def test_nine_steps_or_another_sites_goal_is_a_form_error(testapp, dbsession, owner, site, goals, make_site):
    testapp.login(owner.email)
    token = testapp.csrf_token(f"/sites/{site.id}/funnels")

    def post(step_ids):
        fields = [("__formid__", "funnel-add"), ("csrf_token", token), ("name", "Long"),
                  ("__start__", "steps:sequence"), *(("step", str(i)) for i in step_ids), ("__end__", "steps:sequence")]
        return testapp.post(f"/sites/{site.id}/funnels", fields, status="*")

    res = post([goals[0].id, goals[1].id] * 4 + [goals[2].id])
    assert res.status_code == 200 and "A funnel has 2 to 8 steps" in res.text
    elsewhere = make_site(owner, name="Other", url="https://other.example.com")
    foreign = Goal(site_id=elsewhere.id, name="Foreign", kind="page", pattern="/x")
    dbsession.add(foreign)
    dbsession.flush()
    for bad in (str(foreign.id), "999999", "x", "-1"):
        res = post([str(goals[0].id), bad])
        assert res.status_code == 200 and "is not one of" in res.text, bad
    assert _count(dbsession, Funnel) == 0 and _count(dbsession, FunnelStep) == 0
    res = post([goals[0].id, goals[1].id] * 4)  # eight: the most
    assert res.status_code == 303 and _count(dbsession, FunnelStep) == 8


def test_a_funnel_is_edited_and_deleted(testapp, dbsession, owner, site, goals):
    testapp.login(owner.email)
    _funnel_form(testapp, site, "Flow", [goals[0].id, goals[1].id]).submit("submit")
    funnel = dbsession.scalars(select(Funnel)).one()
    form = testapp.get(f"/sites/{site.id}/funnels?funnel={funnel.id}").forms["funnel-edit"]
    form["name"] = "Flow, longer"
    form.set("step", str(goals[2].id), index=2)
    form.submit("submit").follow()
    dbsession.expire_all()
    funnel = dbsession.scalars(select(Funnel)).one()
    assert funnel.name == "Flow, longer" and funnel.goal_ids == [goals[0].id, goals[1].id, goals[2].id]
    form = testapp.get(f"/sites/{site.id}/funnels").forms["funnel-delete"]
    form["funnel"] = str(funnel.id)
    assert "deleted" in form.submit("submit").follow().text
    assert _count(dbsession, Funnel) == 0 and _count(dbsession, FunnelStep) == 0


def test_deleting_a_goal_removes_its_steps_and_experiments(testapp, dbsession, owner, site, goals):
    testapp.login(owner.email)
    _funnel_form(testapp, site, "Flow", [goals[0].id, goals[1].id, goals[2].id]).submit("submit")
    dbsession.add(Experiment(site_id=site.id, name="Checkout", key="checkout", control="A", goal_id=goals[1].id))
    dbsession.flush()
    dbsession.delete(goals[1])
    dbsession.flush()
    dbsession.expire_all()
    assert dbsession.scalars(select(Funnel)).one().goal_ids == [goals[0].id, goals[2].id]
    assert _count(dbsession, Experiment) == 0


def test_a_viewer_sees_the_reports_but_changes_nothing(testapp, dbsession, make_user, site, goals):
    viewer = make_user(name="Vera Viewer", email="vera@example.com")
    site.members.append(SiteMember(user_id=viewer.id, role="viewer"))
    dbsession.add(Funnel(site_id=site.id, name="Flow", steps=[FunnelStep(position=0, goal_id=goals[0].id),
                                                               FunnelStep(position=1, goal_id=goals[1].id)]))
    dbsession.add(Experiment(site_id=site.id, name="Checkout", key="checkout", control="A", goal_id=goals[3].id))
    dbsession.flush()
    testapp.login(viewer.email)
    page = testapp.get(f"/sites/{site.id}/funnels")
    assert "funnel-steps" in page.text and "funnel-add" not in page.forms and "funnel-edit" not in page.forms
    page = testapp.get(f"/sites/{site.id}/experiments")
    assert 'id="variants"' in page.text and "experiment-add" not in page.forms
    token = testapp.csrf_token(f"/sites/{site.id}/funnels")
    for url, formid in [("funnels", "funnel-add"), ("funnels", "funnel-delete"), ("experiments", "experiment-add"),
                        ("experiments", "experiment-delete")]:
        testapp.post(f"/sites/{site.id}/{url}", {"__formid__": formid, "csrf_token": token, "funnel": "1",
                                                 "experiment": "1"}, status=403)
    assert _count(dbsession, Funnel) == 1 and _count(dbsession, Experiment) == 1


def test_the_owner_adds_an_experiment_and_a_visitors_variant_is_escaped(testapp, dbsession, owner, site, goals):
    now = utcnow().replace(microsecond=0) - timedelta(hours=1)
    hostile = "<script>alert(1)</script>"
    Store(None).write_batch(dbsession, [
        make_hit(site, now, "/", ip="198.51.100.1", props={"experiment:checkout": "A"}),
        make_hit(site, now, "/", ip="198.51.100.2", props={"experiment:checkout": hostile}),
        make_hit(site, now + timedelta(seconds=1), "/", ip="198.51.100.2", event="Purchase",
                 props={"experiment:checkout": hostile}),
    ])
    testapp.login(owner.email)
    form = testapp.get(f"/sites/{site.id}/experiments").forms["experiment-add"]
    form["name"], form["key"], form["control"], form["goal"] = "Checkout", "checkout", "A", str(goals[3].id)
    page = form.submit("submit").follow()
    assert hostile not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "Too early to tell" in page.text and "not converted" in page.text and "peeking" in page.text
    cells = [[td.get_text(" ", strip=True) for td in row.select("td")] for row in page.html.select("#variants tbody tr")]
    assert [row[:3] for row in cells] == [["A (control)", "1", "0"], [hostile, "1", "1"]]


@pytest.mark.parametrize("field,value,message", [
    ("key", "k" * 54, "Longer than maximum length 53"),
    ("key", 'a"b', 'No " or \\.'),
    ("name", "", "Required"),
    ("control", "", "Required"),
    ("goal", "", "Required"),
    ("goal", "999999", "is not one of"),
])
def test_a_bad_experiment_is_a_form_error(testapp, dbsession, owner, site, goals, field, value, message):
    testapp.login(owner.email)
    form = testapp.get(f"/sites/{site.id}/experiments").forms["experiment-add"]
    form["name"], form["key"], form["control"], form["goal"] = "Checkout", "checkout", "A", str(goals[3].id)
    if field == "goal":
        form[field].force_value(value)
    else:
        form[field] = value
    res = form.submit("submit")
    assert res.status_code == 200 and message in res.text
    assert _count(dbsession, Experiment) == 0


def test_the_pages_are_not_on_share_links(app, dbsession, owner, site):
    from tracking import members
    secret = members.create_link(dbsession, site, label="x", password=None, expires_at=None, include_visits=True,
                                 origins=[], by=owner)
    browser = TestApp(app, extra_environ={"HTTP_HOST": "tracking.example.org", "REMOTE_ADDR": "198.51.100.4"})
    browser.get(f"/share/{secret}/funnels", status=404)
    browser.get(f"/share/{secret}/experiments", status=404)


def test_the_dashboard_links_to_the_pages_with_its_period_and_filters(testapp, owner, site):
    testapp.login(owner.email)
    page = testapp.get(f"/sites/{site.id}/?period=7d&country=FR")
    links = {a["href"] for a in page.html.select("#site-actions a")}
    assert f"http://tracking.example.org/sites/{site.id}/funnels?period=7d&country=FR" in links
    assert f"http://tracking.example.org/sites/{site.id}/experiments?period=7d&country=FR" in links
