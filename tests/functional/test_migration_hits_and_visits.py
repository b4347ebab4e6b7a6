"""0007: the hits' table ``visits`` becomes ``hits`` (``session_id`` → ``visit_id``) and the
visits' table ``visit_sessions`` becomes ``visits``, with every row and id kept, both ways."""

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from tests.support import ROOT, environment, migrate
from tracking.models import get_engine

BEFORE = "0006_user_sessions"
AFTER = "0007_hits_and_visits"


def downgrade(url, revision):
    with environment(TRACKING_DATABASE_URL=url):
        command.downgrade(Config(str(ROOT / "development.ini")), revision)


VISIT = (
    "INSERT INTO visit_sessions (site_id, visitor, started_at, ended_at, day, is_first, entry_path, exit_path,"
    " pageviews, events, duration, source, ref_host, utm_source, utm_medium, utm_campaign, country, region, city,"
    " browser, os, device) VALUES (1, :visitor, :started, :ended, '2026-05-01', :first, :entry, :exit, :pageviews,"
    " 0, :duration, 'search', 'www.google.com', '', '', '', 'DE', 'Berlin', 'Berlin', 'Firefox', 'Linux', 'desktop')"
    " RETURNING id"
)
HIT = (
    "INSERT INTO visits (site_id, ts, day, is_first, visitor, session_id, event, host, path, query, referrer,"
    " ref_host, source, utm_source, utm_medium, utm_campaign, utm_term, utm_content, country, region, city, postal,"
    " latitude, longitude, as_org, browser, browser_version, os, device, width, bot, ip, props)"
    " VALUES (1, :ts, '2026-05-01', true, :visitor, :visit, :event, 'example.com', :path, '', '', '', 'direct',"
    " '', '', '', '', '', 'DE', '', '', '', 52.5, 13.4, 'AS-ORG', 'Firefox', '128', 'Linux', :device, 1280, :bot,"
    " '203.0.113.0', :props) RETURNING id"
)


def fill(engine) -> None:
    """At 0006: a site with two visits and their three hits, and a bot hit (no visit). Ids come
    from the database, so its sequences (PostgreSQL) are where the rows left them."""
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO users (id, name, email, password_hash, is_admin, created_at)"
            " VALUES (1, 'a', 'a@example.com', 'x', false, '2026-01-01')"
        ))
        connection.execute(text(
            "INSERT INTO sites (id, owner_id, name, url, timezone, honor_dnt, honor_gpc, restrict_hosts, created_at)"
            " VALUES (1, 1, 's', 'https://example.com', 'UTC', true, true, true, '2026-01-01')"
        ))
        visits = [
            connection.execute(text(VISIT), {
                "visitor": visitor, "started": started, "ended": ended, "first": first, "entry": entry,
                "exit": exit, "pageviews": pageviews, "duration": duration,
            }).scalar()
            for visitor, started, ended, first, entry, exit, pageviews, duration in (
                (-7, "2026-05-01 10:00:00", "2026-05-01 10:02:00", True, "/", "/pricing", 2, 120),
                (8, "2026-05-01 11:00:00", "2026-05-01 11:00:00", True, "/blog", "/blog", 1, 0),
            )
        ]
        for ts, visitor, visit, event, path, device, bot, props in (
            ("2026-05-01 10:00:00", -7, visits[0], "pageview", "/", "desktop", "", None),
            ("2026-05-01 10:02:00", -7, visits[0], "pageview", "/pricing", "desktop", "", '{"plan": "pro"}'),
            ("2026-05-01 11:00:00", 8, visits[1], "pageview", "/blog", "desktop", "", None),
            ("2026-05-01 11:30:00", 9, None, "pageview", "/", "bot", "crawler", None),
        ):
            connection.execute(text(HIT), {
                "ts": ts, "visitor": visitor, "visit": visit, "event": event, "path": path, "device": device,
                "bot": bot, "props": props,
            })


def rows(engine, table: str, renamed: dict | None = None) -> list[dict]:
    """Every row of ``table``, by id, as the database gives them (columns named as they were
    before 0007)."""
    renamed = renamed or {}
    with engine.connect() as connection:
        result = connection.execute(text(f"SELECT * FROM {table} ORDER BY id"))
        return [{renamed.get(name, name): value for name, value in row._mapping.items()} for row in result]


def test_the_upgrade_renames_the_tables_and_keeps_every_row_and_id(fresh_db):
    downgrade(fresh_db, BEFORE)
    engine = get_engine({"sqlalchemy.url": fresh_db})
    try:
        fill(engine)
        hits, visits = rows(engine, "visits"), rows(engine, "visit_sessions")
        assert len(hits) == 4 and len(visits) == 2
        engine.dispose()
        migrate(fresh_db, AFTER)  # later revisions add columns of their own
        assert rows(engine, "hits", {"visit_id": "session_id"}) == hits
        assert rows(engine, "visits") == visits
        with engine.connect() as connection:
            # Each hit still names its visit (the bot's names none).
            assert connection.execute(text(
                "SELECT h.path, v.entry_path FROM hits h LEFT JOIN visits v ON v.id = h.visit_id ORDER BY h.id"
            )).all() == [("/", "/"), ("/pricing", "/"), ("/blog", "/blog"), ("/", None)]
            assert connection.scalar(text("SELECT COUNT(*) FROM hits WHERE visit_id IS NULL AND bot <> ''")) == 1
    finally:
        engine.dispose()


def test_new_rows_take_new_ids_after_the_upgrade(fresh_db):
    """The id sequences go with their tables (PostgreSQL): the writer's reservation of visit ids
    (``pg_get_serial_sequence('visits', 'id')``) and the hits' default ids go on from the rows
    stored before, never reusing one."""
    downgrade(fresh_db, BEFORE)
    engine = get_engine({"sqlalchemy.url": fresh_db})
    try:
        fill(engine)
        engine.dispose()
        migrate(fresh_db)
        with engine.begin() as connection:
            old_visits = connection.scalar(text("SELECT MAX(id) FROM visits"))
            old_hits = connection.scalar(text("SELECT MAX(id) FROM hits"))
            if engine.dialect.name == "postgresql":
                reserved = connection.scalar(text("SELECT nextval(pg_get_serial_sequence('visits', 'id'))"))
                assert reserved > old_visits
            visit = connection.execute(text(VISIT.replace("visit_sessions", "visits")), {
                "visitor": 10, "started": "2026-05-02 09:00:00", "ended": "2026-05-02 09:00:00", "first": True,
                "entry": "/", "exit": "/", "pageviews": 1, "duration": 0,
            }).scalar()
            hit = connection.execute(text(HIT.replace("INTO visits", "INTO hits").replace("session_id", "visit_id")), {
                "ts": "2026-05-02 09:00:00", "visitor": 10, "visit": visit, "event": "pageview", "path": "/",
                "device": "desktop", "bot": "", "props": None,
            }).scalar()
        assert visit > old_visits and hit > old_hits
    finally:
        engine.dispose()


def test_the_downgrade_gives_back_the_old_tables_with_every_row(fresh_db):
    downgrade(fresh_db, BEFORE)
    engine = get_engine({"sqlalchemy.url": fresh_db})
    try:
        fill(engine)
        hits, visits = rows(engine, "visits"), rows(engine, "visit_sessions")
        engine.dispose()
        migrate(fresh_db)
        downgrade(fresh_db, BEFORE)
        assert rows(engine, "visits") == hits
        assert rows(engine, "visit_sessions") == visits
        engine.dispose()
        # And up again: the same rows under the new names.
        migrate(fresh_db, AFTER)
        assert rows(engine, "hits", {"visit_id": "session_id"}) == hits
        assert rows(engine, "visits") == visits
    finally:
        engine.dispose()
