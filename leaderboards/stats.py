"""Paired statistics for robustness deltas: bootstrap intervals, McNemar, BH, seed intervals.

All tests and intervals are from numpy/scipy; the bootstrap is written here (rather than with
``scipy.stats.bootstrap``) because one resampling of documents must be shared by several
statistics of the same row (clean, adversarial, drop, relative drop), which scipy cannot do.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

DEFAULT_BOOTSTRAP = 1000
DEFAULT_SEED = 0
CONFIDENCE = 0.95


def row_rng(seed: int, key: str) -> np.random.Generator:
    """A generator for one row: the run's seed mixed with a stable hash of the row's key.

    Independent streams per row keep the strata of a language average independent, and the
    result does not depend on the order in which rows are computed.
    """
    digest = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng([seed, digest])


def bootstrap_indices(rng: np.random.Generator, n: int, n_boot: int) -> np.ndarray:
    """``n_boot`` resamples (rows) of ``n`` document positions, drawn with replacement."""
    return rng.integers(0, n, size=(n_boot, n))


def percentile_interval(replicates: np.ndarray) -> tuple[float, float]:
    """Two-sided 95% percentile interval of bootstrap replicates (numpy's linear percentile)."""
    alpha = (1.0 - CONFIDENCE) / 2.0
    lo, hi = np.percentile(replicates, [100 * alpha, 100 * (1 - alpha)])
    return float(lo), float(hi)


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


@dataclass
class PairedBootstrap:
    """Bootstrap replicates of one paired clean/adversarial row."""

    clean: np.ndarray  # B replicate means of the clean scores
    adv: np.ndarray  # B replicate means of the adversarial scores

    @property
    def drop(self) -> np.ndarray:
        """Replicates of the absolute drop, clean - adv."""
        return self.clean - self.adv

    @property
    def pdr(self) -> np.ndarray:
        """Replicates of the performance drop rate (NaN where a replicate's clean mean is 0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.clean > 0, 1.0 - self.adv / self.clean, np.nan)


def paired_bootstrap(
    clean: np.ndarray, adv: np.ndarray, rng: np.random.Generator, n_boot: int
) -> PairedBootstrap:
    """Resample documents (the same draw for both sides, which is what makes it paired)."""
    idx = bootstrap_indices(rng, len(clean), n_boot)
    return PairedBootstrap(clean[idx].mean(axis=1), adv[idx].mean(axis=1))


def interval_or_none(replicates: np.ndarray) -> tuple[float, float] | None:
    """Percentile interval over the finite replicates; None if fewer than 90% are finite."""
    ok = replicates[np.isfinite(replicates)]
    if ok.size < 0.9 * replicates.size or ok.size == 0:
        return None
    return percentile_interval(ok)


@dataclass(frozen=True)
class McNemar:
    """McNemar's test on paired binary outcomes: b and c are the two discordant counts."""

    b: int
    c: int
    p_exact: float  # two-sided exact binomial test of b ~ Bin(b + c, 1/2)
    chi2: float  # (|b - c| - 1)^2 / (b + c), Edwards' continuity correction
    p_chi2: float


def mcnemar(b: int, c: int) -> McNemar:
    """McNemar's test from the discordant counts.

    The exact binomial p-value is the one reported (it is valid for small counts, where the
    chi-square approximation is not); the continuity-corrected chi-square is kept beside it.
    """
    n = b + c
    if n == 0:
        return McNemar(b, c, 1.0, 0.0, 1.0)
    p_exact = float(sps.binomtest(b, n, 0.5, alternative="two-sided").pvalue)
    chi2 = (abs(b - c) - 1.0) ** 2 / n
    return McNemar(b, c, min(1.0, p_exact), chi2, float(sps.chi2.sf(chi2, df=1)))


def discordant(x: np.ndarray, y: np.ndarray) -> tuple[int, int]:
    """(b, c) = (#docs where x is 1 and y is 0, #docs where x is 0 and y is 1)."""
    x = x.astype(bool)
    y = y.astype(bool)
    return int(np.sum(x & ~y)), int(np.sum(~x & y))


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
