"""The dashboard's numbers, checked against data whose answers are worked out by hand."""

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hits import CHROME, GOOGLEBOT, IPHONE, make_hit, summaries
from tests.reading import SiteReports
from tracking.ingest.store import Store
from tracking.interfaces import IDatabase
from tracking.reports.periods import Period
from tracking.summaries.jobs import run_due

A, B, C = "198.51.100.1", "198.51.100.2", "198.51.100.3"
D28, D29, D30 = date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30)  # Paris moves to summer time on the 29th


def day(d: date) -> Period:
    return Period("custom", d, d + timedelta(days=1))


@pytest.fixture
def paris(make_site, owner):
    return make_site(owner, name="Paris shop", url="https://example.com", timezone="Europe/Paris")


@pytest.fixture
def story(dbsession, paris):
    """Four visits around the night Paris moves to summer time (times in UTC)."""
    t = datetime
    hits = [
        # A, 23:30–23:45 local on the 28th: from Google, two pages and a sign-up.
        make_hit(paris, t(2026, 3, 28, 22, 30), "/", ip=A, referrer="https://www.google.com/"),
        make_hit(paris, t(2026, 3, 28, 22, 40), "/pricing", ip=A),
        make_hit(paris, t(2026, 3, 28, 22, 45), "/pricing", ip=A, event="signup", props={"plan": "pro"}),
        # B, 00:30 local on the 29th, on a phone: one page.
        make_hit(paris, t(2026, 3, 28, 23, 30), "/", ip=B, ua=IPHONE),
        # A again the next UTC day (a new visitor id), from Hacker News: one page.
        make_hit(paris, t(2026, 3, 29, 10, 0), "/blog", ip=A, referrer="https://news.ycombinator.com/item?id=1"),
        # C, 23:30 local on the 29th until 00:10 on the 30th: one visit of three pages.
        make_hit(paris, t(2026, 3, 29, 21, 30), "/pricing", ip=C),
        make_hit(paris, t(2026, 3, 29, 21, 50), "/", ip=C),
        make_hit(paris, t(2026, 3, 29, 22, 10), "/blog", ip=C),
        # A crawler.
        make_hit(paris, t(2026, 3, 29, 12, 0), "/", ip="192.0.2.1", ua=GOOGLEBOT),
    ]
    Store(None).write_batch(dbsession, hits[:4])
    Store(None).write_batch(dbsession, hits[4:])
    dbsession.flush()
    return SiteReports(dbsession, paris.id, "Europe/Paris")


def rows(panel):
    return {row.value: (row.visitors, row.visits, row.pageviews) for row in panel.rows}


def test_totals_of_a_day(story):
    totals = story.totals(day(D29), {})
    assert (totals.visitors, totals.visits, totals.pageviews, totals.bounces, totals.duration) == (3, 3, 5, 2, 2400)
    assert totals.bounce_rate == pytest.approx(200 / 3)
    assert totals.average_duration == 800
    assert totals.views_per_visit == pytest.approx(5 / 3)
    first = story.totals(day(D28), {})
    assert (first.visitors, first.visits, first.pageviews, first.bounces, first.duration, first.events) == (1, 1, 2, 0, 900, 1)


def test_panels_of_a_day(story):
    period = day(D29)
    pages = story.panel("page", period, {})
    assert [(r.value, r.pageviews, r.visitors) for r in pages.rows] == [("/", 2, 2), ("/blog", 1, 1), ("/pricing", 1, 1)]
    assert pages.rows[0].share == pytest.approx(50.0)
    assert rows(story.panel("source", period, {})) == {"direct": (2, 2, 4), "social": (1, 1, 1)}
    assert rows(story.panel("referrer", period, {})) == {"": (2, 2, 4), "news.ycombinator.com": (1, 1, 1)}
    assert {r.value: r.visits for r in story.panel("entry", period, {}).rows} == {"/": 1, "/blog": 1, "/pricing": 1}
    assert {r.value: r.visits for r in story.panel("exit", period, {}).rows} == {"/": 1, "/blog": 2}
    assert {r.value: r.visitors for r in story.panel("device", period, {}).rows} == {"desktop": 2, "mobile": 1}
    assert story.bot_hits(period) == 1


def test_events_and_their_properties(story):
    period = day(D28)
    story.panel("page", period, {})  # a panel of another metric first: each share is of its own total
    [signup] = story.panel("event", period, {}).rows
    assert (signup.value, signup.events, signup.visitors, signup.share) == ("signup", 1, 1, 100.0)
    [prop] = story.panel("prop", period, {}, event="signup").rows
    assert prop.value == "signup\x1fplan\x1fpro" and prop.events == 1


def test_an_exit_page_left_behind_is_not_listed(dbsession, paris):
    start = datetime(2026, 5, 1, 12, 0)
    Store(None).write_batch(dbsession, [make_hit(paris, start, "/first")])
    Store(None).write_batch(dbsession, [make_hit(paris, start + timedelta(minutes=5), "/second")])
    reports = SiteReports(dbsession, paris.id, "Europe/Paris")
    exits = reports.panel("exit", day(date(2026, 5, 1)), {})
    assert [(r.value, r.visits, r.share) for r in exits.rows] == [("/second", 1, 100.0)]


def test_the_summer_time_day_has_23_hours(story):
    points = story.series(day(D29), {})
    assert len(points) == 23
    assert sum(p.pageviews for p in points) == 4  # the 00:10 page view on the 30th is not in it
    assert sum(p.visitors for p in points) == 3
    assert points[0].start == datetime(2026, 3, 29, 0, 0) and points[2].start == datetime(2026, 3, 29, 3, 0)


def test_daily_series_over_several_days(story):
    points = story.series(Period("custom", D28, D30 + timedelta(days=1)), {})
    assert [(p.start.date(), p.visitors, p.pageviews) for p in points] == [(D28, 1, 2), (D29, 3, 4), (D30, 0, 1)]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"source": "direct"}, (2, 2, 4, 1)),
        ({"device": "mobile"}, (1, 1, 1, 1)),
        ({"page": "/blog"}, (2, 2, 4, 1)),
        ({"source": "direct", "page": "/blog"}, (1, 1, 3, 0)),
        ({"source": "direct", "device": "mobile"}, (1, 1, 1, 1)),
        ({"source": "email"}, (0, 0, 0, 0)),
    ],
)
def test_filters_and_their_combinations(story, filters, expected):
    totals = story.totals(day(D29), filters)
    assert (totals.visitors, totals.visits, totals.pageviews, totals.bounces) == expected


def test_filtered_panels(story):
    period = day(D29)
    assert {r.value: r.pageviews for r in story.panel("page", period, {"source": "direct"}).rows} == {"/": 2, "/pricing": 1, "/blog": 1}
    assert rows(story.panel("source", period, {"page": "/blog"})) == {"direct": (1, 1, 3), "social": (1, 1, 1)}
    by_hour = {p.start.hour: p.visitors for p in story.series(day(D29), {"source": "social"})}
    assert by_hour[12] == 1 and sum(by_hour.values()) == 1  # 12:00 local (10:00 UTC, summer time)


def test_comparison_with_the_previous_period(story, testapp, owner, paris):
    testapp.login(owner.email)
    page = testapp.get(f"/sites/{paris.id}/", params={"period": "custom", "from": "2026-03-29", "to": "2026-03-29"})
    visitors = page.html.select_one("#metric-visitors")
    assert visitors.select_one(".metric-value").text.strip() == "3"
    assert "+200%" in visitors.text and "good" in visitors.select_one(".change")["class"]
    duration = page.html.select_one("#metric-average_duration")
    assert "13m 20s" in duration.text and "-11%" in duration.text and "bad" in duration.select_one(".change")["class"]
    bounce = page.html.select_one("#metric-bounce_rate")
    assert "67%" in bounce.text and "— vs previous" in bounce.text  # 0 % the day before: no ratio to show
    assert "1 bot hit excluded" in page.text
    assert "sum of each day" not in page.text  # one day: nothing to add up


def test_rows_filter_the_dashboard_and_chips_remove_the_filter(story, testapp, owner, paris):
    testapp.login(owner.email)
    params = {"period": "custom", "from": "2026-03-29", "to": "2026-03-29"}
    page = testapp.get(f"/sites/{paris.id}/", params=params)
    link = page.html.select_one("#panel-source a[href*='source=direct']")
    filtered = testapp.get(link["href"])
    assert filtered.html.select_one("#metric-visitors .metric-value").text.strip() == "2"
    chip = filtered.html.select_one("a.filter-chip")
    assert "Source: direct" in chip.text
    unfiltered = testapp.get(chip["href"])
    assert unfiltered.html.select_one("#metric-visitors .metric-value").text.strip() == "3"
    assert "filter-chip" not in unfiltered.text


def test_chart_numbers_are_readable_as_a_table(story, testapp, owner, paris):
    testapp.login(owner.email)
    page = testapp.get(f"/sites/{paris.id}/", params={"period": "custom", "from": "2026-03-28", "to": "2026-03-30"})
    cells = [[td.text for td in tr.select("td")] for tr in page.html.select("#series tbody tr")]
    assert cells == [["2026-03-28", "1", "2"], ["2026-03-29", "3", "4"], ["2026-03-30", "0", "1"]]
    assert page.html.select_one("svg.chart polyline.line-main")["points"]
    assert "Unique visitors over several days are the sum of each day" in page.text


def test_more_view_lists_every_value(story, testapp, owner, paris):
    testapp.login(owner.email)
    page = testapp.get(f"/sites/{paris.id}/panel", params={"dim": "page", "period": "custom", "from": "2026-03-28", "to": "2026-03-30"})
    # "/": 3 views; "/blog" and "/pricing": 2 each, then in alphabetical order.
    assert [tr.select_one("td").text.strip() for tr in page.html.select("tbody tr")] == ["/", "/blog", "/pricing"]
    testapp.get(f"/sites/{paris.id}/panel", params={"dim": "nope"}, status=404)


def test_realtime_counts_visitors_of_the_last_30_minutes(dbsession, paris):
    now = datetime(2026, 5, 1, 12, 0)
    Store(None).write_batch(dbsession, [
        make_hit(paris, now - timedelta(minutes=45), ip=A),
        make_hit(paris, now - timedelta(minutes=10), ip=B),
        make_hit(paris, now - timedelta(minutes=5), ip=C),
        make_hit(paris, now - timedelta(minutes=1), ip=C, path="/x"),
    ])
    assert SiteReports(dbsession, paris.id, "Europe/Paris").realtime(now) == 2


# -- clicking a row shows exactly that row's numbers --------------------------------------

hit_specs = st.lists(
    st.tuples(
        st.integers(0, 60 * 24 * 3),  # minute
        st.integers(1, 6),  # visitor
        st.sampled_from(["/", "/a", "/b"]),
        st.sampled_from(["", "https://www.google.com/", "https://t.co/x", "https://example.org/"]),
        st.sampled_from([CHROME, IPHONE]),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(specs=hit_specs, dim=st.sampled_from(["source", "referrer", "entry", "exit", "browser", "device"]))
def test_a_panel_row_equals_the_dashboard_filtered_by_it(dbsession, make_site, owner, specs, dim):
    site = make_site(owner, url="https://example.com", timezone="America/New_York")
    start = datetime(2026, 6, 1, 3, 0)
    hits = [
        make_hit(site, start + timedelta(minutes=m), path, ip=f"198.51.100.{v}", referrer=ref, ua=ua)
        for m, v, path, ref, ua in sorted(specs)
    ]
    Store(None).write_batch(dbsession, hits)
    reports = SiteReports(dbsession, site.id, "America/New_York")
    period = Period("custom", date(2026, 5, 31), date(2026, 6, 5))
    for row in reports.panel(dim, period, {}, limit=100).rows:
        filtered = reports.totals(period, {dim: row.value})
        assert (filtered.visitors, filtered.visits, filtered.pageviews, filtered.bounces, filtered.duration) == (
            row.visitors, row.visits, row.pageviews, row.bounces, row.duration,
        )
    dbsession.delete(site)
    dbsession.flush()


# -- CSV ------------------------------------------------------------------------------------

HOSTILE = ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "a,b\"c\nd"]


def test_panel_csv_neutralises_formulas(testapp, dbsession, owner, paris):
    now = datetime.now().replace(microsecond=0) - timedelta(hours=1)
    hits = [make_hit(paris, now, "/" + text.replace("\n", " "), ip=f"198.51.100.{i}", event="pageview") for i, text in enumerate(HOSTILE)]
    hits += [make_hit(paris, now, "/", ip="198.51.100.99", event=text[:60]) for text in HOSTILE]
    Store(None).write_batch(dbsession, hits)
    dbsession.flush()
    testapp.login(owner.email)
    res = testapp.get(f"/sites/{paris.id}/export.csv", params={"dim": "event", "period": "7d"})
    assert res.content_type == "text/csv"
    assert "attachment" in res.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(res.text)))
    assert table[0][:3] == ["Event", "visitors", "visits"]
    events = {row[0] for row in table[1:]}
    assert events == {"'=HYPERLINK(\"http://evil\")", "'+1+1", "'-2+3", "'@SUM(A1)", "a,b\"cd"}  # newline stripped at ingest
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in table[1:] for cell in row[:1])


def test_hits_csv_streams_every_hit(testapp, dbsession, owner, paris):
    now = datetime.now().replace(microsecond=0) - timedelta(hours=2)
    hits = [make_hit(paris, now + timedelta(seconds=i), f"/p{i % 50}", ip=f"10.0.{i // 250}.{i % 250}") for i in range(2999)]
    hits.append(make_hit(paris, now + timedelta(seconds=3000), "/from-google", ip="8.8.8.8"))
    Store(None).write_batch(dbsession, hits)
    dbsession.flush()
    testapp.login(owner.email)
    res = testapp.get(f"/sites/{paris.id}/export.csv", params={"dim": "hits", "period": "7d"})
    assert "-hits-" in res.headers["Content-Disposition"]
    lines = res.text.splitlines()
    assert lines[0].startswith("local_time,ts,visit_id,event,host,path")
    assert len(lines) == 3001
    assert lines[1].split(",")[0].endswith(("+01:00", "+02:00"))  # local time of the site
    table = list(csv.DictReader(io.StringIO(res.text)))
    assert table[-1]["path"] == "/from-google" and table[-1]["country"] == "US" and table[-1]["as_org"] == "GOOGLE"
    assert table[0]["as_org"] == ""  # a private address has no autonomous system


def test_csv_is_produced_line_by_line():
    """Rows are pulled one at a time: an endless source still yields its first lines."""
    from itertools import count, islice

    from tracking.reports.export import csv_lines

    chunks = csv_lines(("n",), ((i,) for i in count()))
    assert list(islice(chunks, 3)) == [b"n\r\n", b"0\r\n", b"1\r\n"]


@pytest.mark.parametrize(("role", "status"), [("anonymous", 303), ("other", 404), ("admin", 404), ("owner", 200)])
@pytest.mark.parametrize("path", ["", "panel?dim=page", "export.csv?dim=page", "export.csv?dim=hits", "export.csv?dim=visits"])
def test_dashboard_permission_matrix(testapp, owner, other, admin, paris, role, status, path):
    if role != "anonymous":
        testapp.login({"owner": owner, "other": other, "admin": admin}[role].email)
    res = testapp.get(f"/sites/{paris.id}/{path}", status="*")
    assert res.status_code == status
    if status != 200:
        assert "Paris shop" not in res.text


def test_changing_the_time_zone_moves_visits_to_their_new_days(story, app, testapp, dbsession, owner, paris):
    """B's visit at 00:30 in Paris on the 29th was 23:30 on the 28th in UTC."""
    assert story.totals(day(D28), {}).visits == 1
    testapp.login(owner.email)
    form = testapp.get(f"/sites/{paris.id}/edit").forms["edit-site"]
    form["timezone"] = "UTC"
    assert form.submit("submit").status_code == 303
    assert run_due(app.registry.getUtility(IDatabase).session_factory) == 1  # as the writer does, between batches
    utc = SiteReports(dbsession, paris.id, "UTC")
    assert (utc.totals(day(D28), {}).visits, utc.totals(day(D29), {}).visits) == (2, 2)
    assert {r.value: r.pageviews for r in utc.panel("page", day(D29), {}).rows} == {"/blog": 2, "/pricing": 1, "/": 1}
    before = summaries(dbsession, paris.id)
    from tracking.summaries.rebuild import rebuild

    rebuild(dbsession, paris.id)
    assert summaries(dbsession, paris.id) == before

