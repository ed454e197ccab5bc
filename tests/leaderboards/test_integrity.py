"""Results that cannot lie: dates, model ids, copied cards, leaked halves, adaptive rows."""

from __future__ import annotations

import json

import pytest

from leaderboards import holdout
from leaderboards.compute import build_board
from leaderboards.errors import LeaderboardError
from leaderboards.results import read_inputs
from leaderboards.synthetic import SyntheticModel, seed_set, write_results_folder

from .conftest import edit_results, results_file

PLAN = [("xnli", ["de"], ["charnoise"])]


def _folder(tmp_path, model=None, n_docs=30):
    model = model or SyntheticModel("m-1", skill=0.8, robustness=0.7)
    return write_results_folder(tmp_path, model, PLAN, n_docs=n_docs).parent


@pytest.mark.parametrize("date", [0, -5.0, 4102444800.0, "yesterday", None])
def test_insane_dates_are_refused(tmp_path, date):
    folder = _folder(tmp_path)
    edit_results(results_file(folder), lambda d: d.update(date=date))
    with pytest.raises(LeaderboardError, match="date is"):
        read_inputs([folder])


@pytest.mark.parametrize(
    "model_id",
    ["e5s-xnli-dir\u0435ct-s1", "e5s\u202eS1-tcerid", "e5s\u200b-direct", "e5s\tdirect"],
    ids=["cyrillic-e", "bidi-override", "zero-width", "tab"],
)
def test_look_alike_and_bidi_model_ids_are_refused(tmp_path, model_id):
    folder = _folder(tmp_path, SyntheticModel(model_id, skill=0.8, robustness=0.7))
    with pytest.raises(LeaderboardError, match=r"has character U\+"):
        read_inputs([folder])


def test_a_copied_card_cannot_replace_another_models_scores(tmp_path):
    honest = _folder(tmp_path / "a", SyntheticModel("victim", skill=0.8, robustness=0.9))
    thief = _folder(tmp_path / "b", SyntheticModel("thief", skill=0.8, robustness=0.1))
    card = json.loads(results_file(honest).read_text())["config"]["xtreme_adv_model"]["provenance"]

    def copy_card(data):
        data["config"]["xtreme_adv_model"]["provenance"] = card  # same id, another checkpoint
        data["date"] += 3600  # and a later date

    edit_results(results_file(thief), copy_card)
    with pytest.raises(LeaderboardError, match="a card of another checkpoint"):
        read_inputs([honest, thief])
    # Even with the weights record forged to match the card, one id may not have two weights.
    edit_results(
        results_file(thief),
        lambda d: d["config"]["xtreme_adv_model"].update(weights_sha256=card["weights_sha256"]),
    )
    edit_results(
        results_file(honest),
        lambda d: d["config"]["xtreme_adv_model"].update(weights_sha256="0" * 64),
    )
    with pytest.raises(LeaderboardError):
        read_inputs([honest, thief])


def _excluding_card(data, scored_half=1):
    card = data["config"]["xtreme_adv_model"]["provenance"]
    card["scoring_exclusions"] = [
        {"eval_task": "xnli", "rule": holdout.RULE, "trained_half": 1 - scored_half,
         "scored_half": scored_half, "trained_on": "xnli/dev-en.tsv", "n_trained": 10}
    ]  # fmt: skip


def test_rows_of_a_card_with_exclusions_need_the_scored_half_recorded(tmp_path):
    folder = _folder(tmp_path)
    edit_results(results_file(folder), _excluding_card)
    with pytest.raises(LeaderboardError, match="is leaked") as err:
        build_board(read_inputs([folder]), n_boot=50, seed=0)
    assert "xtreme_xnli_de" in str(err.value) or "xtreme_adv_xnli" in str(err.value)


def test_rows_restricted_to_the_scored_half_are_accepted(tmp_path):
    folder = _folder(tmp_path, n_docs=40)
    # keep only documents of the scored half in every samples file (and re-score)
    values = {}
    for path in folder.glob("samples_*.jsonl"):
        lines = [json.loads(x) for x in path.read_text().splitlines()]
        task = path.name[len("samples_") :].rsplit("_", 1)[0]
        lang = task.rsplit("_", 1)[1]
        kept = [
            x for x in lines
            if holdout.parallel_half(holdout.parallel_key(x["doc"]["id"], lang)) == 1
        ]  # fmt: skip
        path.write_text("".join(json.dumps(x) + "\n" for x in kept))
        values[task] = (kept, sum(x["acc"] for x in kept) / len(kept))

    def restrict(data):
        from leaderboards.results import task_hash_of

        _excluding_card(data)
        for task, (kept, mean) in values.items():
            data["results"][task]["acc,none"] = mean
            data["task_hashes"][task] = task_hash_of(kept)
            data["n-samples"][task]["effective"] = len(kept)
            data["xtreme_adv"]["tasks"][task]["parallel_half"] = {
                "rule": holdout.RULE, "scored_half": 1, "n_docs": len(kept), "n_excluded": 0,
            }  # fmt: skip

    edit_results(results_file(folder), restrict)
    board = build_board(read_inputs([folder]), n_boot=50, seed=0)
    assert board.rows[0]["n_paired"] == len(values["xtreme_xnli_de"][0]) < 40
    # beside a model scored on every document: no task-hash conflict (a known subset)
    other = _folder(tmp_path / "other", SyntheticModel("m-2", seed=43, skill=0.8), 40)
    both = build_board(read_inputs([folder, other]), n_boot=50, seed=0)
    n_half = len(values["xtreme_xnli_de"][0])
    assert {r["model"]: r["n_paired"] for r in both.rows} == {"m-1": n_half, "m-2": 40}
    # A results file that claims the half but holds a trained-half document is refused.
    edit_results(
        results_file(folder),
        lambda d: d["xtreme_adv"]["tasks"]["xtreme_xnli_de"]["parallel_half"].update(scored_half=0),
    )
    with pytest.raises(LeaderboardError, match="is leaked"):
        build_board(read_inputs([folder]), n_boot=50, seed=0)


def test_the_parallel_half_rule_agrees_with_the_trainers():
    from trainers.data import parallel as trainer_rule

    for doc_id in ["de-17", "17", "fr-0", "5733be284776f41900661182", "de-de-3", "x"]:
        for lang in ("de", "fr", "en"):
            key = holdout.parallel_key(doc_id, lang)
            assert key == trainer_rule.parallel_key(doc_id, lang)
            assert holdout.parallel_half(key) == trainer_rule.parallel_half(key)


def test_adaptive_rows_are_labelled_and_never_compared_across_kinds(tmp_path):
    inter, direct = seed_set("intermediate", [1], 0.8, 0.8) + seed_set("direct", [1], 0.8, 0.7)
    key = inter.provenance()["weights_sha256"][:10]
    attack = f"adaptive-charnoise-{key}"
    plan = [("xnli", ["de"], ["charnoise", attack])]
    for m in (inter, direct):
        write_results_folder(tmp_path, m, plan, n_docs=30)
    board = build_board(read_inputs([tmp_path]), n_boot=50, seed=0)
    kinds = {(r["model"], r["attack"]): r["attack_kind"] for r in board.rows}
    assert kinds[(inter.model_id, attack)] == "adaptive-self"
    assert kinds[(direct.model_id, attack)] == f"transfer-from-{key}"
    assert kinds[(direct.model_id, "charnoise")] == "static"
    # the intermediate model's own adaptive set vs the direct model's transfer: not compared
    assert {c["attack"] for c in board.comparisons} == {"charnoise"}


def test_each_model_is_compared_under_the_adaptive_attack_built_against_itself(tmp_path):
    models = seed_set("intermediate", [1, 2], 0.8, 0.9) + seed_set("direct", [1, 2], 0.8, 0.5)
    for m in models:
        own = f"adaptive-charnoise-{m.provenance()['weights_sha256'][:10]}"
        write_results_folder(tmp_path, m, [("xnli", ["de", "fr"], ["charnoise", own])], n_docs=60)
    board = build_board(read_inputs([tmp_path]), n_boot=200, seed=0)
    rows = {(r["model"], r["lang"], r["attack"].rsplit("-", 1)[0]): r for r in board.rows}
    adaptive = [c for c in board.comparisons if c["attack"] == "adaptive-charnoise"]
    assert sorted(c["lang"] for c in adaptive) == ["de", "fr"]
    for c in adaptive:
        assert c["attack_kind"] == "adaptive-self" and c["seeds"] == [1, 2]
        # every number is the models' own rows': each seed's intermediate minus direct drop
        by_seed = [
            rows[(i, c["lang"], "adaptive-charnoise")]["drop"]
            - rows[(d, c["lang"], "adaptive-charnoise")]["drop"]
            for i, d in zip(c["intermediate_models"], c["direct_models"], strict=True)
        ]
        assert c["diff_by_seed"] == pytest.approx(by_seed, abs=1e-6)
        assert c["diff"] == pytest.approx(sum(by_seed) / 2, abs=1e-6)
        assert c["ci_examples"][0] <= c["diff"] <= c["ci_examples"][1]
        assert c["n_paired"] == 60 and c["p_adjusted"] is not None
    # the intermediate models are the more robust ones here, under both attacks
    assert all(c["diff"] < 0 for c in board.comparisons)
    averages = {(a["task"], a["attack"]) for a in board.comparison_averages}
    assert {("xnli", "adaptive-charnoise"), ("all", "adaptive-charnoise")} <= averages


def test_no_adaptive_comparison_when_one_side_lacks_its_own_set(tmp_path):
    inter, direct = seed_set("intermediate", [1], 0.8, 0.8) + seed_set("direct", [1], 0.8, 0.7)
    own = f"adaptive-charnoise-{inter.provenance()['weights_sha256'][:10]}"
    write_results_folder(tmp_path, inter, [("xnli", ["de"], ["charnoise", own])], n_docs=30)
    write_results_folder(tmp_path, direct, [("xnli", ["de"], ["charnoise"])], n_docs=30)
    board = build_board(read_inputs([tmp_path]), n_boot=50, seed=0)
    assert {c["attack"] for c in board.comparisons} == {"charnoise"}
