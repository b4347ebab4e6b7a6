from datetime import datetime, timedelta

import pytest

from tracking.charts import buckets, grain, line_chart
from tracking.reports.results import Point

JAN = datetime(2026, 1, 1)


def daily(values, start=JAN, pageviews=None):
    return [Point(start + timedelta(days=i), v, (pageviews or values)[i]) for i, v in enumerate(values)]


def ys(points: str) -> list[float]:
    return [float(pair.split(",")[1]) for pair in points.split()]


@pytest.mark.parametrize(("peak", "labels"), [
    (3, ["0", "1", "2", "3", "4"]),
    (5, ["0", "2", "4", "6", "8"]),
    (41, ["0", "15", "30", "45", "60"]),
    (123, ["0", "50", "100", "150", "200"]),
    (9_999, ["0", "2,500", "5,000", "7,500", "10,000"]),
])
def test_value_axis_has_round_gridlines_above_the_peak(peak, labels):
    points = [Point(JAN + timedelta(days=i), visitors=peak // 2, pageviews=peak if i == 1 else 0) for i in range(3)]
    found = buckets(points, None, "day", JAN + timedelta(days=3), now=datetime(2026, 2, 1))
    chart = line_chart(found, "day", "pageviews")
    assert [label for _, label in chart.ticks] == labels
    assert min(ys(chart.done)) >= 0  # the peak stays inside the drawing
    assert [label for label, _ in chart.labels] == ["Jan 01", "Jan 02", "Jan 03"]


def test_previous_period_line_is_drawn_and_fits_the_axis():
    before = daily([40, 10, 0, 99], start=JAN - timedelta(days=4), pageviews=[1, 1, 1, 1])
    found = buckets(daily([2, 2, 2]), before, "day", JAN + timedelta(days=3), now=datetime(2026, 2, 1))
    chart = line_chart(found, "day")
    assert chart.ticks[-1][1] == "40"  # the previous peak of 40 sets the top; the 99 is past the period
    assert len(chart.previous.split()) == 3  # aligned by position, cut to this period's length
    assert "previous period: 40 visitors" in chart.columns[0][2]
    assert line_chart(found, "day", "pageviews").ticks[-1][1] == "4"  # the previous page views: 1 a day
    assert "previous period: 1 page views" in line_chart(found, "day", "pageviews").columns[0][2]


def test_hours_still_to_come_are_not_drawn_and_the_current_one_is_apart():
    """Today at 14:20: 14 finished hours drawn solid, 14:00 dashed from 13:00, nothing after."""
    hours = [Point(JAN + timedelta(hours=h), 5 if h < 15 else 0, 9 if h < 15 else 0) for h in range(24)]
    found = buckets(hours, None, "hour", JAN + timedelta(days=1), now=JAN + timedelta(hours=14, minutes=20))
    assert [b.state for b in found].count("done") == 14
    assert found[14].state == "partial" and all(b.state == "future" for b in found[15:])
    chart = line_chart(found, "hour")
    assert len(chart.done.split()) == 14
    assert len(chart.partial.split()) == 2  # 13:00 → 14:00, dashed
    assert chart.columns[20][2] == "2026-01-01 20:00: still to come"
    assert "this hour is not over" in chart.columns[14][2]


def test_a_year_is_charted_by_month_with_every_day_counted():
    start = datetime(2025, 1, 2)
    points = daily([1] * 365, start=start)
    assert grain(365, hourly=False) == "month" and grain(30, hourly=False) == "day" and grain(1, hourly=True) == "hour"
    found = buckets(points, daily([2] * 365, start=start - timedelta(days=365)), "month", start + timedelta(days=365),
                    now=datetime(2025, 12, 20, 10))
    assert len(found) == 13  # Jan (from the 2nd) ... Dec, and Jan 1 2026
    assert [b.visitors for b in found][:3] == [30, 28, 31]
    assert sum(b.visitors for b in found) == 365 and found[0].previous == 60
    assert found[-2].state == "partial" and found[-1].state == "future"
    chart = line_chart(found, "month")
    labelled = [label for label, _ in chart.labels if label]
    assert labelled[0] == "Jan 2025" and len(labelled) <= 8


def test_a_day_with_no_finished_bucket_shows_a_stub_for_the_one_under_way():
    found = buckets(daily([4]), None, "day", JAN + timedelta(days=1), now=JAN + timedelta(hours=9))
    chart = line_chart(found, "day")
    assert chart.done == "" and chart.area == "" and len(chart.partial.split()) == 2


def test_a_bucket_without_visits_is_a_gap_in_a_ratio_and_zero_in_a_count():
    days = [Point(JAN + timedelta(days=i), 1, 2, visits, bounces, 60 * visits)
            for i, (visits, bounces) in enumerate([(2, 1), (0, 0), (4, 4), (1, 0)])]
    found = buckets(days, None, "day", JAN + timedelta(days=4), now=datetime(2026, 2, 1))
    rate = line_chart(found, "day", "bounce_rate")
    assert [len(segment.split()) for segment in rate.segments] == [1, 2]  # Jan 2 had no visits: a gap
    assert len(rate.areas) == 2
    assert [label for _, label in rate.ticks] == ["0%", "25%", "50%", "75%", "100%"]
    assert "bounce rate: —" in rate.columns[1][2] and "bounce rate: 50.0%" in rate.columns[0][2]
    visits = line_chart(found, "day", "visits")
    assert len(visits.segments) == 1 and len(visits.done.split()) == 4  # a count of 0 is drawn at 0
    assert max(ys(visits.done)) == 200.0


def test_duration_and_views_per_visit_axes():
    days = [Point(JAN + timedelta(days=i), 1, views, 1, 0, seconds) for i, (views, seconds) in enumerate([(3, 100), (1, 400)])]
    found = buckets(days, None, "day", JAN + timedelta(days=2), now=datetime(2026, 2, 1))
    assert [label for _, label in line_chart(found, "day", "average_duration").ticks] == ["0s", "2m", "4m", "6m", "8m"]
    assert "visit duration: 6m 40s" in line_chart(found, "day", "average_duration").columns[1][2]
    assert [label for _, label in line_chart(found, "day", "views_per_visit").ticks] == ["0", "0.75", "1.5", "2.25", "3"]
    small = buckets([Point(JAN, 1, 3, 2)], None, "day", JAN + timedelta(days=1), now=datetime(2026, 2, 1))
    assert [label for _, label in line_chart(small, "day", "views_per_visit").ticks] == ["0", "0.5", "1", "1.5", "2"]


def test_a_funnels_bars_are_scaled_to_its_first_step():
    from tracking.charts import HEIGHT, WIDTH, funnel_chart

    bars = funnel_chart([200, 100, 0])
    assert [(bar.top, bar.before) for bar in bars] == [(0.0, 0.0), (HEIGHT / 2, 0.0), (HEIGHT, HEIGHT / 2)]
    assert all(bar.x >= n * WIDTH / 3 and bar.x + bar.width <= (n + 1) * WIDTH / 3 for n, bar in enumerate(bars))
    assert [bar.top for bar in funnel_chart([0, 0])] == [HEIGHT, HEIGHT]  # no visitors: no bar, no division by 0
    assert funnel_chart([]) == []
