"""Accessibility of the app's pages: axe-core in headless Chromium, no serious or critical violation,
in light and in dark mode (the system's ``prefers-color-scheme``, emulated).

axe-core (``tests/browser/node_modules``, from ``package.json``) is injected into each page as
rendered by the real browser, with the app's own CSS, so contrast and layout rules apply too.
"""

import json
import urllib.request
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracking.conversions import create_experiment, create_funnel
from tracking.models import Goal, User

pytestmark = pytest.mark.browser

BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def owned(module_app, browser, e2e, chrome_ua):
    """An owner with a site that has a few hits (a person's visit with an event and its properties, a bot's), and a new site."""
    app = module_app
    context = browser.new_context()
    try:
        owner = e2e.Owner(context, app)
        owner.register()
        site_id = owner.add_site("Blog", "https://blog.example.com")
        new_site_id = owner.add_site("Shop", "https://shop.example.com")
        state = context.storage_state()
    finally:
        context.close()

    beacon = f"{app.url}/sites/{site_id}/hit"
    hits = [
        ({"url": "https://blog.example.com/?utm_campaign=spring", "referrer": "https://www.google.com/", "width": 1280}, chrome_ua),
        ({"url": "https://blog.example.com/posts/1", "referrer": "https://news.ycombinator.com/", "width": 390}, chrome_ua),
        ({"url": "https://blog.example.com/posts/1", "event": "signup", "props": {"plan": "pro"}}, chrome_ua),
        ({"url": "https://blog.example.com/"}, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    ]
    for body, agent in hits:
        headers = {"User-Agent": agent, "Content-Type": "text/plain"}  # as navigator.sendBeacon sends it
        request = urllib.request.Request(beacon, data=json.dumps(body).encode(), headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 204
    stored = app.wait_for_hits(site_id, len(hits))
    visit_id = stored[0]["visit_id"]
    with Session(app.engine) as session, session.begin():  # a funnel's and an experiment's reports
        goals = [Goal(site_id=site_id, name="Post", kind="page", pattern="/posts/*"),
                 Goal(site_id=site_id, name="Sign-up", kind="event", event="signup")]
        session.add_all(goals)
        session.flush()
        create_funnel(session, site_id, "Reader to sign-up", [goal.id for goal in goals])
        create_experiment(session, site_id, "Sign-up button", "button", "A", goals[1].id)
        goal_id = goals[1].id  # what its deletion page lists: the funnel and the experiment
    with app.engine.connect() as conn:
        user_id = conn.execute(select(User.id).where(User.email == owner.email)).scalar_one()
    return SimpleNamespace(app=app, site_id=site_id, new_site_id=new_site_id, visit_id=visit_id, state=state,
                           email=owner.email, user_id=user_id, goal_id=goal_id)


PAGES = {
    # name: (path, logged in)
    "home": ("/", False),
    "login": ("/login", False),
    "register": ("/register", False),
    "sites list": ("/sites/", True),
    "site": ("/sites/{site_id}/", True),
    "site without visits": ("/sites/{new_site_id}/", True),
    "visits": ("/sites/{site_id}/visits/", True),
    "visit": ("/sites/{site_id}/visits/{visit_id}", True),
    "bot hits": ("/sites/{site_id}/bots/", True),
    "details": ("/sites/{site_id}/panel?dim=country", True),
    "site filtered": ("/sites/{site_id}/?period=7d&metric=pageviews&page=/posts/1", True),
    "range error": ("/sites/{site_id}/?period=custom&from=2026-03-10&to=2026-03-01", True),
    "funnels": ("/sites/{site_id}/funnels", True),
    "experiments": ("/sites/{site_id}/experiments", True),
    "settings": ("/sites/{site_id}/edit", True),
    "delete site": ("/sites/{site_id}/delete", True),
    "delete goal": ("/sites/{site_id}/goals/{goal_id}/delete", True),
    "account": ("/users/{user_id}/", True),
}
#: What each list shows of the hits above: one visit of three hits, and one bot hit.
ROWS = {"visits": ("#visits tbody tr", 1), "visit": ("#hits > li", 3), "bot hits": ("#bots tbody tr", 1)}


def _violations(page, axe_script) -> list[dict]:
    """axe-core's violations on the page (injected inline: the context must bypass the app's CSP)."""
    page.add_script_tag(path=str(axe_script))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return results["violations"]


def _check(violations: list[dict], where: str) -> None:
    """No serious or critical violation."""
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"{where}:\n{_describe(blocking)}"


def _describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"]:
            lines.append(f"  {' '.join(map(str, node['target']))}: {node['html'][:200]}")
            lines.append("    " + node["failureSummary"].replace("\n", "\n    "))
    return "\n".join(lines)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("name", PAGES)
def test_no_serious_violations(name, scheme, owned, new_context, axe_script):
    path, logged_in = PAGES[name]
    context = new_context(storage_state=owned.state if logged_in else None, bypass_csp=True, color_scheme=scheme)
    page = context.new_page()
    ids = {"site_id": owned.site_id, "new_site_id": owned.new_site_id, "visit_id": owned.visit_id, "user_id": owned.user_id,
           "goal_id": owned.goal_id}
    response = page.goto(owned.app.url + path.format(**ids))
    assert response.status == 200
    if name in ROWS:
        selector, count = ROWS[name]
        assert page.locator(selector).count() == count
    if scheme == "dark":
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(33, 37, 41)"
    _check(_violations(page, axe_script), f"{name} page ({path}), {scheme}")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_form_errors_have_no_serious_violations(scheme, owned, new_context, axe_script):
    """The register form sent back with errors: an address already taken, passwords that differ."""
    page = new_context(bypass_csp=True, color_scheme=scheme).new_page()
    page.goto(owned.app.url + "/register")
    form = page.locator("form#register")
    form.locator('input[name="name"]').fill("Someone")
    form.locator('input[name="email"]').fill(owned.email)
    form.locator('input[name="password"]').fill("one password")
    form.locator('input[name="password-confirm"]').fill("another one")
    form.locator('button[name="submit"]').click()
    page.wait_for_load_state()
    assert form.locator(".invalid-feedback").count() == 2
    _check(_violations(page, axe_script), f"register page with errors, {scheme}")
