from datetime import datetime, timedelta

import pytest

from tracking.charts import line_chart
from tracking.reports.results import Point


@pytest.mark.parametrize(("peak", "labels"), [
    (3, ["0", "1", "2", "3", "4"]),
    (5, ["0", "2", "4", "6", "8"]),
    (41, ["0", "15", "30", "45", "60"]),
    (123, ["0", "50", "100", "150", "200"]),
    (9_999, ["0", "2,500", "5,000", "7,500", "10,000"]),
])
def test_value_axis_has_round_gridlines_above_the_peak(peak, labels):
    start = datetime(2026, 1, 1)
    points = [Point(start + timedelta(days=i), visitors=peak // 2, pageviews=peak if i == 1 else 0) for i in range(3)]
    chart = line_chart(points, [], hourly=False)
    assert [label for _, label in chart.ticks] == labels
    top_y = chart.ticks[-1][0]
    ys = [float(pair.split(",")[1]) for pair in chart.pageviews.split()]
    assert min(ys) >= top_y - 0.05  # the peak stays inside the chart
    assert [label for _, label in chart.labels] == ["Jan 01", "Jan 02", "Jan 03"]


def test_previous_period_line_is_drawn_and_fits_the_axis():
    start = datetime(2026, 1, 1)
    points = [Point(start + timedelta(days=i), visitors=2, pageviews=3) for i in range(3)]
    chart = line_chart(points, [40, 10, 0, 99], hourly=False)
    assert chart.ticks[-1][1] == "40"  # the previous peak of 40 sets the top; the 99 is past the period
    assert len(chart.previous.split()) == 3  # aligned by position, cut to this period's length
