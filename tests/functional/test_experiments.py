"""An experiment's counts on a hand-worked site, on both databases, and the report around them.

The experiment key ``checkout`` (hits carry ``experiment:checkout``), measured on the event goal
``Purchase``. Visitors from 2026-06-03 09:00 (UTC):

====  =================================================================  =========================
ip    hits, in order                                                     counts as
====  =================================================================  =========================
.1    / [A] → Purchase [A]                                               A, converted
.2    / [A]                                                              A
.3    / [B] → Purchase [B]                                               B, converted
.4    / [B] ‖ (next visit, an hour later) Purchase                       B: its visit with B did
                                                                         not convert
.5    / → Purchase                                                       not exposed
.6    Purchase → / [B]                                                   B, converted (the visit)
.7    / [B] on June 3 ‖ Purchase [B] on June 4                           B on June 3, not converted;
                                                                         June 4: another visitor
.8    / [C] → / [A]                                                      A and C
====  =================================================================  =========================
"""

from datetime import date, datetime, timedelta

import pytest

from tests.hits import make_hit
from tracking.goals import spec
from tracking.ingest.store import Store
from tracking.models import Goal
from tracking.reports import experiments
from tracking.reports.exposures import MAX_VARIANTS, exposures
from tracking.reports.periods import Period
from tracking.reports.query import Filter, SiteRef

DAY = datetime(2026, 6, 3, 9, 0)
JUNE_3 = Period("custom", date(2026, 6, 3), date(2026, 6, 4))
BOTH_DAYS = Period("custom", date(2026, 6, 3), date(2026, 6, 5))
PROP = "experiment:checkout"


def _v(variant):
    return {"props": {PROP: variant, "plan": "pro"}} if variant else {}


BUY = "Purchase"
VISITS = {
    1: [(0, None, "A"), (1, BUY, "A")],
    2: [(0, None, "A")],
    3: [(0, None, "B"), (1, BUY, "B")],
    4: [(0, None, "B"), (61, BUY, None)],
    5: [(0, None, None), (1, BUY, None)],
    6: [(0, BUY, None), (1, None, "B")],
    7: [(0, None, "B"), (24 * 60, BUY, "B")],
    8: [(0, None, "C"), (1, None, "A")],
}


@pytest.fixture
def experiment_site(dbsession, make_site, owner):
    site = make_site(owner, url="https://example.com", timezone="UTC")
    hits = [
        make_hit(site, DAY + timedelta(minutes=minute, seconds=visitor), "/", ip=f"198.51.100.{visitor}",
                 **({"event": event} if event else {}), **_v(variant))
        for visitor, steps in VISITS.items() for minute, event, variant in steps
    ]
    Store(None).write_batch(dbsession, hits)
    goal = Goal(site_id=site.id, name="Purchase", kind="event", event="Purchase")
    dbsession.add(goal)
    dbsession.flush()
    return site, spec(goal)


def test_exposed_and_converting_visitors_as_worked_out_by_hand(dbsession, experiment_site):
    site, goal = experiment_site
    counts = exposures(dbsession, SiteRef(site.id, "UTC"), JUNE_3, (), PROP, "A", goal)
    assert counts == {"A": (3, 1), "B": (4, 2), "C": (1, 0)}


def test_a_conversion_the_next_day_is_another_visitor(dbsession, experiment_site):
    site, goal = experiment_site
    counts = exposures(dbsession, SiteRef(site.id, "UTC"), BOTH_DAYS, (), PROP, "A", goal)
    # Visitor 7 of June 4 is a new visitor, exposed (the Purchase carries B) and converted.
    assert counts == {"A": (3, 1), "B": (5, 3), "C": (1, 0)}


def test_filters_select_the_visits(dbsession, experiment_site):
    site, goal = experiment_site
    counts = exposures(dbsession, SiteRef(site.id, "UTC"), JUNE_3, (Filter("event", "Purchase"),), PROP, "A", goal)
    assert counts == {"A": (1, 1), "B": (2, 2)}


def test_only_the_variants_with_most_visitors_are_listed_and_the_control_always(dbsession, make_site, owner):
    site = make_site(owner, url="https://example.com", timezone="UTC")
    hits = [make_hit(site, DAY + timedelta(seconds=n), "/", ip=f"198.51.100.{n}", **_v(f"v{n:02}"))
            for n in range(MAX_VARIANTS + 5)]
    hits += [make_hit(site, DAY + timedelta(minutes=5, seconds=n), "/", ip=f"198.51.100.{n}", **_v("v20"))
             for n in range(3)]
    Store(None).write_batch(dbsession, hits)
    goal = Goal(site_id=site.id, name="Purchase", kind="event", event="Purchase")
    dbsession.add(goal)
    dbsession.flush()
    counts = exposures(dbsession, SiteRef(site.id, "UTC"), JUNE_3, (), PROP, "v14", spec(goal))
    assert len(counts) == MAX_VARIANTS + 1 and counts["v20"] == (3, 0) and counts["v14"] == (1, 0)


def test_the_report_of_few_visitors_is_too_early(dbsession, experiment_site):
    site, goal = experiment_site
    result = experiments.analyse(exposures(dbsession, SiteRef(site.id, "UTC"), JUNE_3, (), PROP, "A", goal), "A")
    assert result.too_early and result.winner is None
    assert [v.name for v in result.variants] == ["A", "B", "C"]
