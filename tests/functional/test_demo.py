"""``tracking-demo``: synthetic traffic that obeys every rule of the live writer.

The rows are checked against the raw-data definitions (sessions, ``is_first`` flags, local
days, visitor ids) recomputed here in Python, and the summary tables against a fresh rebuild.
"""

import io
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from statistics import mean

import pytest
from sqlalchemy import create_engine, delete, func, select, text
from sqlalchemy.orm import Session

from tracking.ingest.store import SESSION_GAP
from tracking.models import DailyStat, Visit, VisitSession
from tracking.scripts import demo
from tracking.stats.periods import local_day, to_local
from tracking.stats.rollups import rebuild

from support import ROOT, environment, migrate
from hits import summaries
from servers import seed_site

VISITS = 3_000
DAYS = 10
# Ten days in Paris around the switch to summer time (29 March 2026: a 23-hour day).
END = date(2026, 4, 2)
NOW = datetime(2026, 4, 3, 12, 0)
TIMEZONE = "Europe/Paris"


@pytest.fixture
def filled(dbsession, make_site, owner):
    site = make_site(owner, url="https://www.example.com", timezone=TIMEZONE)
    result = demo.generate(dbsession, site.id, VISITS, DAYS, seed=42, end=END, now=NOW)
    dbsession.expire_all()
    return site, result


def all_visits(dbsession, site_id):
    return list(dbsession.scalars(select(Visit).where(Visit.site_id == site_id).order_by(Visit.ts, Visit.id)))


def all_sessions(dbsession, site_id):
    return list(dbsession.scalars(select(VisitSession).where(VisitSession.site_id == site_id).order_by(VisitSession.id)))



def test_the_vocabulary():
    assert 190 <= len(demo.PAGES) <= 210
    assert len(set(demo.PAGES)) == len(demo.PAGES)  # is_first keys pages by index
    countries = {place.country for place in demo.PLACES.table} - {""}
    assert len(countries) == 25
    demo.check_copy_safe()


def test_exactly_the_visits_asked_for(dbsession, filled):
    site, result = filled
    assert result.visits == VISITS
    assert dbsession.scalar(select(func.count()).select_from(Visit).where(Visit.site_id == site.id)) == VISITS
    assert dbsession.scalar(select(func.count()).select_from(VisitSession).where(VisitSession.site_id == site.id)) == result.sessions
    days = {visit.day for visit in all_visits(dbsession, site.id)}
    assert days == {END - timedelta(days=n) for n in range(DAYS)}


def test_days_visitors_and_sessions_follow_the_live_rules(dbsession, filled):
    site, _ = filled
    visits = all_visits(dbsession, site.id)
    sessions = {s.id: s for s in all_sessions(dbsession, site.id)}
    for visit in visits:
        assert visit.day == local_day(visit.ts, TIMEZONE)
        assert -(2**63) <= visit.visitor < 2**63
        assert visit.host == "www.example.com"
    # Visitor ids change every day.
    days_of = defaultdict(set)
    for visit in visits:
        days_of[visit.visitor].add(visit.day)
    assert all(len(days) == 1 for days in days_of.values())
    assert any(v.visitor < 0 for v in visits) and any(v.visitor > 0 for v in visits)

    # Sessions are exactly the runs of a visitor's hits less than 30 minutes apart.
    people = defaultdict(list)
    for visit in visits:
        if not visit.bot:
            people[visit.visitor].append(visit)
    expected_groups = set()
    for hits in people.values():
        group = [hits[0].id]
        for before, hit in zip(hits, hits[1:]):
            if hit.ts - before.ts > SESSION_GAP:
                expected_groups.add(tuple(group))
                group = []
            group.append(hit.id)
        expected_groups.add(tuple(group))
    by_session = defaultdict(list)
    for visit in visits:
        if visit.session_id is not None:
            by_session[visit.session_id].append(visit)
    assert {tuple(v.id for v in hits) for hits in by_session.values()} == expected_groups
    assert set(by_session) == set(sessions)

    for session_id, hits in by_session.items():
        session = sessions[session_id]
        views = [hit for hit in hits if hit.event == "pageview"]
        first = hits[0]
        assert session.visitor == first.visitor
        assert (session.started_at, session.ended_at) == (first.ts, hits[-1].ts)
        assert session.day == first.day == local_day(session.started_at, TIMEZONE)
        assert session.entry_path == views[0].path == first.path
        assert session.exit_path == views[-1].path
        assert (session.pageviews, session.events) == (len(views), len(hits) - len(views))
        assert session.duration == int((session.ended_at - session.started_at).total_seconds())
        attributes = ("source", "ref_host", "utm_source", "utm_medium", "utm_campaign", "country", "region", "city",
                      "browser", "os", "device")
        assert [getattr(session, name) for name in attributes] == [getattr(first, name) for name in attributes]
        # Only the landing page view carries the referrer; later views come from the site itself.
        assert all(hit.ref_host == "" and hit.source == "direct" for hit in views[1:])


def test_is_first_flags_match_the_raw_rows(dbsession, filled):
    site, _ = filled
    visits = all_visits(dbsession, site.id)
    seen = set()
    for visit in visits:
        if visit.bot:
            assert not visit.is_first
            continue
        key = (visit.visitor, visit.event, visit.path if visit.event == "pageview" else "")
        assert visit.is_first == (key not in seen), visit.id
        seen.add(key)
    visitors_seen = set()
    for session in sorted(all_sessions(dbsession, site.id), key=lambda s: s.started_at):
        assert session.is_first == (session.visitor not in visitors_seen)
        visitors_seen.add(session.visitor)
    assert len(visitors_seen) < sum(1 for _ in all_sessions(dbsession, site.id))  # some come back the same day


def test_summaries_are_what_a_rebuild_computes(dbsession, filled):
    site, result = filled
    loaded = summaries(dbsession, site.id)
    rebuild(dbsession, site.id)
    dbsession.flush()
    assert summaries(dbsession, site.id) == loaded
    daily, hourly = loaded
    totals = [counts for (dim, _, _), counts in daily.items() if dim == ""]
    assert sum(counts[1] for counts in totals) == result.sessions
    assert sum(counts[2] for counts in totals) == sum(counts[2] for counts in hourly.values())
    assert sum(counts[0] for (dim, _, _), counts in daily.items() if dim == "bot") == 0
    assert sum(counts[2] for (dim, _, _), counts in daily.items() if dim == "bot") == result.bots


def test_the_traffic_looks_real(dbsession, filled):
    site, result = filled
    visits = all_visits(dbsession, site.id)
    sessions = all_sessions(dbsession, site.id)

    per_day = Counter(visit.day for visit in visits)
    weekdays = [count for day, count in per_day.items() if day.weekday() < 5]
    weekend = [count for day, count in per_day.items() if day.weekday() >= 5]
    assert mean(weekdays) > 1.3 * mean(weekend)

    bots = [visit for visit in visits if visit.bot]
    assert 0.025 <= len(bots) / VISITS <= 0.035
    assert len(bots) == result.bots
    assert all(
        (v.bot, v.device, v.session_id, v.is_first, v.ref_host) == ("crawler", "bot", None, False, "") for v in bots
    )

    bounces = sum(1 for s in sessions if s.is_bounce)
    assert 0.38 <= bounces / len(sessions) <= 0.52
    assert max(s.pageviews for s in sessions) <= 8
    sources = Counter(s.source for s in sessions)
    assert 0.33 <= sources["direct"] / len(sessions) <= 0.5
    assert {"search", "social", "email", "referral"} <= set(sources)
    assert any(s.utm_campaign.startswith("weekly-") and s.utm_medium == "email" for s in sessions)
    assert len({s.country for s in sessions}) >= 15
    assert {s.device for s in sessions} == {"desktop", "mobile", "tablet"}

    pages = Counter(v.path for v in visits if v.event == "pageview" and not v.bot)
    assert pages.most_common(1)[0][0] == "/"
    assert len(pages) > 100

    events = Counter(v.event for v in visits if v.event != "pageview")
    assert {"signup", "outbound", "download"} <= set(events)
    for visit in visits:
        if visit.event == "signup":
            assert visit.props in ({"plan": "pro"}, {"plan": "free"})
        elif visit.event == "outbound":
            assert visit.props["url"].startswith("https://")
        elif visit.event == "download":
            assert visit.props is None

    # A daily curve: more visits in the afternoon than at night (local time).
    starts = Counter(to_local(s.started_at, TIMEZONE).hour for s in sessions)
    assert sum(starts[h] for h in range(13, 17)) > 3 * sum(starts[h] for h in range(1, 5))


def test_the_same_seed_gives_the_same_traffic(dbsession, make_site, owner):
    def traffic():
        site = make_site(owner, timezone="UTC")
        demo.generate(dbsession, site.id, 400, 3, seed=7, end=END, now=NOW)
        return [(v.ts, v.event, v.path, v.country, v.is_first) for v in all_visits(dbsession, site.id)]

    assert traffic() == traffic()


def test_today_is_filled_only_up_to_now(dbsession, make_site, owner):
    site = make_site(owner, timezone="UTC")
    now = datetime(2026, 4, 3, 9, 30)
    demo.generate(dbsession, site.id, 2_000, 2, seed=1, now=now)
    visits = all_visits(dbsession, site.id)
    assert len(visits) == 2_000
    assert max(v.ts for v in visits) < now
    assert {v.day for v in visits} == {date(2026, 4, 2), date(2026, 4, 3)}
    # Nine and a half hours of the quiet end of the curve: far less than a whole day.
    today = sum(1 for v in visits if v.day == date(2026, 4, 3))
    assert 0 < today < 0.4 * len(visits)


def test_no_site_no_future(dbsession, make_site, owner):
    with pytest.raises(LookupError):
        demo.generate(dbsession, 987_654, 10, 1)
    site = make_site(owner)
    with pytest.raises(ValueError):
        demo.generate(dbsession, site.id, 10, 1, end=date(2026, 4, 10), now=NOW)


def test_the_console_script(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/demo.sqlite"
    migrate(url)
    engine = create_engine(url)
    _, site_id = seed_site(engine)
    stderr = io.StringIO()
    ini = str(ROOT / "development.ini")
    with environment(TRACKING_DATABASE_URL=url):
        assert demo.main([ini, "--site", str(site_id), "--visits", "1000", "--days", "5", "--seed", "3"], stderr=stderr) == 0
        out = capsys.readouterr().out
        assert f"site {site_id}: 1,000 visits" in out and "seed 3" in out and "visits/s" in out
        assert "100.0% 1,000/1,000 visits" in stderr.getvalue()
        assert demo.main([ini, "--site", "999", "--visits", "10", "--days", "1"], stderr=stderr) == 2
        assert "tracking-demo: error: no site with id 999" in stderr.getvalue()
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Visit).where(Visit.site_id == site_id)) == 1000
        assert session.scalar(select(func.sum(DailyStat.visits)).where(DailyStat.site_id == site_id, DailyStat.dim == "")) > 0
    engine.dispose()


def schema_of_raw_tables(dbsession):
    """Every index and constraint of the raw tables, as the database describes them."""
    if dbsession.get_bind().dialect.name == "postgresql":
        indexes = dbsession.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('visits', 'visit_sessions')"
        )).all()
        constraints = dbsession.execute(text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid IN (CAST('visits' AS regclass), CAST('visit_sessions' AS regclass))"
        )).all()
        return sorted(indexes), sorted(constraints)
    return sorted(dbsession.execute(text(
        "SELECT name, sql FROM sqlite_master WHERE tbl_name IN ('visits', 'visit_sessions')"
    )).all())


def test_a_bulk_load_into_empty_tables_leaves_the_same_indexes_and_keys(dbsession, make_site, owner):
    # Empty within this test's transaction, whatever other tests left behind.
    dbsession.execute(delete(Visit))
    dbsession.execute(delete(VisitSession))
    before = schema_of_raw_tables(dbsession)
    first, second = make_site(owner), make_site(owner, name="Second")
    demo.generate(dbsession, first.id, 500, 2, seed=1, end=END, now=NOW)  # empty tables: indexes built afterwards
    assert schema_of_raw_tables(dbsession) == before
    demo.generate(dbsession, second.id, 500, 2, seed=2, end=END, now=NOW)  # rows already there: indexes kept
    assert schema_of_raw_tables(dbsession) == before
    assert dbsession.scalar(select(func.count()).select_from(Visit)) == 1000
    # Session ids continue from the first load (the sequence was moved past them on PostgreSQL).
    ids = list(dbsession.scalars(select(VisitSession.id).order_by(VisitSession.id)))
    assert len(ids) == len(set(ids))
    dbsession.add(VisitSession(site_id=first.id, visitor=1, started_at=NOW, ended_at=NOW, day=END))
    dbsession.flush()
    assert max(dbsession.scalars(select(VisitSession.id))) > ids[-1]
