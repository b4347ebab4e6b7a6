"""Building the application registers, it starts nothing: only the server's entry point starts
the hit writer, loads the lookup data and handles SIGTERM (``tracking.server``)."""

import atexit
import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support import migrate
from tracking import make_app
from tracking.interfaces import IHitPipeline, IHitStore
from tracking.server import start_background

ROOT = Path(__file__).parents[2]

#: Runs ``tracking-admin create-user`` in a fresh interpreter and prints, as JSON, every process,
#: thread, exit hook and signal handler it started or installed.
WATCHED_ADMIN = """
import atexit, io, json, os, signal, subprocess, sys, threading
started = []

def watch(owner, name, label):
    original = getattr(owner, name)
    def watched(*args, **kwargs):
        started.append(label(*args))
        return original(*args, **kwargs)
    setattr(owner, name, watched)

watch(subprocess.Popen, "__init__", lambda self, args, *rest: ["process", str(args)])
watch(os, "fork", lambda: ["process", "fork"])
watch(os, "posix_spawn", lambda path, *rest: ["process", path])
watch(threading.Thread, "start", lambda self: ["thread", self.name])
watch(atexit, "register", lambda function, *rest: ["atexit", f"{function.__module__}.{function.__qualname__}"])
watch(signal, "signal", lambda number, handler: ["signal", int(number)])

from tracking.scripts.admin import main
code = main(["create-user", sys.argv[1], "--email", "ada@example.org", "--admin"], stdin=io.StringIO("a-long-password\\n"))
print(json.dumps({"code": code, "started": started}))
"""


def test_tracking_admin_starts_no_process_thread_or_signal_handler(tmp_path):
    """``tracking-admin`` bootstraps the application of development.ini (``tracking.writer =
    process``): it creates the account and starts no writer process, no child reading the
    network tables, no thread, and installs no exit hook of ours or signal handler."""
    url = f"sqlite:///{tmp_path}/admin.sqlite"
    migrate(url)
    done = subprocess.run(
        [sys.executable, "-c", WATCHED_ADMIN, str(ROOT / "development.ini")],
        capture_output=True, text=True, timeout=120,
        env={"PATH": str(Path(sys.executable).parent), "TRACKING_DATABASE_URL": url,
             "TRACKING_SPOOL_DIR": str(tmp_path / "spool")},
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # Libraries register exit hooks when imported (logging, multiprocessing): none of ours.
    started = [entry for entry in report["started"] if not (entry[0] == "atexit" and not entry[1].startswith("tracking."))]
    assert (report["code"], started) == (0, [])
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT email FROM users")) == "ada@example.org"
    engine.dispose()


@pytest.fixture
def recorded(monkeypatch):
    """Processes, threads, exit hooks and signal handlers started in this process, recorded
    and not started."""
    started = []
    monkeypatch.setattr(subprocess.Popen, "__init__", lambda self, args, *a, **k: started.append(("process", args)) or _refuse())
    monkeypatch.setattr(threading.Thread, "start", lambda self: started.append(("thread", self.name)))
    monkeypatch.setattr(atexit, "register", lambda function, *a, **k: started.append(("atexit", function)))
    monkeypatch.setattr(signal, "signal", lambda number, handler: started.append(("signal", number, handler)))
    return started


def _refuse():
    raise OSError("no process may be started here")


def lasting(recorded):
    """What was started, less the short-lived children that read the bot lists and the network
    tables (refused here, they are read in the process: whether they run depends on whether an
    earlier test loaded the data)."""
    return [entry for entry in recorded if not (entry[0] == "process" and "tracking.ingest.writer" not in " ".join(entry[1]))]


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_building_the_application_starts_and_loads_nothing(app_settings, db_service, recorded, writer):
    app = make_app({**app_settings, "tracking.writer": writer}, database=db_service)
    assert recorded == []
    assert app.registry.getUtility(IHitPipeline).geo._tables is None  # the network tables wait for their first use


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_start_background_starts_the_writer_once(app_settings, db_service, recorded, writer, tmp_path):
    app = make_app({**app_settings, "tracking.writer": writer, "tracking.spool_dir": str(tmp_path)}, database=db_service)
    store = app.registry.getUtility(IHitStore)
    if writer == "process":
        with pytest.raises(OSError, match="no process may be started here"):
            start_background(app)
        [(kind, command)] = lasting(recorded)
        assert kind == "process" and "tracking.ingest.writer" in " ".join(command)
        return
    start_background(app)
    start_background(app)  # once per process, however often it is called
    started = lasting(recorded)
    assert started[0] == ("thread", "tracking-store")
    assert started[1] == ("atexit", store.close)
    assert started[2][:2] == ("signal", signal.SIGTERM)
    assert len(started) == 3
    assert app.registry.getUtility(IHitPipeline).geo._tables is not None  # loaded before the first hit


def test_an_application_without_writer_starts_no_writer_when_served(app, recorded):
    start_background(app)  # the test settings: tracking.writer = off
    assert lasting(recorded) == []
    assert app.registry.getUtility(IHitPipeline).geo._tables is not None  # its beacon is warm all the same


def test_start_background_needs_the_application(recorded):
    with pytest.raises(TypeError, match="needs the application tracking.main returned"):
        start_background(lambda environ, start_response: [])
