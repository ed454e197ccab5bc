"""Rows, XTREME averages and recipe comparisons, recomputed by hand from the written files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from leaderboards import stats
from leaderboards.compute import build_board
from leaderboards.results import read_inputs, task_hash_of
from leaderboards.synthetic import SyntheticModel, seed_set, write_results_folder

from .conftest import N_DOCS, SEEDS, edit_results, results_file


def _samples(folder, task):
    path = next(folder.glob(f"samples_{task}_*.jsonl"))
    return {
        json.loads(line)["doc"]["id"]: json.loads(line) for line in path.read_text().splitlines()
    }


@pytest.fixture(scope="module")
def board(corpus):
    return build_board(read_inputs([corpus]), n_boot=400, seed=0)


def test_rows_are_computed_from_the_samples_paired_by_doc_id(corpus, board):
    folder = corpus / "e5s-xnli-direct-s2"
    clean = _samples(folder, "xtreme_xnli_sw")
    adv = _samples(folder, "xtreme_adv_xnli_visual_sw")
    c = np.array([clean[d]["acc"] for d in clean])
    a = np.array([adv[d]["acc"] for d in clean])
    (row,) = [
        r
        for r in board.rows
        if (r["model"], r["task"], r["lang"], r["attack"])
        == ("e5s-xnli-direct-s2", "xnli", "sw", "visual")
    ]
    assert row["clean"] == pytest.approx(c.mean()) and row["adv"] == pytest.approx(a.mean())
    assert row["drop"] == pytest.approx(c.mean() - a.mean())
    assert row["pdr"] == pytest.approx(1 - a.mean() / c.mean())
    assert row["flip_rate"] == pytest.approx(np.mean(c != a))
    assert row["n_paired"] == N_DOCS
    assert row["drop_ci"][0] < row["drop"] < row["drop_ci"][1]
    # 6 models x (3 + 2 languages) x 2 attacks
    assert len(board.rows) == 6 * 5 * 2


def test_pairing_uses_doc_id_not_line_order(corpus_copy):
    folder = corpus_copy / "e5s-xnli-direct-s1"
    path = next(folder.glob("samples_xtreme_adv_xnli_charnoise_de_*.jsonl"))
    lines = path.read_text().splitlines()
    kept = list(reversed(lines[1:]))  # shuffle order and drop the first document
    path.write_text("\n".join(kept) + "\n")
    docs = [json.loads(x) for x in kept]

    def change(data):
        data["task_hashes"]["xtreme_adv_xnli_charnoise_de"] = task_hash_of(docs)

    edit_results(results_file(folder), change)
    # Only this model: its changed documents no longer hash like the other models' (an error).
    board = build_board(read_inputs([folder]), n_boot=100, seed=0)
    (row,) = [
        r
        for r in board.rows
        if r["model"] == "e5s-xnli-direct-s1" and r["lang"] == "de" and r["attack"] == "charnoise"
        and r["task"] == "xnli"
    ]  # fmt: skip
    clean = _samples(folder, "xtreme_xnli_de")
    adv = {d["doc"]["id"]: d["acc"] for d in docs}
    c = np.array([clean[d]["acc"] for d in clean if d in adv])
    a = np.array([adv[d] for d in clean if d in adv])
    assert row["n_paired"] == N_DOCS - 1
    assert row["flip_rate"] == pytest.approx(np.mean(c != a))


def test_xtreme_averages_are_over_languages_then_tasks(board):
    rows = [r for r in board.rows if r["model"] == "e5s-xnli-anli-s1" and r["attack"] == "visual"]
    by_task = {t: [r["adv"] for r in rows if r["task"] == t] for t in ("xnli", "mlqa")}
    expected = np.mean([np.mean(by_task["xnli"]), np.mean(by_task["mlqa"])])
    (avg,) = [
        a
        for a in board.averages
        if a["model"] == "e5s-xnli-anli-s1" and a["attack"] == "visual" and a["level"] == "all"
    ]
    assert avg["adv"] == pytest.approx(expected)
    assert avg["n_tasks"] == 2 and avg["n_langs"] == 5
    # 3 xnli and 2 mlqa languages: the pooled mean over 5 rows is a different number.
    assert abs(np.mean([r["adv"] for r in rows]) - expected) > 1e-6


def test_intermediate_vs_direct_pairs_seeds_through_provenance(corpus, board):
    items = [c for c in board.comparisons if c["task"] == "xnli"]
    assert len(items) == 3 * 2  # languages x attacks
    item = next(c for c in items if c["lang"] == "fr" and c["attack"] == "charnoise")
    assert item["seeds"] == SEEDS
    assert item["intermediate_models"] == [f"e5s-xnli-anli-s{s}" for s in SEEDS]
    assert item["direct_models"] == [f"e5s-xnli-direct-s{s}" for s in SEEDS]

    def drop(model):
        (r,) = [
            r
            for r in board.rows
            if r["model"] == model and r["task"] == "xnli" and r["lang"] == "fr"
            and r["attack"] == "charnoise"
        ]  # fmt: skip
        return r["drop"]

    diffs = [drop(f"e5s-xnli-anli-s{s}") - drop(f"e5s-xnli-direct-s{s}") for s in SEEDS]
    assert item["diff"] == pytest.approx(np.mean(diffs))
    assert item["ci_seeds"] == pytest.approx(list(stats.seed_interval(diffs)), abs=1e-8)
    # McNemar counts, recomputed from the samples files: "broken" = right clean, wrong attacked.
    b = c = 0
    for s in SEEDS:
        broken = {}
        for recipe in ("anli", "direct"):
            folder = corpus / f"e5s-xnli-{recipe}-s{s}"
            cl = _samples(folder, "xtreme_xnli_fr")
            ad = _samples(folder, "xtreme_adv_xnli_charnoise_fr")
            broken[recipe] = {d: cl[d]["acc"] == 1 and ad[d]["acc"] == 0 for d in cl}
        b += sum(broken["anli"][d] and not broken["direct"][d] for d in broken["anli"])
        c += sum(broken["direct"][d] and not broken["anli"][d] for d in broken["anli"])
    assert item["mcnemar"]["b_intermediate_only_broken"] == b
    assert item["mcnemar"]["c_direct_only_broken"] == c
    assert item["mcnemar"]["p_exact"] == pytest.approx(stats.mcnemar(b, c).p_exact, rel=1e-6)
    # BH over the 6 language x attack tests of xnli.
    raw = [i["mcnemar"]["p_exact"] for i in items]
    for i, adj in zip(items, stats.benjamini_hochberg(raw), strict=True):
        assert i["p_adjusted"] == pytest.approx(adj, rel=1e-6)
    # The simulated intermediate models are more robust (0.85 vs 0.7 survival).
    assert item["diff"] < 0 and item["ci_examples"][1] < 0
    assert sum(i["significant"] for i in items) >= 4
    # QA rows have per-question F1 (not 0/1): intervals but no McNemar.
    qa = next(c for c in board.comparisons if c["task"] == "mlqa")
    assert qa["mcnemar"] is None and qa["ci_examples"] is not None


def test_only_matching_base_target_and_seed_are_paired(tmp_path):
    plan = [("xnli", ["de"], ["charnoise"])]
    for m in seed_set("direct", [1, 2], 0.8, 0.7) + seed_set("intermediate", [2, 3], 0.8, 0.9):
        write_results_folder(tmp_path, m, plan, n_docs=30)
    other_base = SyntheticModel(
        "other-base-s2", recipe="intermediate", seed=2, intermediate_tasks=["anli"],
        base_name="synthetic/xlm-roberta-base",
    )  # fmt: skip
    write_results_folder(tmp_path, other_base, plan, n_docs=30)
    board = build_board(read_inputs([tmp_path]), n_boot=50, seed=0)
    (item,) = board.comparisons
    assert item["seeds"] == [2]
    assert item["intermediate_models"] == ["e5s-xnli-anli-s2"]
    assert item["ci_seeds"] is None  # one seed: no interval over seeds


def test_build_is_deterministic(corpus):
    a = build_board(read_inputs([corpus]), n_boot=100, seed=3).to_json()
    b = build_board(read_inputs([corpus]), n_boot=100, seed=3).to_json()
    c = build_board(read_inputs([corpus]), n_boot=100, seed=4).to_json()
    assert a == b
    assert a["rows"][0]["drop_ci"] != c["rows"][0]["drop_ci"]


def test_corpus_level_metrics_give_scores_without_per_sample_statistics(corpus_copy):
    # PAN-X / BUCC F1 is corpus-level: lm-eval logs a (gold, prediction) pair per document.
    folder = corpus_copy / "e5s-xnli-direct-s3"
    for path in folder.glob("samples_*xnli*_de_*.jsonl"):
        lines = [json.loads(x) for x in path.read_text().splitlines()]
        for line in lines:
            line["acc"] = [["B-PER", "O"], ["B-PER", "O"]]
        path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    board = build_board(read_inputs([folder]), n_boot=50, seed=0)
    de = [r for r in board.rows if r["task"] == "xnli" and r["lang"] == "de"]
    fr = [r for r in board.rows if r["task"] == "xnli" and r["lang"] == "fr"]
    assert de and all(r["drop_ci"] is None and r["flip_rate"] is None for r in de)
    assert all(r["clean"] is not None and r["drop"] is not None for r in de)
    assert fr and all(r["drop_ci"] is not None for r in fr)


def test_no_samples_option(corpus, tmp_path, capsys):
    from leaderboards.cli import main

    site = tmp_path / "site"
    assert main(["build", str(corpus), "--out", str(site), "--no-samples"]) == 0
    capsys.readouterr()
    data = json.loads((site / "leaderboard.json").read_text())
    assert all(r["n_paired"] is None and r["drop_ci"] is None for r in data["rows"])
    # Comparisons still exist, with seed intervals only.
    assert all(c["ci_examples"] is None and c["ci_seeds"] for c in data["comparisons"])


def test_unscored_rows_are_left_out_of_pairing(corpus_copy):
    # Retrieval logs the candidate pool (target side) with the metric null: not scored.
    folder = corpus_copy / "e5s-xnli-direct-s3"
    scored = None
    for path in folder.glob("samples_*xnli*_de_*.jsonl"):
        lines = [json.loads(x) for x in path.read_text().splitlines()]
        for number, line in enumerate(lines):
            if number % 3 == 0:
                line["acc"] = None
        scored = {line["doc"]["id"] for line in lines if line["acc"] is not None}
        path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    board = build_board(read_inputs([folder]), n_boot=50, seed=0)
    de = [r for r in board.rows if r["task"] == "xnli" and r["lang"] == "de"]
    assert de and scored
    assert all(r["n_paired"] == len(scored) and r["drop_ci"] is not None for r in de)


def _loop_percentiles(values: list[float]) -> list[float]:
    """95% percentile interval by sorting and linear interpolation (numpy's default method)."""
    ordered = sorted(values)

    def at(q):
        pos = q * (len(ordered) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(ordered) - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)

    return [at(0.025), at(0.975)]


def test_comparison_example_intervals_match_a_direct_loop(corpus, board):
    """ci_examples of a language and of the language average, recomputed document by document.

    The replicate draw is the documented one (``stats.row_rng(seed, "cmp|<comparison>|<task>")``,
    B rows of n positions); everything after it is a plain loop over documents and seeds.
    """
    n_boot, seed = 400, 0
    items = [c for c in board.comparisons if c["task"] == "xnli" and c["attack"] == "visual"]
    per_lang_reps = {}
    for item in items:
        task = f"xtreme_adv_xnli_visual_{item['lang']}"
        per_doc = {}
        for s in SEEDS:
            for recipe, sign in (("anli", 1), ("direct", -1)):
                folder = corpus / f"e5s-xnli-{recipe}-s{s}"
                cl = _samples(folder, f"xtreme_xnli_{item['lang']}")
                ad = _samples(folder, task)
                for d in cl:
                    per_doc[d] = per_doc.get(d, 0.0) + sign * (cl[d]["acc"] - ad[d]["acc"])
        ids = list(_samples(corpus / f"e5s-xnli-anli-s{SEEDS[0]}", task))
        values = [per_doc[d] / len(SEEDS) for d in ids]
        rng = stats.row_rng(seed, f"cmp|{item['comparison']}|{task}")
        draws = rng.integers(0, len(ids), size=(n_boot, len(ids)))
        reps = [sum(values[j] for j in row) / len(ids) for row in draws]
        per_lang_reps[item["lang"]] = reps
        assert item["n_paired"] == len(ids)
        assert item["diff"] == pytest.approx(sum(values) / len(values))
        assert item["ci_examples"] == pytest.approx(_loop_percentiles(reps), abs=1e-6)
    (avg,) = [
        a for a in board.comparison_averages if a["task"] == "xnli" and a["attack"] == "visual"
    ]
    langs = sorted(per_lang_reps)
    averaged = [sum(per_lang_reps[g][b] for g in langs) / len(langs) for b in range(n_boot)]
    assert avg["ci_examples"] == pytest.approx(_loop_percentiles(averaged), abs=1e-6)
    assert avg["n_langs"] == len(langs) == 3


def test_row_intervals_match_a_direct_loop(corpus, board):
    """clean_ci, adv_ci, drop_ci and pdr_ci of one row, recomputed replicate by replicate."""
    model, task = "e5s-xnli-anli-s1", "xtreme_adv_xnli_charnoise_de"
    folder = corpus / model
    cl, ad = _samples(folder, "xtreme_xnli_de"), _samples(folder, task)
    ids = list(cl)
    rng = stats.row_rng(0, f"{model}|{task}")
    draws = rng.integers(0, len(ids), size=(400, len(ids)))
    clean = [sum(cl[ids[j]]["acc"] for j in row) / len(ids) for row in draws]
    adv = [sum(ad[ids[j]]["acc"] for j in row) / len(ids) for row in draws]
    (row,) = [
        r for r in board.rows
        if r["model"] == model and r["lang"] == "de" and r["attack"] == "charnoise"
        and r["task"] == "xnli"
    ]  # fmt: skip
    assert row["clean_ci"] == pytest.approx(_loop_percentiles(clean), abs=1e-6)
    assert row["adv_ci"] == pytest.approx(_loop_percentiles(adv), abs=1e-6)
    drops = [c - a for c, a in zip(clean, adv)]
    assert row["drop_ci"] == pytest.approx(_loop_percentiles(drops), abs=1e-6)
    pdrs = [1 - a / c for c, a in zip(clean, adv)]
    assert row["pdr_ci"] == pytest.approx(_loop_percentiles(pdrs), abs=1e-6)
