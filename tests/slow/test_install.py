"""What a new user sees: ``pip install`` (plain and editable) and the commands, without warnings,
and a wheel that carries the templates, static files and migrations.

Database-independent: run once, in the SQLite leg.
"""

import os
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.servers import ROOT, Server, seed_site
from tracking.models import get_engine

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
#: A Python warning as printed (``file:line: UserWarning: …``), or pip's and setuptools' own.
WARNING = re.compile(r"Warning|warning:|WARNING:|DEPRECATION")
DATA = ("templates", "static", "alembic")


@pytest.fixture(autouse=True)
def sqlite_leg_only(database):
    if database != "sqlite":
        pytest.skip("does not depend on the database: run once, in the SQLite leg")


def run(command, env=None, **kw):
    """``command`` with the environment an admin's shell would have (no pytest, no pip config)."""
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), "PIP_CONFIG_FILE": os.devnull,
                   "PIP_DISABLE_PIP_VERSION_CHECK": "1", **(env or {})}
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300, **kw)


def quiet(done) -> str:
    """The command's output, asserting that it succeeded without a warning."""
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert not WARNING.search(output), output
    return output


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """The project's files, as a fresh clone has them (no virtualenv, no build output)."""
    target = tmp_path_factory.mktemp("checkout") / "tracking"
    ignored = shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", "node_modules", "var", ".hypothesis", ".pytest_cache", ".coverage"
    )
    shutil.copytree(ROOT, target, ignore=ignored)
    return target


def pip(*args):
    # The build backend is this virtualenv's setuptools (no download): the one setup.py pins.
    return [sys.executable, "-m", "pip", *args, "--no-deps", "--no-build-isolation", "--no-index"]


def test_the_wheel_builds_without_warnings_and_carries_the_applications_data(checkout, tmp_path):
    quiet(run(pip("wheel", "-w", str(tmp_path), str(checkout))))
    [wheel] = tmp_path.glob("tracking-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    source = ROOT / "src"
    expected = {
        path.relative_to(source).as_posix()
        for folder in DATA
        for path in (source / "tracking" / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert {"tracking/templates/layout.jinja2", "tracking/static/tracker.js", "tracking/alembic/env.py"} <= expected
    assert any(name.startswith("tracking/alembic/versions/") for name in expected)
    assert expected <= names, sorted(expected - names)


def test_an_editable_install_prints_no_warning(checkout, tmp_path):
    # Into a prefix of its own; --ignore-installed: this virtualenv's install is left alone.
    prefix = tmp_path / "prefix"
    quiet(run(pip("install", "--ignore-installed", "--no-warn-script-location", "--prefix", str(prefix), "-e", str(checkout))))
    assert list(prefix.glob("lib/python*/site-packages/__editable__.tracking-*.pth"))


@pytest.fixture
def admin_env(tmp_path):
    return {"TRACKING_DATABASE_URL": f"sqlite:///{tmp_path}/tracking.sqlite", "TRACKING_SECRET": "install-test-secret-" + "s" * 32}


def test_the_commands_print_no_warning(admin_env, tmp_path):
    """The README's commands, in order: migrate, create the first admin, serve (and fill a site)."""
    ini = str(ROOT / "production.ini")
    quiet(run([str(BIN / "alembic"), "-c", ini, "upgrade", "head"], env=admin_env))
    created = run(
        [str(BIN / "tracking-admin"), "create-user", ini, "--email", "ada@example.org", "--name", "Ada", "--admin"],
        env=admin_env, input="correct horse battery staple\n",
    )
    quiet(created)
    engine = get_engine({"sqlalchemy.url": admin_env["TRACKING_DATABASE_URL"]})
    try:
        _, site_id = seed_site(engine)
    finally:
        engine.dispose()
    quiet(run([str(BIN / "tracking-demo"), ini, "--site", str(site_id), "--hits", "50", "--days", "2", "--seed", "1"], env=admin_env))

    server = Server("production.ini", admin_env["TRACKING_DATABASE_URL"], tmp_path, env=admin_env)
    with server:
        with urllib.request.urlopen(server.url + "/login", timeout=10) as response:
            assert response.status == 200
    log = server.log.read_text()  # the server's stderr and its writer process's
    assert "Starting server" in log
    assert not WARNING.search(log), log
