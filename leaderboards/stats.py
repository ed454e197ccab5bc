"""Statistics of robustness deltas: paired bootstrap (BCa), score intervals, tests, BH.

What is reported and why (the numbers behind each choice are in tests/leaderboards):

- Proportions of 0/1 outcomes (clean or adversarial accuracy of a row): Wilson's score
  interval with continuity correction (the closed form that ``scipy.stats.binomtest(...)
  .proportion_ci(method="wilsoncc")`` computes), whose coverage holds at small n and at
  0% / 100%, where a bootstrap gives the zero-width [1, 1].
- The drop of a row with 0/1 outcomes on both sides: Newcombe's (1998) hybrid score interval
  for a difference of paired proportions (his method 10). No library the project uses offers
  it (statsmodels has only the independent-samples version), so it is written here from the
  paper's formulas.
- Everything else (F1, token accuracy, per-question QA scores, differences of drops): the
  bias-corrected and accelerated (BCa) bootstrap of Efron (1987), over resampling units
  (documents, or QA context paragraphs). It is written here rather than taken from
  ``scipy.stats.bootstrap`` because one resampling of units must be shared by several
  statistics of the same row or comparison (both sides of a drop, every seed of a comparison),
  which scipy cannot do; the tests compare it with scipy's BCa.
- Tests of a difference of drops: the BCa interval inverted at zero (Efron and Tibshirani
  1993, ch. 15-16), so a p-value below alpha means, by construction, that the 95% interval
  excludes zero, on the side of the point estimate.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy import stats as sps

DEFAULT_BOOTSTRAP = 1000
DEFAULT_SEED = 0
CONFIDENCE = 0.95
_Z = float(special.ndtri(0.5 + CONFIDENCE / 2))


def row_rng(seed: int, key: str) -> np.random.Generator:
    """A generator for one row: the run's seed mixed with a stable hash of the row's key.

    Independent streams keep independent strata (the languages of a task that is not
    translated, the tasks of an average) independent, and the result does not depend on the
    order in which rows are computed.
    """
    digest = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng([seed, digest])


def bootstrap_indices(rng: np.random.Generator, n: int, n_boot: int) -> np.ndarray:
    """``n_boot`` resamples (rows) of ``n`` unit positions, drawn with replacement."""
    return rng.integers(0, n, size=(n_boot, n))


def _settle(values: np.ndarray) -> np.ndarray:
    # Sums of the same per-document values in another order differ in the last bits; a
    # replicate that is 0 (or equal to the estimate) must compare as such whatever the order.
    return np.round(np.asarray(values, dtype=np.float64), 12) + 0.0


def percentile_interval(replicates: np.ndarray) -> tuple[float, float]:
    """Two-sided 95% percentile interval of bootstrap replicates (empirical quantiles)."""
    return interval_and_p(_settle(replicates), 0.0, 0.0)[0]


def percentile_pvalue(replicates: np.ndarray) -> float:
    """Two-sided p-value of 0 that inverts :func:`percentile_interval` (same replicates)."""
    return interval_and_p(_settle(replicates), 0.0, 0.0)[1]


def _level(z0: float, acc: float, z: float) -> float:
    # BCa's adjusted quantile level for the normal quantile z (Efron 1987, eq. 2.3).
    w = z0 + z
    return float(special.ndtr(z0 + w / (1.0 - acc * w)))


def _level_inverse(q: float, z0: float, acc: float) -> float:
    # The nominal level whose BCa-adjusted level is q (the map above, solved for its input).
    if q <= 0.0:
        return 0.0
    if q >= 1.0:
        return 1.0
    w = float(special.ndtri(q)) - z0
    den = 1.0 + acc * w
    if den <= 0.0:
        return 1.0 if w > 0 else 0.0
    return float(special.ndtr(w / den - z0))


def interval_and_p(
    replicates: np.ndarray, z0: float, acc: float
) -> tuple[tuple[float, float], float]:
    """The 95% (BCa-adjusted) interval and the two-sided p-value of 0 that inverts it.

    Bounds are empirical quantiles (numpy's ``inverted_cdf``), so the lower bound is above 0
    exactly when fewer than the adjusted 2.5% of replicates are <= 0, and the upper bound is
    below 0 exactly when at least the adjusted 97.5% are < 0; the p-value solves the same
    conditions for the level. Hence ``p < 0.05`` if and only if the interval excludes 0, and
    then on the side of the replicates. p is at least 1 / (B + 1) (B replicates resolve no less).
    """
    lo_q, hi_q = _level(z0, acc, -_Z), _level(z0, acc, _Z)
    lo, hi = np.percentile(replicates, [100 * lo_q, 100 * hi_q], method="inverted_cdf")
    below_or_at = _level_inverse(float(np.mean(replicates <= 0.0)), z0, acc)
    below = _level_inverse(float(np.mean(replicates < 0.0)), z0, acc)
    p = 2.0 * min(below_or_at, 1.0 - below)
    p = min(1.0, max(p, 1.0 / (replicates.size + 1)))
    return (float(lo), float(hi)), p


def performance_drop_rate(clean: float, adv: float) -> float | None:
    """PromptBench's performance drop rate, PDR = 1 - adv / clean (None when clean is 0)."""
    if clean == 0:
        return None
    return 1.0 - adv / clean


def flip_rate(clean: np.ndarray, adv: np.ndarray) -> float:
    """Fraction of paired documents whose correctness differs between clean and attacked input.

    Both directions count (right->wrong and wrong->right); inputs are 0/1 arrays, paired by doc.
    """
    return float(np.mean(clean != adv))


def wilson_interval(k: int, n: int, correction: bool = True) -> tuple[float, float]:
    """Wilson score 95% interval for k successes in n trials.

    With the continuity correction (the default, for a reported proportion) the coverage is
    at least 95% at every p on a 0.01 grid for n = 20 (95.9% at worst); plain Wilson dips to
    92.5% at n = 20, p = 0.95. Newcombe's paired interval uses plain Wilson, as published.
    The closed forms (Newcombe 1998a, methods 3 and 4) are written here because
    ``scipy.stats.binomtest(...).proportion_ci`` costs ~3 ms a call, minutes for a
    leaderboard of 60,000 rows; the tests check them against scipy.
    """
    if n <= 0:
        raise ValueError("n must be positive")
    p, z = k / n, _Z
    z2 = z * z
    if not correction:
        centre = (2 * n * p + z2) / (2 * (n + z2))
        half = z * math.sqrt(z2 + 4 * n * p * (1 - p)) / (2 * (n + z2))
        return max(0.0, centre - half), min(1.0, centre + half)
    den = 2 * (n + z2)
    lo = (
        0.0
        if k == 0
        else (2 * n * p + z2 - 1 - z * math.sqrt(z2 - 2 - 1 / n + 4 * p * (n * (1 - p) + 1))) / den
    )
    hi = (
        1.0
        if k == n
        else (2 * n * p + z2 + 1 + z * math.sqrt(z2 + 2 - 1 / n + 4 * p * (n * (1 - p) - 1))) / den
    )
    return max(0.0, lo), min(1.0, hi)


def newcombe_paired_interval(clean: np.ndarray, adv: np.ndarray) -> tuple[float, float]:
    """95% interval of mean(clean) - mean(adv) for paired 0/1 outcomes (Newcombe 1998, method 10).

    Wilson intervals of both marginal proportions, combined with the phi correlation of the
    2x2 table (phi = 0 when a margin is empty). Valid at 0% and 100%, where a bootstrap of
    identical documents collapses to a single point.
    """
    c = clean.astype(bool)
    a = adv.astype(bool)
    n = c.size
    n11 = int(np.sum(c & a))
    n10 = int(np.sum(c & ~a))
    n01 = int(np.sum(~c & a))
    n00 = n - n11 - n10 - n01
    p1, p2 = (n11 + n10) / n, (n11 + n01) / n
    l1, u1 = wilson_interval(n11 + n10, n, correction=False)
    l2, u2 = wilson_interval(n11 + n01, n, correction=False)
    denom = (n11 + n10) * (n01 + n00) * (n11 + n01) * (n10 + n00)
    phi = (n11 * n00 - n10 * n01) / math.sqrt(denom) if denom > 0 else 0.0
    delta = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    eps = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    diff = p1 - p2
    return max(-1.0, diff - delta), min(1.0, diff + eps)


@dataclass(frozen=True)
class BCa:
    """A BCa interval and the two-sided p-value of ``statistic = 0`` that inverts it."""

    estimate: float
    interval: tuple[float, float]
    p: float


def _acceleration(jackknife: np.ndarray | None) -> float:
    # Efron & Tibshirani (1993) eq. 14.15, as scipy.stats.bootstrap computes it.
    if jackknife is None or jackknife.size < 3:
        return 0.0
    u = jackknife.mean() - jackknife
    den = float(np.sum(u**2))
    if den <= 0 or not math.isfinite(den):
        return 0.0
    return float(np.sum(u**3) / (6.0 * den**1.5))


def _z0(replicates: np.ndarray, estimate: float) -> float:
    # scipy's percentile-of-score: ties with the estimate count half.
    share = float(np.mean(replicates < estimate) + 0.5 * np.mean(replicates == estimate))
    share = min(max(share, 0.5 / replicates.size), 1.0 - 0.5 / replicates.size)
    return float(special.ndtri(share))


def bca(replicates: np.ndarray, estimate: float, jackknife: np.ndarray | None) -> BCa:
    """BCa interval (Efron 1987) from bootstrap replicates and jackknife leave-one-out values.

    The p-value inverts the interval at zero (:func:`interval_and_p`): p < 1 - CONFIDENCE
    exactly when the interval excludes zero. Without ``jackknife`` the acceleration is 0 (the
    bias-corrected interval).
    """
    reps = _settle(replicates)
    estimate = float(_settle(np.asarray([estimate]))[0])
    if reps.size == 0 or not np.all(np.isfinite(reps)):
        raise ValueError("replicates must be finite and non-empty")
    if float(reps.max() - reps.min()) <= 1e-15:  # every resample agrees: nothing varies
        v = float(estimate)
        return BCa(v, (v, v), 1.0 if abs(v) <= 1e-15 else 1.0 / (reps.size + 1))
    interval, p = interval_and_p(reps, _z0(reps, estimate), _acceleration(jackknife))
    return BCa(float(estimate), interval, p)


def ratio_replicates(num: np.ndarray, den: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """sum(num) / sum(den) over each resample of units (rows of ``idx``); 0 where den is 0."""
    n = num[idx].sum(axis=1)
    d = den[idx].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 0, n / np.where(d > 0, d, 1.0), 0.0)


def ratio_jackknife(num: np.ndarray, den: np.ndarray) -> np.ndarray | None:
    """Leave-one-unit-out values of sum(num) / sum(den) (None when a unit holds all of den)."""
    d = den.sum() - den
    if np.any(d <= 0):
        return None
    return (num.sum() - num) / d


def ratio(num: np.ndarray, den: np.ndarray) -> float:
    """sum(num) / sum(den), 0 when den sums to 0 (an empty F1 is 0, as seqeval gives)."""
    d = float(den.sum())
    return float(num.sum()) / d if d > 0 else 0.0


def benjamini_hochberg(pvalues: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (scipy.stats.false_discovery_control, method 'bh')."""
    if not pvalues:
        return []
    return [float(p) for p in sps.false_discovery_control(np.asarray(pvalues), method="bh")]


@functools.lru_cache(maxsize=64)
def _t_quantile(df: int) -> float:
    # scipy's ppf costs ~0.2 ms a call; a leaderboard asks for the same few df thousands of times
    return float(sps.t.ppf(0.5 + CONFIDENCE / 2, df=df))


def seed_interval(values: list[float]) -> tuple[float, float] | None:
    """95% Student-t interval of the mean over seeds (None with fewer than two seeds)."""
    if len(values) < 2:
        return None
    arr = np.asarray(values, dtype=np.float64)
    half = _t_quantile(arr.size - 1) * arr.std(ddof=1) / math.sqrt(arr.size)
    mean = float(arr.mean())
    return mean - float(half), mean + float(half)
