"""``pserve production.ini`` as deployed: security headers, /healthz through a database outage,
the request log on stderr, no traceback for anyone, log-in throttling shared by two processes.

Each test runs real server processes on a fresh database (SQLite, or PostgreSQL with
``--database=postgresql``).
"""

import http.client
import json
import re
import time
import urllib.parse

import pytest
from sqlalchemy import select

from tests.servers import Server, database_outage, seed_site
from tracking.models import LoginThrottle, get_engine

pytestmark = pytest.mark.slow

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
CSP = re.compile(
    r"default-src 'self'; script-src 'self' 'nonce-[A-Za-z0-9_-]{22}'; style-src 'self'; img-src 'self' data:; "
    r"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'\Z"
)
REQUEST_LINE = re.compile(
    r"\[tracking\.requestlog\]\[[^\]]+\] method=[A-Z]+ path=\S+ status=\d{3} duration_ms=\d+\.\d request_id=[A-Za-z0-9_.-]+$"
)


class Client:
    """A browser behind the TLS proxy: it says ``X-Forwarded-Proto: https`` from 127.0.0.1 (the
    trusted proxy), so the app sees HTTPS and its ``Secure`` cookie comes back."""

    def __init__(self, server):
        self.server = server
        self.cookies: dict[str, str] = {}

    def request(self, method, path, *, form=None, headers=None, proxied=True):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        host = f"127.0.0.1:{self.server.port}"
        sent = {"User-Agent": CHROME, **(headers or {})}
        if proxied:
            sent |= {"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.33", "Origin": f"https://{host}"}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response, text

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def login(self, email, password):
        _, page = self.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        return self.request(
            "POST",
            "/login",
            form={"__formid__": "login", "csrf_token": token, "email": email, "password": password, "next": "", "submit": "submit"},
        )


def request_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "[tracking.requestlog]" in line]


def test_production_server_headers_health_and_logs(fresh_db, tmp_path):
    engine = get_engine({"sqlalchemy.url": fresh_db})
    _, site_id = seed_site(engine)
    engine.dispose()
    with Server("production.ini", fresh_db, tmp_path) as server:
        client = Client(server)

        # Pages: the strict policy, HSTS (production), a Secure session cookie.
        response, page = client.get("/login?next=%2Fsites%2Fsecret-next-marker%2F", headers={"X-Request-Id": "prod-check-1"})
        assert response.status == 200
        assert CSP.match(response.headers["Content-Security-Policy"])
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Request-Id"] == "prod-check-1"
        assert "; secure;" in response.headers["Set-Cookie"].lower() and "HttpOnly" in response.headers["Set-Cookie"]

        # Errors: a page, never a traceback; no debug toolbar.
        for path in ("/no/such/page", "/_debug_toolbar/", "/sites/0/"):
            response, text = client.get(path)
            assert response.status == 404 and "Traceback" not in text and "toolbar" not in text.lower()
            assert CSP.match(response.headers["Content-Security-Policy"])
        response, text = client.request("POST", "/logout", form={})
        assert response.status == 400 and "Traceback" not in text

        # A failed log-in: the form again; the password never reaches the log.
        response, text = client.login("owner@example.org", "hunter2-password-marker")
        assert response.status == 200 and "Unknown e-mail address or wrong password." in text

        # /healthz: JSON, no cookie, no policy needed.
        fresh = Client(server)
        response, text = fresh.get("/healthz")
        assert response.status == 200 and json.loads(text) == {"status": "ok", "pending": 0}
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers.get("Set-Cookie") is None and fresh.cookies == {}

        # The beacon, on its path and on the old one: minimal, cookie-free, and not in the log at INFO.
        for name in ("hit", "visit"):
            response, text = fresh.get(
                f"/sites/{site_id}/{name}?url=https%3A%2F%2Fexample.com%2Fvisitor-page-marker", proxied=False
            )
            assert response.status == 204 and response.headers.get("Set-Cookie") is None
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers.get("Content-Security-Policy") is None and response.headers.get("X-Request-Id") is None
        response, _ = fresh.get("/tracker.js", proxied=False)
        assert response.headers["X-Content-Type-Options"] == "nosniff"

    log = server.log.read_text()
    lines = request_lines(log)
    assert lines and all(REQUEST_LINE.search(line) for line in lines), lines
    assert any("method=GET path=/login status=200 " in line and line.endswith("request_id=prod-check-1") for line in lines)
    assert any("method=POST path=/login status=200 " in line for line in lines)
    assert any("path=/no/such/page status=404 " in line for line in lines)
    assert not any(f"/sites/{site_id}/" in line or "/healthz" in line for line in lines)  # the beacon's: DEBUG only
    for secret in ("secret-next-marker", "hunter2-password-marker", "visitor-page-marker", "192.0.2.33", "tracking_session=", "server-test-secret"):
        assert secret not in log, secret
    assert "Traceback" not in log


def test_healthz_through_a_database_outage(database, fresh_db, tmp_path):
    if database != "postgresql":
        pytest.skip("SQLite has no server to lose: SELECT 1 on a WAL database answers even while a writer holds the lock")
    with Server("production.ini", fresh_db, tmp_path) as server:
        client = Client(server)
        client.get("/login")  # a session with a CSRF token, for the log-in below
        response, text = client.get("/healthz")
        assert response.status == 200 and json.loads(text)["status"] == "ok"
        with database_outage(database, fresh_db):
            response, text = client.get("/healthz")
            assert response.status == 503
            assert json.loads(text) == {"status": "database unavailable", "pending": 0}
            assert "Traceback" not in text and "psycopg" not in text
            # A page that needs the database: the error page, not a traceback.
            response, text = client.login("owner@example.org", "whatever-password")
            assert response.status == 500
            assert "Something went wrong" in text and "Traceback" not in text and "psycopg" not in text
            assert CSP.match(response.headers["Content-Security-Policy"])
        assert wait_for(lambda: client.get("/healthz")[0].status == 200)
    log = server.log.read_text()
    assert "health check: database unavailable (OperationalError)" in log
    assert any("method=POST path=/login status=500 " in line for line in request_lines(log))


def test_log_in_throttling_is_shared_by_the_processes(fresh_db, tmp_path):
    """Failures counted by either process throttle the attempts on both.

    Attempts alternate between the two processes, each as soon as the throttle allows: the
    failures add up in one counter, and the first refusal comes from the process that did not
    record the failure before it. (The waits double from 1 s, so however slow the machine, a
    refusal comes within a few attempts.)
    """
    engine = get_engine({"sqlalchemy.url": fresh_db})
    with Server("production.ini", fresh_db, tmp_path) as first, Server("production.ini", fresh_db, tmp_path) as second:
        servers = (first, second)
        for n in range(4):
            response, text = Client(servers[n % 2]).login("target@example.org", f"wrong-password-{n}")
            assert response.status == 200 and "Unknown e-mail address or wrong password." in text
        assert counts(engine) == [4, 4]  # the account's and the client's, from both processes
        for n in range(4, 14):
            response, text = Client(servers[n % 2]).login("target@example.org", f"wrong-password-{n}")
            if response.status == 429:
                break
            assert response.status == 200
        else:
            pytest.fail("no attempt was refused")
        assert re.search(r"Too many failed attempts\. Try again in \d+ (second|minute)s?\.", text)
        assert 1 <= int(response.headers["Retry-After"]) <= 900
        assert "wrong-password" not in text
        failures = counts(engine)[0]
        assert failures == n and failures >= 5
    engine.dispose()


def counts(engine):
    with engine.connect() as conn:
        return [row.failures for row in conn.execute(select(LoginThrottle.failures).order_by(LoginThrottle.key))]


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return predicate()
