"""Hardening: security headers, /healthz, log-in throttling, the request log."""

import json
import logging
import re
import threading
from datetime import datetime, timedelta
from html.parser import HTMLParser

import pytest
from pyramid.interfaces import ISecurityPolicy, ISessionFactory
from pyramid.registry import Registry
from pyramid.response import Response
from pyramid.scripting import prepare
from sqlalchemy import delete, event, select
from sqlalchemy.orm import sessionmaker

from tests.support import PASSWORD, TestApp
from tracking import models, throttle
from tracking.headers import security_headers_tween_factory
from tracking.interfaces import IDatabase, ISettings
from tracking.models import Hit, LoginThrottle, User, Visit
from tracking.requestlog import request_log_tween_factory
from tracking.settings import Settings
from tracking.views import auth

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
CSP = re.compile(
    r"default-src 'self'; script-src 'self' 'nonce-([A-Za-z0-9_-]{22})'; style-src 'self'; img-src 'self' data:; "
    r"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'\Z"
)
T0 = datetime(2026, 11, 27, 12, 0, 0)
SECRET = "test-secret-" + "x" * 32


# -- security headers ----------------------------------------------------------------------------


class InlineCode(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' would block: inline scripts, style attributes
    and elements, event handler attributes."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and "src" not in attrs and "nonce" not in attrs:
            self.found.append("<script> without src or nonce")
        if tag == "style":
            self.found.append("<style> element")
        for name in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action") and (attrs[name] or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:...>")


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def assert_html_headers(res):
    match = CSP.match(res.headers.get("Content-Security-Policy", ""))
    assert match, res.headers.get("Content-Security-Policy")
    assert "unsafe-inline" not in res.headers["Content-Security-Policy"]
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert res.headers["Referrer-Policy"] == "same-origin"
    assert res.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in res.headers  # not production
    assert inline_code(res.text) == [], res.request.path
    return match.group(1)


@pytest.fixture
def pages(testapp, owner, admin, site, dbsession, monkeypatch):
    """Every kind of page, signed in as the owner (an admin for the admin page), with the forms in
    their first state and after a validation failure."""
    now = datetime(2026, 3, 1, 12)
    visit_row = Visit(site_id=site.id, visitor=1, started_at=now, ended_at=now, day=now.date())
    dbsession.add(visit_row)
    dbsession.flush()
    dbsession.add(Hit(site_id=site.id, ts=now, day=now.date(), visitor=1, visit_id=visit_row.id, event="signup", props={"a": "b"}))
    dbsession.add(Hit(site_id=site.id, ts=now, day=now.date(), visitor=2, bot="crawler", device="bot"))
    dbsession.flush()

    def visit():
        seen = {}
        seen["home"] = testapp.get("/")
        seen["login"] = testapp.get("/login")
        seen["register"] = testapp.get("/register")
        form = seen["register"].forms["register"]
        form["email"] = "not an address"
        seen["register, failed"] = form.submit("submit")
        seen["login, failed"] = testapp.login("nobody@example.com", password="wrong password!")
        seen["404"] = testapp.get("/no/such/page", status=404)
        seen["400 (CSRF)"] = testapp.post("/logout", {}, status=400)
        testapp.login(owner.email)
        seen["sites"] = testapp.get("/sites/")
        seen["site"] = testapp.get(f"/sites/{site.id}/")
        seen["site settings"] = testapp.get(f"/sites/{site.id}/edit")
        form = seen["site settings"].forms["edit-site"]
        form["name"] = ""
        seen["site settings, failed"] = form.submit("submit")
        seen["delete site"] = testapp.get(f"/sites/{site.id}/delete")
        seen["visits"] = testapp.get(f"/sites/{site.id}/visits/")
        seen["visit"] = testapp.get(f"/sites/{site.id}/visits/{visit_row.id}")
        seen["bots"] = testapp.get(f"/sites/{site.id}/bots/")
        seen["account"] = testapp.get(f"/users/{owner.id}/")
        form = seen["account"].forms["password"]
        form["current_password"] = "not my password"
        seen["account, failed"] = form.submit("submit")
        seen["delete account"] = testapp.get(f"/users/{owner.id}/delete")
        seen["api keys"] = testapp.get(f"/users/{owner.id}/keys")
        form = seen["api keys"].forms["api-key"]
        form["label"] = ""
        seen["api keys, failed"] = form.submit("submit")
        seen["api reference"] = testapp.get("/api/v1/reference")
        seen["403"] = testapp.get("/users/", status=403)
        seen["redirect"] = testapp.get("/", status=303)
        testapp.logout()
        testapp.login(admin.email)
        seen["users (admin)"] = testapp.get("/users/")
        monkeypatch.setattr("tracking.views.sites.SitesViews.index", _explode)
        seen["500"] = testapp.get("/sites/", status=500)
        return seen

    return visit


def _explode(self):
    raise RuntimeError("boom")


def test_every_html_page_has_a_strict_csp_and_no_inline_code(pages):
    seen = pages()
    nonces = {name: assert_html_headers(res) for name, res in seen.items()}
    # The forms under test use every widget the app has: select, checkbox, checked password, hidden.
    assert '<select' in seen["site settings"].text and 'type="checkbox"' in seen["site settings"].text
    assert 'type="hidden"' in seen["login"].text and seen["register"].text.count('type="password"') == 2
    # One nonce per response, never reused.
    assert len(set(nonces.values())) == len(nonces)


def test_templates_get_the_nonce_the_header_names(app):
    """``request.csp_nonce`` is reified: what a template writes is what the header allows."""
    env = prepare(registry=app.registry)
    try:
        request = env["request"]
        used = {}

        def handler(request):
            used["nonce"] = request.csp_nonce
            return Response(f'<script nonce="{request.csp_nonce}">1</script>')

        response = security_headers_tween_factory(handler, app.registry)(request)
    finally:
        env["closer"]()
    assert f"'nonce-{used['nonce']}'" in response.headers["Content-Security-Policy"]


def registry_with(**values):
    """A registry holding only the settings of ``values``."""
    registry = Registry("test")
    registry.registerUtility(Settings.from_ini({"sqlalchemy.url": "sqlite://", "tracking.secret": "s" * 40, **values}, environ={}), ISettings)
    return registry


@pytest.mark.parametrize("production", [True, False])
def test_hsts_only_in_production_and_only_on_pages(app, production):
    env = prepare(registry=app.registry)
    try:
        tween = security_headers_tween_factory(lambda request: Response("<p>hi</p>"), registry_with(**{"tracking.production": str(production).lower()}))
        page = tween(env["request"])
        json_tween = security_headers_tween_factory(
            lambda request: Response(json_body={}, content_type="application/json", charset=None),
            registry_with(**{"tracking.production": "true"}),
        )
        data = json_tween(env["request"])
    finally:
        env["closer"]()
    assert (page.headers.get("Strict-Transport-Security") == "max-age=31536000; includeSubDomains") is production
    assert "Strict-Transport-Security" not in data.headers and "Content-Security-Policy" not in data.headers
    assert data.headers["X-Content-Type-Options"] == "nosniff"


def test_the_beacon_stays_minimal(testapp, site):
    url = f"/sites/{site.id}/hit"
    for res in (
        testapp.get(url, params={"url": "https://blog.example.com/"}, headers={"User-Agent": CHROME}, status=204),
        testapp.get(url, params={"width": "wide"}, headers={"User-Agent": CHROME}, status=400),
        testapp.get("/sites/999999/hit", headers={"User-Agent": CHROME}, status=404),
        testapp.request(url, method="OPTIONS", status=204),
    ):
        assert res.headers["X-Content-Type-Options"] == "nosniff"
        for header in ("Content-Security-Policy", "Referrer-Policy", "X-Frame-Options", "Set-Cookie"):
            assert header not in res.headers, (header, res.status)
    assert testapp.cookies == {}


def test_a_signed_in_visitor_s_hit_opens_no_session_and_loads_no_user(app, testapp, owner, site, stored, dbsession, monkeypatch):
    """An owner browsing their own site sends hits with their session cookie: the beacon neither
    reads the cookie's session nor loads the user (no query on users), and sets no cookie."""
    testapp.login(owner.email)
    assert testapp.get("/sites/").status_code == 200  # signed in
    cookie = testapp.cookies["tracking_session"]

    def refuse(*args, **kwargs):
        raise AssertionError("the beacon asked for the session or the user")

    policy = app.registry.queryUtility(ISecurityPolicy)
    for name in ("identity", "authenticated_userid", "effective_principals", "permits", "remember", "forget"):
        monkeypatch.setattr(policy, name, refuse)
    session_factory = app.registry.queryUtility(ISessionFactory)
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = app.registry.getUtility(IDatabase).engine
    app.registry.registerUtility(refuse, ISessionFactory)
    event.listen(engine, "before_cursor_execute", record)
    try:
        url = f"/sites/{site.id}/hit"
        answers = [
            testapp.get(url, params={"url": "https://blog.example.com/a"}, headers={"User-Agent": CHROME}, status="*"),
            testapp.post(url, json.dumps({"url": "https://blog.example.com/b", "event": "signup"}),
                         headers={"User-Agent": CHROME, "Content-Type": "text/plain;charset=UTF-8"}, status="*"),
        ]
    finally:
        event.remove(engine, "before_cursor_execute", record)
        app.registry.registerUtility(session_factory, ISessionFactory)
    for res in answers:
        assert res.status_code == 204, res.text
        assert "Set-Cookie" not in res.headers
    assert any(re.search(r"\bsites\b", statement) for statement in statements)  # the listener saw the beacon's query
    assert not [statement for statement in statements if re.search(r"\b(users|user_sessions)\b", statement)]
    assert testapp.cookies == {"tracking_session": cookie}
    assert stored() == 2
    assert sorted(dbsession.scalars(select(Hit.path).where(Hit.site_id == site.id))) == ["/a", "/b"]


def test_tracker_script_and_static_files_are_nosniff(testapp):
    for path in ("/tracker.js", "/static/style.css"):
        res = testapp.get(path)
        assert res.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Security-Policy" not in res.headers and "Set-Cookie" not in res.headers


# -- /healthz ------------------------------------------------------------------------------------


def test_healthz_says_ok_without_a_cookie(testapp):
    res = testapp.get("/healthz")
    assert res.status_code == 200
    assert res.content_type == "application/json"
    assert res.json == {"status": "ok", "pending": 0}
    assert res.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in res.headers and testapp.cookies == {}
    assert "Content-Security-Policy" not in res.headers


def test_healthz_reports_the_hits_waiting_to_be_written(testapp, site, stored):
    for _ in range(3):
        testapp.get(f"/sites/{site.id}/hit", params={"url": "https://blog.example.com/"}, headers={"User-Agent": CHROME}, status=204)
    assert testapp.get("/healthz").json["pending"] == 3
    stored()
    assert testapp.get("/healthz").json["pending"] == 0


def test_healthz_is_503_when_the_database_is_unavailable(app, testapp, connection, tmp_path, caplog):
    working = app.registry.getUtility(IDatabase)
    unreachable = models.get_engine({"sqlalchemy.url": f"sqlite:///{tmp_path}/no/such/directory/db.sqlite"})
    app.registry.registerUtility(models.Database(unreachable), IDatabase)
    try:
        res = testapp.get("/healthz", status=503)
    finally:
        app.registry.registerUtility(working, IDatabase)
        unreachable.dispose()
    assert res.json == {"status": "database unavailable", "pending": 0}
    assert "Traceback" not in res.text and "sqlite" not in res.text.lower()
    assert "Set-Cookie" not in res.headers
    assert "health check: database unavailable (OperationalError)" in caplog.text
    # and it recovers as soon as the database answers
    assert testapp.get("/healthz").json["status"] == "ok"


def test_healthz_needs_no_permission(testapp, owner):
    testapp.login(owner.email)
    assert testapp.get("/healthz").json["status"] == "ok"
    assert testapp.post("/healthz", status="*").status_code in (400, 404)  # GET/HEAD only


# -- log-in throttling: the rules, on a fixed clock -----------------------------------------------


def test_back_off_schedule():
    assert [throttle.delay(n).total_seconds() for n in range(1, 23)] == [
        0, 0, 0, 0,  # free
        1, 2, 4, 8, 16, 32, 64, 128, 256, 512,  # back-off
        900, 900, 900, 900, 900,  # at most 15 minutes
        900, 900, 900,  # locked: 15 minutes after every further failure
    ]


def fail(dbsession, key, times, start, step=timedelta(0)):
    """``times`` failures, each as soon as the key allows it (at least ``step`` apart)."""
    now = start
    for _ in range(times):
        now = max(now, now + throttle.wait(dbsession, [key], now))
        count = throttle.attempt(dbsession, [key], now).counts[key]
        now += step
    return count, now - step


def test_five_free_failures_then_exponential_back_off(dbsession):
    key = "account:test"
    for n in range(1, 5):
        assert throttle.attempt(dbsession, [key], T0).counts == {key: n}
        assert throttle.wait(dbsession, [key], T0) == timedelta(0)
    throttle.attempt(dbsession, [key], T0)
    assert throttle.wait(dbsession, [key], T0) == timedelta(seconds=1)
    assert throttle.wait(dbsession, [key], T0 + timedelta(milliseconds=999)) == timedelta(milliseconds=1)
    assert throttle.wait(dbsession, [key], T0 + timedelta(seconds=1)) == timedelta(0)
    throttle.attempt(dbsession, [key], T0 + timedelta(seconds=1))
    assert throttle.wait(dbsession, [key], T0 + timedelta(seconds=1)) == timedelta(seconds=2)


def test_free_failures_lapse_fifteen_minutes_after_the_first(dbsession):
    key = "account:test"
    fail(dbsession, key, 4, T0, step=timedelta(minutes=3))  # at 0, 3, 6, 9 minutes
    # the fifth, 15 minutes after the first: the count started again
    assert throttle.attempt(dbsession, [key], T0 + timedelta(minutes=15)).counts == {key: 1}
    fail(dbsession, key, 4, T0 + timedelta(minutes=16), step=timedelta(minutes=3))
    assert throttle.attempt(dbsession, [key], T0 + timedelta(minutes=29)).counts == {key: 6}  # 1 + 4 + 1, within 15 minutes of the 1st
    assert throttle.wait(dbsession, [key], T0 + timedelta(minutes=29)) == timedelta(seconds=2)


def test_twenty_failures_lock_the_key_for_fifteen_minutes(dbsession):
    key = "client:test"
    count, last = fail(dbsession, key, 20, T0)
    assert count == 20
    assert throttle.wait(dbsession, [key], last) == timedelta(minutes=15)
    assert throttle.wait(dbsession, [key], last + timedelta(minutes=14, seconds=59)) == timedelta(seconds=1)
    assert throttle.wait(dbsession, [key], last + timedelta(minutes=15)) == timedelta(0)
    # The next failure locks it again: the count goes on while the key is throttled.
    assert throttle.attempt(dbsession, [key], last + timedelta(minutes=15)).counts == {key: 21}
    assert throttle.wait(dbsession, [key], last + timedelta(minutes=15)) == timedelta(minutes=15)


def test_a_throttled_key_is_forgotten_after_a_quiet_window(dbsession):
    key = "account:test"
    count, last = fail(dbsession, key, 8, T0)
    retry_at = last + throttle.delay(8)
    assert throttle.attempt(dbsession, [key], retry_at + timedelta(minutes=14)).counts == {key: 9}
    retry_at = retry_at + timedelta(minutes=14) + throttle.delay(9)
    assert throttle.wait(dbsession, [key], retry_at + timedelta(minutes=15)) == timedelta(0)
    assert throttle.attempt(dbsession, [key], retry_at + timedelta(minutes=15)).counts == {key: 1}


def test_an_attempt_waits_for_the_most_throttled_of_its_keys(dbsession):
    fail(dbsession, "account:a", 6, T0)
    fail(dbsession, "client:b", 5, T0)
    assert throttle.wait(dbsession, ["account:a", "client:b", "client:unknown"], T0 + timedelta(seconds=1)) == timedelta(seconds=2)
    assert throttle.attempt(dbsession, ["client:b", "account:c"], T0 + timedelta(seconds=2)).counts == {"client:b": 6, "account:c": 1}


def test_reset_forgets_the_keys(dbsession):
    fail(dbsession, "account:a", 7, T0)
    fail(dbsession, "client:b", 7, T0)
    throttle.reset(dbsession, ["account:a"])
    assert throttle.wait(dbsession, ["account:a"], T0) == timedelta(0)
    assert throttle.attempt(dbsession, ["account:a"], T0).counts == {"account:a": 1}
    assert throttle.wait(dbsession, ["client:b"], T0) > timedelta(0)


def test_lapsed_rows_are_deleted(dbsession):
    for n in range(10):
        throttle.attempt(dbsession, [f"account:{n}"], T0)
    fail(dbsession, "account:locked", 20, T0)
    throttle.attempt(dbsession, ["account:new"], T0 + timedelta(minutes=16))
    rows = {row.key: row for row in dbsession.scalars(select(LoginThrottle))}
    assert rows.keys() == {"account:new", "account:locked"}
    assert repr(rows["account:locked"]) == "<LoginThrottle account:locked 20>"  # the locked key is still within its lock + window


def test_keys_hide_addresses_and_group_ipv6_by_64():
    keys = throttle.login_keys(SECRET, "owner@example.com", "203.0.113.7")
    assert keys[0].startswith("account:") and keys[1].startswith("client:")
    assert all(len(key) <= 64 for key in keys)
    assert not any("owner" in key or "203.0" in key for key in keys)
    assert throttle.login_keys("another-secret" + "y" * 32, "owner@example.com", "203.0.113.7") != keys
    assert throttle.client_key(SECRET, "203.0.113.7") != throttle.client_key(SECRET, "203.0.113.8")
    assert throttle.client_key(SECRET, "2001:db8:1:2::1") == throttle.client_key(SECRET, "2001:db8:1:2:ffff::9")
    assert throttle.client_key(SECRET, "2001:db8:1:2::1") != throttle.client_key(SECRET, "2001:db8:1:3::1")
    assert throttle.client_key(SECRET, "::ffff:203.0.113.7") == throttle.client_key(SECRET, "203.0.113.7")
    assert throttle.login_keys(SECRET, "owner@example.com", None) == keys[:1]
    assert throttle.client_network("not-an-address") == "not-an-address"  # a Unix socket, say


def test_nothing_to_count(dbsession):
    assert throttle.attempt(dbsession, [], T0).counts == {}
    assert throttle.wait(dbsession, [], T0) == timedelta(0)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "1 second"), (2, "2 seconds"), (59, "59 seconds"), (59.5, "1 minute"), (61, "2 minutes"), (60, "1 minute"), (900, "15 minutes")],
)
def test_message(seconds, text):
    assert throttle.message(timedelta(seconds=seconds)) == f"Too many failed attempts. Try again in {text}."


def test_concurrent_attempts_are_counted_one_after_another(dbengine):
    """Attempts from many connections at the same instant (as from several server processes):
    each is counted seeing the ones before it, so exactly the five free ones go ahead."""
    factory = sessionmaker(bind=dbengine)
    keys = ["account:concurrent-test", "client:concurrent-test"]
    errors, allowed = [], []

    def attempt():
        try:
            with factory.begin() as session:
                if not throttle.attempt(session, keys, T0).wait:
                    allowed.append(1)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        with factory() as session:
            counts = dict(session.execute(select(LoginThrottle.key, LoginThrottle.failures)).all())
    finally:
        with factory.begin() as session:
            session.execute(delete(LoginThrottle))
    assert errors == []
    assert len(allowed) == 5
    assert counts == {key: 5 for key in keys}


# -- log-in throttling through the form ------------------------------------------------------------


def client_from(app, ip):
    """Another client, from ``ip``."""
    return TestApp(app, extra_environ={"HTTP_HOST": "tracking.example.org", "REMOTE_ADDR": ip})


@pytest.fixture
def clock(monkeypatch):
    """The log-in view's clock, moved by hand."""
    now = [T0]
    monkeypatch.setattr(auth, "utcnow", lambda: now[0])
    return now


@pytest.fixture
def password_checks(monkeypatch):
    calls = []
    check, dummy = User.check_password, auth.dummy_verify
    monkeypatch.setattr(User, "check_password", lambda self, password: calls.append("check") or check(self, password))
    monkeypatch.setattr(auth, "dummy_verify", lambda: calls.append("dummy") or dummy())
    return calls


def test_after_five_failures_the_form_asks_to_wait(testapp, owner, clock, password_checks):
    for _ in range(5):
        res = testapp.login(owner.email, password="wrong password!")
        assert "Unknown e-mail address or wrong password." in res.text
    assert len(password_checks) == 5
    # Even the right password is refused, without being checked.
    form = testapp.get("/login").forms["login"]
    form["email"], form["password"] = owner.email, PASSWORD
    res = form.submit("submit", status=429)
    assert "Too many failed attempts. Try again in 1 second." in res.text
    assert res.headers["Retry-After"] == "1"
    assert len(password_checks) == 5
    assert PASSWORD not in res.text
    assert res.forms["login"]["email"].value == owner.email  # what was typed is kept
    assert testapp.get("/sites/").status_code == 303  # not signed in
    clock[0] += timedelta(seconds=1)
    assert testapp.login(owner.email).status_code == 303


def test_a_locked_account_says_how_many_minutes(testapp, dbsession, owner, clock):
    keys = throttle.login_keys(SECRET, owner.email, "198.51.100.1")  # failures from elsewhere
    count, last = fail(dbsession, keys[0], 20, T0)
    clock[0] = last + timedelta(minutes=1)
    form = testapp.get("/login").forms["login"]
    form["email"], form["password"] = owner.email, PASSWORD
    res = form.submit("submit", status=429)
    assert "Too many failed attempts. Try again in 14 minutes." in res.text
    assert res.headers["Retry-After"] == str(14 * 60)
    clock[0] = last + timedelta(minutes=15)
    assert testapp.login(owner.email).status_code == 303


def test_one_client_trying_many_accounts_is_throttled(app, testapp, make_user, clock):
    for n in range(5):
        testapp.login(f"victim{n}@example.com", password="wrong password!")
    other_account = make_user(email="fresh@example.com")
    form = testapp.get("/login").forms["login"]
    form["email"], form["password"] = other_account.email, PASSWORD
    assert "Too many failed attempts" in form.submit("submit", status=429).text
    # Another client may still log in to it.
    elsewhere = client_from(app, "192.0.2.50")
    assert elsewhere.login(other_account.email).status_code == 303


def test_unknown_addresses_are_throttled_like_known_ones(app, owner, clock):
    """The throttle tells nobody whether an address has an account."""
    answers = {}
    for n, email in enumerate((owner.email, "nobody@example.com")):
        client = client_from(app, f"192.0.2.{n + 10}")
        for _ in range(5):
            client.login(email, password="wrong password!")
        form = client.get("/login").forms["login"]
        form["email"], form["password"] = email, "wrong password!"
        res = form.submit("submit", status="*")
        answers[email] = (res.status_code, "Too many failed attempts. Try again in 1 second." in res.text)
    assert answers == {owner.email: (429, True), "nobody@example.com": (429, True)}


def test_a_successful_login_clears_the_account_but_not_the_client(testapp, dbsession, owner, clock):
    """A correct password proves nothing about the client's other attempts: the account's count
    is cleared, the client's failures stay (the success itself is not counted)."""
    account, client = throttle.login_keys(SECRET, owner.email, "203.0.113.7")
    for _ in range(4):
        testapp.login(owner.email, password="wrong password!")
    counts = lambda: dict(dbsession.execute(select(LoginThrottle.key, LoginThrottle.failures)).all())  # noqa: E731
    assert counts() == {account: 4, client: 4}
    assert testapp.login(owner.email).status_code == 303
    assert counts() == {client: 4}
    testapp.logout()
    testapp.login(owner.email, password="wrong password!")
    assert counts() == {account: 1, client: 5}


def test_counters_hold_no_addresses(testapp, dbsession, owner):
    testapp.login(owner.email, password="wrong password!")
    rows = dbsession.execute(select(LoginThrottle.__table__)).all()
    assert len(rows) == 2
    text = json.dumps([list(map(str, row)) for row in rows])
    assert "example.com" not in text and "203.0.113" not in text


# -- the request log -------------------------------------------------------------------------------


def requestlog_records(caplog):
    return [record for record in caplog.records if record.name == "tracking.requestlog"]


def test_one_line_per_request_with_an_id_and_without_query_or_address(testapp, caplog):
    caplog.set_level(logging.INFO, "tracking.requestlog")
    res = testapp.get("/login", params={"next": "/sites/secret-next-target/"})
    (record,) = requestlog_records(caplog)
    message = record.getMessage()
    rid = res.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{16}", rid)
    assert re.fullmatch(rf"method=GET path=/login status=200 duration_ms=\d+\.\d request_id={rid}", message)
    assert record.levelno == logging.INFO
    assert "secret-next-target" not in caplog.text and "203.0.113" not in caplog.text


def test_ids_differ_per_request(testapp, caplog):
    ids = {testapp.get("/login").headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("abc-123_X.y", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("bad id", False),
        ("bad\tid", False),
        ("<script>", False),
        ("", False),
    ],
)
def test_a_sane_proxy_request_id_is_kept(testapp, caplog, given, kept):
    caplog.set_level(logging.INFO, "tracking.requestlog")
    rid = testapp.get("/login", headers={"X-Request-Id": given}).headers["X-Request-Id"]
    assert (rid == given) is kept
    if not kept:
        assert re.fullmatch(r"[0-9a-f]{16}", rid)
    assert f"request_id={rid}" in caplog.text


def test_no_passwords_cookies_or_secrets_in_the_log(testapp, owner, caplog):
    caplog.set_level(logging.DEBUG, "tracking")
    testapp.login(owner.email, password="wrong password, logged?")
    testapp.login(owner.email)
    cookie = testapp.cookies["tracking_session"]
    testapp.get("/sites/")
    messages = [record.getMessage() for record in requestlog_records(caplog)]
    assert any(m.startswith("method=POST path=/login status=200 ") for m in messages)
    assert any(m.startswith("method=POST path=/login status=303 ") for m in messages)
    assert any(m.startswith("method=GET path=/sites/ status=200 ") for m in messages)
    for secret in ("wrong password, logged?", PASSWORD, cookie, SECRET, owner.email, "203.0.113.7"):
        assert secret not in caplog.text


def test_control_characters_in_the_path_cannot_forge_lines(testapp, caplog):
    caplog.set_level(logging.INFO, "tracking.requestlog")
    testapp.get("/nothing%0A2026-01-01 INFO forged%20line", status=404)
    (record,) = requestlog_records(caplog)
    assert "\n" not in record.getMessage()
    assert "path=/nothing%0A2026-01-01%20INFO%20forged%20line status=404" in record.getMessage()


def test_long_paths_are_cut_short(testapp, caplog):
    caplog.set_level(logging.INFO, "tracking.requestlog")
    testapp.get("/" + "a" * 2000, status=404)
    (record,) = requestlog_records(caplog)
    assert record.getMessage().startswith("method=GET path=/" + "a" * 511 + "... status=404 ")


def test_ids_are_echoed_even_when_the_log_is_quiet(testapp, caplog):
    caplog.set_level(logging.WARNING, "tracking.requestlog")
    res = testapp.get("/login", headers={"X-Request-Id": "quiet-1"})
    assert res.headers["X-Request-Id"] == "quiet-1"
    assert requestlog_records(caplog) == []


def test_server_errors_are_warnings(testapp, owner, monkeypatch, caplog):
    caplog.set_level(logging.INFO, "tracking.requestlog")
    testapp.login(owner.email)
    monkeypatch.setattr("tracking.views.sites.SitesViews.index", _explode)
    testapp.get("/sites/", status=500)
    record = requestlog_records(caplog)[-1]
    assert record.levelno == logging.WARNING and " status=500 " in record.getMessage()


def test_the_beacon_and_healthz_are_logged_at_debug_only(testapp, site, caplog):
    beacon = f"/sites/{site.id}/hit"
    params = {"url": "https://blog.example.com/private-page?token=visitor-secret"}
    caplog.set_level(logging.INFO, "tracking.requestlog")
    res = testapp.get(beacon, params=params, headers={"User-Agent": CHROME}, status=204)
    testapp.get("/healthz")
    # The peers' trackers' endpoints are visitors' hits too.
    testapp.post("/api/event", '{"n": "pageview", "u": "https://nowhere.example/", "d": "nowhere.example"}',
                 headers={"Content-Type": "text/plain"}, status=404)
    testapp.post("/api/send", "{}", headers={"Content-Type": "application/json"}, status=400)
    assert requestlog_records(caplog) == []
    assert "X-Request-Id" not in res.headers  # the hot path skips the tween entirely

    caplog.set_level(logging.DEBUG, "tracking.requestlog")
    res = testapp.get(beacon, params=params, headers={"User-Agent": CHROME}, status=204)
    testapp.get("/healthz")
    beacon_line, health_line = [record for record in requestlog_records(caplog)]
    assert beacon_line.levelno == health_line.levelno == logging.DEBUG
    assert beacon_line.getMessage().startswith(f"method=GET path={beacon} status=204 ")
    assert f"request_id={res.headers['X-Request-Id']}" in beacon_line.getMessage()
    assert "private-page" not in caplog.text and "visitor-secret" not in caplog.text


class FakeRequest:
    def __init__(self, method="GET", path="/sites/", **environ):
        self.environ = {"PATH_INFO": path, **environ}
        self.method = method
        self.path = path


def test_odd_methods_are_not_logged_as_they_came(caplog):
    caplog.set_level(logging.INFO, "tracking.requestlog")
    request_log_tween_factory(lambda request: Response(status=405), None)(FakeRequest("M-SEARCH\nforged"))
    (record,) = requestlog_records(caplog)
    assert record.getMessage().startswith("method=- path=/sites/ status=405 ")


def test_an_exception_escaping_the_tweens_is_logged_and_raised(caplog):
    caplog.set_level(logging.INFO, "tracking.requestlog")

    def handler(request):
        raise RuntimeError("commit failed")

    with pytest.raises(RuntimeError):
        request_log_tween_factory(handler, None)(FakeRequest("POST", **{"retry.attempt": 1}))
    (record,) = requestlog_records(caplog)
    assert record.levelno == logging.WARNING
    assert re.fullmatch(
        r"method=POST path=/sites/ status=500 duration_ms=\d+\.\d request_id=[0-9a-f]{16} attempt=1 exception=RuntimeError",
        record.getMessage(),
    )


def test_a_locked_sqlite_database_makes_the_request_retry(app, testapp, owner, database, monkeypatch):
    """A write that meets "database is locked" is retried by pyramid_retry, not a 500."""
    if database != "sqlite":
        pytest.skip("SQLite only")
    import sqlite3

    from sqlalchemy import event

    engine = app.registry.getUtility(IDatabase).engine
    failures = []

    def lock_once(cursor, statement, parameters, context):
        # What the driver raises when another connection committed since this one read.
        if statement.startswith("UPDATE users") and not failures:
            failures.append(statement)
            raise sqlite3.OperationalError("database is locked")

    testapp.login(owner.email)
    form = testapp.get(f"/users/{owner.id}/").forms["name"]
    form["name"] = "Renamed once"
    event.listen(engine, "do_execute", lock_once)
    try:
        res = form.submit("submit")
    finally:
        event.remove(engine, "do_execute", lock_once)
    assert failures, "the lock was not met"
    assert res.status_code == 303
    assert "Name saved." in res.follow().text


def test_a_form_waits_for_the_hit_writers_lock_on_sqlite(app_settings, fresh_db, password_hash, database):
    """While another connection holds SQLite's write lock (the hit writer running a long job),
    an owner's form waits for it and is saved: it does not read first and then meet "database is
    locked" on every attempt, which ended on the error page."""
    if database != "sqlite":
        pytest.skip("SQLite only")
    import sqlite3

    from tracking import main
    from tracking.interfaces import IHitPipeline

    wsgi = main({}, **{**app_settings, "sqlalchemy.url": fresh_db})
    engine = wsgi.registry.getUtility(IDatabase).engine
    with engine.begin() as conn:
        user_id = conn.execute(User.__table__.insert().values(
            name="Owner", email="owner@example.com", password_hash=password_hash)).inserted_primary_key[0]
    client = TestApp(wsgi)
    client.login("owner@example.com")
    form = client.get(f"/users/{user_id}/").forms["name"]
    form["name"] = "Saved while the writer worked"

    writer = sqlite3.connect(fresh_db.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE users SET name = name")
    released = threading.Timer(1.0, writer.commit)
    released.start()
    try:
        res = form.submit("submit", expect_errors=True)
    finally:
        released.join()
        writer.close()
        wsgi.registry.getUtility(IHitPipeline).geo.close()
        engine.dispose()
    assert res.status_code == 303, res.status
    assert "Name saved." in res.follow().text
