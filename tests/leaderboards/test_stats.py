"""Every statistic against a textbook value, scipy, or a seeded simulation of its error rates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from leaderboards import stats
from leaderboards.compute import Combination
from leaderboards.units import Side


def _mean_side(values: np.ndarray) -> Side:
    return Side("mean", np.asarray(values, dtype=np.float64), np.ones(len(values)))


def test_ratio_replicates_match_a_direct_loop():
    num = np.array([3.0, 5.0, 0.0, 7.0, 2.0])  # correct tokens per sentence
    den = np.array([4.0, 5.0, 2.0, 9.0, 2.0])  # tokens per sentence
    idx = np.random.default_rng(3).integers(0, 5, size=(50, 5))
    reps = stats.ratio_replicates(num, den, idx)
    for row, rep in zip(idx, reps, strict=True):
        assert rep == pytest.approx(sum(num[i] for i in row) / sum(den[i] for i in row))
    jack = stats.ratio_jackknife(num, den)
    assert jack[0] == pytest.approx((17 - 3) / (22 - 4))


def test_bca_matches_scipy_bootstrap_bca():
    # 30 skewed per-question scores: BCa differs from the percentile interval here.
    rng = np.random.default_rng(11)
    values = rng.beta(0.3, 2.0, 30)
    side = _mean_side(values)
    idx = stats.bootstrap_indices(np.random.default_rng(0), values.size, 40000)
    ours = stats.bca(side.replicates(idx), side.point(), side.jackknife())
    ref = sps.bootstrap(
        (values,), np.mean, method="BCa", n_resamples=40000, rng=np.random.default_rng(1)
    ).confidence_interval
    assert ours.interval[0] == pytest.approx(ref.low, abs=0.0015)
    assert ours.interval[1] == pytest.approx(ref.high, abs=0.0015)
    percentile = stats.percentile_interval(side.replicates(idx))
    assert abs(percentile[1] - ours.interval[1]) > 0.005  # the correction is not a no-op here


def test_bootstrap_p_value_inverts_the_interval_always():
    rng = np.random.default_rng(5)
    for k in range(300):
        shift = rng.normal(0, 0.08)
        d = rng.choice([-1.0, 0.0, 1.0], size=80, p=[0.2, 0.6, 0.2]) + shift
        side = _mean_side(d)
        idx = stats.bootstrap_indices(rng, d.size, 199)
        res = stats.bca(side.replicates(idx), side.point(), side.jackknife())
        excludes = res.interval[0] > 0 or res.interval[1] < 0
        assert (res.p < 0.05) == excludes, (k, res)
        if excludes:  # the interval lies on the side of the estimate
            assert np.sign(res.interval[0]) == np.sign(res.estimate)


def test_wilson_interval_is_the_textbook_score_interval():
    # Wilson (1927) with Yates' correction, written out (Newcombe 1998a, method 4), k=20, n=20.
    z = sps.norm.ppf(0.975)
    n, p = 20, 1.0
    lo = (2 * n * p + z**2 - 1 - z * math.sqrt(z**2 - 2 - 1 / n + 4 * p * (n * (1 - p) + 1))) / (
        2 * (n + z**2)
    )
    assert stats.wilson_interval(20, 20) == pytest.approx((lo, 1.0), abs=1e-9)
    assert stats.wilson_interval(20, 20)[0] < 0.85  # not the [1, 1] a bootstrap gives
    # the closed forms equal scipy's (the reference implementation) everywhere
    for n in (1, 2, 7, 20, 133):
        for k in range(n + 1):
            for method, cc in (("wilsoncc", True), ("wilson", False)):
                ref = sps.binomtest(k, n).proportion_ci(0.95, method=method)
                ours = stats.wilson_interval(k, n, correction=cc)
                assert ours == pytest.approx((ref.low, ref.high), abs=1e-12), (k, n, method)


def _exact_coverage(n: int, p: float) -> float:
    return sum(
        sps.binom.pmf(k, n, p)
        for k in range(n + 1)
        if stats.wilson_interval(k, n)[0] <= p <= stats.wilson_interval(k, n)[1]
    )


def test_proportion_interval_coverage_at_small_n_and_the_boundary():
    # Exact coverage (binomial enumeration, no simulation noise) at n = 20.
    assert _exact_coverage(20, 0.95) >= 0.95
    assert min(_exact_coverage(20, p) for p in (0.5, 0.8, 0.9, 0.97, 0.99)) >= 0.95
    # The percentile bootstrap the leaderboard used before: about 64% at n = 20, p = 0.95.
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(400):
        x = (rng.random(20) < 0.95).astype(float)
        reps = x[stats.bootstrap_indices(rng, 20, 400)].mean(axis=1)
        lo, hi = np.percentile(reps, [2.5, 97.5])
        hits += lo <= 0.95 <= hi
    assert hits / 400 < 0.8


def _paired_coverage(n: int, cells: list[float]) -> float:
    truth = cells[1] - cells[2]  # P(clean right, adv wrong) - P(clean wrong, adv right)
    total = 0.0
    for a in range(n + 1):
        for b in range(n + 1 - a):
            for c in range(n + 1 - a - b):
                pr = sps.multinomial.pmf([a, b, c, n - a - b - c], n, cells)
                if pr < 1e-12:
                    continue
                clean = np.array([1] * (a + b) + [0] * (n - a - b), dtype=float)
                adv = np.array([1] * a + [0] * b + [1] * c + [0] * (n - a - b - c), dtype=float)
                lo, hi = stats.newcombe_paired_interval(clean, adv)
                total += pr * (lo - 1e-12 <= truth <= hi + 1e-12)
    return total


def test_paired_drop_interval_coverage_at_small_n():
    # Exact coverage over all 2x2 tables of 20 documents (cells: both right, clean only,
    # adversarial only, both wrong), including the all-right boundary.
    for cells in ([0.95, 0.0, 0.0, 0.05], [0.7, 0.2, 0.02, 0.08], [0.5, 0.3, 0.05, 0.15]):
        assert _paired_coverage(20, cells) >= 0.94
    lo, hi = stats.newcombe_paired_interval(np.ones(20), np.ones(20))
    assert lo < 0 < hi  # 20 of 20 both ways: not the degenerate [0, 0]


def _simulate_comparison(rng, n_docs: int, n_seeds: int, effect: float) -> list[np.ndarray]:
    """Per-document 0/1 outcomes (clean, adv) x seeds x (intermediate, direct).

    Documents differ in difficulty, shared by both recipes and every seed (what makes
    (document, seed) pairs dependent); ``effect`` lowers the intermediate model's survival.
    """
    hard = rng.random(n_docs)
    out = []
    for recipe_effect in (effect, 0.0):
        for _ in range(n_seeds):
            clean = (rng.random(n_docs) < 0.55 + 0.4 * hard).astype(float)
            survive = 0.4 + 0.5 * hard - recipe_effect
            adv = np.where(clean == 1, rng.random(n_docs) < survive, rng.random(n_docs) < 0.05)
            out += [clean, adv.astype(float)]
    return out


def _doc_test(outcomes: list[np.ndarray], rng, n_boot: int = 499) -> stats.BCa:
    k = len(outcomes) // 4
    coefs = [(1.0 if j % 2 == 0 else -1.0) / k for j in range(2 * k)]
    coefs += [-c for c in coefs]
    comb = Combination([_mean_side(o) for o in outcomes], coefs)
    idx = stats.bootstrap_indices(rng, outcomes[0].size, n_boot)
    return comb.bca(idx)[0]


def test_type_one_error_and_coverage_with_five_seeds():
    # H0 true (same survival for both recipes), 5 seeds, shared document difficulty.
    rng = np.random.default_rng(2026)
    n_sims, reject = 600, 0
    for _ in range(n_sims):
        res = _doc_test(_simulate_comparison(rng, 150, 5, 0.0), rng)
        reject += res.p < 0.05
    rate = reject / n_sims
    assert 0.03 <= rate <= 0.07, rate
    # Coverage of the 95% interval = 1 - type-I error here (the interval contains the true 0).
    assert 0.93 <= 1 - rate <= 0.97


def test_identical_seed_copies_do_not_change_the_p_value():
    rng = np.random.default_rng(8)
    one = _simulate_comparison(rng, 300, 1, 0.02)
    p_one = _doc_test(one, np.random.default_rng(0)).p
    five = [one[0], one[1]] * 5 + [one[2], one[3]] * 5
    p_five = _doc_test(five, np.random.default_rng(0)).p
    assert p_five == pytest.approx(p_one)


def test_break_and_repair_in_equal_numbers_is_not_significant():
    # Intermediate breaks 120 documents and repairs 120 others; direct changes nothing.
    n = 1000
    clean_i = np.ones(n)
    adv_i = np.ones(n)
    adv_i[:120] = 0  # broken
    clean_i[120:240] = 0  # repaired: wrong clean, right attacked
    direct = np.ones(n)
    res = _doc_test([clean_i, adv_i, direct, direct], np.random.default_rng(0), 999)
    assert res.estimate == 0.0
    assert res.p > 0.5 and res.interval[0] < 0 < res.interval[1]


def test_a_five_point_difference_on_1000_documents_is_significant_on_its_side():
    rng = np.random.default_rng(4)
    outcomes = _simulate_comparison(rng, 1000, 1, 0.0)
    clean_i, adv_i = outcomes[0].copy(), outcomes[1].copy()
    survivors = np.flatnonzero((clean_i == 1) & (adv_i == 1))
    adv_i[survivors[:50]] = 0  # the intermediate model loses 50 more documents: +5 points
    res = _doc_test([clean_i, adv_i, outcomes[2], outcomes[3]], np.random.default_rng(1), 999)
    expected = (clean_i - adv_i).mean() - (outcomes[2] - outcomes[3]).mean()
    assert res.estimate == pytest.approx(expected)
    assert res.p < 0.05 and res.interval[0] > 0 and res.estimate > 0


def test_row_rng_is_reproducible_and_differs_between_rows():
    a = stats.row_rng(0, "m|xtreme_adv_xnli_charnoise_de").integers(0, 1000, 5)
    b = stats.row_rng(0, "m|xtreme_adv_xnli_charnoise_de").integers(0, 1000, 5)
    c = stats.row_rng(0, "m|xtreme_adv_xnli_charnoise_fr").integers(0, 1000, 5)
    d = stats.row_rng(1, "m|xtreme_adv_xnli_charnoise_de").integers(0, 1000, 5)
    assert a.tolist() == b.tolist()
    assert a.tolist() != c.tolist() and a.tolist() != d.tolist()


def test_benjamini_hochberg_against_hand_computation():
    # sorted 0.005, 0.01, 0.03, 0.04 (m = 4): p*m/rank = 0.02, 0.02, 0.04, 0.04.
    assert stats.benjamini_hochberg([0.01, 0.04, 0.03, 0.005]) == pytest.approx(
        [0.02, 0.04, 0.04, 0.02]
    )
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
