"""Every period key, pinned to dates worked out by hand: its first and last day, its length, the
period it is compared with, and its bounds in UTC — on a plain day and on the days Paris changes
its clocks. Expected values are literals, never recomputed with the code's own arithmetic."""

from datetime import date, datetime

import pytest

from tracking.reports.periods import Period, day_from, period_from

PLAIN = date(2026, 5, 14)  # a Thursday; Paris on summer time (UTC+2)
SPRING = date(2026, 3, 29)  # Paris skips 02:00-03:00: a day of 23 hours
AUTUMN = date(2026, 10, 25)  # Paris repeats 02:00-03:00: a day of 25 hours
D = date

# (today, query, first day, day after the last, days, previous: first day, day after the last)
PINS = [
    (PLAIN, {}, D(2026, 4, 15), D(2026, 5, 15), 30, D(2026, 3, 16), D(2026, 4, 15)),
    (PLAIN, {"period": "today"}, D(2026, 5, 14), D(2026, 5, 15), 1, D(2026, 5, 13), D(2026, 5, 14)),
    (PLAIN, {"period": "yesterday"}, D(2026, 5, 13), D(2026, 5, 14), 1, D(2026, 5, 12), D(2026, 5, 13)),
    (PLAIN, {"period": "7d"}, D(2026, 5, 8), D(2026, 5, 15), 7, D(2026, 5, 1), D(2026, 5, 8)),
    (PLAIN, {"period": "30d"}, D(2026, 4, 15), D(2026, 5, 15), 30, D(2026, 3, 16), D(2026, 4, 15)),
    (PLAIN, {"period": "month"}, D(2026, 5, 1), D(2026, 5, 15), 14, D(2026, 4, 1), D(2026, 4, 15)),
    (PLAIN, {"period": "lastmonth"}, D(2026, 4, 1), D(2026, 5, 1), 30, D(2026, 3, 1), D(2026, 4, 1)),
    (PLAIN, {"period": "12mo"}, D(2025, 5, 15), D(2026, 5, 15), 365, D(2024, 5, 15), D(2025, 5, 15)),
    (PLAIN, {"period": "custom", "from": "2026-05-01", "to": "2026-05-10"},
     D(2026, 5, 1), D(2026, 5, 11), 10, D(2026, 4, 21), D(2026, 5, 1)),
    (PLAIN, {"period": "custom", "from": "2026-05-14", "to": "2026-05-14"},
     D(2026, 5, 14), D(2026, 5, 15), 1, D(2026, 5, 13), D(2026, 5, 14)),
    # The longest custom range: 1,098 days (three years of 366).
    (PLAIN, {"period": "custom", "from": "2023-05-13", "to": "2026-05-14"},
     D(2023, 5, 13), D(2026, 5, 15), 1098, D(2020, 5, 10), D(2023, 5, 13)),
    (PLAIN, {"period": "custom", "from": "1970-01-01", "to": "1970-01-01"},
     D(1970, 1, 1), D(1970, 1, 2), 1, D(1969, 12, 31), D(1970, 1, 1)),
    (PLAIN, {"period": "custom", "from": "9999-12-30", "to": "9999-12-30"},
     D(9999, 12, 30), D(9999, 12, 31), 1, D(9999, 12, 29), D(9999, 12, 30)),
    # Summer time begins.
    (SPRING, {"period": "today"}, D(2026, 3, 29), D(2026, 3, 30), 1, D(2026, 3, 28), D(2026, 3, 29)),
    (SPRING, {"period": "yesterday"}, D(2026, 3, 28), D(2026, 3, 29), 1, D(2026, 3, 27), D(2026, 3, 28)),
    (SPRING, {"period": "7d"}, D(2026, 3, 23), D(2026, 3, 30), 7, D(2026, 3, 16), D(2026, 3, 23)),
    (SPRING, {"period": "30d"}, D(2026, 2, 28), D(2026, 3, 30), 30, D(2026, 1, 29), D(2026, 2, 28)),
    (SPRING, {"period": "month"}, D(2026, 3, 1), D(2026, 3, 30), 29, D(2026, 2, 1), D(2026, 3, 1)),
    (SPRING, {"period": "lastmonth"}, D(2026, 2, 1), D(2026, 3, 1), 28, D(2026, 1, 1), D(2026, 2, 1)),
    (SPRING, {"period": "12mo"}, D(2025, 3, 30), D(2026, 3, 30), 365, D(2024, 3, 30), D(2025, 3, 30)),
    # Summer time ends.
    (AUTUMN, {"period": "today"}, D(2026, 10, 25), D(2026, 10, 26), 1, D(2026, 10, 24), D(2026, 10, 25)),
    (AUTUMN, {"period": "7d"}, D(2026, 10, 19), D(2026, 10, 26), 7, D(2026, 10, 12), D(2026, 10, 19)),
    (AUTUMN, {"period": "30d"}, D(2026, 9, 26), D(2026, 10, 26), 30, D(2026, 8, 27), D(2026, 9, 26)),
    (AUTUMN, {"period": "month"}, D(2026, 10, 1), D(2026, 10, 26), 25, D(2026, 9, 1), D(2026, 9, 26)),
    (AUTUMN, {"period": "lastmonth"}, D(2026, 9, 1), D(2026, 10, 1), 30, D(2026, 8, 1), D(2026, 9, 1)),
    (AUTUMN, {"period": "12mo"}, D(2025, 10, 26), D(2026, 10, 26), 365, D(2024, 10, 26), D(2025, 10, 26)),
    # Month ends and a leap day.
    (D(2026, 3, 31), {"period": "month"}, D(2026, 3, 1), D(2026, 4, 1), 31, D(2026, 2, 1), D(2026, 3, 1)),
    (D(2026, 3, 31), {"period": "lastmonth"}, D(2026, 2, 1), D(2026, 3, 1), 28, D(2026, 1, 1), D(2026, 2, 1)),
    (D(2028, 2, 29), {"period": "12mo"}, D(2027, 3, 1), D(2028, 3, 1), 366, D(2026, 3, 1), D(2027, 3, 1)),
    (D(2026, 1, 15), {"period": "lastmonth"}, D(2025, 12, 1), D(2026, 1, 1), 31, D(2025, 11, 1), D(2025, 12, 1)),
]


@pytest.mark.parametrize(("today", "query", "start", "end", "days", "before_start", "before_end"), PINS)
def test_period_and_the_one_it_is_compared_with(today, query, start, end, days, before_start, before_end):
    period = period_from(query, today)
    assert (period.key, period.start, period.end, period.days) == (query.get("period", "30d"), start, end, days)
    assert period.corrected == ""
    previous = period.previous()
    assert (previous.start, previous.end) == (before_start, before_end)


@pytest.mark.parametrize(
    ("today", "query", "start", "end"),
    [
        # Paris is UTC+2 in summer, UTC+1 in winter: a local day starts at 22:00 or 23:00 UTC.
        (PLAIN, {"period": "today"}, datetime(2026, 5, 13, 22), datetime(2026, 5, 14, 22)),
        (PLAIN, {"period": "30d"}, datetime(2026, 4, 14, 22), datetime(2026, 5, 14, 22)),
        (PLAIN, {"period": "lastmonth"}, datetime(2026, 3, 31, 22), datetime(2026, 4, 30, 22)),
        (SPRING, {"period": "today"}, datetime(2026, 3, 28, 23), datetime(2026, 3, 29, 22)),  # 23 hours
        (SPRING, {"period": "yesterday"}, datetime(2026, 3, 27, 23), datetime(2026, 3, 28, 23)),
        (SPRING, {"period": "7d"}, datetime(2026, 3, 22, 23), datetime(2026, 3, 29, 22)),
        (SPRING, {"period": "12mo"}, datetime(2025, 3, 29, 23), datetime(2026, 3, 29, 22)),
        (AUTUMN, {"period": "today"}, datetime(2026, 10, 24, 22), datetime(2026, 10, 25, 23)),  # 25 hours
        (AUTUMN, {"period": "lastmonth"}, datetime(2026, 8, 31, 22), datetime(2026, 9, 30, 22)),
        (PLAIN, {"period": "custom", "from": "9999-12-30", "to": "9999-12-30"}, datetime(9999, 12, 29, 23), datetime(9999, 12, 30, 23)),
    ],
)
def test_bounds_in_utc(today, query, start, end):
    assert period_from(query, today).bounds("Europe/Paris") == (start, end)


def test_only_periods_of_up_to_two_days_are_charted_by_the_hour():
    hourly = {key: period_from({"period": key}, PLAIN).hourly for key in ("today", "yesterday", "7d", "30d", "month", "12mo")}
    assert hourly == {"today": True, "yesterday": True, "7d": False, "30d": False, "month": False, "12mo": False}
    two = period_from({"period": "custom", "from": "2026-05-01", "to": "2026-05-02"}, PLAIN)
    three = period_from({"period": "custom", "from": "2026-05-01", "to": "2026-05-03"}, PLAIN)
    assert (two.hourly, three.hourly) == (True, False)
    assert two.label == "2026-05-01 – 2026-05-02"


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ({"period": "custom", "from": "2026-05-10", "to": "2026-05-01"}, "The custom range ends before it starts"),
        ({"period": "custom", "from": "2023-05-12", "to": "2026-05-14"}, "A custom range is at most 1098 days long"),  # 1,099 days
        ({"period": "custom", "from": "0001-01-01", "to": "0001-01-05"}, "Custom dates lie between 1970-01-01 and 9999-12-30"),
        ({"period": "custom", "from": "1969-12-31", "to": "1970-01-05"}, "Custom dates lie between 1970-01-01 and 9999-12-30"),
        ({"period": "custom", "from": "9999-12-30", "to": "9999-12-31"}, "Custom dates lie between 1970-01-01 and 9999-12-30"),
        ({"period": "custom", "from": "2026-05-01"}, "A custom range needs two dates (YYYY-MM-DD)"),
        ({"period": "custom", "from": "2026-02-30", "to": "2026-03-01"}, "A custom range needs two dates (YYYY-MM-DD)"),
        ({"period": "custom", "from": "20260501", "to": "20260502"}, "A custom range needs two dates (YYYY-MM-DD)"),
        ({"period": "custom", "from": "2026-05-01\x00", "to": "2026-05-02"}, "A custom range needs two dates (YYYY-MM-DD)"),
        ({"period": "90d"}, "There is no such period"),
        ({"period": ""}, "There is no such period"),
    ],
)
def test_an_unusable_period_falls_back_to_the_last_30_days_and_says_why(query, why):
    period = period_from(query, PLAIN)
    assert (period.key, period.start, period.end) == ("30d", D(2026, 4, 15), D(2026, 5, 15))
    assert period.corrected == f"{why}: showing the last 30 days instead."
    assert period.previous().corrected == ""  # the note is the shown period's, not the comparison's
    assert period == Period("30d", D(2026, 4, 15), D(2026, 5, 15))  # the same period as asked for by name


@pytest.mark.parametrize(
    ("value", "day", "noted"),
    [
        (None, None, False),
        ("", None, False),
        ("2026-03-29", D(2026, 3, 29), False),
        ("1970-01-01", D(1970, 1, 1), False),
        ("9999-12-30", D(9999, 12, 30), False),
        ("9999-12-31", None, True),
        ("0001-01-01", None, True),
        ("2026-13-45", None, True),
        ("garbage", None, True),
    ],
)
def test_the_visit_log_day(value, day, noted):
    found, note = day_from(value)
    assert found == day and bool(note) is noted
