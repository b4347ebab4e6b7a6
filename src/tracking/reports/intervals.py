"""Weeks and months of a daily time series.

A week (Monday to Sunday) or a month of local days holds the sum of its days: page views add up,
and so do visitors, which are daily visitors (ids rotate each UTC day: see :mod:`.results`), as
everywhere else in the reports. The first and last buckets may be partial: each starts on the
first day of the period that falls in it.

The previous period's visitors are grouped by position: bucket ``i`` of the comparison holds the
previous period's days at the same offsets from its start as bucket ``i`` has from the period's,
so both series have as many buckets (a previous period with fewer days leaves its last buckets
shorter).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .results import Point, Timeseries

#: Intervals made of days (``hour`` and ``day`` are the runners' own).
COARSE = ("week", "month")


def bucket_start(day: datetime, interval: str) -> datetime:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def coarser(series: Timeseries, interval: str) -> Timeseries:
    """``series`` (by day) by ``interval`` (``week`` or ``month``)."""
    if interval not in COARSE:
        raise ValueError(f"not an interval of days: {interval!r}")
    points: list[Point] = []
    sizes: list[int] = []
    for point in series.points:
        start = bucket_start(point.start, interval)
        if points and bucket_start(points[-1].start, interval) == start:
            points[-1].visitors += point.visitors
            points[-1].pageviews += point.pageviews
            sizes[-1] += 1
        else:
            points.append(Point(point.start, point.visitors, point.pageviews))
            sizes.append(1)
    if series.previous_visitors is None:
        return Timeseries(points)
    previous, at = [], 0
    for size in sizes:
        previous.append(sum(series.previous_visitors[at : at + size]))
        at += size
    return Timeseries(points, previous)
