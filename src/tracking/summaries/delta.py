"""Summary tables: ``daily_stats`` (per site, local day, dimension, value) and ``hourly_stats``.

Every number in them is a sum of *contributions*: a visit contributes its counts to the site
total and to each of its visit dimensions on the day it started; a hit contributes to its page,
event and property rows and to the day's ``hits`` row on its own day; a bot hit to its reason.
The store adds the change of contribution of every visit and hit it writes, in the same
transaction (:class:`Delta`), and :func:`rebuild` recomputes everything from the raw tables with
the same definitions — the two must always agree (the test suite checks it on random data).

Counts per row: ``visitors`` (first visits of the day — a visitor is attributed to their first
visit), ``visits``, ``pageviews``, ``bounces`` (visits of one page view and no event),
``duration`` (seconds, summed over visits), ``events`` (custom events).

``segment_stats`` holds the same rows again per value of each segment dimension
(:data:`~.dimensions.SEGMENTS`) and per chosen common value of the dimensions with many values
(``segment_values``: :mod:`.segments`): a visit contributes to the rows of its own values (its
country's, its browser's ..., its referrer's when that one is chosen), and its hits with it; a
visit whose exit page changes moves from the former's rows to the new one's
(:meth:`Delta.change_visit`). Bot
hits have no visit and no segment.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import cast

from sqlalchemy import Table

from ..models import DailyStat, HourlyStat, SegmentStat
from .dimensions import BOT, COUNT_FIELDS, HITS, MOVING, SEGMENTS, TOTAL, prop_value
from .rows import upsert
from .segments import SiteValues

#: Indexes into a counts vector (:data:`~.dimensions.COUNT_FIELDS`).
VISITORS, VISITS, PAGEVIEWS, BOUNCES, DURATION, EVENTS = range(6)


def visit_counts(is_first: bool, pageviews: int, events: int, duration: int) -> tuple[int, ...]:
    bounce = 1 if pageviews <= 1 and events == 0 else 0
    return (1 if is_first else 0, 1, pageviews, bounce, duration, events)


def hour_of(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


class Delta:
    """Changes to the summary rows, accumulated over a batch, then applied in one statement each."""

    def __init__(self, values: SiteValues | None = None) -> None:
        #: The sites' chosen common values (:func:`~.segments.site_values`): their rows too.
        self.values: SiteValues = values or {}
        self.daily: dict[tuple[int, str, date, str], list[int]] = defaultdict(lambda: [0] * 6)
        self.hourly: dict[tuple[int, datetime], list[int]] = defaultdict(lambda: [0, 0, 0])
        #: (site, segment, its value, dim, day, value) → counts
        self.segments: dict[tuple[int, str, str, str, date, str], list[int]] = defaultdict(lambda: [0] * 6)

    def add_visit(self, site_id: int, day: date, attrs: dict[str, str], counts: tuple[int, ...]) -> None:
        """A new visit's contribution: to the day's total and to each of its dimensions."""
        self._add(site_id, day, attrs, ((TOTAL, ""), *attrs.items()), counts)

    def change_visit(
        self, site_id: int, day: date, attrs: dict[str, str], before: tuple[int, ...], before_exit: str,
        counts: tuple[int, ...], members: Iterable[tuple[str, str]] = (),
    ) -> list[tuple[tuple[str, str], int]]:
        """A continued visit's change, from its contribution ``before`` (with exit page
        ``before_exit``) to ``counts``. Its dimensions are those of its first hit and do not
        change, except the exit page: the former exit row loses the whole former contribution,
        the new one gains the present one. ``members``: the segments it had joined at a hit
        before (a goal's, a page's: :meth:`enter_segment`), which change with it. Returns the
        chosen exit pages' segments it left (-1) and joined (+1), whose rows still need its
        earlier hits (:meth:`add_segment_hit`)."""
        change = tuple(now - then for now, then in zip(counts, before, strict=True))
        if attrs[MOVING] == before_exit:
            self._add(site_id, day, attrs, ((TOTAL, ""), *attrs.items()), change, members)
            return []
        # Not in the rows of its exit page's segments (below).
        self._add(site_id, day, attrs, ((TOTAL, ""), *((d, v) for d, v in attrs.items() if d != MOVING)), change,
                  members, moved=True)
        self._add(site_id, day, attrs, ((MOVING, before_exit),), tuple(-then for then in before), members, moved=True)
        self._add(site_id, day, attrs, ((MOVING, attrs[MOVING]),), counts, members, moved=True)
        # A chosen exit page's rows: the visit leaves the former's with its former contribution
        # and joins the new one's with its present one (its hits: :meth:`add_segment_hit`).
        chosen = self.values.get(site_id, {}).get(MOVING, frozenset())
        moves = []
        if before_exit in chosen:
            self.enter_segment(site_id, day, {**attrs, MOVING: before_exit}, tuple(-then for then in before),
                               (MOVING, before_exit))
            moves.append(((MOVING, before_exit), -1))
        if attrs[MOVING] in chosen:
            self.enter_segment(site_id, day, attrs, counts, (MOVING, attrs[MOVING]))
            moves.append(((MOVING, attrs[MOVING]), 1))
        return moves

    def enter_segment(self, site_id: int, day: date, attrs: dict[str, str], counts: tuple[int, ...],
                      segment: tuple[str, str]) -> None:
        """A visit that joins a segment at a hit — converts on a goal, views a chosen page, sends
        a chosen event — for the first time: its whole contribution so far (``counts``: its
        visitor counted when it is the visitor's first visit of the day to join) to the
        segment, as a new visit's to the day's rows. Its hits follow (:meth:`add_hit`,
        :meth:`add_segment_hit`)."""
        rows = ((TOTAL, ""), *attrs.items())
        for dim, value in rows:
            row = self.segments[(site_id, *segment, dim, day, value)]
            for i, count in enumerate(counts):
                row[i] += count

    def _add(self, site_id: int, day: date, attrs: dict[str, str], rows, counts: tuple[int, ...],
             members: Iterable[tuple[str, str]] = (), moved: bool = False) -> None:
        """Add ``counts`` to the (dimension, value) ``rows`` of a day, and of the segments of
        the visit's ``attrs`` and those it joined at a hit (``members``), touching only the
        counts that change: most of a continued visit's changes are zero. ``moved``: the
        visit's exit page changed, and its segments are left out (its caller moves it)."""
        changes = [(i, count) for i, count in enumerate(counts) if count]
        if not changes:
            return
        daily, segments = self.daily, self.segments
        rows = tuple(rows)
        for dim, value in rows:
            row = daily[(site_id, dim, day, value)]
            for i, count in changes:
                row[i] += count
        for segment, segment_value in self._segments(site_id, attrs, members):
            if moved and segment == MOVING:
                continue
            for dim, value in rows:
                row = segments[(site_id, segment, segment_value, dim, day, value)]
                for i, count in changes:
                    row[i] += count

    def _segments(self, site_id: int, attrs: dict[str, str],
                  members: Iterable[tuple[str, str]] = ()) -> list[tuple[str, str]]:
        """The segments (dimension, value) a visit with ``attrs`` counts in, and those it joined
        at a hit (``members``)."""
        keys = [(segment, attrs[segment]) for segment in SEGMENTS]
        chosen = self.values.get(site_id)
        if chosen:
            keys += [(segment, attrs[segment]) for segment, values in chosen.items()
                     if segment in attrs and attrs[segment] in values]
        keys.extend(members)
        return keys

    def add_visit_start(self, site_id: int, started: datetime, is_first: bool) -> None:
        row = self.hourly[(site_id, hour_of(started))]
        row[0] += 1 if is_first else 0
        row[1] += 1

    def add_hit(self, site_id: int, day: date, ts: datetime, event: str, path: str, props, is_first: bool, bot: str,
                attrs: dict[str, str] | None = None, members: Iterable[tuple[str, str]] = ()) -> None:
        """A hit's contribution; ``attrs``: its visit's dimensions (``None`` for a bot's hit),
        ``members``: the segments its visit joined at a hit (this one included)."""
        if bot:
            self.daily[(site_id, BOT, day, bot)][PAGEVIEWS] += 1
            return
        first = 1 if is_first else 0
        if event == "pageview":
            self.hourly[(site_id, hour_of(ts))][2] += 1
        # The day's rows, and its segments' (keys of ``daily`` and ``segments`` end alike).
        targets: list[tuple[dict, tuple]] = [(self.daily, (site_id,))]
        if attrs:
            targets += [(self.segments, (site_id, *key)) for key in self._segments(site_id, attrs, members)]
        for counted, prefix in targets:
            _count_hit(counted, prefix, day, event, path, props, first)

    def add_segment_hit(self, site_id: int, segment: tuple[str, str], day: date, event: str, path: str, props,
                        is_first: bool, sign: int = 1) -> None:
        """A hit stored before, to one segment only: a hit of a visit that has just joined it
        (:meth:`enter_segment`); with ``sign`` -1, taken back from a segment it left (a former
        exit page's)."""
        _count_hit(self.segments, (site_id, *segment), day, event, path, props, 1 if is_first else 0, sign)

    def apply(self, session) -> None:
        """Add the changes to the summary rows: one statement per table. Rows go in key order,
        so that writers in several processes lock shared rows in the same order."""
        daily = sorted((key, counts) for key, counts in self.daily.items() if any(counts))
        hourly = sorted((key, counts) for key, counts in self.hourly.items() if any(counts))
        segments = sorted((key, counts) for key, counts in self.segments.items() if any(counts))
        connection = session.connection()  # Core: plain rows, no ORM bulk machinery
        for model, keys, fields, rows in (
            (DailyStat, ("site_id", "dim", "day", "value"), COUNT_FIELDS, daily),
            (SegmentStat, ("site_id", "segment", "segment_value", "dim", "day", "value"), COUNT_FIELDS, segments),
            (HourlyStat, ("site_id", "hour"), ("visitors", "visits", "pageviews"), hourly),
        ):
            upsert(connection, cast(Table, model.__table__), keys, tuple(fields), [key + tuple(counts) for key, counts in rows])


def _count_hit(counted: dict, prefix: tuple, day: date, event: str, path: str, props, first: int,
               sign: int = 1) -> None:
    """A (person's) hit in the rows of ``counted`` whose keys start with ``prefix`` (``sign``
    -1: taken back)."""
    if event == "pageview":
        counted[(*prefix, HITS, day, "")][PAGEVIEWS] += sign
        row = counted[(*prefix, "page", day, path)]
        row[PAGEVIEWS] += sign
        row[VISITORS] += first * sign
    else:
        counted[(*prefix, HITS, day, "")][EVENTS] += sign
        row = counted[(*prefix, "event", day, event)]
        row[EVENTS] += sign
        row[VISITORS] += first * sign
        for key, value in (props or {}).items():
            counted[(*prefix, "prop", day, prop_value(event, key, value))][EVENTS] += sign
