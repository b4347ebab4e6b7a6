"""Registration modes, and the admin's account pages and their tracking-admin twins."""

import re
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from tests.support import PASSWORD, TestApp
from tracking import make_app
from tracking.models import PasswordToken, Site, SiteEvent, User, UserSession
from tracking.scripts import admin as script
from tracking.settings import Settings


@pytest.mark.parametrize(
    ("values", "environ", "expected"),
    [
        ({}, {}, "open"),
        ({"tracking.production": "true", "tracking.secret": "s" * 40}, {}, "invite"),
        ({"tracking.registration": "closed"}, {}, "closed"),
        ({"tracking.registration": "closed"}, {"TRACKING_REGISTRATION": "invite"}, "invite"),
    ],
)
def test_registration_setting(values, environ, expected):
    values = {"sqlalchemy.url": "sqlite://", "tracking.secret": "x" * 40, **values}
    assert Settings.from_ini(values, environ=environ).registration == expected


def test_an_unknown_registration_mode_refuses_to_start():
    with pytest.raises(SystemExit, match="tracking.registration must be one of open, invite, closed"):
        Settings.from_ini({"sqlalchemy.url": "sqlite://", "tracking.secret": "x" * 40, "tracking.registration": "maybe"}, environ={})


def test_the_shipped_ini_files_say_their_mode():
    from tests.support import ROOT

    assert "tracking.registration = invite" in (ROOT / "production.ini").read_text()
    assert "tracking.registration = open" in (ROOT / "development.ini").read_text()


def test_closed_registration_creates_no_account(app_settings, db_service, dbsession):
    app = make_app({**app_settings, "tracking.registration": "closed"}, database=db_service)
    browser = TestApp(app, extra_environ={"HTTP_HOST": "tracking.example.org", "REMOTE_ADDR": "203.0.113.7"})
    assert browser.get("/register", status=404)
    res = browser.post("/register", {"__formid__": "register", "name": "x", "email": "x@example.org",
                                      "csrf_token": browser.csrf_token()}, status=404)
    assert res.status_code == 404
    assert "Create an account" not in browser.get("/").text
    assert dbsession.scalar(select(func.count(User.id))) == 0


@pytest.fixture
def as_admin(testapp, admin):
    testapp.login(admin.email)
    return testapp


def submit(app, user, formid, **fields):
    form = app.get(f"/users/{user.id}/manage").forms[formid]
    for name, value in fields.items():
        form[name] = value
    return form.submit("submit")


def test_the_user_list_shows_last_login_and_sites(as_admin, owner, site, other):
    page = as_admin.get("/users/")
    row = re.search(r"<tr><td><a[^>]*>Olivia Owner</a>.*?</tr>", page.text).group(0)
    assert "<td>1</td>" in row and "never" in row
    admin_row = re.search(r"<tr><td><a[^>]*>Ada Admin</a>.*?</tr>", page.text).group(0)
    assert "never" not in admin_row  # just logged in


def test_disabling_ends_sessions_at_once_and_refuses_log_in(as_admin, app, dbsession, owner, site):
    browser = TestApp(app, extra_environ={"HTTP_HOST": "tracking.example.org", "REMOTE_ADDR": "203.0.113.8"})
    browser.login(owner.email)
    assert browser.get(f"/sites/{site.id}/").status_code == 200
    assert submit(as_admin, owner, "state").status_code == 303
    assert dbsession.scalar(select(func.count(UserSession.id)).where(UserSession.user_id == owner.id)) == 0
    assert browser.get(f"/sites/{site.id}/").status_code == 303  # to the login page
    assert "Unknown e-mail address or wrong password." in browser.login(owner.email).text
    assert submit(as_admin, owner, "state").status_code == 303
    assert browser.login(owner.email).status_code == 303


def test_admin_rights_and_the_last_admin(as_admin, dbsession, admin, other):
    assert submit(as_admin, other, "admin").status_code == 303
    dbsession.expire_all()
    assert dbsession.get(User, other.id).is_admin
    assert submit(as_admin, other, "admin").status_code == 303
    res = submit(as_admin, admin, "admin")
    assert "This is the last administrator" in res.text
    dbsession.expire_all()
    assert dbsession.get(User, admin.id).is_admin


def test_a_one_time_set_password_link(as_admin, app, dbsession, owner):
    res = submit(as_admin, owner, "password-link")
    path = re.search(r'value="http://tracking\.example\.org(/password/[^"]+)"', res.text).group(1)
    browser = TestApp(app, extra_environ={"HTTP_HOST": "tracking.example.org", "REMOTE_ADDR": "203.0.113.9"})
    form = browser.get(path).forms["set-password"]
    form["new_password"] = form["new_password-confirm"] = "a brand new password"
    assert form.submit("submit").status_code == 303
    assert browser.get(path, status=404)
    assert browser.login(owner.email, "a brand new password").status_code == 303


def test_deleting_an_account_asks_what_becomes_of_its_sites(as_admin, dbsession, owner, other, site):
    owner_id, site_id = owner.id, site.id
    res = submit(as_admin, owner, "delete-user", sites="transfer", transfer_to="nobody@example.com", confirm=True)
    assert "Give the e-mail address of another account." in res.text
    assert submit(as_admin, owner, "delete-user", sites="transfer", transfer_to=other.email, confirm=True).status_code == 303
    dbsession.expire_all()
    assert dbsession.get(User, owner_id) is None
    assert dbsession.get(Site, site_id).owner_id == other.id
    assert dbsession.scalar(select(SiteEvent.what).where(SiteEvent.site_id == site_id)).startswith("transferred the ownership")


def test_admins_read_no_analytics_they_are_not_members_of(as_admin, owner, site):
    assert as_admin.get(f"/sites/{site.id}/", status=404)
    assert as_admin.get(f"/users/{owner.id}/manage").status_code == 200


def args(command, email, **kw):
    return SimpleNamespace(command=command, email=email, base_url="https://stats.example.org", sites=None, to=None, **kw)


def test_tracking_admin_account_commands(dbsession, owner, other, admin, site):
    assert script.administer(dbsession, args("disable", owner.email)).startswith("disabled owner@example.com")
    assert owner.is_disabled
    script.administer(dbsession, args("enable", "OWNER@example.com"))
    assert not owner.is_disabled
    script.administer(dbsession, args("make-admin", other.email))
    assert other.is_admin
    link = script.administer(dbsession, args("password-link", owner.email))
    assert re.fullmatch(r"https://stats\.example\.org/password/[A-Za-z0-9_-]{43}", link)
    with pytest.raises(script.CommandError, match="there is no account"):
        script.administer(dbsession, args("disable", "ghost@example.com"))
    message = script.administer(dbsession, SimpleNamespace(command="delete-user", email=owner.email, sites="transfer", to=other.email))
    assert message == f"deleted {owner.email}; its 1 site(s) given to {other.email}"
    assert dbsession.get(Site, site.id).owner_id == other.id


def test_tracking_admin_delete_user_must_be_told_about_sites():
    with pytest.raises(SystemExit):
        script.parse_args(["delete-user", "production.ini", "a@example.org"])
    with pytest.raises(SystemExit):
        script.parse_args(["delete-user", "production.ini", "a@example.org", "--sites", "transfer"])


def test_disabling_voids_the_accounts_set_password_link(as_admin, app, dbsession, owner):
    res = submit(as_admin, owner, "password-link")
    path = re.search(r'value="http://tracking\.example\.org(/password/[^"]+)"', res.text).group(1)
    assert submit(as_admin, owner, "state").status_code == 303  # disabled
    browser = TestApp(app, extra_environ={"HTTP_HOST": "tracking.example.org", "REMOTE_ADDR": "203.0.113.9"})
    assert browser.get(path, status=404)
    # Nor is a new one issued while the account is disabled.
    res = submit(as_admin, owner, "password-link")
    assert "/password/" not in res.text and "This account is disabled: enable it first." in res.text
    assert dbsession.scalar(select(func.count(PasswordToken.id)).where(PasswordToken.user_id == owner.id)) == 0
    # Enabled again, the account has its own password, not one set through the old link.
    assert submit(as_admin, owner, "state").status_code == 303
    assert browser.get(path, status=404)
    assert browser.login(owner.email, PASSWORD).status_code == 303


def test_the_last_admin_cannot_delete_their_own_account(as_admin, dbsession, admin):
    form = as_admin.get(f"/users/{admin.id}/delete").forms["delete-account"]
    form["current_password"] = PASSWORD
    res = form.submit("submit")
    assert res.status_code == 200 and "This is the last administrator" in res.text
    dbsession.expire_all()
    assert dbsession.get(User, admin.id) is not None


def test_tracking_admin_keeps_an_admin_and_issues_no_link_for_a_disabled_account(dbsession, admin, owner):
    for command in ("disable", "delete-user", "unmake-admin"):
        with pytest.raises(script.CommandError, match="last administrator"):
            script.administer(dbsession, SimpleNamespace(**{**vars(args(command, admin.email)), "sites": "delete"}))
    assert dbsession.get(User, admin.id) is not None and admin.is_admin and not admin.is_disabled
    script.administer(dbsession, args("disable", owner.email))
    with pytest.raises(script.CommandError, match="disabled"):
        script.administer(dbsession, args("password-link", owner.email))
