"""Rows, XTREME averages and recipe comparisons, recomputed by hand from the written files."""

from __future__ import annotations

import json
import math

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
        data["results"]["xtreme_adv_xnli_charnoise_de"]["acc,none"] = float(
            np.mean([d["acc"] for d in docs])
        )

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
    # The doc-level estimate, recomputed from the samples files: documents averaged over seeds.
    per_doc = {}
    for s in SEEDS:
        for recipe, sign in (("anli", 1), ("direct", -1)):
            folder = corpus / f"e5s-xnli-{recipe}-s{s}"
            cl = _samples(folder, "xtreme_xnli_fr")
            ad = _samples(folder, "xtreme_adv_xnli_charnoise_fr")
            for d in cl:
                per_doc[d] = per_doc.get(d, 0.0) + sign * (cl[d]["acc"] - ad[d]["acc"]) / len(SEEDS)
    assert item["diff"] == pytest.approx(np.mean(list(per_doc.values())))
    assert item["n_paired"] == N_DOCS and item["test"] == "bca-bootstrap-documents"
    # p, interval and sign agree.
    assert (item["p"] < 0.05) == (item["ci_examples"][1] < 0 or item["ci_examples"][0] > 0)
    # BH over the 6 language x attack tests of xnli.
    raw = [i["p"] for i in items]
    for i, adj in zip(items, stats.benjamini_hochberg(raw), strict=True):
        assert i["p_adjusted"] == pytest.approx(adj, rel=1e-6)
    # The simulated intermediate models are more robust (0.85 vs 0.7 survival).
    assert item["diff"] < 0 and item["ci_examples"][1] < 0
    assert sum(i["significant"] for i in items) >= 4
    # QA (per-question F1) is tested too, resampled by context paragraph (3 questions each).
    qa = next(c for c in board.comparisons if c["task"] == "mlqa")
    assert qa["ci_examples"] is not None and qa["p"] is not None
    assert qa["test"] == "bca-bootstrap-documents-clustered" and qa["n_units"] == N_DOCS // 3


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
    means = {}
    for path in folder.glob("samples_*xnli*_de_*.jsonl"):
        lines = [json.loads(x) for x in path.read_text().splitlines()]
        for number, line in enumerate(lines):
            if number % 3 == 0:
                line["acc"] = None
        scored = {line["doc"]["id"] for line in lines if line["acc"] is not None}
        path.write_text("".join(json.dumps(x) + "\n" for x in lines))
        task = path.name[len("samples_") : -len("_2026-11-25T06-02-19.088831.jsonl")]
        means[task] = float(np.mean([x["acc"] for x in lines if x["acc"] is not None]))

    def change(data):
        for task, mean in means.items():
            data["results"][task]["acc,none"] = mean

    edit_results(results_file(folder), change)
    board = build_board(read_inputs([folder]), n_boot=50, seed=0)
    de = [r for r in board.rows if r["task"] == "xnli" and r["lang"] == "de"]
    assert de and scored
    assert all(r["n_paired"] == len(scored) and r["drop_ci"] is not None for r in de)


def test_comparison_estimate_and_average_interval_match_a_direct_loop(corpus, board):
    """The language average's interval, by hand: XNLI's languages are translations (document
    ``<lang>-<i>`` of every language is item ``i``), so one draw of items serves them all."""
    n_boot, seed = 400, 0
    items = [c for c in board.comparisons if c["task"] == "xnli" and c["attack"] == "visual"]
    values_by_lang = {}
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
        values = {d.split("-", 1)[1]: v / len(SEEDS) for d, v in per_doc.items()}
        values_by_lang[item["lang"]] = values
        assert item["diff"] == pytest.approx(sum(values.values()) / len(values))
        assert item["ci_examples"][0] <= item["diff"] <= item["ci_examples"][1]
    (avg,) = [
        a for a in board.comparison_averages
        if a["task"] == "xnli" and a["attack"] == "visual" and a["level"] == "task"
    ]  # fmt: skip
    langs = sorted(values_by_lang)
    keys = list(values_by_lang[langs[0]])  # every language holds the same items, in file order
    assert all(sorted(values_by_lang[g]) == sorted(keys) for g in langs)
    rng = stats.row_rng(seed, f"cmp|{avg['comparison']}|xnli|visual|languages")
    draws = rng.integers(0, len(keys), size=(n_boot, len(keys)))
    averaged = sorted(
        sum(sum(values_by_lang[g][keys[j]] for j in row) / len(keys) for g in langs) / len(langs)
        for row in draws
    )
    # empirical 2.5% / 97.5% quantiles (inverted CDF): the ceil(q * B)-th smallest replicate
    lo, hi = averaged[math.ceil(0.025 * n_boot) - 1], averaged[math.ceil(0.975 * n_boot) - 1]
    assert avg["ci_examples"] == pytest.approx([lo, hi], abs=1e-9)
    assert avg["n_langs"] == len(langs) == 3 and avg["n_tested"] == 3
    assert avg["n_significant"] == sum(bool(i["significant"]) for i in items)


def test_rows_say_how_many_scored_documents_the_set_changed(corpus, board):
    """``perturbed_rate``: the paired documents whose ``adv_status`` is ``attacked``."""
    for row in board.rows:
        folder = corpus / row["model"]
        docs = _samples(folder, f"xtreme_adv_{row['task']}_{row['attack']}_{row['lang']}")
        clean = _samples(folder, f"xtreme_{row['task']}_{row['lang']}")
        paired = [d for d in docs if d in clean]
        changed = sum(docs[d]["doc"]["adv_status"] == "attacked" for d in paired)
        assert 0 < changed < len(paired) == row["n_paired"]
        assert row["n_perturbed"] == changed
        assert row["perturbed_rate"] == pytest.approx(changed / len(paired))


def test_row_scores_and_intervals_are_on_the_paired_documents(corpus, board):
    """Binary rows: Wilson (clean, adversarial) and Newcombe (drop) intervals, by formula."""
    model, task = "e5s-xnli-anli-s1", "xtreme_adv_xnli_charnoise_de"
    folder = corpus / model
    cl, ad = _samples(folder, "xtreme_xnli_de"), _samples(folder, task)
    c = np.array([cl[d]["acc"] for d in cl])
    a = np.array([ad[d]["acc"] for d in cl])
    (row,) = [
        r for r in board.rows
        if r["model"] == model and r["lang"] == "de" and r["attack"] == "charnoise"
        and r["task"] == "xnli"
    ]  # fmt: skip
    assert row["clean_ci"] == pytest.approx(list(stats.wilson_interval(int(c.sum()), c.size)))
    assert row["adv_ci"] == pytest.approx(list(stats.wilson_interval(int(a.sum()), a.size)))
    assert row["drop_ci"] == pytest.approx(list(stats.newcombe_paired_interval(c, a)))
    assert row["drop_ci"][0] < row["drop"] < row["drop_ci"][1]
    assert row["interval_method"] == "wilson/newcombe"


def test_fewer_adversarial_documents_give_a_paired_estimate_with_both_counts(corpus_copy):
    folder = corpus_copy / "e5s-xnli-direct-s1"
    path = next(folder.glob("samples_xtreme_adv_xnli_charnoise_de_*.jsonl"))
    lines = path.read_text().splitlines()[:40]  # the attack kept 40 of 120 documents
    path.write_text("\n".join(lines) + "\n")
    docs = [json.loads(x) for x in lines]

    def change(data):
        data["task_hashes"]["xtreme_adv_xnli_charnoise_de"] = task_hash_of(docs)
        data["results"]["xtreme_adv_xnli_charnoise_de"]["acc,none"] = float(
            np.mean([d["acc"] for d in docs])
        )
        data["n-samples"]["xtreme_adv_xnli_charnoise_de"]["effective"] = 40

    edit_results(results_file(folder), change)
    board = build_board(read_inputs([folder]), n_boot=200, seed=0)
    (row,) = [
        r for r in board.rows
        if r["lang"] == "de" and r["attack"] == "charnoise" and r["task"] == "xnli"
    ]  # fmt: skip
    clean = _samples(folder, "xtreme_xnli_de")
    kept = [d["doc"]["id"] for d in docs]
    c = np.mean([clean[d]["acc"] for d in kept])
    assert row["clean"] == pytest.approx(c)  # on the 40 paired documents, not all 120
    assert row["clean_reported"] == pytest.approx(np.mean([v["acc"] for v in clean.values()]))
    assert (row["n_clean"], row["n_adv"], row["n_paired"]) == (N_DOCS, 40, 40)
    assert row["drop_ci"][0] <= row["drop"] <= row["drop_ci"][1]


def _hand_pair(tmp_path, n, outcomes_i, outcomes_d):
    plan = [("xnli", ["de"], ["charnoise"])]
    (m_i,) = seed_set("intermediate", [1], 0.8, 0.8)
    (m_d,) = seed_set("direct", [1], 0.8, 0.8)
    for model, (clean, adv) in ((m_i, outcomes_i), (m_d, outcomes_d)):
        write_results_folder(
            tmp_path, model, plan, n_docs=n,
            outcomes={"xtreme_xnli_de": clean, "xtreme_adv_xnli_charnoise_de": adv},
        )  # fmt: skip
    (item,) = build_board(read_inputs([tmp_path]), n_boot=1000, seed=0).comparisons
    return item


def test_break_120_repair_120_is_not_a_significant_difference(tmp_path):
    n = 1000
    clean_i, adv_i = np.ones(n), np.ones(n)
    adv_i[:120] = 0  # the intermediate model breaks 120 documents
    clean_i[120:240] = 0  # and repairs 120 others (wrong clean, right attacked)
    item = _hand_pair(tmp_path, n, (clean_i, adv_i), (np.ones(n), np.ones(n)))
    assert item["diff"] == 0.0
    assert item["p"] > 0.5 and not item["significant"]
    assert item["ci_examples"][0] < 0 < item["ci_examples"][1]


def test_five_point_difference_on_1000_documents_is_significant_on_its_side(tmp_path):
    n = 1000
    rng = np.random.default_rng(12)
    clean = (rng.random(n) < 0.85).astype(float)
    adv_d = np.where(clean == 1, rng.random(n) < 0.8, 0.0).astype(float)
    adv_i = adv_d.copy()
    adv_i[np.flatnonzero(adv_d == 1)[:50]] = 0  # 50 more documents broken: +5 points of drop
    item = _hand_pair(tmp_path, n, (clean, adv_i), (clean, adv_d))
    assert item["diff"] == pytest.approx(0.05)
    assert item["p"] < 0.05 and item["significant"]
    assert item["ci_examples"][0] > 0


def test_retrieval_intermediate_is_compared_with_the_pretrained_base(tmp_path):
    """Tatoeba has no target training: `train direct` writes recipe `pretrained`, the baseline."""
    plan = [("tatoeba", ["de"], ["charnoise"])]
    models = [
        SyntheticModel(f"e5s-tatoeba-{tag}-s{s}", recipe=recipe, seed=s, target_task="tatoeba",
                       intermediate_tasks=inter, robustness=rob)
        for s in (1, 2)
        for tag, recipe, inter, rob in (("pre", "pretrained", [], 0.7), ("anli", "intermediate",
                                                                        ["anli"], 0.9))
    ]  # fmt: skip
    for m in models:
        write_results_folder(tmp_path, m, plan, n_docs=40)
    (item,) = build_board(read_inputs([tmp_path]), n_boot=50, seed=0).comparisons
    assert item["comparison"].endswith("anli vs pretrained")
    assert item["direct_models"] == ["e5s-tatoeba-pre-s1", "e5s-tatoeba-pre-s2"]
    assert item["seeds"] == [1, 2]


class _SameWeights(SyntheticModel):
    """One base model's weights, whatever folder its card names."""

    @property
    def base_sha256(self) -> str:
        return "ab" * 32


def test_comparison_does_not_depend_on_where_the_base_model_lay(tmp_path):
    # The demo's report once keyed (and seeded) its comparison by /root/.cache/...: the same
    # study on another machine gave another label and other bootstrap intervals.
    plan = [("xnli", ["de"], ["charnoise"])]
    items = []
    for where in ("/root/.cache/xtreme-adv/models/e5-small-L12", "/home/me/models/e5-small-L12"):
        root = tmp_path / where.split("/")[1]
        for recipe, inter, rob in (("direct", [], 0.7), ("intermediate", ["anli"], 0.9)):
            model = _SameWeights(f"e5s-xnli-{recipe}-s1", recipe=recipe, seed=1,
                                 intermediate_tasks=inter, robustness=rob,
                                 base_name=where)  # fmt: skip
            write_results_folder(root, model, plan, n_docs=60)
        (item,) = build_board(read_inputs([root]), n_boot=200, seed=0).comparisons
        items.append(item)
    assert items[0]["comparison"] == "e5-small-L12/xnli: anli vs direct"
    # Everything computed is equal; only the card's own record of the folder differs.
    same = [{k: v for k, v in item.items() if k != "base_model"} for item in items]
    assert same[0] == same[1]
