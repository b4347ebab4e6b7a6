"""Spooled hits through real faults: the writer process killed (SIGKILL) while its database is down.

The database is a PostgreSQL cluster of the test's own (``private_db``): it is stopped and started
again, which the machine's shared server never is.
"""

import http.client
import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.servers import Server, app_ini, children, seed_site, stored, wait_for
from tracking.models import Hit, get_engine

pytestmark = pytest.mark.slow

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
#: More than one batch of the writer (2,000 hits): storing the spool takes several transactions.
SPOOLED = 2_500


def send(server, site_id, path):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", f"/sites/{site_id}/hit?url=https%3A%2F%2Fexample.com{path}", headers={"User-Agent": CHROME})
        return conn.getresponse().status
    finally:
        conn.close()


def healthz(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def spooled_lines(spool: Path) -> int:
    return sum(len(path.read_text().splitlines()) for path in spool.glob("hits-*.jsonl"))


def writer_of(server) -> int:
    [writer] = children(server.process.pid)
    return writer


def test_spooled_hits_outlive_a_killed_writer_while_the_database_is_down(private_db, pg_cluster, tmp_path):
    """SIGTERM during an outage spools the acknowledged hits; the next server, the database still
    down, reports them as pending; its writer is killed (SIGKILL) and replaced; the database
    comes back: every spooled hit is stored, once, and the spool file is gone only then."""
    engine = get_engine({"sqlalchemy.url": private_db})
    _, site_id = seed_site(engine)
    spool = tmp_path / "spool"
    # One address stands in for thousands of visitors: the per-client limit is off.
    ini = app_ini(tmp_path, tracking_shutdown_seconds=1, tracking_beacon_rate=0)
    try:
        server = Server(ini, private_db, tmp_path).start()
        try:
            assert send(server, site_id, "/first") == 204  # the site is known: the beacon needs no database now
            assert wait_for(lambda: stored(engine, site_id) == 1)
            engine.dispose()
            pg_cluster.stop()
            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(lambda i: send(server, site_id, f"/p{i}"), range(SPOOLED)))
            assert statuses == [204] * SPOOLED
            assert server.terminate() == 0
        finally:
            server.stop()
        assert spooled_lines(spool) == SPOOLED, server.log.read_text()

        restarted = Server(ini, private_db, tmp_path).start()
        try:
            assert healthz(restarted) == (503, {"status": "database unavailable", "pending": SPOOLED})
            first = writer_of(restarted)
            # The writer holds the spool file while the database is away.
            assert wait_for(lambda: "claimed" in restarted.log.read_text(), timeout=30), restarted.log.read_text()
            assert spooled_lines(spool) == SPOOLED
            os.kill(first, signal.SIGKILL)
            assert wait_for(lambda: children(restarted.process.pid) not in ([], [first]), timeout=30)
            assert spooled_lines(spool) == SPOOLED  # still there: none of its hits is committed
            assert healthz(restarted) == (503, {"status": "database unavailable", "pending": SPOOLED})
            # The replacement claims the file again (the kernel released the dead writer's lock).
            assert wait_for(lambda: restarted.log.read_text().count("claimed") == 2, timeout=30), restarted.log.read_text()
            time.sleep(0.5)
            assert healthz(restarted) == (503, {"status": "database unavailable", "pending": SPOOLED})

            pg_cluster.start()
            assert wait_for(lambda: stored(engine, site_id) == SPOOLED + 1, timeout=60), restarted.log.read_text()
            assert wait_for(lambda: healthz(restarted) == (200, {"status": "ok", "pending": 0}), timeout=30)
            assert list(spool.iterdir()) == []
        finally:
            restarted.stop()
        assert "Traceback" not in restarted.log.read_text()
        with engine.connect() as conn:
            paths = conn.execute(select(Hit.path, func.count()).where(Hit.site_id == site_id).group_by(Hit.path)).all()
        assert sorted(paths) == sorted([("/first", 1)] + [(f"/p{i}", 1) for i in range(SPOOLED)])  # each exactly once
    finally:
        engine.dispose()
