"""The owner's raw views of a site: its visits, one visit's timeline, its bot hits.

A view builds a :class:`ListQuery` (which site, which local day, from which row) and reads a
page of rows. Lists are newest first, one page at a time, and keyed by the last row shown
(``before``, an id): a page shows the same rows however many hits arrive meanwhile, since new
ones only come before it. Visits are ordered by their start (then id), bot hits by their time (then id); a ``before``
that names no row of the site (deleted meanwhile, or made up) starts from the newest.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, and_, or_, select, true

from ..models import Hit, Visit
from ..timezones import day_bounds, to_local
from .query import SiteRef

PAGE_SIZE = 50
#: The hits a timeline shows at most: a visit of more (a script that was taken for a person,
#: say) shows its first ones and says how many there are.
TIMELINE_LIMIT = 1000


@dataclass(frozen=True)
class ListQuery:
    """A page of a site's visits or bot hits: of every day or of one local ``day``, from the
    newest or from the row before ``before`` (an id), ``limit`` rows."""

    site: SiteRef
    day: date | None = None
    before: int | None = None
    limit: int = PAGE_SIZE


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


def visit_list(dbsession, query: ListQuery) -> ListPage:
    """Up to ``query.limit`` visits of a site, newest first: all of them, or those that began on
    ``query.day`` (a local day of the site, as the reports count them)."""
    v = Visit
    site_id, before = query.site.id, query.before
    statement = select(v).where(v.site_id == site_id)
    if query.day is not None:
        statement = statement.where(v.day == query.day)
    if before is not None:
        started = dbsession.scalar(select(v.started_at).where(v.id == before, v.site_id == site_id))
        if started is not None:
            statement = statement.where(_after(v.started_at, v.id, (started, before)))
    return _page(dbsession, statement.order_by(v.started_at.desc(), v.id.desc()), query.limit)


def bot_list(dbsession, query: ListQuery) -> ListPage:
    """Up to ``query.limit`` bot hits of a site, newest first: all of them, or those of the
    local ``query.day``."""
    h = Hit
    site_id, before = query.site.id, query.before
    statement = select(h).where(h.site_id == site_id, h.bot != "")
    if query.day is not None:
        start, end = day_bounds(query.day, query.site.timezone)
        statement = statement.where(h.ts >= start, h.ts < end)
    if before is not None:
        at = dbsession.scalar(select(h.ts).where(h.id == before, h.site_id == site_id, h.bot != ""))
        if at is not None:
            statement = statement.where(_after(h.ts, h.id, (at, before)))
    return _page(dbsession, statement.order_by(h.ts.desc(), h.id.desc()), query.limit)


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


def timeline(dbsession, site: SiteRef, visit: Visit, limit: int | None = None) -> Timeline:
    """A visit of ``site`` and its hits in the order they came (at most ``limit`` of them, by
    default :data:`TIMELINE_LIMIT`), in the site's time zone."""
    limit = limit or TIMELINE_LIMIT
    timezone = site.timezone
    h = Hit
    hits = dbsession.scalars(
        select(h).where(h.visit_id == visit.id, h.site_id == site.id).order_by(h.ts, h.id).limit(limit)
    ).all()
    return Timeline(
        visit,
        to_local(visit.started_at, timezone),
        [TimelineHit(hit, to_local(hit.ts, timezone), hit.ts - visit.started_at) for hit in hits],
        visit.pageviews + visit.events,
    )
