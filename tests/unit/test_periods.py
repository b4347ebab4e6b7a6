"""The local-day cache the beacon uses gives what the plain conversion gives."""

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tracking.timezones import LocalDays, local_day

ZONES = ["Europe/Paris", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe", "America/Santiago", "UTC"]


def test_a_clock_crossing_midnight_and_summer_time_changes_days_where_the_zone_does():
    days = LocalDays()
    # Paris, 2026-03-29: the clocks skip 02:00-03:00, and local midnight is 22:00 or 23:00 UTC.
    start = datetime(2026, 3, 28, 20, 0)
    for minute in range(0, 2 * 24 * 60, 7):
        ts = start + timedelta(minutes=minute)
        assert days(ts, "Europe/Paris") == local_day(ts, "Europe/Paris"), ts


@given(
    st.lists(
        st.tuples(
            st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1)),
            st.sampled_from(ZONES),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_any_sequence_of_timestamps_and_zones(stamps):
    days = LocalDays()
    for ts, zone in stamps:
        assert days(ts, zone) == local_day(ts, zone)
        # the same again, now from the kept bounds
        assert days(ts, zone) == local_day(ts, zone)


def test_now_is_naive_utc_to_the_microsecond():
    from datetime import UTC

    from tracking.models.types import utcnow

    before = datetime.now(UTC).replace(tzinfo=None)
    now = utcnow()
    after = datetime.now(UTC).replace(tzinfo=None)
    assert now.tzinfo is None
    assert before <= now <= after
