"""Weeks and months of a daily time series.

A week (Monday to Sunday) or a month of local days holds the sum of its days: page views add up,
and so do visitors, which are daily visitors (ids rotate each UTC day: see :mod:`.results`), as
everywhere else in the reports. The first and last buckets may be partial: each starts on the
first day of the period that falls in it.

The previous period's counts are grouped by position: bucket ``i`` of the comparison holds the
previous period's days at the same offsets from its start as bucket ``i`` has from the period's,
so both series have as many buckets (a previous period with fewer days leaves its last buckets
shorter).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .results import POINT_COUNTS, Point, Timeseries

#: Intervals made of days (``hour`` and ``day`` are the runners' own).
COARSE = ("week", "month")


def bucket_start(day: datetime, interval: str) -> datetime:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _sum(start: datetime, days: list[Point]) -> Point:
    return Point(start, *(sum(getattr(day, name) for day in days) for name in POINT_COUNTS))


def coarser(series: Timeseries, interval: str) -> Timeseries:
    """``series`` (by day) by ``interval`` (``week`` or ``month``): each bucket sums its days'
    counts (its ratios are those of the sums)."""
    if interval not in COARSE:
        raise ValueError(f"not an interval of days: {interval!r}")
    groups: list[list[Point]] = []
    for point in series.points:
        if groups and bucket_start(groups[-1][0].start, interval) == bucket_start(point.start, interval):
            groups[-1].append(point)
        else:
            groups.append([point])
    points = [_sum(group[0].start, group) for group in groups]
    if series.previous is None:
        return Timeseries(points)
    previous, at = [], 0
    for group in groups:
        days = series.previous[at : at + len(group)]
        previous.append(_sum(days[0].start if days else group[0].start, days))
        at += len(group)
    return Timeseries(points, previous)
