"""The statistics of an A/B experiment: pure arithmetic on counts, no SQL, no views.

Each variant has *exposed* visitors (``n``) and *converting* visitors (``k``); the control is
one of the variants. For each variant:

* its **conversion rate** ``k / n`` with a 95 % **Wilson score interval** (better than the
  normal approximation near 0 % and 100 % and for small samples; it never leaves [0, 1]);
* its **relative uplift** against the control, ``rate / control rate − 1``, with the 95 %
  interval of the ratio of the two rates on the log scale (Katz's method, the one
  ``scipy.stats.contingency.relative_risk`` uses), minus one;
* its **probability to beat the control**: ``Φ(z)`` of the two-proportion z statistic with the
  pooled rate (``1 −`` the one-sided p-value of "no better than the control");
* the **sample size per variant** a two-sided test at α = 0.05 with 80 % power needs to detect
  the difference observed (normal approximation, Fleiss without continuity correction).

Below :data:`MIN_EXPOSED` exposed visitors or :data:`MIN_CONVERSIONS` converting visitors in
any variant, the experiment is *too early*: numbers are shown, no variant is called better or
worse. Looking every day and stopping at the first day a variant crosses 95 % ("peeking")
finds a winner much more often than 5 % of the time when there is none: decide the sample size
first, and read the verdict once it is reached.
"""

from dataclasses import dataclass
from math import exp, log, sqrt
from statistics import NormalDist

#: Each variant needs this many exposed visitors ...
MIN_EXPOSED = 100
#: ... and this many converting visitors before a verdict is given.
MIN_CONVERSIONS = 10
CONFIDENCE = 0.95
ALPHA = 0.05
POWER = 0.80
#: A variant is called better than the control when its probability to beat it reaches this
#: (and worse when it is at most ``1 -`` this).
DECISIVE = 0.95

_NORMAL = NormalDist()


def _z(confidence: float) -> float:
    return _NORMAL.inv_cdf(0.5 + confidence / 2)


def wilson_interval(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The Wilson score interval of the proportion ``k / n``; ``None`` when ``n`` is 0."""
    if n <= 0:
        return None
    z = _z(confidence)
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def uplift_interval(k: int, n: int, k0: int, n0: int,
                    confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The interval of ``(k / n) / (k0 / n0) − 1`` (Katz's log method); ``None`` when either
    variant has no conversions (the ratio's logarithm is then unbounded)."""
    if min(k, n, k0, n0) <= 0:
        return None
    ratio = (k / n) / (k0 / n0)
    se = sqrt(1 / k - 1 / n + 1 / k0 - 1 / n0)
    z = _z(confidence)
    return exp(log(ratio) - z * se) - 1, exp(log(ratio) + z * se) - 1


def probability_to_beat(k: int, n: int, k0: int, n0: int) -> float | None:
    """``Φ(z)`` of the pooled two-proportion z statistic of ``k / n`` against ``k0 / n0``;
    ``None`` without visitors in either, or when nobody (or everybody) converted in both."""
    if n <= 0 or n0 <= 0:
        return None
    pooled = (k + k0) / (n + n0)
    se = sqrt(pooled * (1 - pooled) * (1 / n + 1 / n0))
    if se == 0:
        return None
    return _NORMAL.cdf((k / n - k0 / n0) / se)


def sample_size(p0: float, p1: float, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Visitors per variant that a two-sided test at ``alpha`` needs to find a true difference
    between the rates ``p0`` and ``p1`` with probability ``power``; ``None`` when they are
    equal (no sample is enough)."""
    if p0 == p1:
        return None
    z_alpha = _NORMAL.inv_cdf(1 - alpha / 2)
    z_beta = _NORMAL.inv_cdf(power)
    mean = (p0 + p1) / 2
    root = z_alpha * sqrt(2 * mean * (1 - mean)) + z_beta * sqrt(p0 * (1 - p0) + p1 * (1 - p1))
    n = (root / (p1 - p0)) ** 2
    return int(n) if n == int(n) else int(n) + 1


@dataclass(frozen=True, slots=True)
class VariantResult:
    """One variant's numbers; the comparisons are ``None`` for the control."""

    name: str
    exposed: int
    converted: int
    is_control: bool
    rate: float | None
    interval: tuple[float, float] | None
    uplift: float | None = None
    uplift_interval: tuple[float, float] | None = None
    probability: float | None = None
    #: ``better``, ``worse``, ``unclear`` (enough visitors, no decisive difference) or ``""``
    #: (the control, or too early).
    verdict: str = ""
    #: Visitors per variant needed to detect the difference observed (80 % power, α 0.05).
    needed: int | None = None


@dataclass(frozen=True, slots=True)
class ExperimentResult:
    variants: tuple[VariantResult, ...]
    #: Some variant has fewer than :data:`MIN_EXPOSED` exposed or :data:`MIN_CONVERSIONS`
    #: converting visitors: no verdict.
    too_early: bool

    @property
    def winner(self) -> VariantResult | None:
        """The variant most likely to beat the control among those called better."""
        better = [v for v in self.variants if v.verdict == "better"]
        return max(better, key=lambda v: v.probability or 0) if better else None


def analyse(counts: dict[str, tuple[int, int]], control: str) -> ExperimentResult:
    """``counts`` maps each variant to (exposed, converted); ``control`` names the control
    (absent from ``counts``: it had no visitors, and is listed with zeros)."""
    counts = dict(counts)
    counts.setdefault(control, (0, 0))
    too_early = any(n < MIN_EXPOSED or k < MIN_CONVERSIONS for n, k in counts.values())
    n0, k0 = counts[control]
    rate0 = k0 / n0 if n0 else None
    results = []
    for name in [control, *sorted(v for v in counts if v != control)]:
        n, k = counts[name]
        rate = k / n if n else None
        if name == control:
            results.append(VariantResult(name, n, k, True, rate, wilson_interval(k, n)))
            continue
        probability = probability_to_beat(k, n, k0, n0)
        verdict = ""
        if not too_early and probability is not None:
            verdict = ("better" if probability >= DECISIVE
                       else "worse" if probability <= 1 - DECISIVE else "unclear")
        results.append(VariantResult(
            name, n, k, False, rate, wilson_interval(k, n),
            uplift=rate / rate0 - 1 if rate is not None and rate0 else None,
            uplift_interval=uplift_interval(k, n, k0, n0),
            probability=probability,
            verdict=verdict,
            needed=sample_size(rate0, rate) if rate is not None and rate0 is not None else None,
        ))
    return ExperimentResult(tuple(results), too_early)
