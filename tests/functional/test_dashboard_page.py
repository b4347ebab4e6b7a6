"""What a site owner sees on the dashboard page: its layout in markup, its notes and links."""

from datetime import timedelta

import pytest

from tests.hits import GOOGLEBOT, IPHONE, make_hit
from tracking.ingest.store import Store
from tracking.models.types import utcnow


@pytest.fixture
def page_of(testapp, owner):
    testapp.login(owner.email)

    def get(site, status=200, **params):
        return testapp.get(f"/sites/{site.id}/", params=params, status=status)

    return get


def store(dbsession, *hits):
    Store(None).write_batch(dbsession, list(hits))
    dbsession.flush()


def text(node) -> str:
    return " ".join(node.get_text(" ").split())


def test_the_headline_is_seven_numbers_in_one_grid(page_of, site, dbsession):
    store(dbsession, make_hit(site, utcnow() - timedelta(minutes=5), "/"))
    page = page_of(site)
    headline = page.html.select_one("#headline")
    assert "headline" in headline["class"] and "row-cols-lg-7" not in str(headline)
    assert [card["id"] for card in headline.select(".metric")] == [
        "metric-now", "metric-visitors", "metric-visits", "metric-pageviews", "metric-views_per_visit",
        "metric-bounce_rate", "metric-average_duration",
    ]


def test_now_and_bot_hits_follow_the_filters(page_of, site, dbsession):
    now = utcnow()
    store(
        dbsession,
        make_hit(site, now - timedelta(minutes=3), "/", ip="198.51.100.1"),
        make_hit(site, now - timedelta(minutes=2), "/pricing", ip="198.51.100.2", ua=IPHONE),
        make_hit(site, now - timedelta(minutes=1), "/pricing", ip="192.0.2.9", ua=GOOGLEBOT),
        make_hit(site, now - timedelta(minutes=1), "/", ip="192.0.2.9", ua=GOOGLEBOT),
    )
    page = page_of(site, period="today")
    assert page.html.select_one("#realtime").text == "2"
    assert text(page.html.select_one("#bot-hits")).startswith("2 bot hits excluded")
    phone = page_of(site, period="today", device="mobile")
    assert phone.html.select_one("#realtime").text == "1"
    assert "filtered" in text(phone.html.select_one("#metric-now"))
    assert phone.html.select_one("#bot-hits") is None  # no bot is a phone
    pricing = page_of(site, period="today", page="/pricing")
    assert pricing.html.select_one("#realtime").text == "1"
    assert text(pricing.html.select_one("#bot-hits")).startswith("1 bot hit excluded (of those matching the filters)")
    entry = page_of(site, period="today", entry="/")
    assert "an entry or exit page filter leaves them all out" in text(entry.html.select_one("#bot-hits"))


def test_an_empty_site_shows_the_snippet_first_and_dashes(page_of, site):
    page = page_of(site)
    main = page.html.select_one("main")
    setup = main.select_one("#setup")
    assert setup is not None and setup.find_next(id="headline") is not None  # before the numbers
    assert setup.select_one("#snippet") and setup.select_one("button#copy-snippet[data-copy=snippet]")
    assert setup.select_one("#check-install") and setup.select_one("#install-status[role=status]")
    for key in ("bounce_rate", "average_duration", "views_per_visit"):
        assert page.html.select_one(f"#metric-{key} .metric-value").text == "—"
    assert page.html.select_one("#metric-visitors .metric-value").text == "0"
    assert len(main.select("#snippet")) == 1


def test_live_numbers_for_the_script(testapp, owner, site, dbsession):
    testapp.login(owner.email)
    empty = testapp.get(f"/sites/{site.id}/live", params={"period": "today"}).json
    assert empty["now"] == 0 and empty["has_data"] is False
    store(dbsession, make_hit(site, utcnow() - timedelta(minutes=1), "/"))
    live = testapp.get(f"/sites/{site.id}/live", params={"period": "today", "metric": "pageviews"}).json
    assert live["now"] == 1 and live["has_data"] is True
    assert "Page views, by hour" in live["chart"] and 'class="line-' in live["chart"]


def test_headline_numbers_switch_the_chart(page_of, site, dbsession):
    store(dbsession, make_hit(site, utcnow() - timedelta(minutes=5), "/"))
    page = page_of(site, period="7d")
    link = page.html.select_one("a#metric-pageviews")
    assert page.html.select_one("a#metric-visitors")["aria-current"] == "true"
    switched = page_of(site, **dict(p.split("=") for p in link["href"].split("?")[1].split("&")))
    assert switched.html.select_one("#chart-title").text.startswith("Page views")
    assert switched.html.select_one("a#metric-pageviews")["aria-current"] == "true"
    assert switched.html.select_one("#period-form input[name=metric]")["value"] == "pageviews"


def test_today_draws_no_hours_to_come(page_of, site, dbsession):
    store(dbsession, make_hit(site, utcnow() - timedelta(minutes=5), "/"))
    page = page_of(site, period="today")
    rows = page.html.select("#series tbody tr")
    local_hour = utcnow().hour  # the site is in UTC
    assert len(rows) <= local_hour + 1 + 1  # the hours so far (a DST-free zone), none to come
    assert "(so far)" in rows[-1].text
    assert page.html.select_one("polyline.line-partial") is not None


def test_twelve_months_are_charted_by_month(page_of, site, dbsession):
    store(dbsession, make_hit(site, utcnow() - timedelta(minutes=5), "/"))
    page = page_of(site, period="12mo")
    rows = page.html.select("#series tbody tr")
    assert 12 <= len(rows) <= 13
    assert page.html.select_one("#chart-title").text == "Visitors, by month"


def test_a_reversed_custom_range_says_so_beside_its_fields(page_of, site):
    page = page_of(site, period="custom", **{"from": "2026-03-10", "to": "2026-03-01"})
    error = page.html.select_one("#period-corrected")
    assert text(error) == "The custom range ends before it starts: showing the last 30 days instead."
    for name, value in (("from", "2026-03-10"), ("to", "2026-03-01")):
        field = page.html.select_one(f"#{name}")
        assert field["value"] == value and field["aria-invalid"] == "true" and field["aria-describedby"] == "period-corrected"
    assert len(page.html.select("#period-corrected")) == 1 and "invalid-feedback" in error["class"]  # beside the fields


def test_a_listed_period_drops_stale_custom_dates(page_of, site):
    page = page_of(site, status=303, period="7d", **{"from": "2026-03-01", "to": "2026-03-10"}, country="DE")
    assert page.location.endswith(f"/sites/{site.id}/?period=7d&country=DE")


def test_previous_and_next_period_arrows(page_of, site):
    page = page_of(site, period="custom", **{"from": "2026-03-01", "to": "2026-03-31"})
    assert "from=2026-02-01&to=2026-02-28" in page.html.select_one("#period-prev")["href"]
    assert "from=2026-04-01&to=2026-04-30" in page.html.select_one("#period-next")["href"]
    week = page_of(site, period="custom", **{"from": "2026-03-02", "to": "2026-03-08"})
    assert "from=2026-02-23&to=2026-03-01" in week.html.select_one("#period-prev")["href"]
    today = page_of(site, period="today")
    assert today.html.select_one("#period-next") is None  # nothing after today
    assert "period=custom" in today.html.select_one("#period-prev")["href"]


def test_countries_are_named_with_a_flag(page_of, site, dbsession):
    hit = make_hit(site, utcnow() - timedelta(minutes=5), "/")._replace(country="DE")
    store(dbsession, hit)
    page = page_of(site, period="today")
    cell = page.html.select_one("#panel-country td.value")
    assert text(cell) == "🇩🇪 Germany"
    assert cell.select_one(".flag")["aria-hidden"] == "true"
    filtered = page_of(site, period="today", country="DE")
    assert "Country: Germany" in text(filtered.html.select_one("a.filter-chip"))


def test_panels_are_grouped_for_tabs(page_of, site, dbsession):
    store(dbsession, make_hit(site, utcnow() - timedelta(minutes=5), "/"))
    page = page_of(site)
    groups = page.html.select(".panel-grid > section.panel-group")
    assert [[p["id"] for p in g.select(".panel")] for g in groups][:4] == [
        ["panel-page", "panel-entry", "panel-exit"],
        ["panel-source", "panel-referrer", "panel-utm_source", "panel-utm_medium", "panel-utm_campaign"],
        ["panel-country", "panel-region", "panel-city"],
        ["panel-browser", "panel-os", "panel-device"],
    ]
    assert page.html.select_one("script[src$='/static/dashboard.js']")["nonce"]


def test_a_long_list_can_be_searched(testapp, owner, site, dbsession):
    now = utcnow()
    at = max(now - timedelta(minutes=30), now.replace(hour=0, minute=0, second=0, microsecond=0))  # today's, at 00:10 too
    store(dbsession, *[make_hit(site, at, path, ip=f"198.51.100.{i}") for i, path in enumerate(["/", "/pricing", "/Price-list", "/blog"])])
    de = make_hit(site, at, "/", ip="198.51.100.9")._replace(country="DE")
    store(dbsession, de)
    testapp.login(owner.email)
    page = testapp.get(f"/sites/{site.id}/panel", params={"dim": "page", "period": "today", "q": " PRIC "})
    assert [tr.select_one("td").text.strip() for tr in page.html.select("tbody tr")] == ["/Price-list", "/pricing"]  # in the list's order
    assert page.html.select_one("#search-result").text == "2 of the 4 listed match “PRIC”."
    assert page.html.select_one("#q")["value"] == "PRIC"
    countries = testapp.get(f"/sites/{site.id}/panel", params={"dim": "country", "period": "today", "q": "germ"})
    assert [" ".join(tr.select_one("td").text.split()) for tr in countries.html.select("tbody tr")] == ["🇩🇪 Germany"]
    csv = testapp.get(page.html.find("a", string="CSV (these rows)")["href"])
    assert [line.split(",")[0] for line in csv.text.splitlines()[1:]] == ["/Price-list", "/pricing"]
    none = testapp.get(f"/sites/{site.id}/panel", params={"dim": "page", "period": "today", "q": "x" * 5000})
    assert none.html.select_one("#search-result").text.startswith("0 of the 4 listed")
