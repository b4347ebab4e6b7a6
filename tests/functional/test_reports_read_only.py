"""The reports never write: every function of the read side, run on a populated database,
executes no INSERT, UPDATE, DELETE (nor any other statement that changes data or schema, nor
a row lock)."""

import re
from contextlib import contextmanager
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event, select

from tests.hits import GOOGLEBOT, IPHONE, make_hit
from tracking.ingest.store import Store
from tracking.interfaces import IDatabase
from tracking.models import Visit
from tracking.reports import api, export
from tracking.reports.periods import Period
from tracking.reports.query import DETAILS, Filter, SiteRef, StatsQuery
from tracking.reports.visits import ListQuery, bot_list, timeline, visit_list
from tracking.summaries.dimensions import DIMENSIONS
from tracking.summaries.rebuild import rebuild

WRITE = re.compile(
    r"^\s*(INSERT|UPDATE|DELETE|MERGE|REPLACE|UPSERT|CREATE|DROP|ALTER|TRUNCATE|COPY|GRANT|VACUUM|REINDEX)\b"
    r"|\b(INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET)\b"
    r"|\bFOR\s+(UPDATE|SHARE|NO\s+KEY\s+UPDATE|KEY\s+SHARE)\b",
    re.I,
)


@contextmanager
def no_writes(engine):
    """Fail any statement that writes, while inside."""
    writes: list[str] = []

    def check(conn, cursor, statement, parameters, context, executemany):
        if WRITE.search(statement):
            writes.append(statement)
            raise AssertionError(f"a report wrote: {statement}")

    event.listen(engine, "before_cursor_execute", check)
    try:
        yield writes
    finally:
        event.remove(engine, "before_cursor_execute", check)


@pytest.fixture
def site(dbsession, make_site, owner):
    site = make_site(owner, url="https://example.com", timezone="Europe/Paris")
    t = datetime(2026, 6, 2, 9, 0)
    hits = [
        make_hit(site, t, "/", ip="198.51.100.1", referrer="https://www.google.com/?q=x"),
        make_hit(site, t + timedelta(minutes=3), "/pricing", ip="198.51.100.1"),
        make_hit(site, t + timedelta(minutes=4), "/pricing", ip="198.51.100.1", event="signup", props={"plan": "pro"}),
        make_hit(site, t + timedelta(hours=2), "/blog?utm_source=news&utm_medium=email&utm_campaign=june", ip="198.51.100.2",
                 ua=IPHONE),
        make_hit(site, t + timedelta(hours=3), "/", ip="192.0.2.1", ua=GOOGLEBOT),
    ]
    Store(None).write_batch(dbsession, hits)
    dbsession.flush()
    return site


def every_report(dbsession, session_factory, site) -> int:
    """Run every function of the read API and of the lists and exports; how many rows they gave."""
    where = SiteRef(site.id, site.timezone)
    shown = 0
    for period in (Period("custom", date(2026, 6, 1), date(2026, 6, 8)), Period("custom", date(2026, 6, 2), date(2026, 6, 3))):
        # No filter (the summaries), and each kind of filter (the raw rows).
        for filters in ((), (Filter("country", ""),), (Filter("page", "/"),), (Filter("event", "signup"),),
                        (Filter("device", "desktop"), Filter("page", "/"))):
            query = StatsQuery(where, period, filters, DIMENSIONS, compare=True)
            overview = api.overview(dbsession, query)
            shown += overview.totals.visits + sum(len(panel.rows) for panel in overview.panels.values())
            shown += api.aggregate(dbsession, query).totals.visits
            for interval in ("hour", "day"):
                shown += len(api.timeseries(dbsession, StatsQuery(where, period, filters, interval=interval, compare=True)).points)
            for dim in DIMENSIONS:
                for metrics, offset in (((), 0), (DETAILS[dim], 0), (DETAILS[dim], 1)):
                    detail = StatsQuery(where, period, filters, (dim,), metrics, offset=offset, prop_event="signup" if offset else "")
                    panel = api.breakdown(dbsession, detail)
                    shown += len(panel.rows) + len(list(export.panel_rows(panel)))
            shown += len(list(export.hit_rows(session_factory, query))) + len(list(export.visit_rows(session_factory, query)))
            shown += api.realtime(dbsession, query, datetime(2026, 6, 2, 10, 0))
    for day in (None, date(2026, 6, 2)):
        shown += len(visit_list(dbsession, ListQuery(where, day)).rows) + len(bot_list(dbsession, ListQuery(where, day)).rows)
    for visit in dbsession.scalars(select(Visit).where(Visit.site_id == site.id)):
        shown += len(timeline(dbsession, where, visit).hits)
    return shown


def test_the_whole_read_side_writes_nothing(app, dbengine, dbsession, site):
    with no_writes(dbengine) as writes:
        shown = every_report(dbsession, app.registry.getUtility(IDatabase).session_factory, site)
    assert writes == []
    assert shown > 100  # it did read the traffic


def test_the_check_catches_a_write(dbengine, dbsession, site):
    with no_writes(dbengine) as writes, pytest.raises(AssertionError, match="a report wrote"):
        rebuild(dbsession, site.id)
    assert writes and writes[0].lstrip().upper().startswith("DELETE")
    assert WRITE.search("SELECT 1 FROM jobs FOR UPDATE SKIP LOCKED")
    assert WRITE.search("WITH moved AS (UPDATE visits SET day = ? RETURNING id) SELECT count(*) FROM moved")
    assert not WRITE.search("SELECT replace(path, '/', '') AS updated_at, deleted FROM hits WHERE event = 'insert'")
