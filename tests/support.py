"""Helpers shared by the test modules (import them from here; conftest files are not modules to import)."""

import os
import re
from contextlib import contextmanager
from pathlib import Path

import webtest
from alembic import command
from alembic.config import Config

from tracking.interfaces import IHitStore
from tracking.settings import Settings, StoreSettings

ROOT = Path(__file__).resolve().parents[1]

#: Computing an argon2 hash takes ~0.15 s: users made by fixtures share one.
PASSWORD = "correct horse battery staple"


@contextmanager
def preserved_environment(*names):
    """Put the environment variables ``names`` back as they were (or unset) on the way out."""
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def environment(**values):
    with preserved_environment(*values):
        os.environ.update(values)
        yield


def store_buffered(app, dbsession) -> int:
    """Write the hits ``app``'s beacon buffered, in ``dbsession``'s transaction (as its writer
    would), and return how many."""
    count = app.registry.getUtility(IHitStore).drain(dbsession)
    dbsession.flush()
    dbsession.expire_all()
    return count


def store_settings(url: str, **values: str) -> StoreSettings:
    """A writer's settings, as the application makes them from these ini values (``tracking.*``)."""
    values = {"sqlalchemy.url": url, "tracking.secret": "test-secret-" + "x" * 32, **values}
    return Settings.from_ini(values, environ={}).store()


def migrate(url: str, revision: str = "head") -> None:
    """Run the project's migrations, the way an admin does (``alembic -c development.ini upgrade``)."""
    with environment(TRACKING_DATABASE_URL=url):
        config = Config(str(ROOT / "development.ini"))
        command.upgrade(config, revision)


def _is_utf8(wsgi_path: str) -> bool:
    try:
        wsgi_path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return False
    return True


class TestApp(webtest.TestApp):
    """A WebTest app that can log in and find CSRF tokens, and holds every answer of the API to
    its OpenAPI document (``openapi_check``)."""

    def do_request(self, req, status=None, expect_errors=None):
        response = super().do_request(req, status=status, expect_errors=expect_errors)
        from tests import openapi_check

        # PATH_INFO as WSGI gives it (bytes as latin-1): a path that is not UTF-8 has no
        # operation in the document, and the test that sent it checks the app's 400 itself.
        path = req.environ.get("PATH_INFO", "")
        if path.isascii() or _is_utf8(path):
            openapi_check.check(req.method, req.path_info, response)
        return response

    def login(self, email, password=PASSWORD, next_url=None):
        page = self.get("/login" + (f"?next={next_url}" if next_url else ""))
        form = page.forms["login"]
        form["email"] = email
        form["password"] = password
        return form.submit("submit")

    def logout(self):
        return self.post("/logout", {"csrf_token": self.csrf_token()})

    def csrf_token(self, url="/login"):
        page = self.get(url, status="*")
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', page.text
        )
        assert match, f"no CSRF token on {url}"
        return match.group(1)
