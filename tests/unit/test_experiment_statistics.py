"""The experiments' statistics (src/tracking/reports/experiments.py) against a published worked
example and against scipy's independent implementations."""

import pytest

from tracking.reports import experiments as ex

scipy_stats = pytest.importorskip("scipy.stats")
contingency = pytest.importorskip("scipy.stats.contingency")

CASES = [(81, 263, 60, 250), (15, 148, 9, 150), (120, 1000, 100, 1000), (3, 40, 1, 35), (500, 5000, 430, 5010)]


def test_wilson_worked_example():
    # Newcombe, "Two-sided confidence intervals for the single proportion" (Statistics in
    # Medicine, 1998), table I: 81/263, Wilson score interval 0.2553 to 0.3662.
    low, high = ex.wilson_interval(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


@pytest.mark.parametrize("k,n", [(81, 263), (0, 20), (20, 20), (1, 1), (7, 1000), (512, 1000)])
def test_wilson_matches_scipy(k, n):
    expected = scipy_stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert ex.wilson_interval(k, n) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_wilson_without_visitors():
    assert ex.wilson_interval(0, 0) is None


@pytest.mark.parametrize("k,n,k0,n0", CASES)
def test_uplift_interval_matches_scipy_relative_risk(k, n, k0, n0):
    expected = contingency.relative_risk(k, n, k0, n0).confidence_interval(confidence_level=0.95)
    low, high = ex.uplift_interval(k, n, k0, n0)
    assert (low + 1, high + 1) == pytest.approx((expected.low, expected.high), rel=1e-9)


def test_uplift_interval_needs_conversions_on_both_sides():
    assert ex.uplift_interval(0, 100, 5, 100) is None
    assert ex.uplift_interval(5, 100, 0, 100) is None


@pytest.mark.parametrize("k,n,k0,n0", CASES)
def test_probability_to_beat_is_the_two_proportion_test(k, n, k0, n0):
    # The pooled z test squared is Pearson's chi-square without continuity correction.
    table = [[k, n - k], [k0, n0 - k0]]
    _, p_two_sided, _, _ = scipy_stats.chi2_contingency(table, correction=False)
    probability = ex.probability_to_beat(k, n, k0, n0)
    assert 2 * min(probability, 1 - probability) == pytest.approx(p_two_sided, rel=1e-9)
    assert (probability > 0.5) == (k / n > k0 / n0)


def test_probability_undefined_without_variation():
    assert ex.probability_to_beat(0, 100, 0, 100) is None
    assert ex.probability_to_beat(3, 0, 3, 10) is None


def _power(p0, p1, n):
    """The power of the two-sided pooled test at α 0.05 with n per variant (scipy's normal)."""
    norm = scipy_stats.norm
    mean = (p0 + p1) / 2
    se0 = (2 * mean * (1 - mean) / n) ** 0.5
    se1 = ((p0 * (1 - p0) + p1 * (1 - p1)) / n) ** 0.5
    return norm.cdf((abs(p1 - p0) - norm.ppf(0.975) * se0) / se1)


@pytest.mark.parametrize("p0,p1", [(0.10, 0.12), (0.05, 0.04), (0.3, 0.5), (0.5, 0.51)])
def test_sample_size_is_the_smallest_with_80_percent_power(p0, p1):
    n = ex.sample_size(p0, p1)
    assert _power(p0, p1, n) >= 0.8 > _power(p0, p1, n - 1)


def test_sample_size_equal_rates_and_a_known_value():
    # 10 % against 12 %, two-sided α 0.05, 80 % power: 3,841 per variant by Fleiss's formula
    # without continuity correction (the power check above says it is the smallest enough).
    assert ex.sample_size(0.10, 0.12) == 3841
    assert ex.sample_size(0.1, 0.1) is None


def test_too_early_gives_no_verdict():
    result = ex.analyse({"A": (99, 50), "B": (500, 400)}, control="A")
    assert result.too_early and result.winner is None
    assert [v.verdict for v in result.variants] == ["", ""]
    result = ex.analyse({"A": (1000, 9), "B": (1000, 40)}, control="A")
    assert result.too_early  # 9 conversions in the control


def test_verdicts_and_winner():
    result = ex.analyse({"A": (1000, 100), "B": (1000, 140), "C": (1000, 98), "D": (1000, 60)}, control="A")
    assert not result.too_early
    control, b, c, d = result.variants
    assert control.is_control and control.verdict == "" and control.probability is None
    assert (b.verdict, c.verdict, d.verdict) == ("better", "unclear", "worse")
    assert result.winner is b
    assert b.uplift == pytest.approx(0.4)
    assert b.needed is not None and c.needed is not None and b.needed < c.needed


def test_control_without_visitors_is_listed():
    result = ex.analyse({"B": (10, 1)}, control="A")
    assert [(v.name, v.exposed, v.rate) for v in result.variants] == [("A", 0, None), ("B", 10, 0.1)]
    assert result.variants[1].uplift is None and result.variants[1].probability is None
