"""``leaderboard check`` against the baseline's own samples: paired per document, FDR."""

from __future__ import annotations

import json

import numpy as np
import pytest

from leaderboards import submission
from leaderboards.cli import main
from leaderboards.results import task_hash_of
from leaderboards.synthetic import SyntheticModel, write_results_folder

from .conftest import edit_results, results_file

LANGS = ["de", "sw"]
PLAN = [("xnli", LANGS, ["charnoise", "visual"])]
N = 1000


def _model() -> SyntheticModel:
    return SyntheticModel("ci-model", skill=0.8, robustness=0.75)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate-base")
    write_results_folder(root, _model(), PLAN, n_docs=N, seed=0)
    return root


def _check(baseline, results, *more):
    return main(
        ["check", "--baseline", str(baseline), "--results", str(results), "--bootstrap", "300",
         *more]
    )  # fmt: skip


@pytest.mark.slow
def test_fresh_samples_of_the_same_model_pass(base, tmp_path, capsys):
    # Each fresh sample redraws every per-document outcome (a new evaluation run, new noise):
    # 4 rows x 3 measures per check, 4 checks.
    failed = []
    for run in range(1, 5):
        folder = tmp_path / f"fresh{run}"
        write_results_folder(folder, _model(), PLAN, n_docs=N, seed=run)
        rc = _check(base, folder)
        out = capsys.readouterr().out
        if rc != 0:
            failed.append(out)
    assert not failed, failed[0]


def _break(folder, lang: str, n_more: int) -> None:
    """The attack breaks ``n_more`` more documents of one language (a real regression)."""
    task = f"xtreme_adv_xnli_charnoise_{lang}"
    path = next(folder.glob(f"samples_{task}_*.jsonl"))
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    broken = 0
    for line in lines:
        if line["acc"] == 1.0 and broken < n_more:
            line["acc"] = 0.0
            broken += 1
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))

    def change(data):
        data["results"][task]["acc,none"] = float(np.mean([x["acc"] for x in lines]))
        data["task_hashes"][task] = task_hash_of(lines)

    edit_results(results_file(folder), change)


def test_a_three_point_drop_on_one_language_fails(base, tmp_path, capsys):
    import shutil

    folder = tmp_path / "worse"
    shutil.copytree(base, folder)
    _break(folder / "ci-model", "sw", 30)  # 30 of 1,000 documents: 3 points
    assert _check(base, folder) == 1
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith("| ci-model")]
    assert table and all("| sw | charnoise |" in line for line in table)
    assert {line.split("|")[5].strip() for line in table} == {"adv", "drop"}


def test_archives_are_accepted_on_both_sides(base, tmp_path, capsys):
    archive = tmp_path / "base.tar.gz"
    submission.submit([base], archive)
    assert _check(archive, archive) == 0
    assert "no regression" in capsys.readouterr().out
    assert _check(archive, base) == 0
