"""End-to-end tests in a real browser: Debian's headless Chromium driven by Playwright for Python.

Each journey runs ``pserve development.ini`` (``tests/servers.py``) on a fresh, migrated database
(SQLite, or a throw-away PostgreSQL database with ``--database=postgresql``). Pages that carry
the tracking snippet are served by a second local HTTP server under other host names
(``shop.example.test``, ``news.example.net``), which Chromium resolves to 127.0.0.1 through
``--host-resolver-rules``: the tracked page is on another origin than the app, as in real life.

One browser per session, a fresh context (cookies, cache, settings) per visitor or owner.

Without Chromium (``/usr/bin/chromium``, or ``TRACKING_TEST_CHROMIUM``), Playwright or axe-core
the tests skip with a message saying what to install (``make browser-deps`` installs them).
"""

import http.server
import os
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
ROOT = TESTS.parent

from tests.postgresql import throwaway_database
from tests.servers import Server, free_port
from tracking.models import Hit, get_engine

CHROMIUM = Path(os.environ.get("TRACKING_TEST_CHROMIUM", "/usr/bin/chromium"))
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "artifacts"

#: The tracked shop, and a page elsewhere that links to it: both served by ``PageServer``.
SHOP_HOST = "shop.example.test"
NEWS_HOST = "news.example.net"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--host-resolver-rules=MAP {SHOP_HOST} 127.0.0.1, MAP {NEWS_HOST} 127.0.0.1",
]
#: How long to wait for the app's writer thread to store a hit (it writes within ~0.2 s).
STORE_TIMEOUT = 10.0
PASSWORD = "correct horse battery staple"


# --------------------------------------------------------------------------------------------
# The browser
# --------------------------------------------------------------------------------------------


def unavailable(reason: str):
    """Skip, with ``reason``; where the browser tests are required (``REQUIRE_BROWSER``, CI), fail."""
    if os.environ.get("REQUIRE_BROWSER"):
        pytest.fail(f"REQUIRE_BROWSER is set, but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed: .venv/bin/pip install -e '.[testing]'")
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"no Chromium at {CHROMIUM}: run `make browser-deps` (as root: apt-get install chromium)")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=60_000
        )
    except BaseException:
        playwright.stop()
        raise
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def new_context(browser):
    """``new_context(**options)``: a fresh browser context, closed after the test."""
    contexts = []

    def make(**options):
        context = browser.new_context(**options)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def chrome_ua(browser) -> str:
    """A normal desktop Chrome user agent of the same version as the browser under test.

    Headless Chromium says ``HeadlessChrome/<version>``, which the app rightly classes as a bot
    (reason ``headless``); visitors in these tests present themselves as the desktop browser.
    """
    major = browser.version.split(".")[0]
    return f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.0.0 Safari/537.36"


@pytest.fixture(scope="session")
def axe_script() -> Path:
    if not AXE.is_file():
        unavailable(f"axe-core is not installed at {AXE}: run `make browser-deps` (npm ci --prefix tests/browser)")
    return AXE


# --------------------------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------------------------


def migrate(url: str) -> None:
    """``alembic -c development.ini upgrade head`` on ``url`` (as ``tests/conftest.py`` does)."""
    saved = os.environ.get("TRACKING_DATABASE_URL")
    os.environ["TRACKING_DATABASE_URL"] = url
    try:
        command.upgrade(Config(str(ROOT / "development.ini")), "head")
    finally:
        if saved is None:
            os.environ.pop("TRACKING_DATABASE_URL", None)
        else:
            os.environ["TRACKING_DATABASE_URL"] = saved


@dataclass
class App:
    """A running app (``pserve development.ini``) and a connection to its database for checks."""

    server: Server
    db_url: str
    engine: object = field(init=False)

    def __post_init__(self):
        self.engine = get_engine({"sqlalchemy.url": self.db_url})

    @property
    def url(self) -> str:
        return self.server.url

    def hits(self, site_id: int, **where) -> list[dict]:
        """The stored hits of a site, oldest first, as dicts of the ``hits`` columns."""
        table = Hit.__table__
        query = select(table).where(table.c.site_id == site_id).order_by(table.c.id)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def wait_for_hits(self, site_id: int, count: int, timeout: float = STORE_TIMEOUT, **where) -> list[dict]:
        """Poll the database until the site has at least ``count`` matching hits; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.hits(site_id, **where)
            if len(rows) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(rows) >= count, (
            f"{len(rows)} hit(s) {where or ''} stored within {timeout} s, expected {count}:\n{rows}\n"
            f"server log:\n{self.server.log.read_text()[-3000:]}"
        )
        return rows


@contextmanager
def running_app(database: str, workdir: Path):
    """A fresh database, migrated, and ``pserve development.ini`` serving it on a free port."""
    with _fresh_database(database, workdir) as url:
        migrate(url)
        with Server("development.ini", url, workdir) as server:
            app = App(server, url)
            try:
                yield app
            finally:
                app.engine.dispose()


@contextmanager
def _fresh_database(database: str, workdir: Path):
    if database == "postgresql":
        with throwaway_database("tracking_browser") as url:
            yield url
    else:
        yield f"sqlite:///{workdir / 'tracking.sqlite'}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test shows the log of the app it ran against (a 500 page's traceback is in it),
    in the report and as ``artifacts/server-logs/<test>.log``."""
    report = yield
    if report.failed:
        for name in ("app", "module_app"):
            app = getattr(item, "funcargs", {}).get(name)
            if isinstance(app, App) and app.server.log.exists():
                log = app.server.log.read_text(errors="replace")
                report.sections.append((f"server log ({name})", log[-20_000:]))
                folder = ARTIFACTS / "server-logs"
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', item.nodeid)}.log").write_text(log)
    return report


@pytest.fixture
def app(database, tmp_path):
    """A fresh app for one test."""
    with running_app(database, tmp_path) as app:
        yield app


@pytest.fixture(scope="module")
def module_app(database, tmp_path_factory):
    """A fresh app shared by the tests of one module."""
    with running_app(database, tmp_path_factory.mktemp("app")) as app:
        yield app


# --------------------------------------------------------------------------------------------
# Pages on other origins
# --------------------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


class PageServer:
    """Static pages from a directory, on a free loopback port, in a thread.

    The same pages answer under every host name Chromium maps to 127.0.0.1: ``origin(host)``.
    """

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        handler = partial(_QuietHandler, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="page-server", daemon=True)

    def origin(self, host: str = SHOP_HOST) -> str:
        return f"http://{host}:{self.port}"

    def write(self, name: str, html: str) -> str:
        """Write a page; returns its path (``/name``)."""
        (self.directory / name).write_text(html, encoding="utf-8")
        return "/" + name

    def __enter__(self) -> "PageServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    with PageServer(tmp_path_factory.mktemp("pages")) as server:
        yield server


# --------------------------------------------------------------------------------------------
# What an owner does in the app
# --------------------------------------------------------------------------------------------


class Owner:
    """A site owner in their own browser context: registers, adds sites, copies snippets."""

    def __init__(self, context, app: App, name: str = "Olivia Owner", email: str = "olivia@example.org"):
        self.context = context
        self.app = app
        self.name = name
        self.email = email
        self.page = context.new_page()

    def register(self) -> None:
        page = self.page
        page.goto(self.app.url + "/register")
        form = page.locator("form#register")
        form.locator('input[name="name"]').fill(self.name)
        form.locator('input[name="email"]').fill(self.email)
        form.locator('input[name="password"]').fill(PASSWORD)
        form.locator('input[name="password-confirm"]').fill(PASSWORD)
        form.locator('button[name="submit"]').click()
        page.wait_for_url(self.app.url + "/sites/")
        assert "Welcome!" in page.locator("main").inner_text()
        assert page.locator("nav").get_by_text(self.name).is_visible()

    def add_site(self, name: str, url: str) -> int:
        """Add a site on the sites page; returns its id (the app shows the site's page next)."""
        page = self.page
        page.goto(self.app.url + "/sites/")
        form = page.locator("form#add-site")
        form.locator('input[name="name"]').fill(name)
        form.locator('input[name="url"]').fill(url)
        form.locator('button[name="submit"]').click()
        page.wait_for_url(re.compile(re.escape(self.app.url) + r"/sites/\d+/$"))
        assert page.locator("h1").inner_text() == name
        return int(page.url.rstrip("/").rsplit("/", 1)[1])

    def copy_snippet(self) -> str:
        """The text of the snippet box on the site's page: what the owner copies and pastes."""
        snippet = self.page.locator("#snippet")
        if not snippet.is_visible():  # folded away once the site has visits
            self.page.locator("summary", has_text="Tracking snippet").click()
        assert snippet.is_visible()
        return snippet.text_content()


def shop_page(snippet: str, title: str = "Shop", body: str = "") -> str:
    """A page of the shop with the owner's snippet pasted byte for byte before ``</head>``.

    The "Pricing" link is a single-page-app navigation (``history.pushState``); the button
    sends a custom event.
    """
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
{snippet}
</head>
<body>
<h1>{title}</h1>
<p><a id="pricing" href="/pricing">Pricing</a></p>
<p><button id="signup" type="button" onclick="tracking('signup', {{plan: 'pro'}})">Sign up</button></p>
{body}
<script>
document.getElementById('pricing').addEventListener('click', function (e) {{
  e.preventDefault();
  history.pushState({{}}, '', this.getAttribute('href'));
  document.querySelector('h1').textContent = 'Pricing';
}});
</script>
</body>
</html>
"""


class BeaconResponses:
    """Every answer of the beacon that a page received (sendBeacon, fetch, image or pixel)."""

    def __init__(self, page):
        self.responses = []
        page.on("response", self._seen)

    def _seen(self, response):
        if re.search(r"/sites/\d+/hit(\?|$)", response.url):
            self.responses.append(response)

    def wait(self, page, count: int = 1, timeout: float = STORE_TIMEOUT) -> list:
        deadline = time.monotonic() + timeout
        while len(self.responses) < count and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert len(self.responses) >= count, f"{len(self.responses)} beacon answer(s), expected {count}"
        return self.responses


@pytest.fixture(scope="session")
def e2e():
    """The helpers above, for the test modules.

    (A fixture keeps them in one namespace next to the fixtures they work with.)
    """
    return SimpleNamespace(
        Owner=Owner,
        BeaconResponses=BeaconResponses,
        shop_page=shop_page,
        PASSWORD=PASSWORD,
        SHOP_HOST=SHOP_HOST,
        NEWS_HOST=NEWS_HOST,
        ARTIFACTS=ARTIFACTS,
        STORE_TIMEOUT=STORE_TIMEOUT,
    )
