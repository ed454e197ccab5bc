"""Every statistic against a hand computation or a textbook value."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from leaderboards import stats


def _percentile_by_hand(values: list[float], q: float) -> float:
    # numpy's default ("linear") percentile, written out.
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def test_paired_bootstrap_matches_a_direct_loop_with_the_same_seed():
    clean = np.array([1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1], dtype=float)
    adv = np.array([1, 0, 0, 1, 0, 0, 1, 1, 1, 0, 1, 0], dtype=float)
    n_boot = 300
    boot = stats.paired_bootstrap(clean, adv, np.random.default_rng(123), n_boot)
    # Direct computation: the same draws, one resample at a time, plain Python sums.
    draws = np.random.default_rng(123).integers(0, clean.size, size=(n_boot, clean.size))
    drops = []
    for row in draws:
        drops.append(sum(clean[i] - adv[i] for i in row) / clean.size)
    lo, hi = stats.percentile_interval(boot.drop)
    assert lo == pytest.approx(_percentile_by_hand(drops, 0.025), abs=1e-12)
    assert hi == pytest.approx(_percentile_by_hand(drops, 0.975), abs=1e-12)
    # The point estimate lies inside its interval, which is not degenerate.
    assert lo < clean.mean() - adv.mean() < hi


def test_paired_bootstrap_agrees_with_scipy_bootstrap():
    rng = np.random.default_rng(7)
    clean = (rng.random(300) < 0.8).astype(float)
    adv = np.where(clean == 1, rng.random(300) < 0.7, rng.random(300) < 0.05).astype(float)
    boot = stats.paired_bootstrap(clean, adv, np.random.default_rng(0), 20000)
    ours = stats.percentile_interval(boot.drop)
    ref = sps.bootstrap(
        (clean, adv),
        lambda c, a: c.mean() - a.mean(),
        paired=True,
        vectorized=False,
        method="percentile",
        n_resamples=20000,
        rng=np.random.default_rng(1),
    ).confidence_interval
    assert ours[0] == pytest.approx(ref.low, abs=0.01)
    assert ours[1] == pytest.approx(ref.high, abs=0.01)


def test_row_rng_is_reproducible_and_differs_between_rows():
    a = stats.row_rng(0, "m|xtreme_adv_xnli_charnoise_de").integers(0, 1000, 5)
    b = stats.row_rng(0, "m|xtreme_adv_xnli_charnoise_de").integers(0, 1000, 5)
    c = stats.row_rng(0, "m|xtreme_adv_xnli_charnoise_fr").integers(0, 1000, 5)
    d = stats.row_rng(1, "m|xtreme_adv_xnli_charnoise_de").integers(0, 1000, 5)
    assert a.tolist() == b.tolist()
    assert a.tolist() != c.tolist() and a.tolist() != d.tolist()


def test_mcnemar_on_agresti_presidential_approval_table():
    # Agresti, An Introduction to Categorical Data Analysis (2nd ed.), Table 8.1: approval of
    # the President in two surveys of the same 1600 people: 794 / 150 / 86 / 570.
    # Without continuity correction z^2 = (86 - 150)^2 / 236 = 17.36 (Agresti's value).
    test = stats.mcnemar(150, 86)
    assert (150 - 86) ** 2 / (150 + 86) == pytest.approx(17.36, abs=0.005)
    assert test.chi2 == pytest.approx(63**2 / 236, abs=1e-12)  # Edwards' correction: 16.818
    assert test.p_chi2 == pytest.approx(sps.chi2.sf(63**2 / 236, 1), rel=1e-12)
    assert test.p_chi2 < 1e-4
    exact = 2 * sum(math.comb(236, k) for k in range(0, 87)) / 2**236
    assert test.p_exact == pytest.approx(exact, rel=1e-9)


def test_mcnemar_small_exact_case_and_symmetry():
    # b=1, c=5: two-sided exact p = 2 * (C(6,0) + C(6,1)) / 2^6 = 14/64.
    assert stats.mcnemar(1, 5).p_exact == pytest.approx(14 / 64, abs=1e-12)
    assert stats.mcnemar(5, 1).p_exact == pytest.approx(14 / 64, abs=1e-12)
    assert stats.mcnemar(0, 0).p_exact == 1.0
    assert stats.discordant(np.array([1, 1, 0, 0, 1]), np.array([0, 1, 1, 0, 0])) == (2, 1)


def test_benjamini_hochberg_against_hand_computation():
    # sorted 0.005, 0.01, 0.03, 0.04 (m = 4): p*m/rank = 0.02, 0.02, 0.04, 0.04.
    assert stats.benjamini_hochberg([0.01, 0.04, 0.03, 0.005]) == pytest.approx(
        [0.02, 0.04, 0.04, 0.02]
    )
    # Monotonicity step: 0.01*3/1=0.03, 0.019*3/2=0.0285, 0.02*3/3=0.02 -> all 0.02.
    assert stats.benjamini_hochberg([0.01, 0.02, 0.019]) == pytest.approx([0.02, 0.02, 0.02])
    assert stats.benjamini_hochberg([]) == []


def test_seed_interval_is_a_student_t_interval():
    lo, hi = stats.seed_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, df=2) * sd(=1) / sqrt(3)
    assert (lo, hi) == pytest.approx((2 - half, 2 + half), abs=1e-9)
    assert stats.seed_interval([0.5]) is None


def test_drop_rate_and_flip_rate():
    assert stats.performance_drop_rate(0.8, 0.6) == pytest.approx(0.25)
    assert stats.performance_drop_rate(0.0, 0.1) is None
    assert stats.performance_drop_rate(0.5, 0.6) == pytest.approx(-0.2)  # attack helped
    clean = np.array([1, 1, 0, 0], dtype=float)
    adv = np.array([1, 0, 1, 0], dtype=float)
    assert stats.flip_rate(clean, adv) == 0.5
