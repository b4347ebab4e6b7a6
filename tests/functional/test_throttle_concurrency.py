"""The log-in throttle under real concurrency: many attempts at once, in threads, against an
application of its own on a database of its own (commits are real, as in production)."""

import threading

import pytest
from sqlalchemy import insert

import tracking.views.auth
from tests.support import TestApp
from tracking import main
from tracking.interfaces import IDatabase, IHitPipeline
from tracking.models import User
from tracking.models.types import utcnow

ATTEMPTS = 30


@pytest.fixture
def own_app(app_settings, fresh_db, password_hash):
    """The application on a committed database, with one account (owner@example.com)."""
    wsgi = main({}, **{**app_settings, "sqlalchemy.url": fresh_db, "sqlalchemy.pool_size": "40"})
    engine = wsgi.registry.getUtility(IDatabase).engine
    with engine.begin() as connection:
        connection.execute(insert(User).values(name="Owner", email="owner@example.com", password_hash=password_hash))
    TestApp(wsgi).get("/login")  # the templates compiled once, not by 30 threads at a time
    yield wsgi
    wsgi.registry.getUtility(IHitPipeline).geo.close()
    engine.dispose()


@pytest.fixture
def password_checks(monkeypatch):
    calls = []
    check = User.check_password
    monkeypatch.setattr(User, "check_password", lambda self, password: calls.append(1) or check(self, password))
    return calls


@pytest.fixture
def one_instant(monkeypatch):
    """Every attempt arrives at one instant. Threads released together reach the view over a
    spread of time that grows with the machine's load; past the 1 s back-off after the 5th
    failure a 6th attempt is rightly checked, so real time would test the machine, not the lock."""
    instant = utcnow()
    monkeypatch.setattr(tracking.views.auth, "utcnow", lambda: instant)
    return instant


def at_once(count, prepare, act):
    """``prepare(n)`` in each of ``count`` threads, then ``act(prepared)`` in all of them at once."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(n):
        try:
            prepared = prepare(n)
            barrier.wait()
            results[n] = act(prepared)
        except Exception as exc:  # pragma: no cover - reported below
            barrier.abort()
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def login_form(wsgi, email, password, ip="203.0.113.7"):
    client = TestApp(wsgi, extra_environ={"HTTP_HOST": "tracking.example.org", "REMOTE_ADDR": ip})
    form = client.get("/login").forms["login"]
    form["email"], form["password"] = email, password
    return form


def test_concurrent_wrong_passwords_get_exactly_five_checks(own_app, password_checks, one_instant):
    """30 wrong passwords for one account at the same instant: five are checked, the others are
    refused with a 429 before their password is looked at (each from another address, so only
    the account's counter can stop them)."""
    results = at_once(
        ATTEMPTS,
        lambda n: login_form(own_app, "owner@example.com", "wrong password!", ip=f"198.51.100.{n + 1}"),
        lambda form: form.submit("submit", status="*").status_code,
    )
    assert len(password_checks) == 5
    assert sorted(results) == [200] * 5 + [429] * (ATTEMPTS - 5)
