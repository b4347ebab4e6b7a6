"""The owner's raw views of a site: its visits, one visit's timeline, its bot hits, and the rows
of the CSV exports of hits and of visits.

Lists are newest first, one page at a time, and keyed by the last row shown (``before``, an id):
a page shows the same rows however many hits arrive meanwhile, since new ones only come before
it. Visits are ordered by their start (then id), bot hits by their time (then id); a ``before``
that names no row of the site (deleted meanwhile, or made up) starts from the newest.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, and_, case, or_, select, true

from ..models import Hit, Visit
from .periods import Period, day_bounds, to_local

PAGE_SIZE = 50
#: The hits a timeline shows at most: a visit of more (a script that was taken for a person,
#: say) shows its first ones and says how many there are.
TIMELINE_LIMIT = 1000


@dataclass
class ListPage:
    rows: list
    #: The id to continue from, ``None`` on the last page.
    next_before: int | None


def _page(dbsession, query: Select, limit: int) -> ListPage:
    rows = list(dbsession.scalars(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return ListPage(rows, rows[-1].id if more else None)


def _after(time_column, id_column, key: tuple[datetime, int] | None):
    """Rows older than ``key`` (time, id) in (time, id) order, written so that an index on
    (site, time) bounds the scan."""
    if key is None:
        return true()
    time, row_id = key
    return and_(time_column <= time, or_(time_column < time, id_column < row_id))


def visit_list(dbsession, site_id: int, *, day: date | None = None, before: int | None = None,
               limit: int = PAGE_SIZE) -> ListPage:
    """Up to ``limit`` visits of a site, newest first: all of them, or those that began on
    ``day`` (a local day of the site, as the reports count them)."""
    v = Visit
    query = select(v).where(v.site_id == site_id)
    if day is not None:
        query = query.where(v.day == day)
    if before is not None:
        started = dbsession.scalar(select(v.started_at).where(v.id == before, v.site_id == site_id))
        if started is not None:
            query = query.where(_after(v.started_at, v.id, (started, before)))
    return _page(dbsession, query.order_by(v.started_at.desc(), v.id.desc()), limit)


def bot_list(dbsession, site_id: int, timezone: str, *, day: date | None = None, before: int | None = None,
             limit: int = PAGE_SIZE) -> ListPage:
    """Up to ``limit`` bot hits of a site, newest first: all of them, or those of the local
    ``day``."""
    h = Hit
    query = select(h).where(h.site_id == site_id, h.bot != "")
    if day is not None:
        start, end = day_bounds(day, timezone)
        query = query.where(h.ts >= start, h.ts < end)
    if before is not None:
        at = dbsession.scalar(select(h.ts).where(h.id == before, h.site_id == site_id, h.bot != ""))
        if at is not None:
            query = query.where(_after(h.ts, h.id, (at, before)))
    return _page(dbsession, query.order_by(h.ts.desc(), h.id.desc()), limit)


@dataclass
class TimelineHit:
    hit: Hit
    #: The hit's time in the site's time zone.
    local: datetime
    #: Since the visit began.
    offset: timedelta


@dataclass
class Timeline:
    visit: Visit
    #: When it began, in the site's time zone.
    local_start: datetime
    hits: list[TimelineHit]
    #: The visit's hits, those not shown included.
    total: int

    @property
    def first(self) -> Hit | None:
        return self.hits[0].hit if self.hits else None


def timeline(dbsession, visit: Visit, timezone: str, limit: int | None = None) -> Timeline:
    """A visit and its hits in the order they came (at most ``limit`` of them, by default
    :data:`TIMELINE_LIMIT`)."""
    limit = limit or TIMELINE_LIMIT
    h = Hit
    hits = dbsession.scalars(
        select(h).where(h.visit_id == visit.id, h.site_id == visit.site_id).order_by(h.ts, h.id).limit(limit)
    ).all()
    return Timeline(
        visit,
        to_local(visit.started_at, timezone),
        [TimelineHit(hit, to_local(hit.ts, timezone), hit.ts - visit.started_at) for hit in hits],
        visit.pageviews + visit.events,
    )


# -- CSV exports ----------------------------------------------------------------------------

#: The columns of the hits export: the hit's local time, then columns of ``hits``.
HIT_COLUMNS = (
    "local_time", "ts", "visit_id", "event", "host", "path", "query", "referrer", "ref_host", "source", "utm_source",
    "utm_medium", "utm_campaign", "utm_term", "utm_content", "country", "region", "city", "as_org", "browser",
    "browser_version", "os", "device", "bot", "props",
)
#: The columns of the visits export: the visit's local start, then columns of ``visits``
#: (``id`` as ``visit_id``, the key of the hits export's column), and whether it bounced.
VISIT_COLUMNS = (
    "local_start", "visit_id", "started_at", "ended_at", "duration", "pageviews", "events", "bounce", "entry_path",
    "exit_path", "source", "ref_host", "utm_source", "utm_medium", "utm_campaign", "country", "region", "city",
    "browser", "os", "device",
)


def hits_export(reports, period: Period, filters: dict[str, str]) -> Select:
    """The hits of the period (by their own time), oldest first: every hit, bots' included, or
    with ``filters`` the hits of the visits that match them. The :data:`HIT_COLUMNS` after the
    first."""
    start, end = period.bounds(reports.timezone)
    h = Hit
    query = select(*(getattr(h, name) for name in HIT_COLUMNS[1:])).where(
        h.site_id == reports.site_id, h.ts >= start, h.ts < end
    )
    if filters:
        query = query.where(h.visit_id.in_(select(reports.visits(period, filters).c.id)))
    return query.order_by(h.ts, h.id)


def visits_export(reports, period: Period, filters: dict[str, str]) -> Select:
    """The visits of the period (by the day they began) that match ``filters``, oldest first:
    the :data:`VISIT_COLUMNS` after the first."""
    v = reports.visits(period, filters)
    bounce = case((and_(v.c.pageviews <= 1, v.c.events == 0), 1), else_=0)
    computed = {"visit_id": v.c.id.label("visit_id"), "bounce": bounce.label("bounce")}
    columns = (computed[name] if name in computed else v.c[name] for name in VISIT_COLUMNS[1:])
    return select(*columns).order_by(v.c.started_at, v.c.id)
