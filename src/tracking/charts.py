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


def _nice_max(value: int) -> int:
    if value <= 5:
        return 5
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 2.5, 5, 10):
        top = int(step * magnitude)
        if top >= value:
            return top
    return value


def line_chart(points, previous, hourly: bool) -> Chart:
    """Geometry of visitors (and page views) over time; ``previous`` aligned by position."""
    count = max(len(points), 1)
    top = _nice_max(max([p.pageviews for p in points] + [p.visitors for p in previous] + [1]))
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
    ticks = [(y(top * k / 4), f"{int(top * k / 4):,}") for k in range(5)]
    step = max(1, len(points) // 6)
    fmt = "%H:%M" if hourly else "%b %d"
    labels = [(x(i), points[i].start.strftime(fmt)) for i in range(0, len(points), step)]
    return Chart(
        WIDTH, HEIGHT, visitors, line(p.pageviews for p in points), line(p.visitors for p in previous[: len(points)]),
        area, ticks, labels, baseline,
    )
