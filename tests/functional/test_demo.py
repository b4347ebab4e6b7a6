"""``tracking-demo``: synthetic traffic that obeys every rule of the live writer.

The rows are checked against the raw-data definitions (visits, ``is_first`` flags, local
days, visitor ids) recomputed here in Python, and the summary tables against a fresh rebuild.
"""

import io
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from itertools import pairwise
from statistics import mean

import pytest
from sqlalchemy import create_engine, delete, func, select, text
from sqlalchemy.orm import Session

from tests.hits import summaries
from tests.servers import seed_site
from tests.support import ROOT, environment, migrate
from tracking.ingest.visits import VISIT_GAP
from tracking.models import DailyStat, Hit, Visit
from tracking.models.hits import listing
from tracking.scripts import demo
from tracking.summaries.rebuild import rebuild
from tracking.timezones import local_day, to_local

HITS = 3_000
DAYS = 10
# Ten days in Paris around the switch to summer time (29 March 2026: a 23-hour day).
END = date(2026, 4, 2)
NOW = datetime(2026, 4, 3, 12, 0)
TIMEZONE = "Europe/Paris"


@pytest.fixture
def filled(dbsession, make_site, owner):
    site = make_site(owner, url="https://www.example.com", timezone=TIMEZONE)
    result = demo.generate(dbsession, site.id, HITS, DAYS, seed=42, end=END, now=NOW)
    dbsession.expire_all()
    return site, result


def all_hits(dbsession, site_id):
    return list(dbsession.scalars(select(Hit).where(Hit.site_id == site_id).order_by(Hit.ts, Hit.id)))


def all_visits(dbsession, site_id):
    return list(dbsession.scalars(select(Visit).where(Visit.site_id == site_id).order_by(Visit.id)))



def test_the_vocabulary():
    assert 190 <= len(demo.PAGES) <= 210
    assert len(set(demo.PAGES)) == len(demo.PAGES)  # is_first keys pages by index
    countries = {place.country for place in demo.PLACES.table} - {""}
    assert len(countries) == 25
    demo.check_copy_safe()


def test_exactly_the_hits_asked_for(dbsession, filled):
    site, result = filled
    assert result.hits == HITS
    assert dbsession.scalar(select(func.count()).select_from(Hit).where(Hit.site_id == site.id)) == HITS
    assert dbsession.scalar(select(func.count()).select_from(Visit).where(Visit.site_id == site.id)) == result.visits
    days = {hit.day for hit in all_hits(dbsession, site.id)}
    assert days == {END - timedelta(days=n) for n in range(DAYS)}


def test_days_visitors_and_visits_follow_the_live_rules(dbsession, filled):
    site, _ = filled
    all_of_them = all_hits(dbsession, site.id)
    visits = {v.id: v for v in all_visits(dbsession, site.id)}
    for hit in all_of_them:
        assert hit.day == local_day(hit.ts, TIMEZONE)
        assert -(2**63) <= hit.visitor < 2**63
        assert hit.host == "www.example.com"
    # Visitor ids change every day.
    days_of = defaultdict(set)
    for hit in all_of_them:
        days_of[hit.visitor].add(hit.day)
    assert all(len(days) == 1 for days in days_of.values())
    assert any(h.visitor < 0 for h in all_of_them) and any(h.visitor > 0 for h in all_of_them)

    # Visits are exactly the runs of a visitor's hits less than 30 minutes apart.
    people = defaultdict(list)
    for hit in all_of_them:
        if not hit.bot:
            people[hit.visitor].append(hit)
    expected_groups = set()
    for hits in people.values():
        group = [hits[0].id]
        for before, hit in pairwise(hits):
            if hit.ts - before.ts > VISIT_GAP:
                expected_groups.add(tuple(group))
                group = []
            group.append(hit.id)
        expected_groups.add(tuple(group))
    by_visit = defaultdict(list)
    for hit in all_of_them:
        if hit.visit_id is not None:
            by_visit[hit.visit_id].append(hit)
    assert {tuple(h.id for h in hits) for hits in by_visit.values()} == expected_groups
    assert set(by_visit) == set(visits)

    for visit_id, hits in by_visit.items():
        visit = visits[visit_id]
        views = [hit for hit in hits if hit.event == "pageview"]
        first = hits[0]
        assert visit.visitor == first.visitor
        assert (visit.started_at, visit.ended_at) == (first.ts, hits[-1].ts)
        assert visit.day == first.day == local_day(visit.started_at, TIMEZONE)
        assert visit.entry_path == views[0].path == first.path
        assert visit.exit_path == views[-1].path
        assert (visit.pageviews, visit.events) == (len(views), len(hits) - len(views))
        assert visit.duration == int((visit.ended_at - visit.started_at).total_seconds())
        # The pages it viewed and the events it sent, listed as the hit writer lists them.
        assert visit.pages == listing(hit.path for hit in views)
        assert visit.event_names == listing(hit.event for hit in hits if hit.event != "pageview")
        attributes = ("source", "ref_host", "utm_source", "utm_medium", "utm_campaign", "country", "region", "city",
                      "browser", "os", "device")
        assert [getattr(visit, name) for name in attributes] == [getattr(first, name) for name in attributes]
        # Only the landing page view carries the referrer; later views come from the site itself.
        assert all(hit.ref_host == "" and hit.source == "direct" for hit in views[1:])


def test_is_first_flags_match_the_raw_rows(dbsession, filled):
    site, _ = filled
    seen = set()
    for hit in all_hits(dbsession, site.id):
        if hit.bot:
            assert not hit.is_first
            continue
        key = (hit.visitor, hit.event, hit.path if hit.event == "pageview" else "")
        assert hit.is_first == (key not in seen), hit.id
        seen.add(key)
    visitors_seen = set()
    for visit in sorted(all_visits(dbsession, site.id), key=lambda v: v.started_at):
        assert visit.is_first == (visit.visitor not in visitors_seen)
        visitors_seen.add(visit.visitor)
    assert len(visitors_seen) < sum(1 for _ in all_visits(dbsession, site.id))  # some come back the same day


def test_summaries_are_what_a_rebuild_computes(dbsession, filled):
    site, result = filled
    loaded = summaries(dbsession, site.id)
    rebuild(dbsession, site.id)
    dbsession.flush()
    assert summaries(dbsession, site.id) == loaded
    daily, hourly = loaded
    totals = [counts for (dim, _, _), counts in daily.items() if dim == ""]
    assert sum(counts[1] for counts in totals) == result.visits
    assert sum(counts[2] for counts in totals) == sum(counts[2] for counts in hourly.values())
    assert sum(counts[0] for (dim, _, _), counts in daily.items() if dim == "bot") == 0
    assert sum(counts[2] for (dim, _, _), counts in daily.items() if dim == "bot") == result.bots


def test_the_traffic_looks_real(dbsession, filled):
    site, result = filled
    hits = all_hits(dbsession, site.id)
    visits = all_visits(dbsession, site.id)

    per_day = Counter(hit.day for hit in hits)
    weekdays = [count for day, count in per_day.items() if day.weekday() < 5]
    weekend = [count for day, count in per_day.items() if day.weekday() >= 5]
    assert mean(weekdays) > 1.3 * mean(weekend)

    bots = [hit for hit in hits if hit.bot]
    assert 0.025 <= len(bots) / HITS <= 0.035
    assert len(bots) == result.bots
    assert all(
        (h.bot, h.device, h.visit_id, h.is_first, h.ref_host) == ("crawler", "bot", None, False, "") for h in bots
    )

    bounces = sum(1 for v in visits if v.is_bounce)
    assert 0.38 <= bounces / len(visits) <= 0.52
    assert max(v.pageviews for v in visits) <= 8
    sources = Counter(v.source for v in visits)
    assert 0.33 <= sources["direct"] / len(visits) <= 0.5
    assert {"search", "social", "email", "referral"} <= set(sources)
    assert any(v.utm_campaign.startswith("weekly-") and v.utm_medium == "email" for v in visits)
    assert len({v.country for v in visits}) >= 15
    assert {v.device for v in visits} == {"desktop", "mobile", "tablet"}

    pages = Counter(h.path for h in hits if h.event == "pageview" and not h.bot)
    assert pages.most_common(1)[0][0] == "/"
    assert len(pages) > 100

    events = Counter(h.event for h in hits if h.event != "pageview")
    assert {"signup", "outbound", "download"} <= set(events)
    for hit in hits:
        if hit.event == "signup":
            assert hit.props in ({"plan": "pro"}, {"plan": "free"})
        elif hit.event == "outbound":
            assert hit.props["url"].startswith("https://")
        elif hit.event == "download":
            assert hit.props is None

    # A daily curve: more visits in the afternoon than at night (local time).
    starts = Counter(to_local(v.started_at, TIMEZONE).hour for v in visits)
    assert sum(starts[h] for h in range(13, 17)) > 3 * sum(starts[h] for h in range(1, 5))


def test_the_same_seed_gives_the_same_traffic(dbsession, make_site, owner):
    def traffic():
        site = make_site(owner, timezone="UTC")
        demo.generate(dbsession, site.id, 400, 3, seed=7, end=END, now=NOW)
        return [(h.ts, h.event, h.path, h.country, h.is_first) for h in all_hits(dbsession, site.id)]

    assert traffic() == traffic()


def test_today_is_filled_only_up_to_now(dbsession, make_site, owner):
    site = make_site(owner, timezone="UTC")
    now = datetime(2026, 4, 3, 9, 30)
    demo.generate(dbsession, site.id, 2_000, 2, seed=1, now=now)
    hits = all_hits(dbsession, site.id)
    assert len(hits) == 2_000
    assert max(h.ts for h in hits) < now
    assert {h.day for h in hits} == {date(2026, 4, 2), date(2026, 4, 3)}
    # Nine and a half hours of the quiet end of the curve: far less than a whole day.
    today = sum(1 for h in hits if h.day == date(2026, 4, 3))
    assert 0 < today < 0.4 * len(hits)


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
        assert demo.main([ini, "--site", str(site_id), "--hits", "1000", "--days", "5", "--seed", "3"], stderr=stderr) == 0
        out = capsys.readouterr().out
        assert f"site {site_id}: 1,000 hits" in out and "seed 3" in out and "hits/s" in out
        assert "100.0% 1,000/1,000 hits" in stderr.getvalue()
        assert demo.main([ini, "--site", "999", "--hits", "10", "--days", "1"], stderr=stderr) == 2
        assert "tracking-demo: error: no site with id 999" in stderr.getvalue()
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Hit).where(Hit.site_id == site_id)) == 1000
        assert session.scalar(select(func.sum(DailyStat.visits)).where(DailyStat.site_id == site_id, DailyStat.dim == "")) > 0
    engine.dispose()


def schema_of_raw_tables(dbsession):
    """Every index and constraint of the raw tables, as the database describes them."""
    if dbsession.get_bind().dialect.name == "postgresql":
        indexes = dbsession.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('hits', 'visits')"
        )).all()
        constraints = dbsession.execute(text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid IN (CAST('hits' AS regclass), CAST('visits' AS regclass))"
        )).all()
        return sorted(indexes), sorted(constraints)
    return sorted(dbsession.execute(text(
        "SELECT name, sql FROM sqlite_master WHERE tbl_name IN ('hits', 'visits')"
    )).all())


def test_a_bulk_load_into_empty_tables_leaves_the_same_indexes_and_keys(dbsession, make_site, owner):
    # Empty within this test's transaction, whatever other tests left behind.
    dbsession.execute(delete(Hit))
    dbsession.execute(delete(Visit))
    before = schema_of_raw_tables(dbsession)
    first, second = make_site(owner), make_site(owner, name="Second")
    demo.generate(dbsession, first.id, 500, 2, seed=1, end=END, now=NOW)  # empty tables: indexes built afterwards
    assert schema_of_raw_tables(dbsession) == before
    demo.generate(dbsession, second.id, 500, 2, seed=2, end=END, now=NOW)  # rows already there: indexes kept
    assert schema_of_raw_tables(dbsession) == before
    assert dbsession.scalar(select(func.count()).select_from(Hit)) == 1000
    # Visit ids continue from the first load (the sequence was moved past them on PostgreSQL).
    ids = list(dbsession.scalars(select(Visit.id).order_by(Visit.id)))
    assert len(ids) == len(set(ids))
    dbsession.add(Visit(site_id=first.id, visitor=1, started_at=NOW, ended_at=NOW, day=END))
    dbsession.flush()
    assert max(dbsession.scalars(select(Visit.id))) > ids[-1]
