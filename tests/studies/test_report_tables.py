"""The report's training table: each phase's loss beside the loss of a uniform guess."""

from __future__ import annotations

import math

from studies.report_tables import coverage_lines, training_lines, uniform_loss


def _model(name: str, target: str, phases: list[tuple[str, list[tuple[str, int]], float]]):
    """A leaderboard ``models`` entry shaped like the trainers' provenance card."""
    return {
        "model": name,
        "target_task": target,
        "seed": 13,
        "intermediate_tasks": [t for p, ts, _ in phases if p == "intermediate" for t, _ in ts],
        "provenance": {
            "phases": [
                {"name": phase, "tasks": [{"name": t, "n_examples": n} for t, n in tasks],
                 "metrics": {"last_logged_loss": loss}}
                for phase, tasks, loss in phases
            ]
        },
    }  # fmt: skip


def test_uniform_guess_of_each_phase_is_computed_from_its_tasks():
    multi = _model(
        "pawsx-multi",
        "pawsx",
        [
            ("intermediate", [("anli", 3000), ("cosmosqa", 2985), ("socialiqa", 1954)], 1.135),
            ("target", [("pawsx", 976)], 0.681),
        ],
    )
    mixture = (3000 * math.log(3) + 2985 * math.log(4) + 1954 * math.log(3)) / 7939
    assert uniform_loss(multi, "intermediate") == mixture
    assert uniform_loss(multi, "target") == math.log(2)
    squad = _model("xquad-squad", "xquad", [("intermediate", [("squad", 500)], 2.0)])
    assert uniform_loss(squad, "intermediate") is None  # spans: no uniform guess
    assert uniform_loss(squad, "target") is None  # no such phase

    direct = _model("pawsx-direct", "pawsx", [("target", [("pawsx", 976)], 0.679)])
    rows = [{"model": m["model"], "task": "pawsx", "lang": "de", "attack": "charnoise",
             "attack_kind": "static", "clean": 0.55} for m in (multi, direct)]  # fmt: skip
    lines = training_lines({"models": [multi, direct], "rows": rows})
    table = {line.split("|")[2].strip(): line for line in lines if line.startswith("| pawsx |")}
    # PAWS-X's target loss 0.681 against ln 2 = 0.693: what the reader needs beside it
    assert table["anli+cosmosqa+socialiqa"].endswith(f"| 55.0 | {mixture:.3f}, 0.693 |")
    assert table["direct"].endswith("| 0.679 | 55.0 | n/a, 0.693 |")


def test_sets_that_change_few_documents_are_listed():
    """A visual set with no homoglyph for Devanagari changes nothing: listed, with its share."""
    rows = [
        {"model": m, "task": "tatoeba", "lang": lang, "attack": attack, "attack_kind": "static",
         "perturbed_rate": rate}
        for m in ("a", "b")
        for lang, attack, rate in (("hi", "visual", 0.0), ("zh", "visual", 0.048 if m == "a"
                                   else 0.052), ("de", "visual", 0.926), ("hi", "charnoise", 0.914))
    ]  # fmt: skip
    rows.append({"model": "a", "task": "xnli", "lang": "hi", "attack": "adaptive-charnoise-1f",
                 "attack_kind": "adaptive-self", "perturbed_rate": 0.2})  # fmt: skip
    lines = coverage_lines({"rows": rows})
    table = [line for line in lines if line.startswith("| tatoeba")]
    assert table == ["| tatoeba | hi | visual | 0.0 |", "| tatoeba | zh | visual | 4.8-5.2 |"]
    assert not any("adaptive" in line for line in lines)  # adaptive sets skip wrong answers
    assert coverage_lines({"rows": rows[2:4]}) == []  # de visual, hi charnoise: most changed


def test_report_names_attacks_that_do_not_apply_and_forgets_cells_no_longer_planned(tmp_path):
    """The demo's real board; a plan without ``sets/tatoeba/distractor`` (it does not apply),
    whose state an earlier plan left as failed."""
    import json
    import shutil
    from pathlib import Path

    from studies.report import write_report

    board = Path(__file__).parents[2] / "docs/results/demo-xtreme-data/leaderboard.json"
    (tmp_path / "site").mkdir()
    shutil.copyfile(board, tmp_path / "site" / "leaderboard.json")
    study = {"name": "t", "fingerprint": "f", "not_applicable": [["tatoeba", "distractor"]],
             "cells": [{"id": "leaderboard", "kind": "leaderboard"}]}  # fmt: skip
    (tmp_path / "study.json").write_text(json.dumps(study), encoding="utf-8")
    (tmp_path / "state").mkdir()
    for cell, status in (("leaderboard", "done"), ("sets/tatoeba/distractor", "failed")):
        record = {"cell": cell, "kind": cell.split("/")[0], "status": status, "seconds": 1.0,
                  "reason": "attack distractor does not apply to task tatoeba"}  # fmt: skip
        name = cell.replace("/", "__") + ".json"
        (tmp_path / "state" / name).write_text(json.dumps(record), encoding="utf-8")
    report = write_report(tmp_path).read_text(encoding="utf-8")
    skipped = report[report.index("## Skipped or failed") : report.index("## Time per step")]
    assert "sets/tatoeba/distractor" not in skipped
    assert "- `distractor` on `tatoeba`: not planned, the attack does not apply" in skipped
