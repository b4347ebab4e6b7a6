"""Server-rendered line charts: geometry for an SVG template, no JavaScript, no CDN."""

from dataclasses import dataclass

WIDTH = 800
HEIGHT = 220
PAD_LEFT = 48
PAD_BOTTOM = 24
PAD_TOP = 10


@dataclass
class Chart:
    width: int
    height: int
    visitors: str  # polyline points
    pageviews: str
    previous: str  # the previous period's visitors, drawn faint
    area: str  # polygon under the visitors line
    ticks: list[tuple[float, str]]  # (y, label) on the value axis
    labels: list[tuple[float, str]]  # (x, label) on the time axis
    baseline: float


TICKS = 4


#: Gridline spacings: 1, 1.5, 2, 2.5, 3, 5, 7.5 × a power of ten, when a whole number.
_STEPS = sorted(
    int(m * 10**e) for m in (1, 1.5, 2, 2.5, 3, 5, 7.5) for e in range(16) if float(m * 10**e).is_integer()
)


def _nice_max(value: int) -> int:
    """The smallest top ≥ ``value`` whose gridlines fall on round whole numbers."""
    return next(TICKS * step for step in _STEPS if TICKS * step >= value)


def line_chart(points, previous: list[int], hourly: bool) -> Chart:
    """Geometry of visitors (and page views) over time; ``previous``: the visitors of the
    previous period, aligned by position."""
    count = max(len(points), 1)
    previous = previous[: len(points)]
    top = _nice_max(max([p.pageviews for p in points] + previous + [1]))
    plot_w = WIDTH - PAD_LEFT - 8
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    baseline = PAD_TOP + plot_h

    def x(i: int) -> float:
        return PAD_LEFT + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y(value: int) -> float:
        return baseline - plot_h * value / top

    def line(values) -> str:
        return " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))

    visitors = line(p.visitors for p in points)
    area = f"{x(0):.1f},{baseline:.1f} {visitors} {x(len(points) - 1):.1f},{baseline:.1f}" if points else ""
    ticks = [(y(top * k // TICKS), f"{top * k // TICKS:,}") for k in range(TICKS + 1)]
    step = max(1, len(points) // 6)
    fmt = "%H:%M" if hourly else "%b %d"
    labels = [(x(i), points[i].start.strftime(fmt)) for i in range(0, len(points), step)]
    return Chart(
        WIDTH, HEIGHT, visitors, line(p.pageviews for p in points), line(previous),
        area, ticks, labels, baseline,
    )
