"""The store: visits, daily salts, batching, and what happens when the database is away."""

import hashlib
import json
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from tests.servers import seed_site, wait_for
from tracking.ingest import make_store
from tracking.ingest.enrich import GeoLocator, VisitorKeys
from tracking.ingest.hit import parse
from tracking.ingest.pipeline import Pipeline
from tracking.ingest.sites import SiteInfo
from tracking.ingest.store import Store, spool_hits
from tracking.interfaces import IHitPipeline, ISettings
from tracking.models import DailySalt, Database, Hit, Site, Visit, get_engine
from tracking.settings import Settings

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
T0 = datetime(2026, 3, 10, 12, 0, 0)


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline(GeoLocator())


def make_hit(pipeline, site, *, at, path="/", event="pageview", ip="198.51.100.1", ua=CHROME):
    info = SiteInfo(site.id, site.owner_id, "example.com", "UTC", True, True, True)
    raw = parse({"url": f"https://example.com{path}", "event": event})
    return pipeline.process(info, raw, ip=ip, user_agent=ua, dnt=False, gpc=False, now=at)


@pytest.fixture
def example(make_site, owner):
    return make_site(owner, url="https://example.com")


def stored_visits(dbsession):
    dbsession.expire_all()
    return list(dbsession.scalars(select(Visit).order_by(Visit.id)))


def test_hits_within_30_minutes_form_one_visit(pipeline, dbsession, example):
    store = Store(None)
    hits = [
        make_hit(pipeline, example, at=T0, path="/a"),
        make_hit(pipeline, example, at=T0 + timedelta(minutes=10), path="/b"),
        make_hit(pipeline, example, at=T0 + timedelta(minutes=12), event="signup", path="/b"),
        make_hit(pipeline, example, at=T0 + timedelta(minutes=35), path="/c"),
        make_hit(pipeline, example, at=T0 + timedelta(minutes=66), path="/d"),  # 31 minutes later: a new visit
    ]
    store.write_batch(dbsession, hits)
    first, second = stored_visits(dbsession)
    assert (first.entry_path, first.exit_path, first.pageviews, first.events) == ("/a", "/c", 3, 1)
    assert (first.started_at, first.ended_at) == (T0, T0 + timedelta(minutes=35))
    assert first.duration == 35 * 60 and not first.is_bounce
    assert (second.entry_path, second.exit_path, second.pageviews, second.is_bounce) == ("/d", "/d", 1, True)
    hits = list(dbsession.scalars(select(Hit).order_by(Hit.ts)))
    assert [h.visit_id for h in hits] == [first.id] * 4 + [second.id]


def test_visits_continue_across_batches_and_processes(pipeline, dbsession, example):
    Store(None).write_batch(dbsession, [make_hit(pipeline, example, at=T0, path="/a")])
    # A later batch in another process (a new store knows nothing in memory) continues it.
    Store(None).write_batch(dbsession, [make_hit(pipeline, example, at=T0 + timedelta(minutes=20), path="/b")])
    [only] = stored_visits(dbsession)
    assert (only.pageviews, only.entry_path, only.exit_path, only.ended_at) == (2, "/a", "/b", T0 + timedelta(minutes=20))


def test_events_do_not_move_the_exit_page_and_visitors_are_apart(pipeline, dbsession, example):
    store = Store(None)
    store.write_batch(dbsession, [
        make_hit(pipeline, example, at=T0, path="/landing"),
        make_hit(pipeline, example, at=T0 + timedelta(minutes=1), path="/other", event="outbound"),
        make_hit(pipeline, example, at=T0, path="/x", ip="198.51.100.2"),
    ])
    first, second = stored_visits(dbsession)
    assert (first.exit_path, first.pageviews, first.events) == ("/landing", 1, 1)
    assert first.visitor != second.visitor and not first.is_bounce and second.is_bounce


def test_a_hit_is_first_once_per_visitor_page_or_event_and_day_across_batches_and_visits(pipeline, dbsession, example):
    """Each visitor's first page view of a path (first event of a name) that day, and no other
    hit, is marked first: checked against the raw rows, whatever the batches, the stores
    writing them (no memory of earlier batches), the visits (a gap opens a new one) and the
    order the hits of a batch come in."""
    import random

    rng = random.Random(7)
    paths, events, ips = ("/", "/a", "/b", "/c"), ("pageview", "pageview", "signup", "outbound"), ("198.51.100.1", "198.51.100.2", "198.51.100.3")
    hits = []
    for n in range(240):
        at = T0 + timedelta(minutes=n * 3 + rng.randrange(3))  # gaps of 40+ minutes below: new visits
        if n % 60 == 59:
            at += timedelta(minutes=40)
        hits.append(make_hit(pipeline, example, at=at, path=rng.choice(paths), event=rng.choice(events), ip=rng.choice(ips),
                             ua=CHROME if n % 17 else "Googlebot/2.1 (+http://www.google.com/bot.html)"))
    for start in range(0, len(hits), 37):
        batch = hits[start:start + 37]
        rng.shuffle(batch)
        Store(None).write_batch(dbsession, batch)
    dbsession.expire_all()
    rows = list(dbsession.scalars(select(Hit).where(Hit.site_id == example.id).order_by(Hit.ts, Hit.id)))
    assert len(rows) == 240 and len({r.visit_id for r in rows if not r.bot}) > 3
    seen, expected = set(), []
    for row in rows:
        key = (row.visitor, row.event, row.path if row.event == "pageview" else "")
        expected.append(not row.bot and key not in seen)
        if not row.bot:
            seen.add(key)
    assert [row.is_first for row in rows] == expected
    assert 10 < sum(expected) < 200


def test_salts_rotate_daily_and_are_deleted_after_two_days(pipeline, dbsession, example):
    store = Store(None)
    day1 = make_hit(pipeline, example, at=T0)
    day2 = make_hit(pipeline, example, at=T0 + timedelta(days=1))
    day4 = make_hit(pipeline, example, at=T0 + timedelta(days=3))
    store.write_batch(dbsession, [day1])
    store.write_batch(dbsession, [day2])
    ids = [v.visitor for v in dbsession.scalars(select(Hit).order_by(Hit.ts))]
    assert ids[0] != ids[1], "the same visitor must get an unrelated id the next day"
    assert sorted(dbsession.scalars(select(DailySalt.day))) == [T0.date(), T0.date() + timedelta(days=1)]
    store.write_batch(dbsession, [day4])
    assert sorted(dbsession.scalars(select(DailySalt.day))) == [T0.date() + timedelta(days=3)]


def test_same_day_same_visitor_same_id_across_processes(pipeline, dbsession, example):
    Store(None).write_batch(dbsession, [make_hit(pipeline, example, at=T0)])
    Store(None).write_batch(dbsession, [make_hit(pipeline, example, at=T0 + timedelta(hours=5))])
    first, second = dbsession.scalars(select(Hit.visitor).order_by(Hit.ts))
    assert first == second


def test_hits_for_a_deleted_site_are_dropped(pipeline, dbsession, example, make_site, owner):
    kept = make_site(owner, name="Kept", url="https://example.com")
    hits = [make_hit(pipeline, example, at=T0), make_hit(pipeline, kept, at=T0)]
    dbsession.delete(example)
    dbsession.flush()
    Store(None).write_batch(dbsession, hits)
    assert list(dbsession.scalars(select(Hit.site_id))) == [kept.id]


def test_spooled_visitor_keys_are_keyed_with_the_server_secret(app, app_settings, tmp_path):
    """A spool file keeps of a visitor only a digest keyed with the server's secret: not the
    plain digest of (site, ip, user agent), which trying every IPv4 address would reverse."""
    site = Site(id=3, owner_id=1)
    hit = make_hit(app.registry.getUtility(IHitPipeline), site, at=T0, ip="203.0.113.7")
    spool_hits(tmp_path, [hit])
    [path] = tmp_path.glob("hits-*.jsonl")
    [row] = [json.loads(line) for line in path.read_text().splitlines()]
    spooled = bytes.fromhex(row["visitor_key"])
    assert spooled == VisitorKeys(app.registry.getUtility(ISettings).secret)(3, "203.0.113.7", CHROME)
    assert spooled != hashlib.blake2b(f"3\x00203.0.113.7\x00{CHROME}".encode(), digest_size=16).digest()
    assert spooled != VisitorKeys("another-secret-" + "y" * 32)(3, "203.0.113.7", CHROME)
    assert row["ip"] == "203.0.113.0" and CHROME not in path.read_text()  # tracking.store_ip = truncated


def test_the_as_organisation_is_stored_and_shown_escaped(pipeline, dbsession, example, owner, testapp):
    """A public address's AS organisation (from the bundled data) is stored with the hit, a
    private one's is empty; a visit's timeline and the bot hits show it, escaped."""
    Store(None).write_batch(dbsession, [
        make_hit(pipeline, example, at=T0, path="/google", ip="8.8.8.8"),
        make_hit(pipeline, example, at=T0, path="/v6", ip="2606:4700:4700::1111"),
        make_hit(pipeline, example, at=T0, path="/lan", ip="10.1.2.3"),
    ])
    dbsession.add(Hit(site_id=example.id, ts=T0, day=T0.date(), visitor=1, path="/evil", as_org="<b>AS</b> & co",
                      bot="crawler", device="bot"))
    dbsession.flush()
    stored = dict(dbsession.execute(select(Hit.path, Hit.as_org)).all())
    assert stored == {"/google": "GOOGLE", "/v6": "CLOUDFLARENET", "/lan": "", "/evil": "<b>AS</b> & co"}
    testapp.login(owner.email)
    bots = testapp.get(f"/sites/{example.id}/bots/")
    assert [cell.text for cell in bots.html.select("#bots .as-org")] == ["<b>AS</b> & co"]
    assert "&lt;b&gt;AS&lt;/b&gt; &amp; co" in bots.text and "<b>AS</b>" not in bots.text
    for path, network in (("/google", "network: GOOGLE"), ("/v6", "network: CLOUDFLARENET"), ("/lan", None)):
        visit = dbsession.scalar(select(Hit.visit_id).where(Hit.path == path))
        shown = testapp.get(f"/sites/{example.id}/visits/{visit}").html.select_one("#summary .as-org")
        assert (shown and shown.text) == network


def test_spool_files_of_earlier_versions_load_without_the_as_organisation(pipeline, example, tmp_path):
    spool_hits(tmp_path, [make_hit(pipeline, example, at=T0, ip="8.8.8.8")])
    [path] = tmp_path.glob("hits-*.jsonl")
    row = json.loads(path.read_text())
    del row["as_org"]
    path.write_text(json.dumps(row) + "\n")
    store = Store(None, spool_dir=str(tmp_path))
    assert store.load_spool() == 1
    [hit] = store._queue
    assert hit.as_org == "" and hit.path == "/" and hit.ts == T0
    store.close()  # lets go of the file, not stored
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


# -- the writer thread, on a database of its own (it commits) ------------------------------


@pytest.fixture
def own_site(fresh_db):
    engine = get_engine({"sqlalchemy.url": fresh_db})
    user_id, site_id = seed_site(engine)
    yield engine, Site(id=site_id, owner_id=user_id)
    engine.dispose()


def count_hits(engine):
    with engine.connect() as conn:
        return conn.scalar(select(func.count(Hit.id)))


class Outage:
    """Makes every new transaction fail while ``down`` is true, as an unreachable server would."""

    def __init__(self, engine):
        self.down = False
        self.refused = 0
        event.listen(engine, "begin", self.check)

    def check(self, conn):
        if self.down:
            self.refused += 1
            raise OperationalError("BEGIN", {}, Exception("connection refused"))


def test_writer_thread_waits_out_an_outage_without_losing_hits(pipeline, own_site):
    engine, site = own_site
    outage = Outage(engine)
    store = Store(sessionmaker(bind=engine), interval=0.05)
    store.start()
    try:
        outage.down = True
        for i in range(50):
            assert store.submit(make_hit(pipeline, site, at=T0 + timedelta(seconds=i)))
        assert not store.flush(timeout=1.0)
        assert outage.refused > 0 and store.pending == 50
        outage.down = False
        assert store.flush(timeout=20)
        assert count_hits(engine) == 50
    finally:
        store.close()


def test_full_buffer_refuses_instead_of_dropping(pipeline, own_site):
    engine, site = own_site
    outage = Outage(engine)
    outage.down = True
    store = Store(sessionmaker(bind=engine), max_pending=5, interval=0.05)
    store.start()
    try:
        accepted = [store.submit(make_hit(pipeline, site, at=T0)) for _ in range(8)]
        assert accepted == [True] * 5 + [False] * 3
        outage.down = False
        assert store.flush(timeout=20)
        assert count_hits(engine) == 5
    finally:
        store.close()


def restart_and_store(engine, **options) -> int:
    """A new store, as the next start makes it: it loads the spool and writes it; returns how many
    hits the spool held (the store must have written them all)."""
    restarted = Store(sessionmaker(bind=engine), **options)
    loaded = restarted.load_spool()
    restarted.start()
    try:
        assert restarted.flush(timeout=20)
    finally:
        restarted.close()
    return loaded


def test_shutdown_during_an_outage_spools_and_the_next_start_stores(pipeline, own_site, tmp_path):
    engine, site = own_site
    outage = Outage(engine)
    outage.down = True
    store = Store(sessionmaker(bind=engine), interval=0.05, shutdown_timeout=0.5, spool_dir=str(tmp_path / "spool"))
    store.start()
    for i in range(7):
        store.submit(make_hit(pipeline, site, at=T0 + timedelta(seconds=i), path=f"/p{i}"))
    store.close()
    assert len(list((tmp_path / "spool").glob("hits-*.jsonl"))) == 1
    outage.down = False
    assert count_hits(engine) == 0

    assert restart_and_store(engine, interval=0.05, spool_dir=str(tmp_path / "spool")) == 7
    assert count_hits(engine) == 7
    assert list((tmp_path / "spool").iterdir()) == []
    with engine.connect() as conn:
        assert sorted(conn.scalars(select(Hit.path))) == [f"/p{i}" for i in range(7)]


class Clock:
    """A naive-UTC clock that moves only when told to."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def salt_days(engine):
    with engine.connect() as conn:
        return sorted(conn.scalars(select(DailySalt.day)))


def test_salts_expire_by_the_clock_without_any_hit(own_site):
    """The salt of day D is deleted once the writer's clock reaches D+2, though no hit comes:
    a quiet site's salts do not outlive their two days."""
    engine, _ = own_site
    day = T0.date()
    with engine.begin() as conn:
        for d in (day - timedelta(days=1), day):
            conn.execute(DailySalt.__table__.insert().values(day=d, salt=os.urandom(32), created_at=T0))
    clock = Clock(datetime.combine(day, datetime.max.time()))  # the last instant of day D
    store = Store(sessionmaker(bind=engine), interval=0.02, clock=clock)
    store.start()
    try:
        time.sleep(0.3)  # several idle rounds: both salts are within their two days
        assert salt_days(engine) == [day - timedelta(days=1), day]
        clock.now = datetime.combine(day + timedelta(days=1), datetime.min.time())
        assert wait_for(lambda: salt_days(engine) == [day], timeout=5)
        time.sleep(0.3)
        assert salt_days(engine) == [day]
        clock.now = datetime.combine(day + timedelta(days=2), datetime.min.time())
        assert wait_for(lambda: salt_days(engine) == [], timeout=5)
        assert store.written == 0
    finally:
        store.close()


def test_spooled_hits_of_an_expired_day_leave_no_salt_behind(pipeline, own_site, tmp_path):
    """Hits spooled days ago are stored, but the salt their day needs is deleted again with
    each batch: none older than yesterday is left, whichever batch created it."""
    engine, site = own_site
    old = T0 - timedelta(days=5)
    spool_hits(tmp_path, [make_hit(pipeline, site, at=old + timedelta(minutes=i), path=f"/{i}") for i in range(5)])
    store = Store(sessionmaker(bind=engine), interval=0.02, batch_size=2, spool_dir=str(tmp_path), clock=Clock(T0))
    assert store.load_spool() == 5
    store.start()
    try:
        assert store.flush(timeout=20)
        assert count_hits(engine) == 5
        assert salt_days(engine) == []  # three batches; the first one's deletion was due anyway
        assert store.submit(make_hit(pipeline, site, at=T0))
        assert store.flush(timeout=20)
        assert salt_days(engine) == [T0.date()]
    finally:
        store.close()


def test_without_a_spool_setting_hits_are_spooled_under_the_working_directory(pipeline, own_site, tmp_path, monkeypatch):
    """No ``tracking.spool_dir``: a shutdown during an outage still keeps the hits, in
    ``var/spool`` under the working directory (created then), and the next start stores them."""
    engine, site = own_site
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_ini(
        {"sqlalchemy.url": "sqlite://", "tracking.secret": "s", "tracking.writer": "thread",
         "tracking.shutdown_seconds": "0.5", "tracking.flush_seconds": "0.05"},
        environ={},
    )
    assert settings.spool_dir == str(tmp_path / "var" / "spool")
    options = {"shutdown_timeout": 0.5, "interval": 0.05, "spool_dir": settings.spool_dir}
    outage = Outage(engine)
    outage.down = True
    store = make_store(settings, Database(engine))
    assert (store.spool_dir, store.interval, store.shutdown_timeout) == (Path(settings.spool_dir), 0.05, 0.5)
    store.start()
    for i in range(3):
        assert store.submit(make_hit(pipeline, site, at=T0 + timedelta(seconds=i)))
    store.close()
    assert len(list((tmp_path / "var" / "spool").glob("hits-*.jsonl"))) == 1
    outage.down = False
    monkeypatch.chdir("/")  # the path was made absolute when the settings were read
    assert restart_and_store(engine, **options) == 3
    assert count_hits(engine) == 3


def test_close_writes_what_is_buffered(pipeline, own_site):
    engine, site = own_site
    store = Store(sessionmaker(bind=engine), interval=60)  # would not flush on its own for a minute
    store.start()
    for i in range(30):
        store.submit(make_hit(pipeline, site, at=T0 + timedelta(seconds=i)))
    store.close()
    assert count_hits(engine) == 30


def test_two_writers_on_one_sqlite_file_reserve_distinct_visit_ids(pipeline, fresh_db, database):
    """Two server processes writing the same SQLite file: each writer reserves visit ids
    under the write lock it takes at BEGIN, so their visits never share an id and every hit
    belongs to a visit of its own visitor."""
    if database != "sqlite":
        pytest.skip("SQLite's write lock")
    from tests.hits import summaries
    from tracking.summaries.rebuild import rebuild

    engines = [get_engine({"sqlalchemy.url": fresh_db}) for _ in range(2)]
    user_id, site_id = seed_site(engines[0])
    site = Site(id=site_id, owner_id=user_id)
    stores = [Store(sessionmaker(bind=engine), interval=0.01, batch_size=7) for engine in engines]
    for store in stores:
        store.start()
    try:
        # 40 visitors, each sending its hits to both processes in turn.
        for n in range(400):
            hit = make_hit(pipeline, site, at=T0 + timedelta(seconds=n), path=f"/{n % 9}", ip=f"198.51.100.{n % 40}")
            assert stores[n % 2].submit(hit)
        for store in stores:
            assert store.flush(timeout=30)
    finally:
        for store in stores:
            store.close()
    assert sum(store.failures for store in stores) == 0  # they took turns instead of failing
    engine = engines[0]
    with engine.connect() as conn:
        assert count_hits(engine) == 400
        visits = {row.id: row.visitor for row in conn.execute(select(Visit.id, Visit.visitor))}
        hits = conn.execute(select(Hit.visit_id, Hit.visitor)).all()
    assert len(visits) >= 40
    assert all(visits[visit_id] == visitor for visit_id, visitor in hits)
    # Visits opened by both processes for the same visitor are possible (a brand-new visitor
    # seen by both in the same instant); the summaries still agree with the raw rows.
    with sessionmaker(bind=engine)() as session, session.begin():
        incremental = summaries(session, site_id)
        rebuild(session, site_id)
        assert summaries(session, site_id) == incremental
    for engine in engines:
        engine.dispose()


def test_the_writer_holds_sqlites_write_lock_from_begin(fresh_db, database):
    if database != "sqlite":
        pytest.skip("SQLite's write lock")
    import sqlite3

    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    engine = get_engine({"sqlalchemy.url": fresh_db})
    other = sqlite3.connect(make_url(fresh_db).database, isolation_level=None, timeout=0)
    try:
        with engine.connect() as conn:
            with conn.begin():  # a plain BEGIN takes no lock until the first write
                other.execute("BEGIN IMMEDIATE")
                other.execute("COMMIT")
            with conn.execution_options(sqlite_begin="IMMEDIATE").begin():
                conn.execute(text("SELECT 1"))
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()
        engine.dispose()
