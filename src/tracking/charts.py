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

Any headline metric can be drawn (:data:`METRICS`): counts (visitors, visits, page views) and
ratios of a bucket's visits (views per visit, bounce rate, visit duration). A ratio of a bucket
without visits is drawn as a **gap** in the line (and a dash in the table), never as 0: no
visits had no bounce rate, not a rate of 0 %. A month's ratio is that of its days' sums. The
value axis of a rate reads in percent, of a duration in hours, minutes and seconds.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from .reports.results import Totals

#: The drawing's own coordinates (stretched to the box by the browser).
WIDTH = 1000
HEIGHT = 200
TICKS = 4
#: Periods longer than this many days are charted by month.
MONTHLY_AFTER_DAYS = 92
#: At most this many labels on the time axis (every other one is hidden on narrow screens).
MAX_LABELS = 8
#: What the chart can draw, by the name of the headline number that switches to it.
METRICS = {
    "visitors": "Visitors",
    "visits": "Visits",
    "pageviews": "Page views",
    "views_per_visit": "Views per visit",
    "bounce_rate": "Bounce rate",
    "average_duration": "Visit duration",
}
DEFAULT_METRIC = "visitors"
#: Metrics that are ratios of a bucket's visits: a bucket without visits has none (a gap).
RATIOS = ("views_per_visit", "bounce_rate", "average_duration")
FORMATS = {"hour": ("%H:%M", "%Y-%m-%d %H:%M"), "day": ("%b %d", "%Y-%m-%d"), "month": ("%b %Y", "%Y-%m")}


#: The counts a bucket sums (every metric of :data:`METRICS` is one of them or a ratio of two).
COUNTS = ("visitors", "pageviews", "visits", "bounces", "duration")


@dataclass
class Counts(Totals):
    """A bucket's counts (of the period, or of the previous period at the same position), with
    the read side's ratios of them (:class:`~tracking.reports.results.Totals`)."""

    @classmethod
    def of(cls, point) -> "Counts":
        return cls(**{name: getattr(point, name, 0) for name in COUNTS})

    def add(self, other: "Counts") -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def value(self, metric: str) -> float | None:
        """``metric`` of the bucket; a ratio of a bucket without visits is ``None`` (drawn as a
        gap in the line, shown as a dash in the table: no visit had no duration, it had none)."""
        if metric in RATIOS and not self.visits:
            return None
        return getattr(self, metric)


@dataclass
class Bucket(Counts):
    start: datetime = datetime.min
    end: datetime = datetime.min
    #: The previous period's counts in the bucket at the same position (None: not known).
    before: Counts | None = None
    #: "done", "partial" (under way) or "future".
    state: str = "done"
    label: str = ""

    @property
    def previous(self) -> int | None:
        """The previous period's visitors."""
        return None if self.before is None else self.before.visitors

    def previous_value(self, metric: str) -> float | None:
        return None if self.before is None else self.before.value(metric)


@dataclass
class Chart:
    metric: str
    label: str
    segments: list[str]  # polyline points of the finished buckets, one line per run without gaps
    partial: str  # the segment to the bucket under way, drawn dashed
    areas: list[str]  # polygons under the finished buckets' lines
    previous_segments: list[str]  # the previous period's, drawn faint
    ticks: list[tuple[float, str]]  # (percent from the top, label) on the value axis
    labels: list[tuple[str, bool]]  # (label or "", minor) under each bucket on the time axis
    columns: list[tuple[float, float, str]]  # (x, width, tooltip) of each bucket

    @property
    def done(self) -> str:
        return " ".join(self.segments)

    @property
    def area(self) -> str:
        return " ".join(self.areas)

    @property
    def previous(self) -> str:
        return " ".join(self.previous_segments)


#: Gridline spacings: 1, 1.5, 2, 2.5, 3, 5, 7.5 × a power of ten, when a whole number.
_STEPS = sorted(
    int(m * 10**e) for m in (1, 1.5, 2, 2.5, 3, 5, 7.5) for e in range(16) if float(m * 10**e).is_integer()
)
#: Gridline spacings of a duration axis, in seconds.
_DURATION_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400)


def _nice_max(value: float, metric: str = DEFAULT_METRIC) -> float:
    """The smallest top ≥ ``value`` whose gridlines fall on round numbers (whole numbers;
    hundredths for views per visit; whole minutes or hours for durations)."""
    if metric == "views_per_visit":
        return _nice_max(math.ceil(value * 100 - 1e-9)) / 100
    if metric == "average_duration" and value <= TICKS * _DURATION_STEPS[-1]:
        return next(TICKS * step for step in _DURATION_STEPS if TICKS * step >= value)
    return next(TICKS * step for step in _STEPS if TICKS * step >= value)


def tick_label(value: float, metric: str) -> str:
    """A gridline's label: a number, a percentage or a duration."""
    if metric == "bounce_rate":
        return f"{value:g}%"
    if metric == "average_duration":
        seconds = round(value)
        hours, rest = divmod(seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{seconds}s" if seconds else ""]
        return " ".join(part for part in parts if part) or "0s"
    if metric == "views_per_visit":
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{round(value):,}"


def grain(days: int, hourly: bool) -> str:
    """The chart's bucket for a period of ``days`` days."""
    if hourly:
        return "hour"
    return "month" if days > MONTHLY_AFTER_DAYS else "day"


def _next_month(start: datetime) -> datetime:
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def buckets(points, previous: list | None, kind: str, period_end: datetime, now: datetime) -> list[Bucket]:
    """The chart's buckets from the report's points (hourly or daily, local, naive) and the
    previous period's points by position (their counts; their dates are not read); ``now``:
    local, naive. Month buckets sum the counts of their days, ratios are of the sums."""
    found: list[Bucket] = []
    for i, point in enumerate(points):
        before = Counts.of(previous[i]) if previous is not None and i < len(previous) else None
        start = point.start
        if kind == "month":
            start = start.replace(day=1, hour=0, minute=0)
        if found and found[-1].start == start:
            bucket = found[-1]
            bucket.add(Counts.of(point))
            if before is None or bucket.before is None:
                bucket.before = None
            else:
                bucket.before.add(before)
            continue
        bucket = Bucket(start=start, before=before)
        bucket.add(Counts.of(point))
        found.append(bucket)
    long_format = FORMATS[kind][1]
    for i, bucket in enumerate(found):
        if i + 1 < len(found):
            bucket.end = found[i + 1].start
        elif kind == "hour":
            bucket.end = bucket.start + timedelta(hours=1)
        else:
            bucket.end = min(period_end, _next_month(bucket.start) if kind == "month" else bucket.start + timedelta(days=1))
        bucket.state = "future" if bucket.start > now else "partial" if now < bucket.end else "done"
        bucket.label = bucket.start.strftime(long_format)
    return found


def _runs(pairs: list[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Runs of consecutive (position, value) pairs without a gap (``None``)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for i, v in pairs:
        if v is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((i, v))
    return [run for run in runs if run]


def line_chart(found: list[Bucket], kind: str, metric: str = DEFAULT_METRIC) -> Chart:
    """Geometry of ``metric`` over the buckets and of the previous period's, behind it.

    A ratio (views per visit, bounce rate, visit duration) of a bucket without visits is a gap
    in the line, not a fall to 0 (see :meth:`Counts.value`); counts are drawn at 0."""
    count = max(len(found), 1)
    shown = [b for b in found if b.state != "future"]
    compare = any(b.before is not None for b in found)
    values = [b.value(metric) for b in shown] + ([b.previous_value(metric) for b in found] if compare else [])
    top = _nice_max(max([v for v in values if v is not None] + [0]) or 1, metric)
    column = WIDTH / count

    def x(i: float) -> float:
        return column * (i + 0.5)

    def y(value: float) -> float:
        return HEIGHT - HEIGHT * value / top

    def line(pairs) -> str:
        return " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in pairs)

    done: list[tuple[float, float | None]] = [(i, b.value(metric)) for i, b in enumerate(found) if b.state == "done"]
    partial: list[tuple[float, float | None]] = [(i, b.value(metric)) for i, b in enumerate(found) if b.state == "partial"]
    if partial and partial[0][1] is None:
        partial = []
    if partial and done and done[-1][0] == partial[0][0] - 1 and done[-1][1] is not None:
        partial.insert(0, done[-1])
    if len(partial) == 1:  # nothing before it: a flat stub, so that it shows
        i, v = partial[0]
        partial = [(i - 0.3, v), (i + 0.3, v)]
    runs = _runs(done)
    areas = [f"{x(run[0][0]):.1f},{HEIGHT} {line(run)} {x(run[-1][0]):.1f},{HEIGHT}" for run in runs]
    before: list[tuple[float, float | None]] = [(i, b.previous_value(metric)) for i, b in enumerate(found)]
    previous = [line(run) for run in _runs(before)] if compare else []
    ticks = [(100.0 * (1 - k / TICKS), tick_label(top * k / TICKS, metric)) for k in range(TICKS + 1)]
    step = -(-len(found) // MAX_LABELS) if found else 1
    short = FORMATS[kind][0]
    labels = [
        (b.start.strftime(short), (i // step) % 2 == 1) if i % step == 0 else ("", False) for i, b in enumerate(found)
    ]
    columns = [(column * i, column, _tooltip(b, kind, metric)) for i, b in enumerate(found)]
    return Chart(metric, METRICS[metric], [line(run) for run in runs], line(partial), areas, previous, ticks, labels,
                 columns)


def shown_value(value: float | None, metric: str) -> str:
    """A bucket's ``metric`` as the tooltip and the table show it (a dash: no visits)."""
    if value is None:
        return "—"
    if metric == "bounce_rate":
        return f"{value:.1f}%"
    if metric == "average_duration":
        return tick_label(value, metric)
    if metric == "views_per_visit":
        return f"{value:.2f}"
    return f"{round(value):,}"


def _tooltip(bucket: Bucket, kind: str, metric: str = DEFAULT_METRIC) -> str:
    if bucket.state == "future":
        return f"{bucket.label}: still to come"
    text = f"{bucket.label}: {bucket.visitors:,} visitor{'s' if bucket.visitors != 1 else ''}, {bucket.pageviews:,} page view{'s' if bucket.pageviews != 1 else ''}"
    if metric not in ("visitors", "pageviews"):
        text += f"; {METRICS[metric].lower()}: {shown_value(bucket.value(metric), metric)}"
    if bucket.before is not None:
        if metric == "visitors":
            text += f" (previous period: {bucket.before.visitors:,} visitors)"
        else:
            text += f" (previous period: {shown_value(bucket.previous_value(metric), metric)} {METRICS[metric].lower()})"
    if bucket.state == "partial":
        text += f"; this {kind} is not over"
    return text


@dataclass(frozen=True)
class FunnelBar:
    """One step's bar in the drawing's coordinates: ``x``, ``width``, the top of the step's own
    bar (``top``) and of the bar of the step before (``before``: the drop-off is drawn between
    them); heights run down to :data:`HEIGHT`."""

    x: float
    width: float
    top: float
    before: float


def funnel_chart(counts: list[int]) -> list[FunnelBar]:
    """The bars of a funnel whose steps had ``counts`` visitors: one column each, scaled to the
    first step (the largest: no step has more visitors than the one before)."""
    if not counts:
        return []
    most = max(max(counts), 1)
    column = WIDTH / len(counts)
    width = column * 0.7

    def top(count: int) -> float:
        return HEIGHT - HEIGHT * count / most

    return [
        FunnelBar(x=n * column + (column - width) / 2, width=width, top=top(count),
                  before=top(counts[n - 1]) if n else top(count))
        for n, count in enumerate(counts)
    ]
