"""The common values of a site's dimensions with many values, whose visits get summary rows of
their own (``segment_values``, ``segment_stats``).

A filter by a country, a browser, an operating system, a device or a source class reads the
rows ``segment_stats`` keeps for each of their values (:data:`~.dimensions.SEGMENTS`). The
referrer, the UTM parameters, the region, the city, the entry and exit pages, the pages and the events
(:data:`~.dimensions.TOP_SEGMENTS`) have as many values as visitors bring: rows for each would
outnumber the visits. But the values people filter by are the top rows of their panels, and
those are the ones the raw rows are slow for (a referrer that brings a third of the visits is a
third of them to read); a rare value is read from the raw rows through its index in a few
milliseconds. So each site has its **common values** rows too:

* **Chosen once a day** by a ``values`` job (:mod:`.jobs`; the writer queues one per site when
  the day changes, :func:`~.jobs.queue_values`): the values of each of those dimensions with at least
  :data:`TOP_SHARE` of the site's visits of the last :data:`TOP_DAYS` days, the
  :data:`TOP_PER_SEGMENT` most common, the empty value (no referrer, no campaign) left out; a
  page or an event by the visitors its daily rows count.
* **Counted whole when chosen**: the job counts a new value's rows from all of the site's raw
  rows and writes its ``segment_values`` row in the same transaction, with the site locked
  against the writers' batches; from then on the writer keeps its rows as it keeps a
  country's (:class:`~.delta.Delta`; a visit joins a page's or an event's rows at the hit that
  views or sends it, with what it counted before; it moves from an exit page's rows to
  another's as its exit page changes), and a rebuild recounts them with the rest.
* **Kept** while there is room: a value stays chosen when it becomes rare (its rows cost the
  writer nothing more than its visits bring), up to :data:`MAX_PER_SEGMENT` per dimension;
  past that, values no longer common make room for the new ones, their rows deleted with them
  (last week's campaign for this week's).

The reports' planner reads a value's rows for a filter by it alone (rule 9 of
:mod:`tracking.reports.planner`); every other value of those dimensions is read from the raw
rows, exactly as before.
"""

from datetime import date, timedelta
from math import ceil

from sqlalchemy import delete, func, insert, select, update

from ..models import DailyStat, SegmentStat, SegmentValue, Site, Visit
from .counting import count_hits_by_day, count_segment
from .dimensions import LISTED, TOP_SEGMENTS, VISIT_DIMENSIONS

#: A value is common with at least this share of the visits of the last ``TOP_DAYS`` days
#: (on the benchmark's 10-million-hit site, 1 % of a year's visits takes ~1.5 s to read from
#: the raw rows; ``BENCHMARKS.md``).
TOP_SHARE = 0.01
TOP_DAYS = 30
#: At most this many common values of a dimension at a time ...
TOP_PER_SEGMENT = 10
#: ... and at most this many kept in all: past it, values no longer common make room.
MAX_PER_SEGMENT = 20

#: segment → its chosen values, per site
SiteValues = dict[int, dict[str, frozenset[str]]]


def site_values(connection, site_ids: list[int]) -> SiteValues:
    """The chosen values of some sites (those that have any): what a batch of the writer counts."""
    found: dict[int, dict[str, set[str]]] = {}
    query = select(SegmentValue.site_id, SegmentValue.segment, SegmentValue.value).where(
        SegmentValue.site_id.in_(site_ids)
    )
    for site_id, segment, value in connection.execute(query):
        found.setdefault(site_id, {}).setdefault(segment, set()).add(value)
    return {site_id: {segment: frozenset(values) for segment, values in by.items()} for site_id, by in found.items()}


def common_values(session, site_id: int, today: date) -> dict[str, list[str]]:
    """Each dimension's common values on the site, most common first (see the module's docstring)."""
    since = today - timedelta(days=TOP_DAYS)
    recent = (Visit.site_id == site_id, Visit.day >= since)
    total = session.scalar(select(func.count()).select_from(Visit).where(*recent)) or 0
    if not total:
        return {}
    least = max(1, ceil(total * TOP_SHARE))
    found = {}
    for segment in TOP_SEGMENTS:
        if segment in LISTED:
            # Pages and events: by the visitors their summary rows count (each visitor's first
            # view of the page, first event of the name, of the day), a close lower bound of
            # the visits with them.
            d = DailyStat
            viewed = func.sum(d.visitors)
            query = (
                select(d.value)
                .where(d.site_id == site_id, d.dim == segment, d.day >= since, d.value != "")
                .group_by(d.value)
                .having(viewed >= least)
                .order_by(viewed.desc(), d.value)
                .limit(TOP_PER_SEGMENT)
            )
        else:
            column = getattr(Visit, VISIT_DIMENSIONS[segment])
            visits = func.count()
            query = (
                select(column)
                .where(*recent, column != "")
                .group_by(column)
                .having(visits >= least)
                .order_by(visits.desc(), column)
                .limit(TOP_PER_SEGMENT)
            )
        values = list(session.scalars(query))
        if values:
            found[segment] = values
    return found


def choose_values(session, site_id: int, today: date) -> dict[str, list[str]]:
    """Choose the site's common values and count the rows of those not chosen before, in
    ``session``'s transaction; returns the new ones. The site is locked first (against the
    key-share lock each batch of the writer takes; on SQLite the transaction holds the write
    lock), so that no batch adds to the rows while they are counted, nor misses a new value."""
    session.execute(select(Site.id).where(Site.id == site_id).with_for_update())
    chosen: dict[str, set[str]] = {}
    for segment, value in session.execute(
        select(SegmentValue.segment, SegmentValue.value).where(SegmentValue.site_id == site_id)
    ):
        chosen.setdefault(segment, set()).add(value)
    dialect = session.get_bind().dialect.name
    added: dict[str, list[str]] = {}
    for segment, values in common_values(session, site_id, today).items():
        known = chosen.get(segment, set())
        new = [value for value in values if value not in known]
        if not new:
            continue
        over = len(known) + len(new) - MAX_PER_SEGMENT
        if over > 0:  # room for the new ones: values no longer common go, with their rows
            stale = sorted(known - set(values))[:over]
            session.execute(delete(SegmentStat).where(
                SegmentStat.site_id == site_id, SegmentStat.segment == segment, SegmentStat.segment_value.in_(stale)
            ))
            session.execute(delete(SegmentValue).where(
                SegmentValue.site_id == site_id, SegmentValue.segment == segment, SegmentValue.value.in_(stale)
            ))
        count_segment(session, site_id, dialect, segment, new)
        count_hits_by_day(session, site_id, segment, new)
        session.execute(insert(SegmentValue), [{"site_id": site_id, "segment": segment, "value": value} for value in new])
        added[segment] = new
    session.execute(update(Site).where(Site.id == site_id).values(values_chosen_on=today))
    return added
