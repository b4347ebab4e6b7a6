"""The stats endpoints answer the dashboard's numbers: the same query value, the same read API."""

from datetime import date, datetime, timedelta

import pytest

from tests.apiclient import bearer, error_of, make_key
from tests.hits import make_hit, three_days_of_traffic
from tracking.ingest.store import Store
from tracking.reports import api
from tracking.reports.api import SERIES_METRICS
from tracking.reports.intervals import bucket_start
from tracking.reports.periods import Period
from tracking.reports.query import DETAILS, Filter, SiteRef, StatsQuery
from tracking.views.dashboard import GROUPS

START = datetime(2026, 6, 2, 9, 0)
WEEK = {"period": "custom", "from": "2026-06-01", "to": "2026-06-07"}
WEEK_PERIOD = Period("custom", date(2026, 6, 1), date(2026, 6, 8))
PANELS = tuple(dim for _, dims in GROUPS for dim in dims)


@pytest.fixture
def site(dbsession, make_site, owner):
    """Over three days: visits to 7 pages, from three sources, some from a phone, with sign-ups
    and links out."""
    site = make_site(owner, url="https://example.com", timezone="America/New_York")
    three_days_of_traffic(dbsession, site, START)
    return site


@pytest.fixture
def key(dbsession, owner):
    return make_key(dbsession, owner, scopes=("stats:read",))


def dashboard(dbsession, site, filters=(), period=WEEK_PERIOD):
    """What the dashboard shows for the period and filters (its own query value)."""
    query = StatsQuery(SiteRef(site.id, site.timezone), period, filters, PANELS, compare=True)
    return api.overview(dbsession, query)


def get(testapp, site, key, name, **params):
    return testapp.get(f"/api/v1/sites/{site.id}/{name}", params=params, headers=bearer(key)).json


@pytest.mark.parametrize("filters", [{}, {"device": "mobile"}, {"page": "/p3"}, {"country": "", "source": "search"}])
def test_the_aggregate_is_the_dashboards_headline(testapp, dbsession, site, key, filters):
    shown = dashboard(dbsession, site, tuple(Filter(dim, value) for dim, value in filters.items()))
    body = get(testapp, site, key, "aggregate", **WEEK, **filters, compare="true")
    for results, totals in ((body["results"], shown.totals), (body["previous"]["results"], shown.before)):
        assert results == {
            "visitors": totals.visitors, "visits": totals.visits, "pageviews": totals.pageviews, "events": totals.events,
            "views_per_visit": round(totals.views_per_visit, 2), "bounce_rate": round(totals.bounce_rate, 2),
            "average_duration": round(totals.average_duration, 2),
        }
    assert body["results"]["visits"] > 0 and body["filters"] == filters
    assert body["period"] == {"key": "custom", "from": "2026-06-01", "to": "2026-06-07"}
    assert body["previous"]["period"] == {"key": "custom", "from": "2026-05-25", "to": "2026-05-31"}
    assert "previous" not in get(testapp, site, key, "aggregate", **WEEK)


@pytest.mark.parametrize("filters", [{}, {"device": "mobile"}])
def test_the_timeseries_is_the_dashboards_chart(testapp, dbsession, site, key, filters):
    shown = dashboard(dbsession, site, tuple(Filter(dim, value) for dim, value in filters.items()))
    body = get(testapp, site, key, "timeseries", **WEEK, **filters, compare="true")
    assert body["interval"] == "day"
    assert [(p["start"], p["visitors"], p["pageviews"]) for p in body["results"]] == [
        (p.start.isoformat(), p.visitors, p.pageviews) for p in shown.series
    ]
    assert body["previous"]["visitors"] == shown.previous_visitors
    assert body["metrics"] == list(SERIES_METRICS)
    hourly = get(testapp, site, key, "timeseries", **WEEK, **filters, interval="hour")["results"]
    assert len(hourly) == 7 * 24 and sum(p["pageviews"] for p in hourly) == sum(p.pageviews for p in shown.series) > 0


def _chart_number(point, metric):
    value = getattr(point, metric)
    return round(value, 2) if isinstance(value, float) else value


@pytest.mark.parametrize("interval", ["hour", "day"])
@pytest.mark.parametrize("filters", [{}, {"page": "/p3"}], ids=["summaries", "raw rows"])
@pytest.mark.parametrize("metric", SERIES_METRICS)
def test_each_metric_of_a_bucket_is_the_dashboards_chart_of_it(testapp, dbsession, site, key, metric, filters, interval):
    """Each metric's buckets, and the previous period's, equal what the dashboard's chart of that
    metric draws (its own query value: ``metric=…`` on the dashboard); a bucket without visits
    has no ratio (null)."""
    query = StatsQuery(SiteRef(site.id, site.timezone), WEEK_PERIOD, tuple(Filter(d, v) for d, v in filters.items()),
                       metrics=(metric,), interval=interval, compare=True)
    chart = api.timeseries(dbsession, query)
    body = get(testapp, site, key, "timeseries", **WEEK, **filters, interval=interval, metrics=metric, compare="true")
    assert body["metrics"] == [metric]
    for answered, drawn in ((body["results"], chart.points), (body["previous"]["results"], chart.previous)):
        assert answered == [{"start": p.start.isoformat(), metric: _chart_number(p, metric)} for p in drawn]
    numbers = [p[metric] for p in body["results"]]
    assert any(number is not None for number in numbers) and any(p.visits for p in chart.points)
    if metric in ("views_per_visit", "bounce_rate", "average_duration"):
        assert None in numbers  # the nights (hours) or the days without traffic: no visits, no ratio
    everything = get(testapp, site, key, "timeseries", **WEEK, **filters, interval=interval)
    assert [p[metric] for p in everything["results"]] == numbers


@pytest.mark.parametrize("interval", ["week", "month"])
def test_weeks_and_months_have_the_ratios_of_their_sums(testapp, site, key, interval):
    params = {"period": "custom", "from": "2026-05-20", "to": "2026-06-10"}
    days = get(testapp, site, key, "timeseries", **params, metrics="visits,pageviews,average_duration")["results"]
    coarse = get(testapp, site, key, "timeseries", **params, interval=interval)["results"]
    groups: dict[datetime, list[dict]] = {}
    for day in days:
        groups.setdefault(bucket_start(datetime.fromisoformat(day["start"]), interval), []).append(day)
    assert len(coarse) == len(groups)
    for bucket, inside in zip(coarse, groups.values(), strict=True):
        visits = sum(day["visits"] for day in inside)
        assert (bucket["start"], bucket["visits"]) == (inside[0]["start"], visits)
        assert bucket["pageviews"] == sum(day["pageviews"] for day in inside)
        if not visits:
            assert bucket["bounce_rate"] is bucket["average_duration"] is bucket["views_per_visit"] is None
            continue
        assert bucket["views_per_visit"] == round(bucket["pageviews"] / visits, 2)
        duration = sum(day["average_duration"] * day["visits"] for day in inside if day["visits"])
        assert bucket["average_duration"] == pytest.approx(duration / visits, abs=0.01)
    assert any(bucket["visits"] for bucket in coarse)


def test_weeks_and_months_add_up_the_days(testapp, dbsession, site, key):
    params = {"period": "custom", "from": "2026-05-20", "to": "2026-06-10"}
    days = get(testapp, site, key, "timeseries", **params)["results"]
    weeks = get(testapp, site, key, "timeseries", **params, interval="week", compare="true")
    assert [p["start"] for p in weeks["results"]] == [
        "2026-05-20T00:00:00", "2026-05-25T00:00:00", "2026-06-01T00:00:00", "2026-06-08T00:00:00"
    ]
    assert [p["pageviews"] for p in weeks["results"]] == [
        sum(p["pageviews"] for p in days[:5]), sum(p["pageviews"] for p in days[5:12]),
        sum(p["pageviews"] for p in days[12:19]), sum(p["pageviews"] for p in days[19:]),
    ]
    assert sum(p["visitors"] for p in weeks["results"]) == sum(p["visitors"] for p in days) > 0
    assert len(weeks["previous"]["visitors"]) == 4
    months = get(testapp, site, key, "timeseries", **params, interval="month")["results"]
    assert [p["start"] for p in months] == ["2026-05-20T00:00:00", "2026-06-01T00:00:00"]
    assert months[1]["pageviews"] == sum(p["pageviews"] for p in days[12:]) > 0


@pytest.mark.parametrize("filters", [{}, {"country": ""}], ids=["summaries", "raw rows"])
@pytest.mark.parametrize("dim", ["page", "source", "device", "event", "prop", "exit"])
def test_a_breakdown_is_the_dashboards_details(testapp, dbsession, site, key, dim, filters):
    shown = dashboard(dbsession, site, tuple(Filter(d, v) for d, v in filters.items())).panels[dim]
    details = api.breakdown(dbsession, StatsQuery(SiteRef(site.id, site.timezone), WEEK_PERIOD,
                                                  tuple(Filter(d, v) for d, v in filters.items()), (dim,), DETAILS[dim], limit=1000))
    body = get(testapp, site, key, "breakdown", **WEEK, **filters, dimension=dim)
    assert body["metrics"] == list(DETAILS[dim]) and body["next_offset"] is None
    rows = body["results"]
    assert len(rows) == len(details.rows) > 1
    for row, expected in zip(rows, details.rows, strict=True):
        for metric in DETAILS[dim]:
            value = getattr(expected, metric)
            assert row[metric] == (round(value, 2) if isinstance(value, float) else value)
        assert row["share"] == round(expected.share, 2)
    metric = shown.metric
    assert [row[metric] for row in rows[: len(shown.rows)]] == [getattr(r, metric) for r in shown.rows]
    if dim == "prop":
        assert {(row["event"], row["property"]) for row in rows} == {("signup", "plan")}
        assert sorted(row["value"] for row in rows) == ["0", "1", "2"]


def test_breakdown_pages_follow_each_other(testapp, site, key):
    whole = get(testapp, site, key, "breakdown", **WEEK, dimension="page", metrics="pageviews")["results"]
    assert len(whole) == 7 and set(whole[0]) == {"value", "pageviews", "share"}
    seen, offset = [], 0
    while offset is not None:
        body = get(testapp, site, key, "breakdown", **WEEK, dimension="page", metrics="pageviews", limit="3", offset=str(offset))
        seen += body["results"]
        offset = body["next_offset"]
    assert seen == whole


def test_realtime_counts_the_last_30_minutes(testapp, dbsession, site, key):
    from tracking.models.types import utcnow

    now = utcnow()
    Store(None).write_batch(dbsession, [make_hit(site, now - timedelta(minutes=m), ip=f"192.0.2.{m}") for m in (1, 5, 45)])
    dbsession.flush()
    assert get(testapp, site, key, "realtime") == {"site_id": site.id, "visitors": 2}


@pytest.mark.parametrize(("params", "field"), [
    ({"period": "fortnight"}, "period"),
    ({"period": "custom", "from": "2026-06-07", "to": "2026-06-01"}, "from"),
    ({"period": "custom", "from": "2026-06-01"}, "from"),
    ({"period": "7d", "from": "2026-06-01"}, "from"),
    ({"country": "x" * 1025}, "country"),
    ({"page": "/a\x00b"}, "page"),
    ({"colour": "red"}, "colour"),
    ({"compare": "yes"}, "compare"),
])
def test_bad_parameters_are_400s_naming_the_field(testapp, site, key, params, field):
    res = testapp.get(f"/api/v1/sites/{site.id}/aggregate", params=params, headers=bearer(key), status=400)
    assert error_of(res) == {"code": "invalid", "field": field, "message": error_of(res)["message"]}
    assert error_of(res)["message"]


@pytest.mark.parametrize(("name", "params", "field"), [
    ("timeseries", {"interval": "minute"}, "interval"),
    ("timeseries", {"period": "12mo", "interval": "hour"}, "interval"),
    ("timeseries", {"metrics": "events"}, "metrics"),
    ("timeseries", {"metrics": "visits,visits"}, "metrics"),
    ("timeseries", {"metrics": ""}, "metrics"),
    ("breakdown", {}, "dimension"),
    ("breakdown", {"dimension": "planet"}, "dimension"),
    ("breakdown", {"dimension": "page", "metrics": "events"}, "metrics"),
    ("breakdown", {"dimension": "page", "limit": "0"}, "limit"),
    ("breakdown", {"dimension": "page", "limit": "1001"}, "limit"),
    ("breakdown", {"dimension": "page", "offset": "-1"}, "offset"),
    ("breakdown", {"dimension": "page", "prop_event": "signup"}, "prop_event"),
    ("realtime", {"period": "7d"}, "period"),
])
def test_each_endpoints_parameters_are_checked(testapp, site, key, name, params, field):
    res = testapp.get(f"/api/v1/sites/{site.id}/{name}", params=params, headers=bearer(key), status=400)
    assert error_of(res)["field"] == field


def test_a_query_string_that_is_not_utf8_is_a_400(testapp, site, key):
    res = testapp.get(f"/api/v1/sites/{site.id}/aggregate?page=%ff", headers=bearer(key), status=400)
    assert error_of(res)["code"] == "invalid"


def test_an_unknown_endpoint_and_method_are_json(testapp, site, key):
    assert error_of(testapp.get(f"/api/v1/sites/{site.id}/nothing", headers=bearer(key), status=404))["code"] == "not_found"
    assert error_of(testapp.get("/api/v1/sites/abc", headers=bearer(key), status=404))["code"] == "not_found"
    res = testapp.post(f"/api/v1/sites/{site.id}/aggregate", headers=bearer(key), status=405)
    assert error_of(res)["code"] == "method_not_allowed"
