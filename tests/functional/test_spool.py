"""Spool files: claimed by one writer at a time, deleted only once their hits are committed,
counted as pending meanwhile, and claimed again when their writer dies.

Each test writes to a database of its own (its writers commit).
"""

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from tests.servers import seed_site, wait_for
from tests.support import migrate, store_settings
from tracking.ingest import store as store_module
from tracking.ingest.enrich import GeoLocator
from tracking.ingest.hit import parse
from tracking.ingest.pipeline import Pipeline
from tracking.ingest.sites import SiteInfo
from tracking.ingest.spool import claim, count_unclaimed, spool_hits
from tracking.ingest.store import Store
from tracking.ingest.writer import WriterProcess
from tracking.models import Hit, get_engine

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
T0 = datetime(2026, 3, 10, 12, 0, 0)


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline(GeoLocator())


def hits(pipeline, site_id, n, prefix="/p"):
    info = SiteInfo(site_id, 1, "example.com", "UTC", True, True, True)
    return [
        pipeline.process(
            info, parse({"url": f"https://example.com{prefix}{i}"}), ip=f"198.51.100.{i % 200 + 1}",
            user_agent=CHROME, dnt=False, gpc=False, now=T0 + timedelta(seconds=i),
        )
        for i in range(n)
    ]


@pytest.fixture
def own_site(fresh_db):
    engine = get_engine({"sqlalchemy.url": fresh_db})
    _, site_id = seed_site(engine)
    yield engine, site_id
    engine.dispose()


def stored_paths(engine):
    with engine.connect() as conn:
        return sorted(conn.scalars(select(Hit.path)))


def spool_files(directory):
    return sorted(path.name for path in directory.glob("hits-*"))


class Outage:
    """Every new transaction fails while ``down``; ``after_commits``: goes down by itself then."""

    def __init__(self, engine, after_commits=None):
        self.down = after_commits is None
        self.commits_left = after_commits
        event.listen(engine, "begin", self.check)
        event.listen(engine, "commit", self.committed)

    def check(self, conn):
        if self.down:
            raise OperationalError("BEGIN", {}, Exception("connection refused"))

    def committed(self, conn):
        if self.commits_left is not None:
            self.commits_left -= 1
            self.down = self.commits_left <= 0


def test_a_spool_file_is_deleted_only_once_its_hits_are_committed(pipeline, own_site, tmp_path):
    engine, site_id = own_site
    spool_hits(tmp_path, hits(pipeline, site_id, 5))
    [name] = spool_files(tmp_path)
    outage = Outage(engine)
    store = Store(sessionmaker(bind=engine), interval=0.02, batch_size=2, spool_dir=str(tmp_path))
    assert store.load_spool() == 5
    store.start()
    try:
        assert not store.flush(timeout=0.5)
        assert store.pending == 5  # /healthz counts them
        assert spool_files(tmp_path) == [name]  # kept while none is committed...
        assert claim(tmp_path) == []  # ...and held: no other writer takes it
        assert count_unclaimed(tmp_path) == 0
        outage.down = False
        assert store.flush(timeout=20)
    finally:
        store.close()
    assert stored_paths(engine) == [f"/p{i}" for i in range(5)]
    assert spool_files(tmp_path) == []
    assert store.pending == 0


def test_a_file_stored_in_part_is_taken_up_where_it_stopped(pipeline, own_site, tmp_path):
    engine, site_id = own_site
    spool_hits(tmp_path, hits(pipeline, site_id, 5))
    outage = Outage(engine, after_commits=1)  # one batch of two hits, then the database goes away
    store = Store(sessionmaker(bind=engine), interval=0.02, batch_size=2, shutdown_timeout=0.3, spool_dir=str(tmp_path))
    store.load_spool()
    store.start()
    assert wait_for(lambda: store.written == 2, timeout=10)
    assert wait_for(lambda: store.pending == 3, timeout=10)
    store.close()
    [name] = spool_files(tmp_path)
    assert name.endswith("+2.jsonl")  # its first two hits are stored

    outage.commits_left = None
    outage.down = False  # the database is back
    restarted = Store(sessionmaker(bind=engine), interval=0.02, spool_dir=str(tmp_path))
    assert restarted.load_spool() == 3
    restarted.start()
    assert restarted.flush(timeout=20)
    restarted.close()
    assert stored_paths(engine) == [f"/p{i}" for i in range(5)]  # each once
    assert spool_files(tmp_path) == []


def test_a_writer_stopping_during_an_outage_leaves_claimed_files_as_they_are(pipeline, own_site, tmp_path):
    engine, site_id = own_site
    spool_hits(tmp_path, hits(pipeline, site_id, 3, prefix="/old"))
    [name] = spool_files(tmp_path)
    content = (tmp_path / name).read_bytes()
    Outage(engine)
    progress = []
    store = Store(
        sessionmaker(bind=engine), interval=0.02, shutdown_timeout=0.3, spool_dir=str(tmp_path),
        on_progress=lambda settled, spooled: progress.append((settled, spooled)),
    )
    store.load_spool()
    store.start()
    for hit in hits(pipeline, site_id, 2, prefix="/new"):
        assert store.submit(hit)
    assert store.pending == 5
    store.close()
    assert progress[0] == (0, 3) and progress[-1] == (2, 0)  # its own two settled (spooled), the three let go
    [new] = set(spool_files(tmp_path)) - {name}
    assert (tmp_path / name).read_bytes() == content  # not rewritten
    assert [json.loads(line)["path"] for line in (tmp_path / new).read_text().splitlines()] == ["/new0", "/new1"]


HOLD = "import fcntl, sys, time; f = open(sys.argv[1], 'rb'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)"


def test_a_file_held_by_a_process_that_dies_is_claimed_again(pipeline, tmp_path):
    spool_hits(tmp_path, hits(pipeline, 1, 4))
    [name] = spool_files(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / name)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        assert claim(tmp_path) == [] and count_unclaimed(tmp_path) == 0
        os.kill(holder.pid, signal.SIGKILL)  # no clean-up: the kernel lets go of the lock
        holder.wait(10)
    finally:
        holder.kill()
        holder.stdout.close()
    assert count_unclaimed(tmp_path) == 4
    [(file, claimed)] = claim(tmp_path)
    assert [hit.path for hit in claimed] == [f"/p{i}" for i in range(4)]
    file.release()


def test_a_running_writer_claims_the_spool_files_that_appear(pipeline, own_site, tmp_path, monkeypatch):
    """Another server's spool (written as it stopped during an outage) is stored by a writer that
    runs, without waiting for that server to start again."""
    monkeypatch.setattr(store_module, "SCAN_SECONDS", 0.05)
    engine, site_id = own_site
    store = Store(sessionmaker(bind=engine), interval=0.02, spool_dir=str(tmp_path))
    store.load_spool()
    store.start()
    try:
        spool_hits(tmp_path, hits(pipeline, site_id, 6))
        assert wait_for(lambda: len(stored_paths(engine)) == 6, timeout=10)
        assert wait_for(lambda: spool_files(tmp_path) == [], timeout=10)
    finally:
        store.close()


def test_spooled_hits_are_pending_but_take_no_room_in_the_buffer(pipeline, own_site, tmp_path):
    engine, site_id = own_site
    spool_hits(tmp_path, hits(pipeline, site_id, 5, prefix="/old"))
    Outage(engine)
    store = Store(sessionmaker(bind=engine), max_pending=3, interval=0.02, shutdown_timeout=0.2, spool_dir=str(tmp_path))
    store.load_spool()
    store.start()
    try:
        assert [store.submit(hit) for hit in hits(pipeline, site_id, 4, prefix="/new")] == [True, True, True, False]
        assert store.pending == 8
    finally:
        store.close()


def test_an_unreadable_spool_file_is_set_aside_and_a_line_cut_short_skipped(pipeline, tmp_path, caplog):
    spool_hits(tmp_path, hits(pipeline, 1, 3))
    [name] = spool_files(tmp_path)
    whole = (tmp_path / name).read_text()
    (tmp_path / name).write_text(whole + whole.splitlines()[0][:40])  # an earlier version's crash
    (tmp_path / "hits-1-1.jsonl").write_text("not json\n" + whole)
    [(file, claimed)] = claim(tmp_path)
    assert [hit.path for hit in claimed] == ["/p0", "/p1", "/p2"]
    file.release()
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([name, "hits-1-1.jsonl.unreadable"])
    assert "hits-1-1.jsonl" in caplog.text and "cut short" in caplog.text


def test_a_killed_writer_process_leaves_the_spool_to_its_replacement(pipeline, tmp_path):
    """The writer process claims the spool while the database is away; killed, its spool file
    stays, still counted as pending, and its replacement stores it once the database is back."""
    spool = tmp_path / "spool"
    spool_hits(spool, hits(pipeline, 1, 30))  # for the site the database will have
    later = tmp_path / "later"  # the database: a file in a directory that does not exist yet
    url = f"sqlite:///{later}/tracking.sqlite"
    store = WriterProcess(store_settings(url, **{"tracking.spool_dir": str(spool), "tracking.flush_seconds": "0.05"}))
    store.start()
    try:
        assert store.pending == 30  # at once: the spool nobody holds
        assert wait_for(lambda: count_unclaimed(spool) == 0, timeout=30)  # claimed by the child
        first = store._child
        os.kill(first.pid, signal.SIGKILL)
        assert wait_for(lambda: store._child is not first, timeout=10)
        assert len(spool_files(spool)) == 1 and store.pending == 30
        assert wait_for(lambda: count_unclaimed(spool) == 0, timeout=30)  # claimed by the new child
        # The database comes back: made elsewhere, then moved into place at once.
        ready = tmp_path / "ready"
        ready.mkdir()
        migrate(f"sqlite:///{ready}/tracking.sqlite")
        engine = get_engine({"sqlalchemy.url": f"sqlite:///{ready}/tracking.sqlite"})
        assert seed_site(engine)[1] == 1
        engine.dispose()
        ready.rename(later)
        engine = get_engine({"sqlalchemy.url": url})
        try:
            assert wait_for(lambda: len(stored_paths(engine)) == 30, timeout=30)
            assert wait_for(lambda: store.pending == 0, timeout=10)
            assert stored_paths(engine) == sorted(f"/p{i}" for i in range(30))  # each once
            with engine.connect() as conn:
                assert conn.scalar(select(func.count(func.distinct(Hit.path)))) == 30
        finally:
            engine.dispose()
        assert spool_files(spool) == []
    finally:
        store.close()


def test_a_spooled_hit_keeps_its_revenue_and_a_file_of_an_earlier_version_has_none(pipeline, tmp_path):
    info = SiteInfo(1, 1, "example.com", "UTC", True, True, True)
    raw = parse({"url": "https://example.com/", "event": "Purchase",
                 "revenue": {"amount": "29.90", "currency": "EUR"}})
    hit = pipeline.process(info, raw, ip="198.51.100.1", user_agent=CHROME, dnt=False, gpc=False, now=T0)
    spool_hits(tmp_path, [hit])
    [(spool, [back])] = claim(tmp_path)
    assert (back.revenue_amount, back.revenue_currency) == ("29.9", "EUR") and back == hit
    spool.release()
    # A line written before hits carried revenue: both None.
    path = next(tmp_path.glob("hits-*.jsonl"))
    row = json.loads(path.read_text())
    del row["revenue_amount"], row["revenue_currency"]
    path.write_text(json.dumps(row) + "\n")
    [(spool, [old])] = claim(tmp_path)
    assert (old.revenue_amount, old.revenue_currency) == (None, None)
    spool.release()
