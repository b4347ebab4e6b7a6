"""An experiment's counts per variant: exposed and converting visitors in a period.

The counting rules:

* A visitor is **exposed** to a variant when one of their hits in a visit of the period carries
  the property ``experiment:<key>`` with that variant as its value (the tracker's
  ``tracking.variant(key, variant)`` adds it to every later hit of the page). A visitor whose
  hits carry two variants counts in both.
* An exposed visitor **converted** when a visit in which they were exposed to the variant
  converted on the experiment's goal (any of its hits, before or after the exposure).
* A visitor is one person on one day: visitor ids change every day, so a visitor exposed on
  Monday who converts on Tuesday counts as exposed and not converted (and as a second, unexposed
  visitor on Tuesday, unless Tuesday's pages label their hits too). Rates of goals reached
  days later are therefore underestimated, for every variant alike.
* The period and the filters select the visits, as on the dashboard.

Variants are whatever visitors' browsers sent: the :data:`MAX_VARIANTS` with the most exposed
visitors are reported (the control always).

Read only, like the rest of :mod:`tracking.reports`.
"""

from __future__ import annotations

from sqlalchemy import case, func, select

from ..goals import GoalSpec, visit_converts
from ..models import Hit, Visit
from .periods import Period
from .query import Filter, SiteRef
from .raw_runner import matching

#: The most variants one experiment's report lists.
MAX_VARIANTS = 10


def exposures(db, site: SiteRef, period: Period, filters: tuple[Filter, ...], prop: str, control: str,
              goal: GoalSpec) -> dict[str, tuple[int, int]]:
    """``{variant: (exposed visitors, converting visitors)}`` of the experiment property
    ``prop`` (``experiment:<key>``) measured on ``goal``, over the visits of ``period`` that
    match ``filters`` (goal filters resolved)."""
    h = Hit.__table__
    v = Visit.__table__
    start, _ = period.bounds(site.timezone)
    variant = h.c.props[prop].as_string()
    exposed = (
        select(h.c.visit_id.label("visit_id"), variant.label("variant"))
        .where(h.c.site_id == site.id, h.c.ts >= start, h.c.visit_id.is_not(None), variant.is_not(None))
        .distinct()
        .subquery("exposed")
    )
    converted = visit_converts(goal, v)
    rows = db.execute(
        select(
            exposed.c.variant,
            func.count(v.c.visitor.distinct()),
            func.count(case((converted, v.c.visitor)).distinct()),
        )
        .select_from(exposed.join(v, v.c.id == exposed.c.visit_id))
        .where(*matching(site, period, filters))
        .group_by(exposed.c.variant)
        .order_by(func.count(v.c.visitor.distinct()).desc(), exposed.c.variant)
    ).all()
    counts = {name: (int(n), int(k)) for name, n, k in rows[:MAX_VARIANTS]}
    for name, n, k in rows[MAX_VARIANTS:]:
        if name == control:
            counts[name] = (int(n), int(k))
    return counts

