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
"""

from collections import defaultdict
from datetime import date, datetime
from typing import cast

from sqlalchemy import Table

from ..models import DailyStat, HourlyStat
from .dimensions import BOT, COUNT_FIELDS, HITS, TOTAL, prop_value
from .rows import upsert

#: Indexes into a counts vector (:data:`~.dimensions.COUNT_FIELDS`).
VISITORS, VISITS, PAGEVIEWS, BOUNCES, DURATION, EVENTS = range(6)


def visit_counts(is_first: bool, pageviews: int, events: int, duration: int) -> tuple[int, ...]:
    bounce = 1 if pageviews <= 1 and events == 0 else 0
    return (1 if is_first else 0, 1, pageviews, bounce, duration, events)


def hour_of(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


class Delta:
    """Changes to the summary rows, accumulated over a batch, then applied in one statement each."""

    def __init__(self) -> None:
        self.daily: dict[tuple[int, str, date, str], list[int]] = defaultdict(lambda: [0] * 6)
        self.hourly: dict[tuple[int, datetime], list[int]] = defaultdict(lambda: [0, 0, 0])

    def add_visit(self, site_id: int, day: date, attrs: dict[str, str], counts: tuple[int, ...]) -> None:
        """A new visit's contribution: to the day's total and to each of its dimensions."""
        self._add(site_id, day, ((TOTAL, ""), *attrs.items()), counts)

    def change_visit(
        self, site_id: int, day: date, attrs: dict[str, str], before: tuple[int, ...], before_exit: str,
        counts: tuple[int, ...],
    ) -> None:
        """A continued visit's change, from its contribution ``before`` (with exit page
        ``before_exit``) to ``counts``. Its dimensions are those of its first hit and do not
        change, except the exit page: the former exit row loses the whole former contribution,
        the new one gains the present one."""
        change = tuple(now - then for now, then in zip(counts, before, strict=True))
        if attrs["exit"] == before_exit:
            self._add(site_id, day, ((TOTAL, ""), *attrs.items()), change)
            return
        self._add(site_id, day, ((TOTAL, ""), *((d, v) for d, v in attrs.items() if d != "exit")), change)
        self._add(site_id, day, (("exit", before_exit),), tuple(-then for then in before))
        self._add(site_id, day, (("exit", attrs["exit"]),), counts)

    def _add(self, site_id: int, day: date, rows, counts: tuple[int, ...]) -> None:
        """Add ``counts`` to the (dimension, value) ``rows`` of a day, touching only the counts
        that change: most of a continued visit's changes are zero."""
        changes = [(i, count) for i, count in enumerate(counts) if count]
        if not changes:
            return
        daily = self.daily
        for dim, value in rows:
            row = daily[(site_id, dim, day, value)]
            for i, count in changes:
                row[i] += count

    def add_visit_start(self, site_id: int, started: datetime, is_first: bool) -> None:
        row = self.hourly[(site_id, hour_of(started))]
        row[0] += 1 if is_first else 0
        row[1] += 1

    def add_hit(self, site_id: int, day: date, ts: datetime, event: str, path: str, props, is_first: bool, bot: str) -> None:
        daily = self.daily
        if bot:
            daily[(site_id, BOT, day, bot)][PAGEVIEWS] += 1
            return
        first = 1 if is_first else 0
        if event == "pageview":
            daily[(site_id, HITS, day, "")][PAGEVIEWS] += 1
            row = daily[(site_id, "page", day, path)]
            row[PAGEVIEWS] += 1
            row[VISITORS] += first
            self.hourly[(site_id, hour_of(ts))][2] += 1
        else:
            daily[(site_id, HITS, day, "")][EVENTS] += 1
            row = daily[(site_id, "event", day, event)]
            row[EVENTS] += 1
            row[VISITORS] += first
            for key, value in (props or {}).items():
                daily[(site_id, "prop", day, prop_value(event, key, value))][EVENTS] += 1

    def apply(self, session) -> None:
        """Add the changes to the summary rows: one statement per table. Rows go in key order,
        so that writers in several processes lock shared rows in the same order."""
        daily = sorted((key, counts) for key, counts in self.daily.items() if any(counts))
        hourly = sorted((key, counts) for key, counts in self.hourly.items() if any(counts))
        connection = session.connection()  # Core: plain rows, no ORM bulk machinery
        for model, keys, fields, rows in (
            (DailyStat, ("site_id", "dim", "day", "value"), COUNT_FIELDS, daily),
            (HourlyStat, ("site_id", "hour"), ("visitors", "visits", "pageviews"), hourly),
        ):
            upsert(connection, cast(Table, model.__table__), keys, tuple(fields), [key + tuple(counts) for key, counts in rows])
