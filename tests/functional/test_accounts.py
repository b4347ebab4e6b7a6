"""Register, log in, log out, and the account page."""

from datetime import datetime

import pytest
from sqlalchemy import func, select

from tests.support import PASSWORD
from tracking.models import Site, User
from tracking.models.accounts import password_context


def register(testapp, name="Zoe", email="zoe@example.com", password="a-long-password", confirm=None):
    form = testapp.get("/register").forms["register"]
    form["name"] = name
    form["email"] = email
    form["password"] = password
    form["password-confirm"] = password if confirm is None else confirm
    return form.submit("submit")


def test_register_creates_account_and_logs_in(testapp, dbsession):
    res = register(testapp, email="  Zoe@Example.COM ")
    assert res.status_code == 303
    assert res.location.endswith("/sites/")
    page = res.follow()
    assert "Welcome!" in page.text
    assert "Zoe" in page.text and "Log out" in page.text
    user = dbsession.scalar(select(User).where(User.email == "zoe@example.com"))
    assert user is not None and user.name == "Zoe"
    assert user.password_hash.startswith("$argon2")
    assert PASSWORD not in user.password_hash


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "Enter your name."),
        ({"email": "not-an-email"}, "Enter an e-mail address such as ada@example.org."),
        ({"password": "short"}, "At least 10 characters."),
        ({"password": "x" * 257}, "At most 256 characters."),
        ({"confirm": "something-else"}, "The two passwords differ."),
    ],
)
def test_register_validation_errors_rerender_the_form(testapp, dbsession, fields, message):
    res = register(testapp, **fields)
    assert res.status_code == 200
    assert message in res.text
    assert dbsession.scalar(select(func.count(User.id))) == 0


def test_register_duplicate_email_is_a_form_error(testapp, dbsession, owner):
    res = register(testapp, email="OWNER@example.com")
    assert res.status_code == 200
    assert "An account with this e-mail address already exists." in res.text
    assert dbsession.scalar(select(func.count(User.id))) == 1


def test_register_race_on_unique_email_is_retried(testapp, dbsession, owner, monkeypatch):
    """Two sign-ups with one address: the loser's insert fails, the retry shows the form error."""
    from tracking.schemas import accounts

    calls = []
    real = accounts.select

    def racing_select(*args, **kwargs):
        # The first uniqueness check runs before the other sign-up commits: it sees nothing.
        calls.append(1)
        if len(calls) == 1:
            return real(*args, **kwargs).where(False)
        return real(*args, **kwargs)

    monkeypatch.setattr(accounts, "select", racing_select)
    res = register(testapp, email="owner@example.com")
    assert len(calls) == 2, "the request was not retried"
    assert res.status_code == 200
    assert "An account with this e-mail address already exists." in res.text
    assert dbsession.scalar(select(func.count(User.id))) == 1


def test_login_and_logout(testapp, owner):
    res = testapp.login("Owner@Example.com")
    assert res.status_code == 303 and res.location.endswith("/sites/")
    page = res.follow()
    assert "Olivia Owner" in page.text
    res = testapp.logout()
    assert res.status_code == 303
    page = res.follow()
    assert "Log in" in page.text and "Olivia Owner" not in page.text
    assert testapp.get("/sites/").status_code == 303


@pytest.mark.parametrize("email", ["owner@example.com", "nobody@example.com"])
def test_login_failure_gives_one_generic_message(testapp, owner, email):
    res = testapp.login(email, password="wrong password!")
    assert res.status_code == 200
    assert "Unknown e-mail address or wrong password." in res.text
    assert "wrong password!" not in res.text
    assert testapp.get("/sites/").status_code == 303


def test_login_renews_the_session(testapp, owner):
    testapp.get("/login")
    before = testapp.cookies.get("tracking_session")
    token_before = testapp.csrf_token()
    testapp.login("owner@example.com")
    assert testapp.cookies.get("tracking_session") != before
    assert testapp.csrf_token("/sites/") != token_before


def test_session_cookie_flags(testapp):
    res = testapp.get("/login")
    cookie = res.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development; production.ini sets it (tests/unit/test_settings.py)


def test_logout_needs_post_and_csrf(testapp, owner):
    testapp.login("owner@example.com")
    testapp.get("/logout", status=404)
    testapp.post("/logout", {}, status=400)
    assert testapp.get("/sites/").status_code == 200


def test_login_upgrades_an_outdated_hash(testapp, dbsession, owner):
    owner.password_hash = password_context.handler("pbkdf2_sha256").hash(PASSWORD)
    dbsession.flush()
    testapp.login("owner@example.com")
    dbsession.expire_all()
    assert dbsession.get(User, owner.id).password_hash.startswith("$argon2")


def test_account_page_changes_name(testapp, dbsession, owner):
    testapp.login("owner@example.com")
    page = testapp.get(f"/users/{owner.id}/")
    form = page.forms["name"]
    form["name"] = "  Olivia O.  "
    res = form.submit("submit")
    assert res.status_code == 303
    assert "Name saved." in res.follow().text
    dbsession.expire_all()
    assert dbsession.get(User, owner.id).name == "Olivia O."


def test_account_page_changes_password(testapp, dbsession, owner):
    testapp.login("owner@example.com")
    form = testapp.get(f"/users/{owner.id}/").forms["password"]
    form["current_password"] = "not my password"
    form["new_password"] = "new-password-123"
    form["new_password-confirm"] = "new-password-123"
    res = form.submit("submit")
    assert res.status_code == 200
    assert "This is not your current password." in res.text

    form = res.forms["password"]
    form["current_password"] = PASSWORD
    form["new_password"] = "new-password-123"
    form["new_password-confirm"] = "new-password-123"
    assert form.submit("submit").status_code == 303
    testapp.logout()
    assert testapp.login("owner@example.com").status_code == 200  # old password refused
    assert testapp.login("owner@example.com", "new-password-123").status_code == 303


def test_delete_account_needs_confirmation_and_deletes_sites(testapp, dbsession, owner, other, make_site, site):
    from tests.hits import make_hit
    from tracking.ingest.store import Store
    from tracking.models import Hit

    owner_id = owner.id
    kept = make_site(other, url="https://example.com")
    Store(None).write_batch(dbsession, [make_hit(site, datetime(2026, 3, 1, 12)), make_hit(kept, datetime(2026, 3, 1, 12))])
    assert dbsession.scalar(select(func.count(Hit.id))) == 2
    testapp.login("owner@example.com")
    form = testapp.get(f"/users/{owner.id}/delete").forms["delete-account"]
    form["current_password"] = "wrong"
    assert "This is not your current password." in form.submit("submit").text
    assert dbsession.get(User, owner.id) is not None

    form = testapp.get(f"/users/{owner.id}/delete").forms["delete-account"]
    form["current_password"] = PASSWORD
    res = form.submit("submit")
    assert res.status_code == 303
    dbsession.expire_all()
    assert dbsession.get(User, owner_id) is None
    assert dbsession.scalar(select(func.count(Site.id))) == 1  # the other account's
    # The account's sites' hits went with them; the other site's stayed.
    assert list(dbsession.scalars(select(Hit.site_id))) == [kept.id]
    assert testapp.get("/sites/").status_code == 303  # logged out
