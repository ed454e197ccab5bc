"""``leaderboard check``: the CI regression gate."""

from __future__ import annotations

import json

import pytest

from leaderboards.cli import main
from leaderboards.synthetic import SyntheticModel, write_results_folder

PLAN = [("xnli", ["de", "fr"], ["charnoise"])]


def _model(robustness: float, skill: float = 0.8) -> SyntheticModel:
    return SyntheticModel("ci-model", skill=skill, robustness=robustness)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate")
    write_results_folder(root / "base", _model(0.8), PLAN, n_docs=400)
    site = root / "site"
    assert main(["build", str(root / "base"), "--out", str(site), "--bootstrap", "200"]) == 0
    return root / "site" / "leaderboard.json"


def _check(baseline, results, *more):
    return main(["check", "--baseline", str(baseline), "--results", str(results), *more])


def test_same_results_pass(baseline, capsys):
    rc = _check(baseline, baseline.parent.parent / "base")
    out = capsys.readouterr().out
    assert rc == 0 and "no regression" in out and "2 rows" in out


def test_a_less_robust_model_fails_with_a_table(baseline, tmp_path, capsys):
    write_results_folder(tmp_path, _model(0.5), PLAN, n_docs=400)
    rc = _check(baseline, tmp_path)
    out = capsys.readouterr().out
    assert rc == 1
    lines = [x for x in out.splitlines() if x.startswith("| ci-model")]
    # Both languages: adversarial score fell and drop rose; the clean score is unchanged.
    assert {(x.split("|")[3].strip(), x.split("|")[5].strip()) for x in lines} == {
        ("de", "adv"),
        ("de", "drop"),
        ("fr", "adv"),
        ("fr", "drop"),
    }
    assert "baseline outside 95% CI" in out
    # Values in the table are the leaderboard's numbers x100.
    base = json.loads(baseline.read_text())["rows"]
    de = next(r for r in base if r["lang"] == "de")
    assert f"| {100 * de['drop']:.1f} |" in out


def test_tolerance_absorbs_the_change(baseline, tmp_path, capsys):
    write_results_folder(tmp_path, _model(0.5), PLAN, n_docs=400)
    assert _check(baseline, tmp_path, "--tolerance", "0.9") == 0
    capsys.readouterr()


def test_without_samples_the_tolerance_alone_decides(baseline, tmp_path, capsys):
    # A small worsening (0.8 -> 0.76 survival) without per-sample files: no interval to lean on.
    write_results_folder(tmp_path, _model(0.76), PLAN, n_docs=400, with_samples=False)
    assert _check(baseline, tmp_path, "--tolerance", "0.005") == 1
    out = capsys.readouterr().out
    assert "| - |" in out  # no interval column
    assert _check(baseline, tmp_path, "--tolerance", "0.2") == 0
    capsys.readouterr()


def test_within_the_interval_is_not_a_regression(baseline, tmp_path, capsys):
    # Shift the baseline's drop down by a hair more than the tolerance, but inside the interval.
    data = json.loads(baseline.read_text())
    for row in data["rows"]:
        row["drop"] -= 0.011
    path = tmp_path / "leaderboard.json"
    path.write_text(json.dumps(data))
    assert _check(path, baseline.parent.parent / "base", "--tolerance", "0.01") == 0
    # Far outside the interval it is one.
    for row in data["rows"]:
        row["drop"] -= 0.2
    path.write_text(json.dumps(data))
    assert _check(path, baseline.parent.parent / "base", "--tolerance", "0.01") == 1
    capsys.readouterr()


def test_missing_rows_are_regressions(baseline, tmp_path, capsys):
    write_results_folder(tmp_path, _model(0.8), [("xnli", ["de"], ["charnoise"])], n_docs=400)
    assert _check(baseline, tmp_path) == 1
    row = "| fr | charnoise | all | - | - | - | missing from the results |"
    assert row in capsys.readouterr().out


def test_bad_baseline_and_tolerance(baseline, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "something else"}')
    assert _check(bad, baseline.parent.parent / "base") == 2
    assert "bad.json: schema is not" in capsys.readouterr().err
    assert _check(baseline, baseline.parent.parent / "base", "--tolerance", "-1") == 2
    assert "--tolerance is -1.0" in capsys.readouterr().err


def test_a_baseline_model_missing_from_the_results_fails(tmp_path, capsys):
    # Two models in the baseline; the fresh results hold only one of them.
    other = SyntheticModel("other-model", skill=0.7, robustness=0.8, seed=7)
    write_results_folder(tmp_path / "base", _model(0.8), PLAN, n_docs=100)
    write_results_folder(tmp_path / "base", other, PLAN, n_docs=100)
    site = tmp_path / "site"
    assert main(["build", str(tmp_path / "base"), "--out", str(site), "--bootstrap", "50"]) == 0
    write_results_folder(tmp_path / "now", _model(0.8), PLAN, n_docs=100)
    capsys.readouterr()
    assert _check(site / "leaderboard.json", tmp_path / "now", "--bootstrap", "50") == 1
    out = capsys.readouterr().out
    assert "| other-model | xnli | de | charnoise | all |" in out
    assert "| ci-model" not in out
