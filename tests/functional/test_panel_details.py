"""The full list behind each panel (its details page and its CSV export): every column shown is
the number computed plainly, in Python, from the raw hits — with filters and without.

What each dimension shows (``tracking.reports.query.DETAILS``): a visit dimension the visits
that have the value (visitors, visits, page views, bounce rate, duration, events); a page the
visitors and visits that viewed it, its page views, and the visits that began on it (entries)
with their bounce rate and duration; an event the visitors and visits that sent it and the
events; a property the events.
"""

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from tests.hits import GOOGLEBOT, IPHONE, make_hit
from tests.reading import SiteReports
from tests.reference import reference
from tracking.ingest.store import Store
from tracking.models import DailySalt, DailyStat, Hit, HourlyStat, Visit
from tracking.reports.periods import Period
from tracking.reports.query import DETAILS, METRIC_LABELS
from tracking.summaries.dimensions import DIMENSIONS, LABELS, split_prop
from tracking.templating import duration, number, percent

DAY = date(2026, 6, 2)
PERIOD = Period("custom", DAY, DAY + timedelta(days=2))
PARAMS = {"period": "custom", "from": "2026-06-02", "to": "2026-06-03"}
A, B, C, D = (f"198.51.100.{n}" for n in range(1, 5))


def shown(panel) -> dict[str, dict[str, float]]:
    return {row.value: {name: getattr(row, name) for name, _ in panel.columns} for row in panel.rows}


def assert_same(found: dict, expected: dict) -> None:
    assert found.keys() == expected.keys()
    for value, numbers in expected.items():
        assert found[value] == pytest.approx(numbers), value


# -- worked by hand ---------------------------------------------------------------------------


@pytest.fixture
def story(dbsession, make_site, owner):
    """Five visits over two days (UTC), and a bot."""
    site = make_site(owner, name="Shop", url="https://example.com", timezone="UTC")
    t = datetime(2026, 6, 2, 10, 0)
    hits = [
        # A, from Google: /, /pricing, a sign-up there, / again: 10 minutes.
        make_hit(site, t, "/", ip=A, referrer="https://www.google.com/"),
        make_hit(site, t + timedelta(minutes=2), "/pricing", ip=A),
        make_hit(site, t + timedelta(minutes=3), "/pricing", ip=A, event="signup", props={"plan": "pro"}),
        make_hit(site, t + timedelta(minutes=10), "/", ip=A),
        # B, on a phone: / alone (a bounce).
        make_hit(site, t + timedelta(hours=1), "/", ip=B, ua=IPHONE),
        # C, from Twitter: /blog, /, /pricing, then a link out: 21 minutes.
        make_hit(site, t + timedelta(hours=2), "/blog", ip=C, referrer="https://t.co/x"),
        make_hit(site, t + timedelta(hours=2, minutes=5), "/", ip=C),
        make_hit(site, t + timedelta(hours=2, minutes=20), "/pricing", ip=C),
        make_hit(site, t + timedelta(hours=2, minutes=21), "/pricing", ip=C, event="outbound", props={"url": "https://x.org/"}),
        # A again in the afternoon, straight to /pricing: a second visit, a bounce.
        make_hit(site, t + timedelta(hours=5), "/pricing", ip=A),
        # D, the next day: /pricing and a sign-up a minute later.
        make_hit(site, t + timedelta(days=1), "/pricing", ip=D),
        make_hit(site, t + timedelta(days=1, minutes=1), "/pricing", ip=D, event="signup", props={"plan": "free"}),
        # A crawler.
        make_hit(site, t + timedelta(hours=3), "/", ip="192.0.2.1", ua=GOOGLEBOT),
    ]
    Store(None).write_batch(dbsession, hits[:6])
    Store(None).write_batch(dbsession, hits[6:])
    dbsession.flush()
    return site


PAGES_BY_HAND = {
    # visitors, visits that viewed it, page views, entries, their bounce rate and average duration
    "/": {"visitors": 3, "visits": 3, "pageviews": 4, "entries": 2, "bounce_rate": 50.0, "average_duration": 300.0},
    "/pricing": {"visitors": 3, "visits": 4, "pageviews": 4, "entries": 2, "bounce_rate": 50.0, "average_duration": 30.0},
    "/blog": {"visitors": 1, "visits": 1, "pageviews": 1, "entries": 1, "bounce_rate": 0.0, "average_duration": 1260.0},
}
PAGES_OF_DIRECT_VISITS = {  # A's second visit, B's, D's
    "/pricing": {"visitors": 2, "visits": 2, "pageviews": 2, "entries": 2, "bounce_rate": 50.0, "average_duration": 30.0},
    "/": {"visitors": 1, "visits": 1, "pageviews": 1, "entries": 1, "bounce_rate": 100.0, "average_duration": 0.0},
}
# No page was measured (engagements: tests/functional/test_engagement.py): no time on page or depth.
for _rows in (PAGES_BY_HAND, PAGES_OF_DIRECT_VISITS):
    for _numbers in _rows.values():
        _numbers.update(time_on_page=None, scroll_depth=None)


def test_the_pages_by_hand(dbsession, story):
    reports = SiteReports(dbsession, story.id, "UTC")
    assert shown(reports.panel("page", PERIOD, {}, limit=100, full=True)) == PAGES_BY_HAND
    assert shown(reports.panel("page", PERIOD, {"source": "direct"}, limit=100, full=True)) == PAGES_OF_DIRECT_VISITS
    # The reference agrees with the hand-worked numbers.
    assert reference(dbsession, story.id, PERIOD, {}, "page") == PAGES_BY_HAND
    assert reference(dbsession, story.id, PERIOD, {"source": "direct"}, "page") == PAGES_OF_DIRECT_VISITS


def test_the_events_by_hand(dbsession, story):
    reports = SiteReports(dbsession, story.id, "UTC")
    assert shown(reports.panel("event", PERIOD, {}, limit=100, full=True)) == {
        "signup": {"visitors": 2, "visits": 2, "events": 2}, "outbound": {"visitors": 1, "visits": 1, "events": 1},
    }


FILTERS = [{}, {"source": "direct"}, {"page": "/pricing"}, {"event": "signup"}, {"device": "desktop", "page": "/"}]


def csv_table(res) -> tuple[list[str], dict[str, list[str]]]:
    table = list(csv.reader(io.StringIO(res.text)))
    return table[0], {row[0]: row[1:] for row in table[1:]}


def formatted(name: str, value: float | None) -> str:
    if value is None:  # a page without a measurement of its time or depth
        return "—"
    return {"bounce_rate": percent, "average_duration": duration, "scroll_depth": percent,
            "time_on_page": duration}.get(name, number)(value)


@pytest.mark.parametrize("filters", FILTERS, ids=lambda filters: "&".join(f"{k}={v}" for k, v in filters.items()) or "none")
def test_every_column_of_every_details_page_and_csv_is_right(testapp, dbsession, owner, story, filters):
    testapp.login(owner.email)
    for dim in DIMENSIONS:
        expected = reference(dbsession, story.id, PERIOD, filters, dim)
        metrics = DETAILS[dim]
        params = {**PARAMS, **filters, "dim": dim}

        page = testapp.get(f"/sites/{story.id}/panel", params=params)
        headings = [th.text.strip() for th in page.html.select("table thead th")]
        assert headings == [LABELS[dim], *(METRIC_LABELS[name] for name in metrics), "Share"], dim
        assert len(set(headings)) == len(headings)
        cells = {}
        for tr in page.html.select("table tbody tr"):
            tds = [td.text.strip() for td in tr.select("td")]
            if len(tds) > 1:
                cells[tds[0]] = tds[1:-1]
        label = (lambda value: "{} · {}: {}".format(*split_prop(value))) if dim == "prop" else (lambda value: value or "(none)")
        assert cells == {
            label(value): [formatted(name, numbers[name]) for name in metrics] for value, numbers in expected.items()
        }, dim

        header, rows = csv_table(testapp.get(f"/sites/{story.id}/export.csv", params=params))
        assert header == [LABELS[dim], *metrics, "share"], dim
        key = (lambda value: " · ".join(split_prop(value))) if dim == "prop" else (lambda value: value)
        assert {value: [float(cell) if cell else None for cell in row[:-1]] for value, row in rows.items()} == {
            key(value): [None if numbers[name] is None else
                         pytest.approx(numbers[name], abs=0.051 if name in ("bounce_rate", "scroll_depth") else 0.5)
                         for name in metrics]
            for value, numbers in expected.items()
        }, dim


# -- on random traffic -------------------------------------------------------------------------

hit_strategy = st.fixed_dictionaries({
    "minute": st.integers(0, 60 * 40),
    "visitor": st.integers(1, 5),
    "ua": st.sampled_from([None, IPHONE, GOOGLEBOT]),
    "path": st.sampled_from(["/", "/a", "/b"]),
    "event": st.sampled_from(["pageview", "pageview", "pageview", "signup", "outbound"]),
    "referrer": st.sampled_from(["", "https://www.google.com/", "https://t.co/x"]),
    "plan": st.sampled_from([None, "pro", "free"]),
})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(specs=st.lists(hit_strategy, min_size=1, max_size=30), filters=st.sampled_from(FILTERS + [{"country": ""}, {"page": "/a"}]))
def test_every_details_row_equals_the_raw_rows(dbsession, make_site, owner, specs, filters):
    site = make_site(owner, url="https://example.com", timezone="UTC")
    start = datetime(2026, 6, 2, 0, 0)
    hits = []
    for spec in sorted(specs, key=lambda spec: spec["minute"]):
        extra = {"ua": spec["ua"]} if spec["ua"] else {}
        props = {"plan": spec["plan"]} if spec["plan"] and spec["event"] != "pageview" else None
        hits.append(make_hit(site, start + timedelta(minutes=spec["minute"]), spec["path"], event=spec["event"],
                             ip=f"198.51.100.{spec['visitor']}", referrer=spec["referrer"], props=props, **extra))
    Store(None).write_batch(dbsession, hits)
    reports = SiteReports(dbsession, site.id, "UTC")
    period = Period("custom", date(2026, 6, 1), date(2026, 6, 5))  # every hit is inside
    for dim in ("page", "event", "prop", "entry", "exit", "source", "device"):
        assert_same(shown(reports.panel(dim, period, filters, limit=1000, full=True)), reference(dbsession, site.id, period, filters, dim))
    for model in (DailyStat, HourlyStat, Hit, Visit):
        dbsession.execute(delete(model))
    dbsession.execute(delete(DailySalt))
    dbsession.delete(site)
    dbsession.flush()
