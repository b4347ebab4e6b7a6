"""Time on page and scroll depth: what the measurements of page views say of each page.

Plausible's tracker measures a page view after sending it (``engagement`` events, kept in
``engagements``: :mod:`tracking.views.dropins`); a page view from another tracker, or one whose
visitor left before the script reported, has none. Per page, over the visits that sent a
measurement of it:

* **time on page**: the engaged time — visible and focused — those visits spent on it, on
  average per visit, in seconds (a visit's measurements of a page add up: the script reports
  the time since its previous report; a visit that viewed the page twice adds both views);
* **scroll depth**: how far down those visits scrolled it, on average, in percent (a visit's
  deepest measurement of the page; a visit whose measurements carried none is left out).

A page without a measurement has neither (``None``: "—", not 0). Without filters, the
measurements of the period by their own time, as the page's views are counted; with filters,
the measurements of the matching visits, as their hits.
"""

from dataclasses import dataclass

from sqlalchemy import func, select

from ..models import Engagement, Visit
from .periods import Period
from .query import StatsQuery
from .raw_runner import matching

#: The metrics a page's row takes from here.
ENGAGEMENT_METRICS = ("time_on_page", "scroll_depth")


@dataclass
class PageEngagement:
    """The sums behind a page's figures: the visits that measured it, their engaged
    milliseconds, and the visits with a scroll depth and the sum of their deepest."""

    visits: int = 0
    engaged_ms: int = 0
    scrolled: int = 0
    depth_sum: int = 0

    @property
    def time_on_page(self) -> float | None:
        return self.engaged_ms / 1000 / self.visits if self.visits else None

    @property
    def scroll_depth(self) -> float | None:
        return self.depth_sum / self.scrolled if self.scrolled else None


#: Up to this many pages are looked up by name; more (a CSV export of every page) read every
#: page's figures of the period instead of binding thousands of parameters.
MAX_NAMED = 1000


def pages(db, query: StatsQuery, period: Period, paths: list[str]) -> dict[str, PageEngagement]:
    """The figures of each of ``paths`` that has a measurement in ``period`` (and maybe of
    other pages)."""
    if not paths:
        return {}
    e = Engagement
    start, end = period.bounds(query.site.timezone)
    conditions = [e.site_id == query.site.id, e.ts >= start]
    if len(paths) <= MAX_NAMED:
        conditions.append(e.path.in_(paths))
    if query.filters:
        conditions.append(e.visit_id.in_(select(Visit.id).where(*matching(query.site, period, query.filters))))
    else:
        conditions.append(e.ts < end)
    per_visit = select(
        e.path.label("path"), func.sum(e.engaged_ms).label("engaged"), func.max(e.scroll_depth).label("depth")
    ).where(*conditions).group_by(e.path, e.visit_id).subquery()
    statement = select(
        per_visit.c.path, func.count(), func.sum(per_visit.c.engaged), func.count(per_visit.c.depth),
        func.sum(per_visit.c.depth),
    ).group_by(per_visit.c.path)
    return {
        path: PageEngagement(int(visits), int(engaged or 0), int(scrolled), int(depth or 0))
        for path, visits, engaged, scrolled, depth in db.execute(statement)
    }
