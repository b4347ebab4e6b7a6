"""Every page × every kind of visitor: the expected status of each cell, from one table.

The site pages are asked at ``/sites/<id>/<page>`` by people with an account (or none), and at
``/share/<secret>/<page>`` through a share link (live, revoked or expired) by a browser with no
account. A signed-in person who may not see a site gets 404, never 403: its existence is not
revealed. Someone who may see the site but not a page of it gets 403; a share link shows its
dashboard, filters and panel exports, and nothing else is there (404).
"""

from datetime import date, datetime, timedelta

import pytest

from tests.support import TestApp
from tracking import members
from tracking.models import Goal, SiteMember, Visit
from tracking.models.types import utcnow

WHO = ("anonymous", "owner", "admin", "viewer", "other", "site-less admin", "share link", "revoked link", "expired link")
L = 303  # to the login page (or, for a password-protected link, to its password page)

#: page → status for each of WHO. ``{site}`` pages are asked under /sites/<id>/ by the first six
#: and under /share/<secret>/ by the last three; the others are asked as they are.
SITE_PAGES = {
    "": (L, 200, 200, 200, 404, 404, 200, 404, 404),
    "?period=7d&country=FR": (L, 200, 200, 200, 404, 404, 200, 404, 404),
    "?goal={goal}": (L, 200, 200, 200, 404, 404, 200, 404, 404),
    "panel?dim=page": (L, 200, 200, 200, 404, 404, 200, 404, 404),
    "export.csv?dim=page": (L, 200, 200, 200, 404, 404, 200, 404, 404),
    "export.csv?dim=hits": (L, 200, 200, 200, 404, 404, 404, 404, 404),
    "export.csv?dim=visits": (L, 200, 200, 200, 404, 404, 404, 404, 404),
    "visits/": (L, 200, 200, 200, 404, 404, 404, 404, 404),
    "visits/{visit}": (L, 200, 200, 200, 404, 404, 404, 404, 404),
    "bots/": (L, 200, 200, 200, 404, 404, 404, 404, 404),
    "funnels": (L, 200, 200, 200, 404, 404, 404, 404, 404),
    "funnels?period=12mo&funnel=1&country=FR": (L, 200, 200, 200, 404, 404, 404, 404, 404),
    "experiments": (L, 200, 200, 200, 404, 404, 404, 404, 404),
    "experiments?period=7d&experiment=1": (L, 200, 200, 200, 404, 404, 404, 404, 404),
    "edit": (L, 200, 200, 403, 404, 404, 404, 404, 404),
    "members": (L, 200, 200, 403, 404, 404, 404, 404, 404),
    "share": (L, 200, 200, 403, 404, 404, 404, 404, 404),
    "transfer": (L, 200, 403, 403, 404, 404, 404, 404, 404),
    "delete": (L, 200, 403, 403, 404, 404, 404, 404, 404),
    "goals/": (L, 200, 200, 403, 404, 404, 404, 404, 404),
    "goals/{goal}/": (L, 200, 200, 403, 404, 404, 404, 404, 404),
    "goals/{goal}/delete": (L, 200, 200, 403, 404, 404, 404, 404, 404),
    "unlock": (404, 404, 404, 404, 404, 404, 303, 404, 404),
}
OTHER_PAGES = {
    "/": (200, L, L, L, L, L, 200, 200, 200),
    "/sites/": (L, 200, 200, 200, 200, 200, L, L, L),
    "/users/": (L, 403, 403, 403, 403, 200, L, L, L),
    "/users/{owner}/": (L, 200, 404, 404, 404, 404, L, L, L),
    "/users/{owner}/manage": (L, 403, 404, 404, 404, 200, L, L, L),
    "/users/{owner}/delete": (L, 200, 404, 404, 404, 404, L, L, L),
    "/invitations/{invitation}": (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "/invitations/{used}": (404, 404, 404, 404, 404, 404, 404, 404, 404),
    "/login": (200, 200, 200, 200, 200, 200, 200, 200, 200),
}


@pytest.fixture
def world(dbsession, make_user, owner, site):
    """The site, its members, a visit, an invitation and three share links."""
    admin_member = make_user(name="Adam Admin-member", email="adam@example.com")
    viewer = make_user(name="Vera Viewer", email="vera@example.com")
    other = make_user(name="Oscar Other", email="oscar@example.com")
    site_less_admin = make_user(name="Sam Sysadmin", email="sam@example.com", admin=True)
    site.members.extend([SiteMember(user_id=admin_member.id, role="admin"), SiteMember(user_id=viewer.id, role="viewer")])
    now = utcnow()
    visit = Visit(site_id=site.id, visitor=1, started_at=now, ended_at=now, day=date.today(), pageviews=1)
    goal = Goal(site_id=site.id, name="Sign-up", kind="page", pattern="/signup")
    dbsession.add_all([visit, goal])
    dbsession.flush()
    invitation = members.invite(dbsession, site, "newcomer@example.com", "viewer", owner, now)
    used = members.invite(dbsession, site, "early@example.com", "viewer", owner, now)
    members.accept(dbsession, members.find_invitation(dbsession, used, now), other)
    site.members.remove(next(m for m in site.members if m.user_id == other.id))

    def link(label, **kw):
        return members.create_link(dbsession, site, label=label, password=None, expires_at=kw.get("expires_at"),
                                   include_visits=False, origins=[], by=owner)

    live, revoked = link("live"), link("revoked")
    members.revoke_link(dbsession, members.find_link(dbsession, revoked, now), owner)
    expired = link("expired", expires_at=now + timedelta(hours=1))
    members.find_link(dbsession, expired, now).expires_at = datetime(2000, 1, 1)
    dbsession.flush()
    return {
        "users": {"owner": owner, "admin": admin_member, "viewer": viewer, "other": other, "site-less admin": site_less_admin},
        "links": {"share link": live, "revoked link": revoked, "expired link": expired},
        "names": {"site": site.id, "owner": owner.id, "visit": visit.id, "goal": goal.id, "invitation": invitation, "used": used},
    }


@pytest.mark.parametrize("who", WHO)
def test_every_page_for_everyone(app, world, who):
    browser = TestApp(app, extra_environ={"HTTP_HOST": "tracking.example.org", "REMOTE_ADDR": "203.0.113.7"})
    if who in world["users"]:
        browser.login(world["users"][who].email)
    column = WHO.index(who)
    names = world["names"]
    base = f"/share/{world['links'][who]}/" if who in world["links"] else f"/sites/{names['site']}/"
    cells = [(base + page.format(**names), statuses[column]) for page, statuses in SITE_PAGES.items()]
    cells += [(page.format(**names), statuses[column]) for page, statuses in OTHER_PAGES.items()]
    wrong = []
    for url, expected in cells:
        res = browser.get(url, status="*")
        if res.status_code != expected:
            wrong.append(f"{url}: {res.status_code}, expected {expected}")
        elif expected == 404:
            assert "Page not found" in res.text and "Owner&#39;s blog" not in res.text, url
        elif expected == L and who not in world["links"] and url != "/":
            assert "/login" in res.location, url
    assert not wrong, f"{who}: " + "; ".join(wrong)


#: (page, form) → status of a POST of that form, with no fields but its CSRF token, for each of
#: WHO: 200 is the form again with its errors (the permission was granted), 303 an action done
#: without fields; a refusal is 403, 404 or the login page, and changes nothing.
SITE_FORMS = {
    ("edit", "edit-site"): (L, 200, 200, 403, 404, 404, 404, 404, 404),
    ("delete", "delete-site"): (L, 200, 403, 403, 404, 404, 404, 404, 404),
    ("members", "invite"): (L, 200, 200, 403, 404, 404, 404, 404, 404),
    ("members", "member"): (L, 200, 200, 403, 404, 404, 404, 404, 404),
    ("members", "revoke-invitation"): (L, 200, 200, 403, 404, 404, 404, 404, 404),
    ("share", "share-link"): (L, 200, 200, 403, 404, 404, 404, 404, 404),
    ("share", "revoke-link"): (L, 200, 200, 403, 404, 404, 404, 404, 404),
    ("transfer", "transfer"): (L, 200, 403, 403, 404, 404, 404, 404, 404),
    ("funnels", "funnel-add"): (L, 200, 200, 403, 404, 404, 404, 404, 404),
    ("funnels", "funnel-edit"): (L, 303, 303, 403, 404, 404, 404, 404, 404),
    ("funnels", "funnel-delete"): (L, 200, 200, 403, 404, 404, 404, 404, 404),
    ("experiments", "experiment-add"): (L, 200, 200, 403, 404, 404, 404, 404, 404),
    ("experiments", "experiment-edit"): (L, 303, 303, 403, 404, 404, 404, 404, 404),
    ("experiments", "experiment-delete"): (L, 200, 200, 403, 404, 404, 404, 404, 404),
    ("unlock", "unlock"): (404, 404, 404, 404, 404, 404, 200, 404, 404),
    ("goals/", "add-goal"): (L, 200, 200, 403, 404, 404, 404, 404, 404),
    ("goals/{goal}/", "edit-goal"): (L, 200, 200, 403, 404, 404, 404, 404, 404),
    ("goals/{goal}/delete", "delete-goal"): (L, 200, 200, 403, 404, 404, 404, 404, 404),
}
OTHER_FORMS = {
    ("/invitations/{invitation}", "accept"): (L, 403, 403, 403, 403, 403, L, L, L),
    ("/users/{owner}/manage", "delete-user"): (L, 403, 404, 404, 404, 200, L, L, L),
    ("/users/{owner}/manage", "password-link"): (L, 403, 404, 404, 404, 200, L, L, L),
    ("/users/{owner}/manage", "admin"): (L, 403, 404, 404, 404, 303, L, L, L),
    ("/users/{owner}/manage", "state"): (L, 403, 404, 404, 404, 303, L, L, L),
}


@pytest.mark.parametrize("who", WHO)
def test_every_form_for_everyone(app, world, who, dbsession):
    browser = TestApp(app, extra_environ={"HTTP_HOST": "tracking.example.org", "REMOTE_ADDR": "203.0.113.7"})
    if who in world["users"]:
        browser.login(world["users"][who].email)
    column = WHO.index(who)
    names = world["names"]
    base = f"/share/{world['links'][who]}/" if who in world["links"] else f"/sites/{names['site']}/"
    cells = [(base + page.format(**names), formid, statuses[column]) for (page, formid), statuses in SITE_FORMS.items()]
    cells += [(page.format(**names), formid, statuses[column]) for (page, formid), statuses in OTHER_FORMS.items()]
    token = browser.csrf_token()
    wrong = []
    for url, formid, expected in cells:
        res = browser.post(url, {"__formid__": formid, "csrf_token": token}, status="*")
        if res.status_code != expected:
            wrong.append(f"{formid} at {url}: {res.status_code}, expected {expected}")
    assert not wrong, f"{who}: " + "; ".join(wrong)
