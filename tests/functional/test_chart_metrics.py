"""Every headline number that is a quantity per bucket switches the chart: its numbers (the
table under the chart, the previous period's in the tooltips) equal those counted plainly from
the raw rows (:mod:`reference`), by hour, day and month, unfiltered (the summaries answer) and
filtered (the raw rows answer), on the page and in the script's refresh."""

import random
import re
from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest
from bs4 import BeautifulSoup

from tests.hits import make_hit
from tests.reference import RawRows
from tracking.charts import METRICS, shown_value
from tracking.ingest.store import Store
from tracking.reports.periods import Period

FIRST = date(2026, 5, 31)  # the previous period's first day (the period is June 3 to 5)
DAILY = Period("custom", date(2026, 6, 3), date(2026, 6, 6))
HOURLY = Period("custom", date(2026, 6, 4), date(2026, 6, 5))
MONTHLY = Period("custom", date(2026, 3, 1), date(2026, 7, 1))
FILTERS = ({}, {"page": "/a"}, {"referrer": "google.com"})
RATIOS = ("views_per_visit", "bounce_rate", "average_duration")


@pytest.fixture
def traffic(dbsession, make_site, owner, testapp):
    """Six days of visits between 09:00 and 13:00 UTC: bounces, longer visits, events."""
    site = make_site(owner, url="https://example.com", timezone="UTC")
    rng = random.Random(20260603)
    hits = []
    for day in range(6):
        for visitor in range(1, 6):
            if visitor > 1 and rng.random() < 0.25:  # the first comes every day, from Google
                continue
            at = datetime.combine(FIRST + timedelta(days=day), datetime.min.time()) + timedelta(
                hours=rng.choice((9, 10, 12)), minutes=rng.randrange(0, 40))
            referrer = "https://www.google.com/" if visitor == 1 else rng.choice(("", "https://www.google.com/"))
            for n in range(rng.choice((1, 1, 2, 3, 5))):
                event = "signup" if n == 3 else "pageview"
                path = rng.choice(("/", "/a", "/b"))
                hits.append(make_hit(site, at, path, event=event, ip=f"198.51.100.{visitor}",
                                     referrer=referrer if n == 0 else f"https://example.com{path}"))
                at += timedelta(seconds=rng.randrange(5, 400))
    hits.sort(key=lambda hit: hit.ts)
    Store(None).write_batch(dbsession, hits)
    dbsession.flush()
    testapp.login(owner.email)
    return site, RawRows(dbsession, site.id)


def _params(period: Period, metric: str, filters: dict) -> dict:
    return {"period": "custom", "from": period.start.isoformat(), "to": (period.end - timedelta(days=1)).isoformat(),
            "metric": metric, **filters}


def _table(html) -> list[list[str]]:
    return [[cell.get_text(" ").split(" (")[0].strip() for cell in row.select("td")]
            for row in html.select("#series tbody tr")]


def _expected_cells(numbers: dict, metric: str) -> list[str]:
    cells = [f"{numbers['visitors']:,}", f"{numbers['pageviews']:,}"]
    return cells if metric in ("visitors", "pageviews") else [*cells, shown_value(numbers[metric], metric)]


def _previous_note(numbers: dict, metric: str) -> str:
    if metric == "visitors":
        return f"(previous period: {numbers['visitors']:,} visitors)"
    return f"(previous period: {shown_value(numbers[metric], metric)} {METRICS[metric].lower()})"


@pytest.mark.parametrize("hourly", [False, True], ids=["by day", "by hour"])
def test_each_metric_by_day_and_hour_equals_the_raw_rows(testapp, traffic, hourly):
    site, raw = traffic
    period = HOURLY if hourly else DAILY
    for filters in FILTERS:
        expected = raw.buckets(period, filters, hourly)
        before = raw.buckets(period.previous(), filters, hourly)
        assert sum(n["visits"] for n in expected), filters
        assert any(n["bounce_rate"] is None for n in expected) or not hourly  # hours without visits
        for metric, label in METRICS.items():
            page = testapp.get(f"/sites/{site.id}/", params=_params(period, metric, filters))
            title = page.html.select_one("#chart-title").text
            assert title == f"{label}, by {'hour' if hourly else 'day'}", (metric, filters)
            table = _table(page.html)
            assert [row[1:] for row in table] == [_expected_cells(n, metric) for n in expected], (metric, filters)
            tips = [tip.text for tip in page.html.select("svg.chart rect.hover title")]
            assert len(tips) == len(before)
            for tip, numbers in zip(tips, before, strict=True):
                assert _previous_note(numbers, metric) in tip, (metric, filters, tip)
            live = testapp.get(f"/sites/{site.id}/live", params=_params(period, metric, filters)).json
            refreshed = BeautifulSoup(live["chart"], "html.parser")
            assert refreshed.select_one("#chart-title").text == title
            assert _table(refreshed) == table, (metric, filters)


def test_each_metric_by_month_equals_the_raw_rows(testapp, traffic):
    site, raw = traffic
    for filters in FILTERS:
        months: dict[str, dict] = defaultdict(lambda: defaultdict(int))
        day = MONTHLY.start
        for numbers in raw.buckets(MONTHLY, filters):
            month = months[day.strftime("%Y-%m")]
            for name in ("visitors", "visits", "pageviews", "bounces", "duration"):
                month[name] += numbers[name]
            day += timedelta(days=1)
        for month in months.values():
            visits = month["visits"]
            month["views_per_visit"] = month["pageviews"] / visits if visits else None
            month["bounce_rate"] = 100 * month["bounces"] / visits if visits else None
            month["average_duration"] = month["duration"] / visits if visits else None
        for metric, label in METRICS.items():
            page = testapp.get(f"/sites/{site.id}/", params=_params(MONTHLY, metric, filters))
            assert page.html.select_one("#chart-title").text == f"{label}, by month"
            table = _table(page.html)
            assert [row[0] for row in table] == list(months)
            assert [row[1:] for row in table] == [_expected_cells(m, metric) for m in months.values()], (metric, filters)
            if metric in RATIOS:  # months without visits have no rate: a dash, and a gap in the line
                assert table[0][-1] == "—" and len(page.html.select("polyline.line-main")) == 1


def test_percent_and_duration_axes(testapp, traffic):
    site, _ = traffic
    for metric, pattern in (("bounce_rate", r"\d+(\.\d+)?%"), ("average_duration", r"\d+[hms]( \d+[ms])*")):
        page = testapp.get(f"/sites/{site.id}/", params=_params(DAILY, metric, {}))
        ticks = [tick.text for tick in page.html.select(".chart-ticks span")]
        assert ticks[-1] in ("0%", "0s") and all(re.fullmatch(pattern, tick) for tick in ticks), ticks
        assert len(set(ticks)) == len(ticks)
        link = page.html.select_one(f"a#metric-{metric}")
        assert link["aria-current"] == "true" and f"metric={metric}" in link["href"]
