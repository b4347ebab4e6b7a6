"""The summary tables always agree with the raw tables."""

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from tracking.ingest.store import Store
from tracking.models import DailySalt, DailyStat, HourlyStat, Visit, VisitSession
from tracking.stats.rollups import rebuild

from hits import CHROME, GOOGLEBOT, IPHONE, make_hit, summaries

UAS = [CHROME, IPHONE, GOOGLEBOT]
START = datetime(2026, 3, 28, 20, 0)  # the night Paris moves to summer time

hit_strategy = st.fixed_dictionaries({
    "minute": st.integers(0, 60 * 30),
    "visitor": st.integers(0, 4),
    "ua": st.sampled_from(UAS),
    "path": st.sampled_from(["/", "/a", "/b", "/c?x=1"]),
    "event": st.sampled_from(["pageview", "pageview", "pageview", "signup", "outbound"]),
    "referrer": st.sampled_from(["", "https://www.google.com/", "https://news.ycombinator.com/", "https://example.com/a"]),
    "utm": st.sampled_from(["", "utm_source=newsletter&utm_medium=email&utm_campaign=spring"]),
    "plan": st.sampled_from([None, "pro", "free"]),
})


def make_hits(site, specs, start=START):
    hits = []
    for spec in sorted(specs, key=lambda s: s["minute"]):
        path = spec["path"] + (("&" if "?" in spec["path"] else "?") + spec["utm"] if spec["utm"] else "")
        props = {"plan": spec["plan"]} if spec["plan"] and spec["event"] != "pageview" else None
        hits.append(make_hit(
            site, start + timedelta(minutes=spec["minute"]), path, event=spec["event"], referrer=spec["referrer"],
            ip=f"198.51.100.{spec['visitor']}", ua=spec["ua"], props=props,
        ))
    return hits



@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    specs=st.lists(hit_strategy, min_size=1, max_size=40),
    cuts=st.lists(st.integers(1, 39), max_size=4),
    timezone=st.sampled_from(["UTC", "Europe/Paris", "America/St_Johns", "Asia/Kathmandu"]),
)
def test_summaries_equal_a_rebuild_from_raw_rows(dbsession, make_site, owner, specs, cuts, timezone):
    site = make_site(owner, url="https://example.com", timezone=timezone)
    hits = make_hits(site, specs)
    # Written in several batches, each by a fresh store (as several server processes would).
    bounds = sorted({0, len(hits), *[c for c in cuts if c < len(hits)]})
    for start, end in zip(bounds, bounds[1:]):
        Store(None).write_batch(dbsession, hits[start:end])
    incremental = summaries(dbsession, site.id)
    rebuild(dbsession, site.id)
    assert summaries(dbsession, site.id) == incremental
    for model in (DailyStat, HourlyStat, Visit, VisitSession):
        dbsession.execute(delete(model))
    dbsession.execute(delete(DailySalt))
    dbsession.delete(site)
    dbsession.flush()
