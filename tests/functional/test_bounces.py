"""What a bounce is, pinned by hand: a visit of exactly one page view and no custom event.

Three visits, worked out by hand: two page views (not a bounce), one page view and a sign-up
(not a bounce), one page view alone (a bounce). Every way the reports count bounces — the
summaries the writer keeps, the raw rows a filtered dashboard reads, and a rebuild of the
summaries — must say one bounce in three visits.
"""

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.hits import make_hit, summaries
from tests.reading import SiteReports
from tracking.ingest.store import Store
from tracking.models import Visit
from tracking.reports.periods import Period
from tracking.summaries.rebuild import rebuild

DAY = date(2026, 6, 2)
PERIOD = Period("custom", DAY, DAY + timedelta(days=1))
EVERY_VISIT = {"device": "desktop"}  # a filter all three visits match: the dashboard reads raw rows


@pytest.fixture
def three_visits(dbsession, make_site, owner):
    site = make_site(owner, url="https://example.com", timezone="UTC")
    t = datetime(2026, 6, 2, 10, 0)
    hits = [
        # Two page views, no event: not a bounce.
        make_hit(site, t, "/", ip="198.51.100.1"),
        make_hit(site, t + timedelta(minutes=5), "/pricing", ip="198.51.100.1"),
        # One page view and a custom event: not a bounce.
        make_hit(site, t + timedelta(hours=1), "/", ip="198.51.100.2"),
        make_hit(site, t + timedelta(hours=1, minutes=1), "/", ip="198.51.100.2", event="signup"),
        # One page view alone: a bounce.
        make_hit(site, t + timedelta(hours=2), "/blog", ip="198.51.100.3"),
    ]
    Store(None).write_batch(dbsession, hits)
    dbsession.flush()
    return site


def bounces(reports, filters):
    totals = reports.totals(PERIOD, filters)
    entries = {row.value: (row.visits, row.bounces) for row in reports.panel("entry", PERIOD, filters, limit=100).rows}
    return totals.visits, totals.bounces, round(totals.bounce_rate, 1), entries


EXPECTED = (3, 1, 33.3, {"/": (2, 0), "/blog": (1, 1)})


def test_each_visit_is_a_bounce_or_not_by_hand(dbsession, three_visits):
    visits = dbsession.scalars(
        select(Visit).where(Visit.site_id == three_visits.id).order_by(Visit.started_at)
    ).all()
    assert [(v.pageviews, v.events, v.is_bounce) for v in visits] == [(2, 0, False), (1, 1, False), (1, 0, True)]


def test_the_summaries_count_one_bounce_in_three_visits(dbsession, three_visits):
    assert bounces(SiteReports(dbsession, three_visits.id, "UTC"), {}) == EXPECTED


def test_the_raw_rows_count_one_bounce_in_three_visits(dbsession, three_visits):
    assert bounces(SiteReports(dbsession, three_visits.id, "UTC"), EVERY_VISIT) == EXPECTED


def test_a_rebuild_counts_one_bounce_in_three_visits(dbsession, three_visits):
    rebuild(dbsession, three_visits.id)
    daily, _ = summaries(dbsession, three_visits.id)
    assert daily[("", DAY, "")][3] == 1  # the bounces of the day's total
    assert bounces(SiteReports(dbsession, three_visits.id, "UTC"), {}) == EXPECTED


def test_the_dashboard_shows_a_third_of_the_visits_bounced(testapp, owner, three_visits):
    testapp.login(owner.email)
    params = {"period": "custom", "from": DAY.isoformat(), "to": DAY.isoformat()}
    for filters in ({}, EVERY_VISIT):
        page = testapp.get(f"/sites/{three_visits.id}/", params={**params, **filters})
        assert page.html.select_one("#metric-bounce_rate .metric-value").text.strip() == "33%"
