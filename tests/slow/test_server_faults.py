"""The real server under real faults: proxies, SIGTERM under load, a database that goes away.

Each test runs ``pserve production.ini`` in a subprocess on a fresh database. A test whose
database server restarts uses a PostgreSQL cluster of its own (``private_db``), never the
machine's.
"""

import http.client
import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.servers import Server, app_ini, children, database_outage, seed_site, stored, wait_for
from tracking.models import Hit, get_engine

pytestmark = pytest.mark.slow

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"


@pytest.fixture
def seeded(fresh_db):
    engine = get_engine({"sqlalchemy.url": fresh_db})
    _, site_id = seed_site(engine)
    yield fresh_db, engine, site_id
    engine.dispose()


def hit(server, site_id, path="/", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", f"/sites/{site_id}/hit?url=https%3A%2F%2Fexample.com{path}", headers={"User-Agent": CHROME, **(headers or {})})
        return conn.getresponse().status
    finally:
        conn.close()


class Load:
    """Threads sending hits until stopped; counts what was acknowledged (204)."""

    def __init__(self, server, site_id, threads=6):
        self.server, self.site_id = server, site_id
        self.acknowledged = 0
        self.failed = 0
        self.statuses = Counter()
        self.lock = threading.Lock()
        self.running = True
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]

    def run(self, n):
        i = 0
        while self.running:
            i += 1
            try:
                status = hit(self.server, self.site_id, path=f"/t{n}/{i}")
            except OSError:
                status = None
            with self.lock:
                self.statuses[status] += 1
                if status == 204:
                    self.acknowledged += 1
                else:
                    self.failed += 1
            if status is None:
                time.sleep(0.01)

    def until(self, acknowledged: int, timeout: float = 60.0) -> None:
        """Let the load run until it has ``acknowledged`` more hits (a busy machine is slow)."""
        target = self.acknowledged + acknowledged
        assert wait_for(lambda: self.acknowledged >= target, timeout), f"only {self.acknowledged} hits in {timeout} s"

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        for thread in self.threads:
            thread.join(15)


@pytest.mark.parametrize(("proxy", "expected"), [("10.9.9.9", "127.0.0.1"), ("127.0.0.1", "192.0.2.44")])
def test_forwarded_for_is_believed_only_from_the_trusted_proxy(seeded, tmp_path, proxy, expected):
    url, engine, site_id = seeded
    env = {"TRACKING_TRUSTED_PROXY": proxy, "TRACKING_STORE_IP": "full"}
    with Server("production.ini", url, tmp_path, env=env) as server:
        assert hit(server, site_id, headers={"X-Forwarded-For": "192.0.2.44"}) == 204
        assert wait_for(lambda: stored(engine, site_id) == 1)
    with engine.connect() as conn:
        assert conn.scalar(select(Hit.ip)) == expected


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_sigterm_under_load_loses_no_acknowledged_hit(seeded, tmp_path, writer):
    url, engine, site_id = seeded
    # Batches are written every 300 s (or at 2,000 hits): at the signal, acknowledged hits wait.
    server = Server(app_ini(tmp_path, tracking_writer=writer, tracking_flush_seconds=300), url, tmp_path).start()
    try:
        assert len(children(server.process.pid)) == (1 if writer == "process" else 0)
        with Load(server, site_id) as load:
            load.until(100)
            waiting = load.acknowledged - stored(engine, site_id)
            status = server.terminate()
            time.sleep(0.5)
    finally:
        server.stop()
    assert status == 0, server.log.read_text()
    assert waiting >= 100, waiting  # hits were acknowledged and not yet stored when the signal came
    assert stored(engine, site_id) == load.acknowledged, (load.statuses, server.log.read_text())


def test_database_outage_then_recovery_loses_no_acknowledged_hit(database, seeded, tmp_path):
    url, engine, site_id = seeded
    # A small buffer, so that the outage fills it: past the bound the beacon answers 503. The
    # load stands for many visitors but comes from one address: the per-client limit is off.
    with Server(app_ini(tmp_path, tracking_buffer_size=300, tracking_beacon_rate=0), url, tmp_path) as server:
        assert hit(server, site_id) == 204  # the site is now known: the beacon needs no database
        assert wait_for(lambda: stored(engine, site_id) == 1)
        with Load(server, site_id) as load, database_outage(database, url):
            load.until(50)
            # The outage lasts until a write has failed (SQLite first waits out its 10 s busy
            # timeout) and the buffer is full.
            assert wait_for(lambda: "could not store" in server.log.read_text(), timeout=60), server.log.read_text()
            assert wait_for(lambda: load.statuses[503] > 0, timeout=30), dict(load.statuses)
            during = stored_safely(engine, site_id)
        acknowledged = load.acknowledged + 1
        assert wait_for(lambda: stored(engine, site_id) == acknowledged, timeout=60)
        # Owner pages answer again without a restart.
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            conn.request("GET", "/login")
            assert conn.getresponse().status == 200
        finally:
            conn.close()
    assert load.acknowledged >= 50
    assert during is None or during < acknowledged
    assert set(load.statuses) <= {204, 503, None}, dict(load.statuses)  # never a 500
    assert stored(engine, site_id) == acknowledged


def stored_safely(engine, site_id):
    try:
        return stored(engine, site_id)
    except Exception:
        return None


def test_postgresql_restart_under_load(private_db, pg_cluster, tmp_path):
    """The database server restarts (the tests' own cluster, not the machine's) while hits come."""
    engine = get_engine({"sqlalchemy.url": private_db})
    _, site_id = seed_site(engine)
    try:
        with Server("production.ini", private_db, tmp_path) as server:
            assert hit(server, site_id) == 204
            with Load(server, site_id) as load:
                load.until(20)
                pg_cluster.restart()
                load.until(30)
            acknowledged = load.acknowledged + 1
            engine.dispose()  # the test's own pooled connections died with the server
            assert wait_for(lambda: stored_safely(engine, site_id) == acknowledged, timeout=60)
            # Owner pages answer again within seconds, without restarting the app.
            assert wait_for(lambda: _status(server, "/login") == 200, timeout=10)
        assert load.acknowledged >= 50  # until() waited for that many; more is likely, not certain
        assert stored(engine, site_id) == acknowledged
    finally:
        engine.dispose()


def _status(server, path):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def test_a_killed_server_leaves_its_writer_to_store_what_it_handed_over(seeded, tmp_path):
    url, engine, site_id = seeded
    # The writer would wait 30 s before writing a small batch: the hits are handed over, not stored.
    server = Server(app_ini(tmp_path, tracking_flush_seconds=30), url, tmp_path).start()
    try:
        for i in range(20):
            assert hit(server, site_id, path=f"/k{i}") == 204
        time.sleep(1.0)  # handed over every 20 ms
        [writer] = children(server.process.pid)
        assert stored(engine, site_id) == 0
        server.process.kill()  # SIGKILL: no atexit, no hand-over, no goodbye
        server.process.wait(10)
        assert wait_for(lambda: not Path(f"/proc/{writer}").exists(), timeout=60)
    finally:
        server.stop()
    assert stored(engine, site_id) == 20
    assert "Traceback" not in server.log.read_text()


def test_a_10_mb_body_through_the_real_server_is_a_json_413(seeded, tmp_path):
    url, engine, site_id = seeded
    with Server("production.ini", url, tmp_path) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            body = b'{"url": "https://example.com/", "props": "' + b"x" * (10 * 1024 * 1024) + b'"}'
            conn.request("POST", f"/sites/{site_id}/hit", body=body, headers={"Content-Type": "text/plain", "User-Agent": CHROME})
            answer = conn.getresponse()
            assert answer.status == 413
            assert answer.getheader("Content-Type") == "application/json"
            assert json.loads(answer.read()) == {"errors": {"body": "larger than 8192 bytes"}}
        finally:
            conn.close()
        assert hit(server, site_id) == 204  # and the server goes on
        assert wait_for(lambda: stored(engine, site_id) == 1)
