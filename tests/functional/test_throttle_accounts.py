"""The log-in throttle everywhere a password or an address can be tried: no way around it."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.support import PASSWORD, TestApp
from tracking import throttle
from tracking.models import LoginThrottle, User
from tracking.views import auth

T0 = datetime(2026, 11, 27, 12, 0, 0)
SECRET = "test-secret-" + "x" * 32
WRONG = "wrong password!"


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, moved by hand."""
    now = [T0]
    monkeypatch.setattr(auth, "utcnow", lambda: now[0])
    return now


@pytest.fixture
def password_checks(monkeypatch):
    calls = []
    check = User.check_password
    monkeypatch.setattr(User, "check_password", lambda self, password: calls.append(password) or check(self, password))
    return calls


def client_from(app, ip):
    return TestApp(app, extra_environ={"HTTP_HOST": "tracking.example.org", "REMOTE_ADDR": ip})


def login(client, email, password=PASSWORD):
    """A log-in through the form, whatever the answer."""
    form = client.get("/login").forms["login"]
    form["email"], form["password"] = email, password
    return form.submit("submit", status="*")


def counts(dbsession):
    dbsession.expire_all()
    return dict(dbsession.execute(select(LoginThrottle.key, LoginThrottle.failures)).all())


# -- (a) a success clears the account's counter, never the client's -----------------------------------


def test_an_attacker_cannot_wipe_its_record_by_logging_into_its_own_account(testapp, make_user, clock):
    """Four guesses at other people's accounts, then a log-in to one's own, again and again: the
    guesses still add up, and the client is slowed down like any other guesser."""
    own = make_user(email="attacker@example.com")
    answers = []
    for round_ in range(3):
        for n in range(4):
            answers.append(login(testapp, f"victim{round_}{n}@example.com", WRONG).status_code)
        answers.append(login(testapp, own.email).status_code)
        testapp.post("/logout", {"csrf_token": testapp.csrf_token()}, status="*")
    # 4 failures, a success, then the 5th failure starts the back-off and the next attempt waits
    assert answers[:6] == [200, 200, 200, 200, 303, 200]
    assert answers[6:] == [429] * 9


def test_a_correct_password_gives_the_client_back_its_attempt_exactly(dbsession):
    account, client = "account:a", "client:b"
    for n in range(6):
        assert throttle.attempt(dbsession, [client], T0 + timedelta(seconds=n // 5)).counts == {client: n + 1}
    before = dbsession.execute(select(LoginThrottle.__table__).where(LoginThrottle.key == client)).one()
    # the client waits 2 s after its 6th failure; then it logs in correctly
    now = T0 + timedelta(seconds=3)
    counted = throttle.attempt(dbsession, [account, client], now)
    assert counted.counts == {account: 1, client: 7}
    throttle.settle(dbsession, counted)
    after = dbsession.execute(select(LoginThrottle.__table__).where(LoginThrottle.key == client)).one()
    assert after == before
    assert counts(dbsession) == {client: 6}
    assert throttle.wait(dbsession, [client], now) == timedelta(0)


def test_an_attempt_refused_by_one_key_counts_against_none(dbsession):
    for _ in range(5):
        throttle.attempt(dbsession, ["client:b"], T0)
    refused = throttle.attempt(dbsession, ["account:a", "client:b"], T0)
    assert refused.wait == timedelta(seconds=1) and refused.counts == {}
    assert {key: n for key, n in counts(dbsession).items() if n} == {"client:b": 5}


# -- (b) the current password of the account forms ------------------------------------------------------


def password_form(client, user, current, new="a brand new password"):
    form = client.get(f"/users/{user.id}/").forms["password"]
    form["current_password"] = current
    form["new_password"] = form["new_password-confirm"] = new
    return form.submit("submit", status="*")


def delete_form(client, user, current):
    form = client.get(f"/users/{user.id}/delete").forms["delete-account"]
    form["current_password"] = current
    return form.submit("submit", status="*")


@pytest.mark.parametrize("submit", [password_form, delete_form], ids=["change password", "delete account"])
def test_the_current_password_is_throttled_like_a_log_in(testapp, dbsession, owner, clock, password_checks, submit):
    testapp.login(owner.email)
    password_checks.clear()
    for _ in range(5):
        res = submit(testapp, owner, WRONG)
        assert res.status_code == 200 and "This is not your current password." in res.text
    res = submit(testapp, owner, PASSWORD)  # even the right one, unchecked
    assert res.status_code == 429
    assert "Too many failed attempts. Try again in 1 second." in res.text
    assert res.headers["Retry-After"] == "1"
    assert PASSWORD not in res.text
    assert password_checks == [WRONG] * 5
    dbsession.expire_all()
    assert dbsession.get(User, owner.id) is not None
    assert login(testapp, owner.email).status_code == 429  # the same counters as the log-in form
    clock[0] += timedelta(seconds=1)
    res = submit(testapp, owner, PASSWORD)
    assert res.status_code == 303
    assert password_checks[-1] == PASSWORD


def test_failed_log_ins_elsewhere_throttle_the_current_password_check(app, testapp, owner, clock, password_checks):
    """The account's counter: guesses at its log-in from other addresses stop a stolen session
    from guessing the password in the account forms."""
    testapp.login(owner.email)
    elsewhere = client_from(app, "192.0.2.77")
    for _ in range(5):
        login(elsewhere, owner.email, WRONG)
    password_checks.clear()
    assert password_form(testapp, owner, WRONG).status_code == 429
    assert password_checks == []


def test_failed_log_ins_on_other_accounts_throttle_this_clients_password_check(app, owner, clock, password_checks):
    """The client's counter: a client that guessed at other accounts is slowed in the forms too."""
    client = client_from(app, "192.0.2.88")
    client.login(owner.email)
    for n in range(5):
        client.post("/logout", {"csrf_token": client.csrf_token()})
        login(client, f"someone{n}@example.com", WRONG)
    clock[0] += timedelta(seconds=1)
    assert login(client, owner.email).status_code == 303  # the back-off has passed: 6th attempt, correct
    password_checks.clear()
    res = delete_form(client, owner, WRONG)  # the 6th failure (the log-in gave its attempt back)
    assert res.status_code == 200 and password_checks == [WRONG]
    assert delete_form(client, owner, PASSWORD).status_code == 429


# -- (d) registration ------------------------------------------------------------------------------------


def register(client, email, name="Someone", password="a-long-password"):
    form = client.get("/register").forms["register"]
    form["name"], form["email"] = name, email
    form["password"] = form["password-confirm"] = password
    return form.submit("submit", status="*")


def test_probing_addresses_at_registration_is_throttled_like_guessing(testapp, dbsession, make_user, clock):
    for n in range(5):
        make_user(email=f"member{n}@example.com")
    for n in range(5):
        res = register(testapp, f"member{n}@example.com")
        assert res.status_code == 200 and "An account with this e-mail address already exists." in res.text
    res = register(testapp, "member0@example.com")
    assert res.status_code == 429
    assert "Too many failed attempts. Try again in 1 second." in res.text
    assert "already exists" not in res.text  # the answer is not given
    assert res.headers["Retry-After"] == "1"
    # the same counter as the log-in form's
    assert login(testapp, "member1@example.com", WRONG).status_code == 429
    clock[0] += timedelta(seconds=1)
    assert register(testapp, "new@example.com").status_code == 303


def test_registrations_that_reveal_nothing_are_not_counted(testapp, dbsession, owner, clock):
    for _ in range(6):
        res = register(testapp, "fresh@example.com", password="short")  # a form error, the address is free
        assert res.status_code == 200 and "At least 10 characters." in res.text
    assert not any(counts(dbsession).values())
    res = register(testapp, "OWNER@example.com", password="short")
    assert "already exists" in res.text
    assert sorted(counts(dbsession).values()) == [1]


def test_one_client_creates_at_most_five_accounts_an_hour(app, dbsession, clock):
    client = client_from(app, "192.0.2.40")
    for n in range(5):
        clock[0] = T0 + timedelta(minutes=10 * n)
        assert register(client, f"new{n}@example.com").status_code == 303
        client.post("/logout", {"csrf_token": client.csrf_token()})
    res = register(client, "new5@example.com")
    assert res.status_code == 429
    assert "Too many new accounts from your network. Try again in 20 minutes." in res.text
    assert res.headers["Retry-After"] == str(20 * 60)
    assert dbsession.scalar(select(func.count(User.id)).where(User.email == "new5@example.com")) == 0
    assert register(client_from(app, "192.0.2.41"), "other@example.com").status_code == 303  # another client
    clock[0] = T0 + timedelta(hours=1)
    assert register(client, "new5@example.com").status_code == 303


def test_the_account_cap_is_counted_exactly(dbsession):
    key = throttle.signup_key(SECRET, "192.0.2.40")
    assert key.startswith("signup:") and "192.0.2" not in key and len(key) <= 64
    assert [throttle.count_signup(dbsession, key, T0 + timedelta(minutes=n)) for n in range(6)] == [timedelta(0)] * 5 + [
        timedelta(minutes=55)
    ]
    # other attempts purge lapsed rows meanwhile: the cap's row stays for its hour
    throttle.attempt(dbsession, ["account:x"], T0 + timedelta(minutes=59))
    assert throttle.count_signup(dbsession, key, T0 + timedelta(minutes=59)) == timedelta(minutes=1)
    assert throttle.count_signup(dbsession, key, T0 + timedelta(minutes=60)) == timedelta(0)
