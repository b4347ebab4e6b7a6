"""Members of a site: invitations, roles, removal, ownership transfer and the site's history."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.support import TestApp
from tracking import make_app
from tracking.models import Invitation, Site, SiteMember


@pytest.fixture
def client(app):
    """Another browser on the same application."""
    return lambda: TestApp(app, extra_environ={"HTTP_HOST": "tracking.example.org", "REMOTE_ADDR": "203.0.113.8"})


def invite(testapp, site, email, role="viewer"):
    """As the signed-in owner or admin: invite ``email``; returns the invitation link's path."""
    page = testapp.get(f"/sites/{site.id}/members")
    form = page.forms["invite"]
    form["email"] = email
    form["role"] = role
    res = form.submit("submit")
    assert res.status_code == 200
    match = re.search(r'aria-label="Invitation link" value="http://tracking\.example\.org(/invitations/[^"]+)"', res.text)
    assert match, res.text
    return match.group(1)


def accept(browser, path):
    page = browser.get(path)
    return page.forms["accept"].submit("submit")


def test_a_viewer_is_invited_accepts_and_sees_the_dashboard_but_no_settings(testapp, client, dbsession, owner, other, site):
    testapp.login(owner.email)
    path = invite(testapp, site, "OTHER@example.com")
    token = path.rsplit("/", 1)[1]
    # Only the token's hash is stored.
    row = dbsession.scalar(select(Invitation).where(Invitation.site_id == site.id))
    assert row.email == "other@example.com" and token not in row.token_hash
    viewer = client()
    viewer.login(other.email)
    res = accept(viewer, path)
    assert res.status_code == 303 and res.location.endswith(f"/sites/{site.id}/")
    dashboard = res.follow()
    assert "Owner&#39;s blog" in dashboard.text
    assert f"/sites/{site.id}/edit" not in dashboard.text and "Share links" not in dashboard.text
    assert f"/sites/{site.id}/visits/" in dashboard.text
    assert viewer.get(f"/sites/{site.id}/edit", status=403)
    assert viewer.get(f"/sites/{site.id}/members", status=403)
    assert viewer.get(f"/sites/{site.id}/visits/").status_code == 200
    listing = viewer.get("/sites/")
    assert "Owner&#39;s blog" in listing.text and "viewer" in listing.text
    # The link was single-use.
    assert viewer.get(path, status=404)


def test_an_invitation_is_for_its_address_only(testapp, client, make_user, owner, other, site, dbsession):
    testapp.login(owner.email)
    path = invite(testapp, site, "someone@example.com")
    browser = client()
    browser.login(other.email)
    page = browser.get(path)
    assert "accept" not in page.forms and "log out" in page.text.lower()
    res = browser.post(path, {"__formid__": "accept", "csrf_token": browser.csrf_token(path)}, status="*")
    assert res.status_code in (403, 404)
    assert dbsession.scalar(select(SiteMember).where(SiteMember.site_id == site.id)) is None


def test_a_signed_out_visitor_is_sent_to_log_in_and_comes_back(testapp, client, owner, other, site):
    testapp.login(owner.email)
    path = invite(testapp, site, other.email)
    browser = client()
    page = browser.get(path)
    assert "accept" not in page.forms
    login = page.click(href="/login\\?next=")
    form = login.forms["login"]
    form["email"], form["password"] = other.email, "correct horse battery staple"
    back = form.submit("submit")
    assert back.location.endswith(path)
    assert accept(browser, path).status_code == 303


@pytest.fixture
def invite_app(app_settings, db_service):
    return make_app({**app_settings, "tracking.registration": "invite"}, database=db_service)


def test_invite_only_registration_needs_the_invited_address(invite_app, dbsession, owner, site):
    browser = TestApp(invite_app, extra_environ={"HTTP_HOST": "tracking.example.org", "REMOTE_ADDR": "203.0.113.9"})
    assert browser.get("/register", status=404)
    assert "Register" not in browser.get("/login").text.split("<main")[0]
    browser.login(owner.email)
    path = invite(browser, site, "newcomer@example.com")
    browser.logout()
    assert browser.get("/register?invitation=" + "x" * 43, status=404)
    page = browser.get(path).click(href="/register\\?invitation=")
    form = page.forms["register"]
    assert form["email"].value == "newcomer@example.com"
    form["name"], form["email"] = "Newcomer", "intruder@example.com"
    form["password"] = form["password-confirm"] = "a-long-password"
    res = form.submit("submit")
    assert "The invitation is for newcomer@example.com" in res.text
    form = res.forms["register"]
    form["email"] = "newcomer@example.com"
    form["password"] = form["password-confirm"] = "a-long-password"
    res = form.submit("submit")
    assert res.location.endswith(path)
    assert accept(browser, path).status_code == 303
    assert browser.get(f"/sites/{site.id}/").status_code == 200


def test_roles_change_and_removal_take_effect_on_the_next_request(testapp, client, dbsession, owner, other, site):
    site.members.append(SiteMember(user_id=other.id, role="viewer"))
    dbsession.flush()
    member_id = site.members[0].id
    testapp.login(owner.email)
    browser = client()
    browser.login(other.email)
    assert browser.get(f"/sites/{site.id}/edit", status=403)

    def change(role):
        form = testapp.get(f"/sites/{site.id}/members").forms["member"]
        form["member"], form["role"] = str(member_id), role
        assert form.submit("submit").status_code == 303

    change("admin")
    assert browser.get(f"/sites/{site.id}/edit").status_code == 200
    assert browser.get(f"/sites/{site.id}/members").status_code == 200
    assert browser.get(f"/sites/{site.id}/delete", status=403)
    change("remove")
    assert browser.get(f"/sites/{site.id}/", status=404)
    assert "Owner&#39;s blog" not in browser.get("/sites/").text
    history = testapp.get(f"/sites/{site.id}/members").text
    assert "made other@example.com admin" in history and "removed other@example.com" in history
    assert "Olivia Owner" in history


def test_a_member_form_refuses_an_unknown_member(testapp, dbsession, owner, other, site):
    site.members.append(SiteMember(user_id=other.id, role="viewer"))
    dbsession.flush()
    testapp.login(owner.email)
    res = testapp.post(f"/sites/{site.id}/members", {"__formid__": "member", "member": "999", "role": "admin",
                                                       "csrf_token": testapp.csrf_token("/sites/")})
    assert res.status_code == 200 and "is not one of" in res.text


def test_revoked_and_expired_invitations_are_404(testapp, client, dbsession, owner, other, site):
    testapp.login(owner.email)
    first = invite(testapp, site, other.email)
    second = invite(testapp, site, "late@example.com")
    page = testapp.get(f"/sites/{site.id}/members")
    assert "late@example.com" in page.text
    form = page.forms["revoke-invitation"]
    form["invitation"] = str(dbsession.scalar(select(Invitation.id).where(Invitation.email == other.email)))
    assert form.submit("submit").status_code == 303
    assert client().get(first, status=404)
    row = dbsession.scalar(select(Invitation).where(Invitation.email == "late@example.com"))
    row.expires_at -= timedelta(days=7, seconds=1)
    dbsession.flush()
    assert client().get(second, status=404)
    assert client().get("/invitations/not-a-token", status=404)


def test_ownership_transfer(testapp, client, dbsession, owner, other, site):
    site.members.append(SiteMember(user_id=other.id, role="admin"))
    dbsession.flush()
    browser = client()
    browser.login(other.email)
    assert browser.get(f"/sites/{site.id}/transfer", status=403)
    testapp.login(owner.email)
    form = testapp.get(f"/sites/{site.id}/transfer").forms["transfer"]
    form["member"] = str(site.members[0].id)
    assert "Tick the box" in form.submit("submit").text
    form["confirm"] = True
    assert form.submit("submit").status_code == 303
    dbsession.expire_all()
    site = dbsession.get(Site, site.id)
    assert site.owner_id == other.id
    assert [(m.user_id, m.role) for m in site.members] == [(owner.id, "admin")]
    assert browser.get(f"/sites/{site.id}/delete").status_code == 200
    assert testapp.get(f"/sites/{site.id}/delete", status=403)
    assert "owner" in browser.get("/sites/").text
