"""The writer process: hits handed over to a child process that commits them.

Each test starts a real child (``python -c …``) on a database of its own.
"""

import json
import os
import signal
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.servers import seed_site, wait_for
from tests.support import store_settings
from tracking.ingest.enrich import GeoLocator
from tracking.ingest.hit import parse
from tracking.ingest.pipeline import Pipeline
from tracking.ingest.sites import SiteInfo
from tracking.ingest.writer import WriterProcess
from tracking.models import Engagement, Hit, Visit, get_engine

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
T0 = datetime(2026, 3, 10, 12, 0, 0)


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline(GeoLocator())


@pytest.fixture
def site(fresh_db):
    engine = get_engine({"sqlalchemy.url": fresh_db})
    _, site_id = seed_site(engine)
    yield engine, site_id
    engine.dispose()


def hits(pipeline, site_id, n, start=0):
    info = SiteInfo(site_id, 1, "example.com", "UTC", True, True, True)
    return [
        pipeline.process(
            info,
            parse({"url": f"https://example.com/p{i}", "props": {"n": str(i)}}),
            ip=f"198.51.100.{i % 200 + 1}",
            user_agent=CHROME,
            dnt=False,
            gpc=False,
            now=T0 + timedelta(seconds=i),
        )
        for i in range(start, start + n)
    ]


def stored_paths(engine):
    with engine.connect() as conn:
        return sorted(conn.scalars(select(Hit.path)))


def writer(url, tmp_path, **settings):
    """A started writer process on ``url``, with ``settings`` (``tracking.*``) on top."""
    store = WriterProcess(store_settings(url, **{"tracking.spool_dir": str(tmp_path / "spool"), **settings}))
    store.start()
    return store


def url_of(engine):
    return engine.url.render_as_string(hide_password=False)


def test_hits_are_written_by_the_child_with_every_field(pipeline, site, tmp_path):
    engine, site_id = site
    store = writer(url_of(engine), tmp_path)
    try:
        for hit in hits(pipeline, site_id, 40):
            assert store.submit(hit)
        assert store.flush(timeout=30)
        assert store.pending == 0
    finally:
        store.close()
    assert stored_paths(engine) == sorted(f"/p{i}" for i in range(40))
    with engine.connect() as conn:
        visit = conn.execute(select(Hit).where(Hit.path == "/p7")).one()
        assert (visit.ts, visit.browser, visit.props, visit.ip) == (T0 + timedelta(seconds=7), "Chrome", {"n": "7"}, "198.51.100.0")
        assert conn.scalar(select(func.count(Visit.id))) > 0


def test_an_engagement_goes_through_the_child_as_a_measurement(pipeline, site, tmp_path):
    engine, site_id = site
    [view] = hits(pipeline, site_id, 1)
    [engaged] = hits(pipeline, site_id, 1)  # the same visitor and page, 30 s later
    engaged = engaged._replace(ts=engaged.ts + timedelta(seconds=30), event="engagement", props=None, engaged_ms=28_000,
                               scroll_depth=75)
    store = writer(url_of(engine), tmp_path)
    try:
        assert store.submit(view) and store.submit(engaged)
        assert store.flush(timeout=30)
    finally:
        store.close()
    with engine.connect() as conn:
        assert conn.scalar(select(func.count(Hit.id))) == 1
        visit = conn.execute(select(Visit)).one()
        assert (visit.pageviews, visit.duration) == (1, 30)
        assert conn.execute(select(Engagement.visit_id, Engagement.path, Engagement.engaged_ms,
                                   Engagement.scroll_depth)).all() == [(visit.id, "/p0", 28_000, 75)]


def test_a_killed_child_is_replaced_and_gets_what_it_had_not_committed(pipeline, site, tmp_path):
    engine, site_id = site
    # The child waits 3 s before writing a small batch: the hits are handed over, not committed.
    store = writer(url_of(engine), tmp_path, **{"tracking.flush_seconds": "3"})
    try:
        for hit in hits(pipeline, site_id, 25):
            store.submit(hit)
        assert wait_for(lambda: not store._queue and len(store._unacked) == 25, timeout=10)
        first = store._child
        os.kill(first.pid, signal.SIGKILL)
        assert wait_for(lambda: store._child is not first, timeout=10)
        assert store.restarts == 1 and store.pending == 25
        for hit in hits(pipeline, site_id, 5, start=25):
            store.submit(hit)
        assert store.flush(timeout=30)
    finally:
        store.close()
    assert stored_paths(engine) == sorted(f"/p{i}" for i in range(30))  # each once


def test_close_hands_over_and_waits_for_the_child_to_write(pipeline, site, tmp_path):
    engine, site_id = site
    store = writer(url_of(engine), tmp_path, **{"tracking.flush_seconds": "3"})
    for hit in hits(pipeline, site_id, 12):
        store.submit(hit)
    store.close()  # no flush first
    assert store._child.returncode == 0
    assert stored_paths(engine) == sorted(f"/p{i}" for i in range(12))
    assert not store.submit(hits(pipeline, site_id, 1)[0])  # closed: refused, not lost


def test_a_full_buffer_refuses_the_hit(pipeline, site, tmp_path):
    engine, site_id = site
    store = writer(url_of(engine), tmp_path, **{"tracking.buffer_size": "10", "tracking.flush_seconds": "3"})
    try:
        accepted = [store.submit(hit) for hit in hits(pipeline, site_id, 12)]
        assert accepted == [True] * 10 + [False] * 2
        assert store.flush(timeout=30)
        assert store.submit(hits(pipeline, site_id, 1, start=12)[0])  # room again once written
    finally:
        store.close()
    assert len(stored_paths(engine)) == 11


def test_an_unreachable_database_at_shutdown_is_spooled_once_then_stored(pipeline, site, tmp_path):
    engine, site_id = site
    missing = f"sqlite:///{tmp_path}/no/such/dir/tracking.sqlite"  # cannot be opened: every batch fails
    store = writer(missing, tmp_path, **{"tracking.shutdown_seconds": "0.5"})
    for hit in hits(pipeline, site_id, 9):
        assert store.submit(hit)
    assert not store.flush(timeout=1)
    assert store.pending == 9  # counted by /healthz and against the bound
    store.close()
    spooled = list((tmp_path / "spool").glob("hits-*.jsonl"))
    assert len(spooled) == 1  # by the child; the server does not spool them again
    assert [json.loads(line)["path"] for line in spooled[0].read_text().splitlines()] == [f"/p{i}" for i in range(9)]

    restarted = writer(url_of(engine), tmp_path)  # its child stores the spooled hits first
    try:
        assert wait_for(lambda: len(stored_paths(engine)) == 9, timeout=30)
        assert wait_for(lambda: restarted.pending == 0, timeout=10)  # the child reports just after its commit
    finally:
        restarted.close()
    assert list((tmp_path / "spool").iterdir()) == []


def test_the_child_is_given_an_absolute_spool_directory(tmp_path, monkeypatch):
    """Without ``tracking.spool_dir`` the writer process spools to ``var/spool`` under the
    server's working directory, the one its child is told (not a relative path of its own)."""
    monkeypatch.chdir(tmp_path)
    store = WriterProcess(store_settings("sqlite://"))
    assert store.spool_dir == store.settings.spool_dir == str(tmp_path / "var" / "spool")
    relative = WriterProcess(store_settings("sqlite://", **{"tracking.spool_dir": "spooled"}))
    assert relative.settings.spool_dir == str(tmp_path / "spooled")


def test_an_unknown_writer_setting_stops_the_start(app_settings):
    from tracking import main
    from tracking.settings import UnsafeSettings

    with pytest.raises(UnsafeSettings, match="tracking.writer must be one of process, thread, off, not 'fork'"):
        main({}, **{**app_settings, "tracking.writer": "fork"})
