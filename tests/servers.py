"""Real servers for tests and benchmarks: ``pserve`` in a subprocess on a free port."""

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from tests.postgresql import ADMIN_URL

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``pserve <ini>`` with settings from the environment, like an admin runs it."""

    def __init__(self, ini: str, db_url: str, workdir: Path, *, env: dict | None = None, args: tuple = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"server-{self.port}.log"
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            "TRACKING_DATABASE_URL": db_url,
            "TRACKING_SECRET": "server-test-secret-" + "s" * 32,
            "TRACKING_SPOOL_DIR": str(workdir / "spool"),
            **(env or {}),
        }
        self.command = [str(BIN / "pserve"), str(ROOT / ini), f"http_port={self.port}", "http_host=127.0.0.1", *args]
        self.env = environment
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> "Server":
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                # The first page of a process renders slowly (templates compile; seconds on a
                # loaded machine): wait for that answer rather than pile up new requests.
                with urllib.request.urlopen(self.url + "/login", timeout=max(deadline - time.monotonic(), 0.1)) as response:
                    response.read()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start:\n{self.log.read_text()}")

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, as a service manager stops it; returns the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def rss_mb(self) -> float:
        assert self.process is not None
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def app_ini(directory: Path, **settings) -> str:
    """A copy of production.ini in ``directory`` with some ``[app:main]`` settings set or added
    (``tracking_writer`` is ``tracking.writer``)."""
    text = (ROOT / "production.ini").read_text()
    for key, value in settings.items():
        key = key.replace("_", ".", 1)
        text, found = re.subn(rf"^{re.escape(key)} = .*$", f"{key} = {value}", text, count=1, flags=re.M)
        if not found:
            text = text.replace("[app:main]\n", f"[app:main]\n{key} = {value}\n", 1)
    ini = directory / "production-test.ini"
    ini.write_text(text)
    return str(ini)


def children(pid: int) -> list[int]:
    """The process ids of ``pid``'s children (a server's writer process)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def seed_site(engine, url: str = "https://example.com") -> tuple[int, int]:
    """Commit a user and a site; returns (user id, site id)."""
    from sqlalchemy import insert

    from tracking.models import Site, User

    with engine.begin() as conn:
        user_id = conn.execute(
            insert(User).values(name="Owner", email=f"owner-{time.time_ns()}@example.com", password_hash="x").returning(User.id)
        ).scalar()
        site_id = conn.execute(insert(Site).values(owner_id=user_id, name="Site", url=url).returning(Site.id)).scalar()
    return user_id, site_id


class database_outage:
    """Make the database refuse the app: PostgreSQL stops accepting connections to it; SQLite is
    locked by another writer."""

    def __init__(self, database, url):
        self.database, self.url = database, make_url(url)

    def __enter__(self):
        if self.database == "postgresql":
            with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'ALTER DATABASE "{self.url.database}" ALLOW_CONNECTIONS false')
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (self.url.database,))
        else:
            self.lock = sqlite3.connect(Path(self.url.database), isolation_level=None)
            self.lock.execute("BEGIN EXCLUSIVE")
        return self

    def __exit__(self, *exc):
        if self.database == "postgresql":
            with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'ALTER DATABASE "{self.url.database}" ALLOW_CONNECTIONS true')
        else:
            self.lock.execute("COMMIT")
            self.lock.close()


def stored(engine, site_id: int) -> int:
    """How many hits of the site are in the database."""
    from sqlalchemy import func, select

    from tracking.models import Hit

    with engine.connect() as conn:
        return conn.scalar(select(func.count(Hit.id)).where(Hit.site_id == site_id))


def wait_for(predicate, timeout: float = 30.0) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()
