"""The command as users run it: ``xtreme-adv leaderboard ...`` through the entry point."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import REAL

REPO = Path(__file__).resolve().parents[2]


def _xtreme_adv() -> list[str]:
    exe = shutil.which("xtreme-adv") or str(Path(sys.executable).parent / "xtreme-adv")
    if not Path(exe).exists():
        pytest.skip("xtreme-adv is not installed (pip install -e .)")
    return [exe]


def test_build_through_the_dispatcher_prints_markdown_and_the_site(corpus, tmp_path):
    site = tmp_path / "site"
    proc = subprocess.run(
        [*_xtreme_adv(), "leaderboard", "build", str(corpus), "--out", str(site),
         "--bootstrap", "50"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONHASHSEED": "0"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "| e5s-xnli-anli-s1 | intermediate | 1 |" in proc.stdout
    assert "## Intermediate-task training vs direct fine-tuning" in proc.stdout
    assert f"site: {(site / 'index.html').resolve()}" in proc.stdout
    for name in ("index.html", "leaderboard.json", "rows.csv", "comparisons.csv", "summary.md"):
        assert (site / name).is_file()
    assert (site / "summary.md").read_text() in proc.stdout


def test_bad_input_through_the_dispatcher_is_one_line(tmp_path):
    proc = subprocess.run(
        [*_xtreme_adv(), "leaderboard", "check", "--baseline", str(tmp_path / "none.json"),
         "--results", str(REAL)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    missing = tmp_path / "none.json"
    expected = f"xtreme-adv leaderboard: error: {missing}: cannot read (No such file or directory)"
    assert proc.stderr == expected + "\n"


def test_the_real_dummy_run_builds_a_site(tmp_path, capsys):
    from leaderboards.cli import main

    assert main(["build", str(REAL), "--out", str(tmp_path / "s"), "--bootstrap", "100"]) == 0
    out = capsys.readouterr().out
    # No provenance card: the model is listed without a recipe, and nothing is compared.
    assert "| i82qcls7 | - | - | 33.3 | 33.3 | 0.0 | 0.0 | 1 | 1 |" in out
    assert "Intermediate-task training" not in out


def test_docs_ci_workflow_runs_the_gate():
    workflow = yaml.safe_load((REPO / "docs" / "ci-example-workflow.yml").read_text())
    steps = [s.get("run", "") for job in workflow["jobs"].values() for s in job["steps"]]
    script = "\n".join(steps)
    assert "xtreme-adv leaderboard check --baseline" in script
    assert "apt-get install -y chromium" not in script  # the gate needs no browser
    assert "xtreme-adv eval" in script
