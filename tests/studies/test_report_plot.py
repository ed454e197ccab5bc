"""The report's figure for a large study: one panel per task, one row per recipe, one colour
per attack (48 means of an xstilts-small-sized study in one readable figure), each mean drawn
once where it belongs. Synthetic leaderboards with the fields the leaderboard writes."""

from __future__ import annotations

import json
import random

from studies.report import MAX_PLOT_ROWS, write_report
from studies.report_plot import plot_means

TASKS = ("xnli", "pawsx", "tatoeba")
RECIPES = ("anli", "cosmosqa", "anli+cosmosqa+socialiqa")
ATTACKS = ("charnoise", "visual", "adaptive-charnoise")
LANGS = ("de", "fr", "ru")


def _board(seed: int = 0) -> dict:
    rng = random.Random(seed)
    models, means, rows = [], [], []
    for task in TASKS:
        for recipe in RECIPES:
            name = f"s-e5s-{task}-{recipe.replace('+', '_')}-s1"
            models.append({"model": name, "intermediate_tasks": recipe.split("+"), "seed": 1,
                           "target_task": task})  # fmt: skip
            comparison = f"e5-small/{task}: {recipe} vs direct"
            for attack in ATTACKS:
                diff = rng.uniform(-0.05, 0.05)
                common = {"comparison": comparison, "task": task, "attack": attack,
                          "diff": diff, "ci_examples": [diff - 0.01, diff + 0.01],
                          "intermediate_models": [name], "direct_models": ["d"],
                          "drop_intermediate": 0.02, "drop_direct": 0.02 - diff}  # fmt: skip
                means.append({**common, "level": "task", "n_langs": len(LANGS),
                              "p": rng.random(), "n_tested": 3, "n_significant": 0})  # fmt: skip
                rows += [{**common, "lang": lang, "seeds": [1], "p_adjusted": 0.5,
                          "significant": False} for lang in LANGS]  # fmt: skip
    return {"models": models, "comparison_averages": means, "comparisons": rows, "rows": []}


def test_means_are_drawn_once_each_in_their_task_panel_and_recipe_row(tmp_path):
    board = _board()
    means = board["comparison_averages"]
    drawn = plot_means(means, board["models"], tmp_path / "means.png")
    assert (tmp_path / "means.png").stat().st_size > 20_000
    assert len(drawn) == len(means) == len(TASKS) * len(RECIPES) * len(ATTACKS)
    # Rows are the recipes read from the models' cards, not the long comparison names.
    assert {d["row"] for d in drawn} == set(RECIPES)
    for mean in means:
        recipe = mean["comparison"].split(": ")[1].split(" vs ")[0]
        (hit,) = [d for d in drawn if (d["task"], d["row"], d["attack"]) ==
                  (mean["task"], recipe, mean["attack"])]  # fmt: skip
        assert hit["diff"] == 100 * mean["diff"] and hit["ci"] == mean["ci_examples"]


def test_a_large_study_report_plots_the_means(tmp_path):
    board = _board()
    assert len(board["comparisons"]) > MAX_PLOT_ROWS
    # With several seeds, the interval over seeds sits beside the documents' one.
    board["comparison_averages"][0]["ci_seeds"] = [-0.0312, 0.0104]
    board["comparisons"][0]["ci_seeds"] = [-0.05, 0.02]
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "leaderboard.json").write_text(json.dumps(board), encoding="utf-8")
    (tmp_path / "study.json").write_text('{"name": "s", "fingerprint": "f"}', encoding="utf-8")
    report = write_report(tmp_path).read_text(encoding="utf-8")
    assert f"the {len(board['comparisons'])} rows per language are in the table" in report
    assert (tmp_path / "report.png").stat().st_size > 20_000
    lines = report.splitlines()
    means = board["comparison_averages"]
    lower = sum(1 for a in means if a["diff"] < 0)
    low_p = sum(1 for a in means if a["p"] < 0.05)
    assert 0 < lower < len(means) and 0 < low_p  # the sentence below can fail
    assert (f"Over languages: in {lower} of {len(means)} (comparison, task, attack) means the "
            f"intermediate-trained models lost less; {low_p} of {len(means)} tested means have "
            "p < 0.05 (not adjusted).") in report  # fmt: skip
    first = board["comparison_averages"][0]
    (mean_row,) = [line for line in lines if line.startswith(
        f"| {first['comparison']} | {first['task']} | {first['attack']} | ")]  # fmt: skip
    assert mean_row.split(" | ")[8] == "[-3.1, +1.0]"
    row = board["comparisons"][0]
    (lang_row,) = [line for line in lines if line.startswith(
        f"| {row['comparison']} | {row['task']} | {row['lang']} | {row['attack']} | ")]  # fmt: skip
    assert lang_row.split(" | ")[9] == "[-5.0, +2.0]"
    # Several base models: rows name the base too.
    for mean in board["comparison_averages"][:5]:
        mean["comparison"] = "other/" + mean["comparison"].split("/", 1)[1]
    drawn = plot_means(board["comparison_averages"], board["models"], tmp_path / "two.png")
    assert {d["row"].split(": ")[0] for d in drawn} == {"e5-small", "other"}
