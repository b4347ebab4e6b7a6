"""``tracking-admin rebuild``: an operator rebuilds a site's data now."""

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.hits import make_hit, summaries
from tests.servers import seed_site
from tests.support import environment
from tracking.ingest.store import Store
from tracking.models import Job, Site, Visit, get_engine
from tracking.scripts.admin import main
from tracking.summaries import jobs
from tracking.timezones import local_day

INI = str(Path(__file__).parents[2] / "development.ini")
NIGHT = datetime(2026, 6, 2, 22, 30)  # 00:30 the next day in Paris


@pytest.fixture
def engine(fresh_db):
    engine = get_engine({"sqlalchemy.url": fresh_db})
    with environment(TRACKING_DATABASE_URL=fresh_db):
        yield engine
    engine.dispose()


@pytest.fixture
def site_id(engine):
    """A site now in Tokyo whose rows are still dated in Paris, with its rebuild pending."""
    _, site_id = seed_site(engine)
    with Session(engine) as session, session.begin():
        session.execute(update(Site).where(Site.id == site_id).values(timezone="Europe/Paris"))
        site = session.get(Site, site_id)
        Store(None).write_batch(session, [make_hit(site, NIGHT + timedelta(minutes=n), "/", ip="198.51.100.1") for n in range(3)])
        site.timezone = "Asia/Tokyo"
        jobs.enqueue_rebuild(session, site_id, "Asia/Tokyo")
    return site_id


def test_rebuild_redates_the_rows_and_does_the_pending_job(engine, site_id, capsys):
    assert main(["rebuild", INI, str(site_id)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"rebuilt site {site_id} (Site) in Asia/Tokyo: ") and out.rstrip().endswith("its pending rebuild is done")
    with Session(engine) as session:
        assert [(job.state, job.payload) for job in session.scalars(select(Job).order_by(Job.id))] == [
            ("done", "Asia/Tokyo"), ("done", "Asia/Tokyo"),
        ]
        assert all(v.day == local_day(v.started_at, "Asia/Tokyo") for v in session.scalars(select(Visit)))
        kept = summaries(session, site_id)
    with Session(engine) as session, session.begin():
        from tracking.summaries.rebuild import rebuild

        rebuild(session, site_id)
        assert summaries(session, site_id) == kept
    with Session(engine) as session:
        assert jobs.latest(session, site_id) is None  # the site's pages no longer say "rebuilding"


def test_a_rebuild_that_fails_for_good_is_cleared_by_an_operator(engine, site_id, capsys):
    with Session(engine) as session, session.begin():
        session.execute(update(Job).values(state="failed", attempts=3, error="OperationalError: disk full"))
    with Session(engine) as session:
        assert jobs.latest(session, site_id).state == "failed"
    assert main(["rebuild", INI, str(site_id)]) == 0
    assert not capsys.readouterr().out.rstrip().endswith("its pending rebuild is done")
    with Session(engine) as session:
        assert jobs.latest(session, site_id) is None


@pytest.mark.parametrize("argument", ["999", "0", "-3", str(2**40)])
def test_an_unknown_site_is_a_clear_error(engine, site_id, argument, capsys):
    assert main(["rebuild", INI, argument]) == 2
    assert capsys.readouterr().err.strip() == f"tracking-admin: error: there is no site {int(argument)}"


def test_a_failed_rebuild_changes_nothing(engine, site_id, capsys, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def broken(session, site_id):
        raise OperationalError("INSERT INTO daily_stats ...", {}, Exception("disk I/O error"))

    monkeypatch.setattr("tracking.summaries.rebuild.rebuild", broken)
    with Session(engine) as session:
        days = sorted(session.scalars(select(Visit.day)))
    assert main(["rebuild", INI, str(site_id)]) == 2
    assert capsys.readouterr().err.strip() == (
        "tracking-admin: error: the rebuild failed, and nothing was changed: Exception: disk I/O error"
    )
    with Session(engine) as session:
        assert sorted(session.scalars(select(Visit.day))) == days
        assert jobs.latest(session, site_id).state == "pending"
