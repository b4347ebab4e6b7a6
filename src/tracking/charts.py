"""Server-rendered line charts: geometry for an SVG template, no JavaScript, no CDN.

The chart's buckets (:func:`buckets`) are the report's points, regrouped by month for periods
longer than :data:`MONTHLY_AFTER_DAYS` (a year of daily points is a blur of 365 wiggles, and
its labels do not fit), and each is told whether it is over, under way (the current hour, day or
month: drawn dashed, apart from the finished ones, so that a partial day does not look like a
fall in traffic) or still to come (not drawn at all: an hour that has not happened yet had no
visitors, but it did not have zero of them either).

The SVG stretches to its box (``preserveAspectRatio="none"``, strokes that do not scale): its
axis labels are HTML beside it (one cell under each bucket, gridlines at fixed fractions), so
that they keep their size on a phone rather than shrink with the drawing; no inline style is
needed (the CSP allows none). Each bucket is a column with a ``<title>``: hovering (or
a long press) shows its numbers.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

#: The drawing's own coordinates (stretched to the box by the browser).
WIDTH = 1000
HEIGHT = 200
TICKS = 4
#: Periods longer than this many days are charted by month.
MONTHLY_AFTER_DAYS = 92
#: At most this many labels on the time axis (every other one is hidden on narrow screens).
MAX_LABELS = 8
#: What the chart can draw, by the name of the headline number that switches to it.
METRICS = {"visitors": "Visitors", "pageviews": "Page views"}
DEFAULT_METRIC = "visitors"
FORMATS = {"hour": ("%H:%M", "%Y-%m-%d %H:%M"), "day": ("%b %d", "%Y-%m-%d"), "month": ("%b %Y", "%Y-%m")}


@dataclass
class Bucket:
    start: datetime
    end: datetime
    visitors: int
    pageviews: int
    #: The previous period's visitors in the bucket at the same position (None: not known).
    previous: int | None
    #: "done", "partial" (under way) or "future".
    state: str
    label: str

    def value(self, metric: str) -> int:
        return getattr(self, metric)


@dataclass
class Chart:
    metric: str
    label: str
    done: str  # polyline points of the finished buckets
    partial: str  # the segment to the bucket under way, drawn dashed
    area: str  # polygon under the finished buckets' line
    previous: str  # the previous period's visitors, drawn faint
    ticks: list[tuple[float, str]]  # (percent from the top, label) on the value axis
    labels: list[tuple[str, bool]]  # (label or "", minor) under each bucket on the time axis
    columns: list[tuple[float, float, str]]  # (x, width, tooltip) of each bucket


#: Gridline spacings: 1, 1.5, 2, 2.5, 3, 5, 7.5 × a power of ten, when a whole number.
_STEPS = sorted(
    int(m * 10**e) for m in (1, 1.5, 2, 2.5, 3, 5, 7.5) for e in range(16) if float(m * 10**e).is_integer()
)


def _nice_max(value: int) -> int:
    """The smallest top ≥ ``value`` whose gridlines fall on round whole numbers."""
    return next(TICKS * step for step in _STEPS if TICKS * step >= value)


def grain(days: int, hourly: bool) -> str:
    """The chart's bucket for a period of ``days`` days."""
    if hourly:
        return "hour"
    return "month" if days > MONTHLY_AFTER_DAYS else "day"


def _next_month(start: datetime) -> datetime:
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def buckets(points, previous: list[int] | None, kind: str, period_end: datetime, now: datetime) -> list[Bucket]:
    """The chart's buckets from the report's points (hourly or daily, local, naive) and the
    previous period's visitors by position; ``now``: local, naive."""
    groups: list[list] = []  # [start, end, visitors, pageviews, previous]
    for i, point in enumerate(points):
        before = previous[i] if previous is not None and i < len(previous) else None
        start = point.start
        if kind == "month":
            start = start.replace(day=1, hour=0, minute=0)
        if groups and groups[-1][0] == start:
            group = groups[-1]
            group[2] += point.visitors
            group[3] += point.pageviews
            group[4] = None if before is None or group[4] is None else group[4] + before
            continue
        groups.append([start, None, point.visitors, point.pageviews, before])
    for i, group in enumerate(groups):
        if i + 1 < len(groups):
            group[1] = groups[i + 1][0]
        elif kind == "hour":
            group[1] = group[0] + timedelta(hours=1)
        else:
            group[1] = min(period_end, _next_month(group[0]) if kind == "month" else group[0] + timedelta(days=1))
    long_format = FORMATS[kind][1]
    return [
        Bucket(start, end, visitors, pageviews, before,
               "future" if start > now else "partial" if now < end else "done", start.strftime(long_format))
        for start, end, visitors, pageviews, before in groups
    ]


def line_chart(found: list[Bucket], kind: str, metric: str = DEFAULT_METRIC) -> Chart:
    """Geometry of ``metric`` over the buckets (and the previous period's visitors, when the
    metric is visitors)."""
    count = max(len(found), 1)
    shown = [b for b in found if b.state != "future"]
    compare = metric == "visitors" and any(b.previous is not None for b in found)
    values = [b.value(metric) for b in shown] + ([b.previous or 0 for b in found] if compare else [])
    top = _nice_max(max(values + [1]))
    column = WIDTH / count

    def x(i: float) -> float:
        return column * (i + 0.5)

    def y(value: int) -> float:
        return HEIGHT - HEIGHT * value / top

    def line(pairs) -> str:
        return " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in pairs)

    done = [(i, b.value(metric)) for i, b in enumerate(found) if b.state == "done"]
    partial: list[tuple[float, int]] = [(i, b.value(metric)) for i, b in enumerate(found) if b.state == "partial"]
    if partial and done and done[-1][0] == partial[0][0] - 1:
        partial.insert(0, done[-1])
    if len(partial) == 1:  # nothing before it: a flat stub, so that it shows
        i, v = partial[0]
        partial = [(i - 0.3, v), (i + 0.3, v)]
    area = f"{x(done[0][0]):.1f},{HEIGHT} {line(done)} {x(done[-1][0]):.1f},{HEIGHT}" if done else ""
    previous = line((i, b.previous or 0) for i, b in enumerate(found)) if compare else ""
    ticks = [(100.0 * (1 - k / TICKS), f"{top * k // TICKS:,}") for k in range(TICKS + 1)]
    step = -(-len(found) // MAX_LABELS) if found else 1
    short = FORMATS[kind][0]
    labels = [
        (b.start.strftime(short), (i // step) % 2 == 1) if i % step == 0 else ("", False) for i, b in enumerate(found)
    ]
    columns = [(column * i, column, _tooltip(b, kind)) for i, b in enumerate(found)]
    return Chart(metric, METRICS[metric], line(done), line(partial), area, previous, ticks, labels, columns)


def _tooltip(bucket: Bucket, kind: str) -> str:
    if bucket.state == "future":
        return f"{bucket.label}: still to come"
    text = f"{bucket.label}: {bucket.visitors:,} visitor{'s' if bucket.visitors != 1 else ''}, {bucket.pageviews:,} page view{'s' if bucket.pageviews != 1 else ''}"
    if bucket.previous is not None:
        text += f" (previous period: {bucket.previous:,} visitors)"
    if bucket.state == "partial":
        text += f"; this {kind} is not over"
    return text
