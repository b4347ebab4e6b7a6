"""Every kind of filter, on random traffic: the dashboard's numbers — headline totals of the
period and of the one before, the chart's visitors and page views, every panel — equal those
counted plainly from the raw rows (:mod:`reference`), whichever way the reports read them."""

from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from tests.hits import GOOGLEBOT, IPHONE, make_hit
from tests.reading import SiteReports
from tests.reference import RawRows
from tracking.ingest.store import Store
from tracking.models import DailySalt, DailyStat, Goal, Hit, HourlyStat, Visit
from tracking.reports.periods import Period
from tracking.reports.query import FILTERABLE, sort_metric
from tracking.summaries.dimensions import DIMENSIONS, VISIT_DIMENSIONS

PERIOD = Period("custom", date(2026, 6, 3), date(2026, 6, 6))  # three days, so the chart is by day
FIRST = datetime(2026, 5, 31, 9, 0)  # the day the period before begins

hit_strategy = st.fixed_dictionaries({
    "day": st.integers(0, 5),
    "minute": st.integers(0, 150),
    "visitor": st.integers(1, 4),
    "ua": st.sampled_from([None, IPHONE, GOOGLEBOT]),
    "path": st.sampled_from(["/", "/a", "/b?utm_source=news&utm_medium=email&utm_campaign=june"]),
    "event": st.sampled_from(["pageview", "pageview", "pageview", "signup", "outbound"]),
    "referrer": st.sampled_from(["", "https://www.google.com/", "https://t.co/x"]),
    "plan": st.sampled_from([None, "pro", "free"]),
})


def _totals(numbers) -> tuple:
    return tuple(numbers[name] for name in ("visitors", "visits", "pageviews", "bounces", "duration", "events"))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(specs=st.lists(hit_strategy, min_size=1, max_size=40), pick=st.integers(0, 10))
def test_each_filter_kind_equals_the_raw_rows(dbsession, make_site, owner, specs, pick):
    site = make_site(owner, url="https://example.com", timezone="UTC")
    hits = []
    for spec in sorted(specs, key=lambda spec: (spec["day"], spec["minute"])):
        extra = {"ua": spec["ua"]} if spec["ua"] else {}
        props = {"plan": spec["plan"]} if spec["plan"] and spec["event"] != "pageview" else None
        at = FIRST + timedelta(days=spec["day"], minutes=spec["minute"])
        hits.append(make_hit(site, at, spec["path"], event=spec["event"], ip=f"198.51.100.{spec['visitor']}",
                             referrer=spec["referrer"], props=props, **extra))
    # In two batches, as two server processes would write them.
    Store(None).write_batch(dbsession, hits[: len(hits) // 2])
    Store(None).write_batch(dbsession, hits[len(hits) // 2:])
    # Goals of each kind: a page with a wildcard, across segments, an event with a property.
    goals = [Goal(site_id=site.id, name="A", kind="page", pattern="/*"),
             Goal(site_id=site.id, name="B", kind="page", pattern="/**b"),
             Goal(site_id=site.id, name="Pro", kind="event", event="signup", prop_key="plan", prop_value="pro")]
    dbsession.add_all(goals)
    dbsession.flush()
    raw = RawRows(dbsession, site.id)
    reports = SiteReports(dbsession, site.id, "UTC")
    previous = PERIOD.previous()
    for dim in FILTERABLE:
        # A value some visit has (or, when none has one, a value no visit has).
        if dim == "goal":
            values = [str(goal.id) for goal in goals]
        else:
            values = sorted(raw.rows(Period("custom", previous.start, PERIOD.end), {}, dim)) or ["nothing"]
        filters = {dim: values[pick % len(values)]}
        overview = reports.overview(PERIOD, filters, DIMENSIONS, limit=1000)
        assert _totals(overview.totals.__dict__) == _totals(raw.totals(PERIOD, filters)), filters
        assert _totals(overview.before.__dict__) == _totals(raw.totals(previous, filters)), filters
        assert [(p.visitors, p.pageviews) for p in overview.series] == raw.daily(PERIOD, filters), filters
        assert overview.previous_visitors == [visitors for visitors, _ in raw.daily(previous, filters)], filters
        for panel_dim, panel in overview.panels.items():
            expected = raw.rows(PERIOD, filters, panel_dim)
            metric = sort_metric(panel_dim)
            if panel_dim in VISIT_DIMENSIONS:  # each of the six counts
                shown = {row.value: _totals(row.__dict__) for row in panel.rows}
                assert shown == {value: _totals(numbers) for value, numbers in expected.items()}, (filters, panel_dim)
            else:  # the panel's metric
                shown = {row.value: getattr(row, metric) for row in panel.rows}
                assert shown == {value: numbers[metric] for value, numbers in expected.items()}, (filters, panel_dim)
    for model in (Goal, DailyStat, HourlyStat, Hit, Visit):
        dbsession.execute(delete(model))
    dbsession.execute(delete(DailySalt))
    dbsession.delete(site)
    dbsession.flush()
