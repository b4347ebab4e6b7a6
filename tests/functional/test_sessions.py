"""Signed-in sessions live on the server: what a cookie opens, and everything that ends it."""

import hashlib
import re
from datetime import datetime, timedelta

import pytest
from pyramid.session import JSONSerializer
from sqlalchemy import event, func, select
from webob.cookies import SignedSerializer

from tests.support import PASSWORD, TestApp
from tracking import user_sessions
from tracking.interfaces import IDatabase
from tracking.models import User, UserSession

SECRET = "test-secret-" + "x" * 32
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
T0 = datetime(2026, 11, 27, 12, 0, 0)


def browser(app, ip="203.0.113.7", ua=FIREFOX):
    """Another browser: its own cookies, address and user agent."""
    return TestApp(app, extra_environ={"HTTP_HOST": "tracking.example.org", "REMOTE_ADDR": ip, "HTTP_USER_AGENT": ua})


def copy_of(app, client, **kw):
    """A browser holding a copy of ``client``'s cookie (as a thief would)."""
    thief = browser(app, ip="198.51.100.66", **kw)
    thief.set_cookie("tracking_session", client.cookies["tracking_session"])
    return thief


def signed_in(client) -> bool:
    return client.get("/sites/", status="*").status_code == 200


def cookie_state(cookie: str) -> dict:
    """What a session cookie carries (it is signed, not encrypted)."""
    serializer = SignedSerializer(SECRET, "pyramid.session.", "sha512", serializer=JSONSerializer())
    accessed, created, state = serializer.loads(cookie)
    return state


def forged_cookie(state: dict) -> str:
    """A correctly signed cookie carrying ``state`` (what an older version issued, say)."""
    serializer = SignedSerializer(SECRET, "pyramid.session.", "sha512", serializer=JSONSerializer())
    now = int(T0.timestamp())
    return serializer.dumps((now, now, state)).decode()


def register(client, name, email, password="a-long-password"):
    form = client.get("/register").forms["register"]
    form["name"], form["email"] = name, email
    form["password"] = form["password-confirm"] = password
    return form.submit("submit")


def delete_account(client, user_id, password="a-long-password"):
    form = client.get(f"/users/{user_id}/delete").forms["delete-account"]
    form["current_password"] = password
    return form.submit("submit")


@pytest.fixture
def clock(monkeypatch):
    """The sessions' clock, moved by hand."""
    now = [T0]
    monkeypatch.setattr(user_sessions, "now", lambda: now[0])
    return now


def sessions_of(dbsession, user_id):
    dbsession.expire_all()
    return list(dbsession.scalars(select(UserSession).where(UserSession.user_id == user_id).order_by(UserSession.id)))


# -- what the cookie opens ------------------------------------------------------------------------


def test_a_deleted_accounts_cookie_does_not_open_the_next_account(app, dbsession, make_user, make_site):
    """C (the newest account) keeps a copy of its cookie and deletes itself; D registers next. D
    gets a new id, and C's cookie opens nothing."""
    make_user()  # an older account, so that C's id is the highest but not the first
    c = browser(app)
    register(c, "Carol", "carol@example.com")
    carol = dbsession.scalar(select(User).where(User.email == "carol@example.com"))
    carol_id = carol.id
    stolen = copy_of(app, c)
    assert signed_in(stolen)
    assert delete_account(c, carol_id).status_code == 303

    d = browser(app, ip="192.0.2.20")
    register(d, "Dave", "dave@example.com")
    dbsession.expire_all()
    dave = dbsession.scalar(select(User).where(User.email == "dave@example.com"))
    make_site(dave, name="Private shop of Dave", url="https://dave.example")
    assert "Private shop of Dave" in d.get("/sites/").text
    res = stolen.get("/sites/", status="*")
    assert "Private shop of Dave" not in res.text
    assert res.status_code == 303 and "/login" in res.location
    assert dave.id > carol_id  # never a deleted account's id


def test_a_deleted_sites_id_is_not_given_to_the_next_site(testapp, dbsession, owner, make_site):
    make_site(owner, name="Older")
    newest = make_site(owner, name="Newest")
    newest_id = newest.id
    dbsession.delete(newest)
    dbsession.flush()
    assert make_site(owner, name="Next").id > newest_id


def test_the_cookie_holds_a_token_the_database_keeps_only_hashed(app, dbsession, owner):
    client = browser(app)
    client.login(owner.email)
    token = cookie_state(client.cookies["tracking_session"])[user_sessions_token_key()]
    assert len(token) >= 43  # 32 random bytes
    [row] = sessions_of(dbsession, owner.id)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {value for value in vars(row).values() if isinstance(value, str)}


def user_sessions_token_key():
    from tracking.security import TOKEN_KEY

    return TOKEN_KEY


@pytest.mark.parametrize(
    "state",
    [
        {},  # an earlier version's cookie: a bare user id
        {"auth.token": "not-a-token"},
        {"auth.token": "x" * 5000},
        {"auth.token": 12345},
        {"auth.token": ["a", "b"]},
    ],
)
def test_a_cookie_without_a_live_token_opens_nothing(app, owner, state):
    """Only a live token opens an account; the user id that older versions trusted is ignored."""
    client = browser(app)
    client.set_cookie("tracking_session", forged_cookie({**state, "auth.userid": owner.id}))
    res = client.get("/sites/", status="*")
    assert res.status_code == 303 and "/login" in res.location


# -- what ends a session ----------------------------------------------------------------------------


def test_logout_ends_the_session_for_every_copy_of_the_cookie(app, dbsession, owner):
    client = browser(app)
    client.login(owner.email)
    stolen = copy_of(app, client)
    assert signed_in(stolen)
    client.logout()
    assert not signed_in(client)
    assert not signed_in(stolen)
    assert sessions_of(dbsession, owner.id) == []


def test_a_password_change_ends_the_other_sessions_and_renews_this_one(app, dbsession, owner):
    laptop, phone = browser(app), browser(app, ip="192.0.2.30", ua=IPHONE)
    laptop.login(owner.email)
    phone.login(owner.email)
    stolen = copy_of(app, laptop)
    form = laptop.get(f"/users/{owner.id}/").forms["password"]
    form["current_password"] = PASSWORD
    form["new_password"] = form["new_password-confirm"] = "a brand new password"
    res = form.submit("submit")
    assert res.status_code == 303
    assert "Password changed. 1 other session ended." in res.follow().text
    assert signed_in(laptop)
    assert not signed_in(phone)
    assert not signed_in(stolen)  # a copy taken before the change: its token was replaced
    assert len(sessions_of(dbsession, owner.id)) == 1


def test_deleting_the_account_ends_its_sessions_everywhere(app, dbsession):
    laptop, phone = browser(app), browser(app, ip="192.0.2.30", ua=IPHONE)
    register(laptop, "Zoe", "zoe@example.com")
    zoe_id = dbsession.scalar(select(User.id).where(User.email == "zoe@example.com"))
    phone.login("zoe@example.com", "a-long-password")
    assert len(sessions_of(dbsession, zoe_id)) == 2
    delete_account(laptop, zoe_id)
    assert not signed_in(phone) and not signed_in(laptop)
    assert dbsession.scalar(select(func.count(UserSession.id))) == 0


def test_a_new_login_ends_the_browsers_previous_session(app, dbsession, owner, other):
    client = browser(app)
    client.login(owner.email)
    stolen = copy_of(app, client)
    client.login(other.email)
    assert not signed_in(stolen)
    assert sessions_of(dbsession, owner.id) == []


# -- the account page -------------------------------------------------------------------------------


def session_rows(page):
    """(label, is this browser, button value) of each session listed."""
    form = page.forms["sessions"]
    rows = []
    for row in page.html.select("#sessions tbody tr"):
        button = row.find("button")
        rows.append((row.find("td").get_text(" ", strip=True), button["value"]))
    assert form.action.endswith("/sessions")
    return rows


def test_the_account_page_lists_sessions_without_address_or_user_agent(app, owner, clock):
    laptop, phone = browser(app), browser(app, ip="192.0.2.30", ua=IPHONE)
    laptop.login(owner.email)
    clock[0] = T0 + timedelta(hours=2, minutes=7)
    phone.login(owner.email)
    page = laptop.get(f"/users/{owner.id}/")
    rows = session_rows(page)
    assert [label for label, _ in rows] == ["Mobile Safari 17 on iOS", "Firefox 128 on Linux this browser"]
    text = page.html.select_one("#sessions").get_text(" ", strip=True)
    assert "2026-11-27 12:00" in text and "2026-11-27 14:07" in text
    assert "End all other sessions" in text and "Log out here" in text
    for secret in ("203.0.113", "192.0.2", "Mozilla", "AppleWebKit", "rv:128"):
        assert secret not in page.text


def end_session(client, owner, value, **kw):
    page = client.get(f"/users/{owner.id}/")
    return page.forms["sessions"].submit("end", value=value, **kw)


def test_ending_one_session_from_the_account_page(app, dbsession, owner):
    laptop, phone = browser(app), browser(app, ip="192.0.2.30", ua=IPHONE)
    laptop.login(owner.email)
    phone.login(owner.email)
    phone_id = next(row.id for row in sessions_of(dbsession, owner.id) if row.device.startswith("Mobile Safari"))
    res = end_session(laptop, owner, str(phone_id))
    assert res.status_code == 303 and res.location.endswith(f"/users/{owner.id}/")
    assert "Session ended." in res.follow().text
    assert not signed_in(phone)
    assert signed_in(laptop)
    # the same button again (a second tab): nothing left to end
    res = laptop.post(f"/users/{owner.id}/sessions", {"end": str(phone_id), "csrf_token": laptop.csrf_token(f"/users/{owner.id}/")})
    assert "That session had already ended." in res.follow().text


def test_ending_all_other_sessions(app, dbsession, owner):
    clients = [browser(app, ip=f"192.0.2.{n}") for n in range(1, 4)]
    for client in clients:
        client.login(owner.email)
    res = end_session(clients[0], owner, "others")
    assert "2 other sessions ended." in res.follow().text
    assert [signed_in(client) for client in clients] == [True, False, False]
    assert len(sessions_of(dbsession, owner.id)) == 1


def test_ending_this_browsers_session_logs_out(app, dbsession, owner):
    client = browser(app)
    client.login(owner.email)
    [row] = sessions_of(dbsession, owner.id)
    res = end_session(client, owner, str(row.id))
    assert res.status_code == 303 and res.location == "http://tracking.example.org/"
    assert not signed_in(client)


def test_the_sessions_form_is_the_owners_and_needs_csrf(app, dbsession, owner, other):
    victim, intruder = browser(app), browser(app, ip="192.0.2.99")
    victim.login(owner.email)
    intruder.login(other.email)
    [victim_session] = sessions_of(dbsession, owner.id)
    token = victim.csrf_token(f"/users/{owner.id}/")
    victim.post(f"/users/{owner.id}/sessions", {"end": "others"}, status=400)  # no CSRF token
    victim.get(f"/users/{owner.id}/sessions", status=404)  # a POST only
    victim.post(f"/users/{owner.id}/sessions", {"end": "all", "csrf_token": token}, status=400)
    victim.post(f"/users/{owner.id}/sessions", {"end": "-1", "csrf_token": token}, status=400)
    # another user can neither post to the owner's form nor end the owner's session through theirs
    intruder_token = intruder.csrf_token(f"/users/{other.id}/")
    res = intruder.post(f"/users/{owner.id}/sessions", {"end": "others", "csrf_token": intruder_token}, status=404)
    assert "Page not found" in res.text
    res = intruder.post(f"/users/{other.id}/sessions", {"end": str(victim_session.id), "csrf_token": intruder_token})
    assert "That session had already ended." in res.follow().text
    assert signed_in(victim)
    assert anonymous_post_is_sent_to_login(app, owner)


def anonymous_post_is_sent_to_login(app, owner):
    anonymous = browser(app)
    res = anonymous.post(f"/users/{owner.id}/sessions", {"end": "others", "csrf_token": anonymous.csrf_token()}, status="*")
    return res.status_code == 303 and "/login" in res.location


# -- time ---------------------------------------------------------------------------------------------


@pytest.fixture
def session_writes(app):
    """The statements that change user_sessions, as they run."""
    writes = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if re.match(r"\s*(UPDATE|INSERT INTO|DELETE FROM) user_sessions\b", statement):
            writes.append(statement.split()[0])

    engine = app.registry.getUtility(IDatabase).engine
    event.listen(engine, "before_cursor_execute", record)
    yield writes
    event.remove(engine, "before_cursor_execute", record)


def test_last_use_is_written_at_most_every_five_minutes(app, dbsession, owner, clock, session_writes):
    client = browser(app)
    client.login(owner.email)
    session_writes.clear()
    for minutes in (0, 1, 4):
        clock[0] = T0 + timedelta(minutes=minutes, seconds=59)
        assert signed_in(client)
    assert session_writes == []  # page views within five minutes: no write
    clock[0] = T0 + timedelta(minutes=5)
    assert signed_in(client)
    assert session_writes == ["UPDATE"]
    [row] = sessions_of(dbsession, owner.id)
    assert row.last_seen_at == T0 + timedelta(minutes=5)
    assert row.expires_at == T0 + timedelta(minutes=5) + user_sessions.IDLE
    assert signed_in(client)
    assert session_writes == ["UPDATE"]


def test_a_session_ends_after_fourteen_idle_days(app, owner, clock):
    client = browser(app)
    client.login(owner.email)
    clock[0] = T0 + timedelta(days=13, hours=23)
    assert signed_in(client)  # used: the idle deadline moves on
    clock[0] += timedelta(days=13, hours=23)
    assert signed_in(client)
    clock[0] += timedelta(days=14)
    assert not signed_in(client)


def test_a_session_ends_thirty_days_after_login_however_used(app, owner, clock):
    client = browser(app)
    client.login(owner.email)
    for day in range(1, 30):
        clock[0] = T0 + timedelta(days=day)
        assert signed_in(client), day
    clock[0] = T0 + timedelta(days=30)
    assert not signed_in(client)
    assert client.login(owner.email).status_code == 303  # a new log-in, a new session
    assert signed_in(client)


def test_expired_sessions_are_deleted_at_login(app, dbsession, owner, other, clock):
    old = browser(app)
    old.login(other.email)
    old_too = browser(app, ip="192.0.2.3")
    old_too.login(owner.email)
    clock[0] = T0 + timedelta(days=15)
    assert not signed_in(old)
    assert dbsession.scalar(select(func.count(UserSession.id))) == 2  # refused, still there
    browser(app, ip="192.0.2.4").login(owner.email)
    assert [row.user_id for row in dbsession.scalars(select(UserSession))] == [owner.id]


def test_a_page_view_resolves_the_session_in_one_query(app, owner, clock):
    client = browser(app)
    client.login(owner.email)
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = app.registry.getUtility(IDatabase).engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert signed_in(client)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    about_users = [s for s in statements if re.search(r"\b(users|user_sessions)\b", s)]
    assert len(about_users) == 1
    assert re.search(r"FROM user_sessions JOIN users\b", about_users[0])


@pytest.mark.parametrize("value", ["3000000000", "9223372036854775808", "0", "-1", "x"])
def test_ending_a_session_that_cannot_exist_is_a_400(app, dbsession, owner, value):
    """An id no session column can hold is refused before it reaches the database."""
    client = browser(app)
    client.login(owner.email)
    token = client.csrf_token(f"/users/{owner.id}/")
    res = client.post(f"/users/{owner.id}/sessions", {"end": value, "csrf_token": token}, status="*")
    assert res.status_code == 400
    assert signed_in(client)
