"""Averages over the languages of a translated task: one resampling of items for all languages.

The simulations give every item a difficulty shared by its translations (measured on this
machine: two XNLI checkpoints of the xstilts-small study, 11 languages x 500 documents, have a
mean cross-language correlation of 0.69 between a document's outcomes, and 0.26 between the
two models' differences). Under that correlation the old scheme (each language resampled on
its own) must miss the nominal rates, so the tests can fail, and the shared scheme must meet
them.
"""

from __future__ import annotations

import numpy as np
import pytest

from leaderboards import stats
from leaderboards.compute import (
    RowReplicates,
    _languages_together,
    rows_languages_together,
    xtreme_averages,
)
from leaderboards.parallel_units import is_parallel, shared_units
from leaderboards.units import Scores, Side

LANGS = ["ar", "de", "fr", "hi", "zh"]


def _scores(lang: str, values: np.ndarray, cluster: np.ndarray | None = None) -> Scores:
    ids = tuple(f"{lang}-{i}" for i in range(values.size))
    return Scores("mean", ids, values.astype(np.float64), None, cluster=cluster)


def test_units_join_translations_and_qa_paragraphs():
    """``<lang>-<i>`` documents share item ``i``; QA questions share ids and join paragraphs."""
    xnli = {g: _scores(g, np.zeros(4)) for g in ("fr", "de")}
    codes, n = shared_units(xnli)
    assert n == 4 and codes["de"].tolist() == codes["fr"].tolist() == [0, 1, 2, 3]
    # QA: de holds q1-q3 (q1, q2 in paragraph 7), es holds q2-q4 (q2, q3 in paragraph 5).
    de = Scores("mean", ("q1", "q2", "q3"), np.zeros(3), None, cluster=np.array([7, 7, 9]))
    es = Scores("mean", ("q2", "q3", "q4"), np.zeros(3), None, cluster=np.array([5, 5, 6]))
    codes, n = shared_units({"de": de, "es": es})
    # q2 joins de/7 with es/5; q3 joins es/5 with de/9: one unit; es/6 (q4 only) is another.
    assert n == 2
    assert codes["de"].tolist() == [0, 0, 0] and codes["es"].tolist() == [0, 0, 1]
    # a language lacking an item weighs nothing in it: its side has a zero there
    side = Side.of(es, codes["es"], n)
    assert side.den.tolist() == [2.0, 1.0]
    # items of another split are other items under the same keys (PAWS-X de test, es dev)
    codes, n = shared_units(xnli, {"de": "test", "fr": "validation"})
    assert n == 8 and set(codes["de"].tolist()).isdisjoint(codes["fr"].tolist())
    assert shared_units(xnli, {"de": "test", "fr": "test"})[1] == 4
    assert all(is_parallel(t) for t in ("xnli", "pawsx", "xquad", "mlqa", "xcopa"))
    assert not any(is_parallel(t) for t in ("tatoeba", "bucc", "udpos", "panx", "tydiqa"))


def _outcomes(rng: np.random.Generator, logit: np.ndarray) -> dict[str, np.ndarray]:
    """0/1 outcome per language of items with the given (shared) logits."""
    p = 1.0 / (1.0 + np.exp(-logit))
    return {g: (rng.random(p.size) < p).astype(np.float64) for g in LANGS}


def _row_reps(clean: dict, adv: dict, n_boot: int, rng: np.random.Generator) -> dict:
    """Rows of one model (XNLI, charnoise) with replicates drawn per language (old scheme)."""
    reps = {}
    for g in LANGS:
        c, a = _scores(g, clean[g]), _scores(g, adv[g])
        idx = stats.bootstrap_indices(rng, c.num.size, n_boot)
        reps[("m", "xnli", g, "charnoise")] = RowReplicates(
            Side.of(c).replicates(idx), Side.of(a).replicates(idx), (c, a)
        )
    return reps


def _rows(clean: dict, adv: dict) -> list[dict]:
    return [
        {"model": "m", "task": "xnli", "lang": g, "attack": "charnoise",
         "clean": clean[g].mean(), "adv": adv[g].mean()}
        for g in LANGS
    ]  # fmt: skip


def test_language_average_interval_covers_on_translated_items():
    """Clean accuracy averaged over 5 languages of 150 translated items: 95% coverage."""
    rng = np.random.default_rng(7)
    n_sims, n_items, n_boot = 300, 150, 400
    covered = {"together": 0, "strata": 0}
    truth = 0.5  # items' logits are symmetric around 0, so the population accuracy is 1/2
    for sim in range(n_sims):
        logit = rng.normal(0.0, 2.0, n_items)  # item difficulty shared by its translations
        clean = _outcomes(rng, logit)
        adv = {g: clean[g] * (rng.random(n_items) < 0.8) for g in LANGS}
        reps = _row_reps(clean, adv, n_boot, rng)
        for scheme, use in (
            ("together", rows_languages_together(reps, n_boot, seed=sim)),
            ("strata", reps),
        ):
            (avg,) = [a for a in xtreme_averages(_rows(clean, adv), use) if a["level"] == "task"]
            lo, hi = avg["clean_ci"]
            covered[scheme] += lo <= truth <= hi
    rate = {k: v / n_sims for k, v in covered.items()}
    assert 0.92 <= rate["together"] <= 0.98, rate
    assert rate["strata"] < 0.85, rate  # the old scheme's interval is far too narrow


def _null_comparison(rng: np.random.Generator, n_items: int) -> dict[str, tuple]:
    """Two recipes x 1 seed with the same distribution: drops differ by chance only; each
    model has item effects shared by the translations (what makes differences correlate)."""
    base = rng.normal(0.0, 1.5, n_items)
    by_name = {}
    models = [base + rng.normal(0.0, 1.0, n_items) for _ in range(2)]
    attacked = [rng.normal(-1.0, 1.5, n_items) for _ in range(2)]  # item's attack resistance
    for g in LANGS:
        sides = []
        for logit, resist in zip(models, attacked, strict=True):
            clean = (rng.random(n_items) < 1 / (1 + np.exp(-logit))).astype(np.float64)
            survive = rng.random(n_items) < 1 / (1 + np.exp(-resist))
            sides += [_scores(g, clean), _scores(g, clean * survive)]
        by_name[f"xtreme_adv_xnli_charnoise_{g}"] = (g, "test", sides, [1.0, -1.0, -1.0, 1.0])
    return by_name


def test_type_one_error_of_the_language_average_comparison():
    """Intermediate minus direct, averaged over 5 translated languages, under H0: 5% rejections."""
    rng = np.random.default_rng(11)
    n_sims, n_boot = 300, 400
    reject = {"together": 0, "strata": 0}
    for _ in range(n_sims):
        by_name = _null_comparison(rng, 150)
        together = _languages_together(by_name, rng, n_boot)
        strata = {}
        for name, (_, _, sides, coefs) in by_name.items():
            idx = stats.bootstrap_indices(rng, sides[0].num.size, n_boot)
            strata[name] = sum(c * Side.of(s).replicates(idx) for c, s in zip(coefs, sides))
        for scheme, reps in (("together", together), ("strata", strata)):
            p = stats.percentile_pvalue(np.mean(list(reps.values()), axis=0))
            reject[scheme] += p < 0.05
    rate = {k: v / n_sims for k, v in reject.items()}
    assert rate["together"] <= 0.08, rate
    assert rate["strata"] > 0.09, rate  # independent languages: too many false findings


@pytest.mark.parametrize("task", ["tatoeba", "udpos"])
def test_tasks_without_translations_stay_independent_strata(task):
    """Languages of Tatoeba or UD-POS hold different sentences: their replicates are kept."""
    rng = np.random.default_rng(3)
    reps = {}
    for g in LANGS[:2]:
        c = _scores(g, (rng.random(50) < 0.6).astype(np.float64))
        idx = stats.bootstrap_indices(rng, 50, 100)
        reps[("m", task, g, "charnoise")] = RowReplicates(
            Side.of(c).replicates(idx), Side.of(c).replicates(idx), (c, c)
        )
    out = rows_languages_together(reps, 100, seed=0)
    assert out.keys() == reps.keys() and all(out[k] is reps[k] for k in reps)


def test_mlqa_units_join_the_languages_parallel_questions(xtreme_data_dir):
    """Real MLQA dev (de, es): question ids shared by some of the languages' questions; each
    shared question puts its German and Spanish paragraphs in one unit, the rest stay apart."""
    import json

    from leaderboards.units import cluster_of

    by_lang = {}
    for lang in ("de", "es"):
        path = xtreme_data_dir / "mlqa/MLQA_V1/dev" / f"dev-context-{lang}-question-{lang}.json"
        qas = [
            (qa["id"], cluster_of({"context": para["context"]}))
            for article in json.loads(path.read_text(encoding="utf-8"))["data"]
            for para in article["paragraphs"]
            for qa in para["qas"]
        ]
        ids, clusters = zip(*qas, strict=True)
        by_lang[lang] = Scores("mean", ids, np.ones(len(ids)), None, cluster=np.array(clusters))
    codes, n = shared_units(by_lang)
    de, es = by_lang["de"], by_lang["es"]
    shared = set(de.ids) & set(es.ids)
    assert 150 < len(shared) < min(len(de.ids), len(es.ids))  # partly parallel (196 here)
    de_unit = dict(zip(de.ids, codes["de"].tolist(), strict=True))
    es_unit = dict(zip(es.ids, codes["es"].tolist(), strict=True))
    assert all(de_unit[q] == es_unit[q] for q in shared)
    # Joined paragraphs stay small: no unit swallows the set (a unit is a few paragraphs).
    sizes = np.bincount(np.concatenate([codes["de"], codes["es"]]), minlength=n)
    assert sizes.max() <= 20 and n > 300
    # A unit only German holds weighs nothing in the Spanish statistic.
    side = Side.of(es, codes["es"], n)
    only_de = set(codes["de"].tolist()) - set(codes["es"].tolist())
    assert only_de and all(side.den[u] == 0 for u in only_de)
