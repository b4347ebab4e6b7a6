"""A new time zone is saved at once and the site's data rebuilt by a job the hit writer runs:
never inside the request, retried when it fails, shown to the owner meanwhile."""

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import sessionmaker

from tests.hits import make_hit, summaries
from tests.servers import seed_site
from tests.support import PASSWORD, TestApp
from tracking import main
from tracking.ingest.store import Store
from tracking.interfaces import IDatabase, IHitPipeline, IHitStore
from tracking.models import DailyStat, Hit, Job, Site, User, Visit
from tracking.models.accounts import password_context
from tracking.summaries import jobs
from tracking.summaries.rebuild import rebuild
from tracking.timezones import local_day

#: 22:30 UTC: 00:30 the next day in Paris (summer time).
NIGHT = datetime(2026, 6, 2, 22, 30)
T = datetime(2026, 6, 10, 12, 0)


@pytest.fixture
def paris(dbsession, make_site, owner):
    site = make_site(owner, url="https://example.com", timezone="Europe/Paris")
    Store(None).write_batch(dbsession, [
        make_hit(site, NIGHT, "/", ip="198.51.100.1"),
        make_hit(site, NIGHT + timedelta(minutes=5), "/pricing", ip="198.51.100.1"),
        make_hit(site, NIGHT + timedelta(hours=12), "/", ip="198.51.100.2"),
    ])
    dbsession.flush()
    return site


@pytest.fixture
def factory(app):
    return app.registry.getUtility(IDatabase).session_factory


def change_timezone(testapp, site, timezone):
    form = testapp.get(f"/sites/{site.id}/edit").forms["edit-site"]
    form["timezone"] = timezone
    return form.submit("submit").follow()


def notice(testapp, path, id):
    """The text of the page's notice ``id`` (whitespace made single spaces), or ``None``."""
    found = testapp.get(path).html.select_one(f"#{id}")
    return None if found is None else " ".join(found.text.split())


def site_jobs(dbsession, site):
    dbsession.expire_all()
    return [(job.state, job.payload, job.attempts) for job in dbsession.scalars(select(Job).where(Job.site_id == site.id).order_by(Job.id))]


def visit_days(dbsession, site):
    dbsession.expire_all()
    return sorted(dbsession.scalars(select(Visit.day).where(Visit.site_id == site.id)))


def test_the_request_saves_the_zone_and_the_writer_rebuilds(testapp, dbsession, factory, owner, paris):
    before, days_before = summaries(dbsession, paris.id), visit_days(dbsession, paris)
    testapp.login(owner.email)
    page = change_timezone(testapp, paris, "UTC")
    assert "The reports are being rebuilt for UTC" in page.text
    # Saved, queued, and nothing rebuilt yet: the numbers are the old ones, and the pages say so.
    dbsession.expire_all()
    assert dbsession.get(Site, paris.id).timezone == "UTC"
    assert site_jobs(dbsession, paris) == [("pending", "UTC", 0)]
    assert summaries(dbsession, paris.id) == before and visit_days(dbsession, paris) == days_before
    for path in ("", "edit", "panel?dim=page"):
        shown = notice(testapp, f"/sites/{paris.id}/{path}", "rebuilding")
        assert "Rebuilding the reports for UTC" in shown and "the numbers shown are the old ones" in shown

    assert jobs.run_due(factory) == 1  # the writer, between batches
    assert site_jobs(dbsession, paris) == [("done", "UTC", 1)]
    assert visit_days(dbsession, paris) == [NIGHT.date(), (NIGHT + timedelta(hours=12)).date()]
    rebuilt = summaries(dbsession, paris.id)
    assert rebuilt != before
    rebuild(dbsession, paris.id)
    assert summaries(dbsession, paris.id) == rebuilt
    assert notice(testapp, f"/sites/{paris.id}/", "rebuilding") is None
    assert jobs.run_due(factory) == 0


def test_other_settings_queue_nothing(testapp, dbsession, owner, paris):
    testapp.login(owner.email)
    form = testapp.get(f"/sites/{paris.id}/edit").forms["edit-site"]
    form["name"] = "Renamed"
    form.submit("submit")
    assert site_jobs(dbsession, paris) == []


def test_a_change_while_a_job_waits_replaces_it(testapp, dbsession, factory, owner, paris):
    testapp.login(owner.email)
    change_timezone(testapp, paris, "UTC")
    change_timezone(testapp, paris, "Asia/Tokyo")
    assert site_jobs(dbsession, paris) == [("pending", "Asia/Tokyo", 0)]
    assert jobs.run_due(factory, limit=5) == 1
    dbsession.expire_all()
    assert all(v.day == local_day(v.started_at, "Asia/Tokyo") for v in dbsession.scalars(select(Visit)))


def test_a_change_while_a_job_runs_queues_another(testapp, dbsession, factory, owner, paris):
    testapp.login(owner.email)
    change_timezone(testapp, paris, "UTC")
    claim = jobs._claim(factory, T)  # a writer took it and is running it
    assert claim is not None and site_jobs(dbsession, paris) == [("running", "UTC", 1)]
    change_timezone(testapp, paris, "Asia/Tokyo")
    assert site_jobs(dbsession, paris) == [("running", "UTC", 1), ("pending", "Asia/Tokyo", 0)]
    jobs._run(factory, claim, lambda: T)
    assert jobs.run_due(factory, clock=lambda: T) == 1
    assert [state for state, _, _ in site_jobs(dbsession, paris)] == ["done", "done"]
    dbsession.expire_all()
    assert all(v.day == local_day(v.started_at, "Asia/Tokyo") for v in dbsession.scalars(select(Visit)))


def test_a_failed_rebuild_is_retried_then_shown_and_changes_nothing(testapp, dbsession, factory, owner, paris, monkeypatch):
    testapp.login(owner.email)
    before, days_before = summaries(dbsession, paris.id), visit_days(dbsession, paris)
    change_timezone(testapp, paris, "UTC")

    def broken(session, site_id):  # after the rows were re-dated: all of it is rolled back
        raise RuntimeError("<b>disk</b> full\nand more")

    monkeypatch.setattr("tracking.summaries.rebuild.rebuild", broken)
    assert jobs.run_due(factory, clock=lambda: T) == 1
    assert site_jobs(dbsession, paris) == [("pending", "UTC", 1)]
    assert visit_days(dbsession, paris) == days_before and summaries(dbsession, paris.id) == before
    page = testapp.get(f"/sites/{paris.id}/")
    shown = " ".join(page.html.select_one("#rebuilding").text.split())
    assert "The last attempt failed (RuntimeError: <b>disk</b> full); the next one is at 12:01." in shown  # T + 60 s
    assert "&lt;b&gt;disk&lt;/b&gt;" in page.text and "<b>disk" not in page.text  # escaped

    assert jobs.run_due(factory, clock=lambda: T + timedelta(seconds=59)) == 0  # it waits
    assert jobs.run_due(factory, clock=lambda: T + timedelta(seconds=60)) == 1
    assert jobs.run_due(factory, clock=lambda: T + timedelta(seconds=60 + 299)) == 0
    assert jobs.run_due(factory, clock=lambda: T + timedelta(seconds=60 + 300)) == 1
    assert site_jobs(dbsession, paris) == [("failed", "UTC", 3)]
    assert jobs.run_due(factory, clock=lambda: T + timedelta(days=1)) == 0  # for good
    failed = notice(testapp, f"/sites/{paris.id}/", "rebuild-failed")
    assert "could not be rebuilt for UTC (3 attempts; the last one: RuntimeError: <b>disk</b> full)" in failed
    assert "still count the days of the previous time zone" in failed
    assert notice(testapp, f"/sites/{paris.id}/edit", "rebuild-failed") == failed

    monkeypatch.undo()  # the disk has room again: saving the settings tries once more
    testapp.get(f"/sites/{paris.id}/edit").forms["edit-site"].submit("submit")
    assert site_jobs(dbsession, paris) == [("failed", "UTC", 3), ("pending", "UTC", 0)]
    assert jobs.run_due(factory) == 1
    assert notice(testapp, f"/sites/{paris.id}/", "rebuild-failed") is None
    assert visit_days(dbsession, paris) == [NIGHT.date(), (NIGHT + timedelta(hours=12)).date()]


def test_a_job_its_writer_left_running_is_taken_again(dbsession, factory, paris):
    jobs.enqueue_rebuild(dbsession, paris.id, "Europe/Paris")
    assert jobs._claim(factory, T) is not None  # ...and the writer died
    assert jobs.run_due(factory, clock=lambda: T + timedelta(seconds=jobs.LEASE_SECONDS - 1)) == 0
    assert jobs.run_due(factory, clock=lambda: T + timedelta(seconds=jobs.LEASE_SECONDS + 1)) == 1
    assert site_jobs(dbsession, paris) == [("done", "Europe/Paris", 2)]


def test_a_job_left_running_on_its_last_attempt_fails(dbsession, factory, paris):
    job = jobs.enqueue_rebuild(dbsession, paris.id, "Europe/Paris")
    dbsession.execute(update(Job).where(Job.id == job.id).values(state="running", attempts=jobs.MAX_ATTEMPTS, started_at=T))
    assert jobs.run_due(factory, clock=lambda: T + timedelta(hours=1)) == 0
    assert site_jobs(dbsession, paris) == [("failed", "Europe/Paris", jobs.MAX_ATTEMPTS)]
    dbsession.expire_all()
    assert dbsession.get(Job, job.id).error == "The writer stopped while running it."


def test_a_deleted_sites_jobs_go_with_it(testapp, dbsession, factory, owner, paris):
    testapp.login(owner.email)
    change_timezone(testapp, paris, "UTC")
    form = testapp.get(f"/sites/{paris.id}/delete").forms["delete-site"]
    form["confirm"] = paris.name
    form.submit("submit")
    assert dbsession.scalar(select(func.count(Job.id))) == 0
    assert jobs.run_due(factory) == 0


# -- across processes, and in the writer ------------------------------------------------------


def test_two_writers_claim_each_job_once(fresh_db, monkeypatch, caplog):
    """Two writers (processes) look for jobs at the same instant: each job runs once, and
    neither fails for the other (the database's own locking decides who takes what)."""
    from sqlalchemy import event

    from tracking.models import get_engine

    engines = [get_engine({"sqlalchemy.url": fresh_db}) for _ in range(2)]
    sites = [seed_site(engines[0])[1] for _ in range(6)]
    with sessionmaker(bind=engines[0])() as session, session.begin():
        for site_id in sites:
            jobs.enqueue_rebuild(session, site_id, "UTC")
    ran, lock = [], threading.Lock()
    real = jobs.change_timezone

    def recorded(session, site_id, timezone):
        with lock:
            ran.append(site_id)
        real(session, site_id, timezone)

    monkeypatch.setattr(jobs, "change_timezone", recorded)
    # Each writer's first claim waits, once it has read its job, for the other's to have read
    # one too (or for 2 s: on SQLite the other waits for the write lock to read at all).
    together = threading.Barrier(2, timeout=2)

    def read_a_job(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith("SELECT jobs.id") and "ORDER BY jobs.id" in statement:
            try:
                together.wait()
            except threading.BrokenBarrierError:
                pass

    for engine in engines:
        event.listen(engine, "after_cursor_execute", read_a_job)
    counts = [0, 0]

    def writer(n):
        counts[n] = jobs.run_due(sessionmaker(bind=engines[n]), limit=100)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert sorted(ran) == sorted(sites) and sum(counts) == len(sites)
        assert not [r for r in caplog.records if r.name == "tracking.summaries.jobs" and r.levelname != "INFO"]
        with engines[0].connect() as conn:
            assert conn.execute(select(Job.state)).scalars().all() == ["done"] * len(sites)
    finally:
        for engine in engines:
            engine.dispose()


@pytest.fixture
def served(app_settings, fresh_db, monkeypatch):
    """An app on a database of its own with a running writer thread that runs jobs at once,
    its owner logged in, and a site in Paris with a night visit already stored."""
    monkeypatch.setattr(jobs, "POLL_SECONDS", 0.05)
    wsgi = main({}, **{**app_settings, "sqlalchemy.url": fresh_db})
    engine = wsgi.registry.getUtility(IDatabase).engine
    user_id, site_id = seed_site(engine)
    factory = wsgi.registry.getUtility(IDatabase).session_factory
    with factory() as session, session.begin():
        session.execute(update(User).where(User.id == user_id).values(password_hash=password_context.hash(PASSWORD)))
        session.execute(update(Site).where(Site.id == site_id).values(timezone="Europe/Paris"))
        site = session.get(Site, site_id)
        Store(None).write_batch(session, [make_hit(site, NIGHT, "/", ip=f"198.51.100.{n}") for n in range(5)])
        email = session.get(User, user_id).email
    store = Store(factory, interval=0.05)
    wsgi.registry.registerUtility(store, IHitStore)
    store.start()
    testapp = TestApp(wsgi, extra_environ={"HTTP_HOST": "tracking.example.org", "REMOTE_ADDR": "203.0.113.7"})
    testapp.login(email)
    yield testapp, factory, store, site_id
    store.close()
    wsgi.registry.getUtility(IHitPipeline).geo.close()
    engine.dispose()


def test_a_rebuild_runs_in_the_writer_while_hits_keep_being_accepted(served, monkeypatch):
    testapp, factory, store, site_id = served
    started, release = threading.Event(), threading.Event()
    real = jobs.change_timezone

    def held(session, site_id, timezone):  # a big site's rebuild, that takes its time
        started.set()
        assert release.wait(30)
        real(session, site_id, timezone)

    monkeypatch.setattr(jobs, "change_timezone", held)
    form = testapp.get(f"/sites/{site_id}/edit").forms["edit-site"]
    form["timezone"] = "America/New_York"
    assert form.submit("submit").status_code == 303  # at once: the writer does the work
    assert started.wait(10)
    headers = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"}
    for n in range(20):
        res = testapp.get(f"/sites/{site_id}/hit", params={"url": f"https://example.com/during/{n}"}, headers=headers)
        assert res.status_code == 204
    assert store.pending == 20  # accepted, waiting for the writer
    release.set()
    assert store.flush(timeout=30)

    with factory() as session, session.begin():
        assert session.scalar(select(func.count(Hit.id)).where(Hit.site_id == site_id)) == 25
        # (The writer also chose the site's common values when it started: a job of its own.)
        assert session.scalars(select(Job.state).where(Job.kind == jobs.REBUILD)).all() == ["done"]
        rows = session.execute(select(Visit.started_at, Visit.day).where(Visit.site_id == site_id)).all()
        assert rows and all(day == local_day(started, "America/New_York") for started, day in rows)
        assert any(started.date() == NIGHT.date() for started, _ in rows)
        kept = summaries(session, site_id)
        assert kept[0] and session.scalar(select(func.count()).select_from(DailyStat)) > 0
        rebuild(session, site_id)  # from the raw rows, as they are now dated
        assert summaries(session, site_id) == kept
