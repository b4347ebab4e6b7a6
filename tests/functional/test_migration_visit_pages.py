"""0010: each visit lists the paths it viewed and the events it sent; the upgrade fills the
lists of the visits stored before it exactly as the hit writer fills them."""

from datetime import datetime, timedelta
from types import SimpleNamespace

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.hits import GOOGLEBOT, IPHONE, make_hit
from tests.support import ROOT, environment, migrate
from tracking.ingest.store import Store
from tracking.models import get_engine

BEFORE = "0009_members"
T = datetime(2026, 5, 1, 10, 0)


def downgrade(url, revision):
    with environment(TRACKING_DATABASE_URL=url):
        command.downgrade(Config(str(ROOT / "development.ini")), revision)


def lists(engine) -> list[tuple]:
    with engine.connect() as connection:
        return connection.execute(text("SELECT id, pages, event_names FROM visits ORDER BY id")).all()


def test_the_upgrade_lists_the_pages_and_events_of_stored_visits(fresh_db):
    engine = get_engine({"sqlalchemy.url": fresh_db})
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO users (id, name, email, password_hash, is_admin, created_at)"
                " VALUES (1, 'a', 'a@example.com', 'x', false, '2026-01-01')"
            ))
            connection.execute(text(
                "INSERT INTO sites (id, owner_id, name, url, timezone, honor_dnt, honor_gpc, restrict_hosts,"
                " created_at) VALUES (1, 1, 's', 'https://example.com', 'UTC', true, true, true, '2026-01-01')"
            ))
        site = SimpleNamespace(id=1, owner_id=1, timezone="UTC")
        hits = [
            make_hit(site, T, "/"),
            make_hit(site, T + timedelta(minutes=1), "/pricing"),
            make_hit(site, T + timedelta(minutes=2), "/pricing", event="signup", props={"plan": "pro"}),
            make_hit(site, T + timedelta(minutes=3), "/"),
            make_hit(site, T + timedelta(minutes=4), "/", event="outbound"),
            make_hit(site, T + timedelta(minutes=5), "/Pricing", ip="198.51.100.2", ua=IPHONE),
            make_hit(site, T + timedelta(minutes=6), "/docs", event="download", ip="198.51.100.3"),  # no page view
            make_hit(site, T + timedelta(minutes=7), "/", ua=GOOGLEBOT, ip="192.0.2.1"),  # a bot: no visit
        ]
        with Session(engine) as session, session.begin():
            Store(None).write_batch(session, hits[:3])
            Store(None).write_batch(session, hits[3:])
        written = lists(engine)
        assert [(pages, names) for _, pages, names in written] == [
            ("\x1f/\x1f/pricing\x1f", "\x1fsignup\x1foutbound\x1f"),
            ("\x1f/Pricing\x1f", ""),
            ("", "\x1fdownload\x1f"),
        ]
        engine.dispose()
        downgrade(fresh_db, BEFORE)
        migrate(fresh_db)
        assert lists(engine) == written
    finally:
        engine.dispose()
