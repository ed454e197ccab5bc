"""A tiny study end to end: report from the leaderboard, resumption after kills, 2 shards merged
by copying folders, a failed cell reported while the others go on, the submitit launcher."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import tiny_study

pytestmark = pytest.mark.shared_data
XTREME_ADV = str(Path(sys.executable).with_name("xtreme-adv"))


def _env() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS="2")
    env.pop("XTREME_DATA_DIR", None)
    return env


def _head() -> str:
    return subprocess.run(["git", "-C", str(Path(__file__).parent), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip


def _run(*args: str, timeout: int = 1200) -> subprocess.CompletedProcess:
    cmd = (
        [XTREME_ADV, "study", *args, "--no-progress"]
        if args[0] == "run"
        else [XTREME_ADV, "study", *args]
    )
    return subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=timeout)


def _board(out: Path) -> dict:
    """The leaderboard's numbers (rows and comparisons), without file paths."""
    board = json.loads((out / "site" / "leaderboard.json").read_text(encoding="utf-8"))
    return {"rows": board["rows"], "comparisons": board["comparisons"]}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, shared_data, embedded_model_dir_small) -> tuple[Path, Path]:
    """The tiny study run once, uninterrupted: (study file, study folder)."""
    root = tmp_path_factory.mktemp("study")
    path = tiny_study(
        root / "spec",
        embedded_model_dir_small,
        shared_data,
        adaptive={"attacks": ["charnoise"], "query_budget": 30, "num_examples": 8},
    )
    run = _run("run", str(path), "--out", str(root / "ref"))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return path, root / "ref"


@pytest.mark.slow
def test_tiny_study_reports_the_leaderboard_comparison(reference):
    path, out = reference
    board = json.loads((out / "site" / "leaderboard.json").read_text(encoding="utf-8"))
    static, adaptive = sorted(board["comparisons"], key=lambda c: c["attack"] != "charnoise")
    assert (static["task"], static["lang"], static["attack"]) == ("xnli", "de", "charnoise")
    # Each model is also compared under the adaptive attack built against itself (8 documents).
    assert (adaptive["attack"], adaptive["attack_kind"]) == ("adaptive-charnoise", "adaptive-self")
    assert adaptive["n_paired"] == 8
    report = (out / "report.md").read_text(encoding="utf-8")
    for cmp in (static, adaptive):
        assert cmp["intermediate_models"] == ["tiny-e5s2-xnli-anli-s1"]
        assert cmp["direct_models"] == ["tiny-e5s2-xnli-direct-s1"]
        assert cmp["ci_examples"] is not None and cmp["p_adjusted"] is not None
        # The report's row is the leaderboard's numbers, formatted.
        head = f"| {cmp['comparison']} | xnli | de | {cmp['attack']} |"
        row = next(line for line in report.splitlines() if line.startswith(head))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[7] == f"{100 * cmp['diff']:+.1f}"
        lo, hi = cmp["ci_examples"]
        assert cells[8] == f"[{100 * lo:+.1f}, {100 * hi:+.1f}]"
        assert cells[9] == "n/a"  # one seed: no interval over seeds
        assert cells[10] == f"{cmp['p_adjusted']:.3g}"
    rows = {(r["model"], r["attack"].rsplit("-", 1)[0]): r for r in board["rows"]}
    for model in ("tiny-e5s2-xnli-anli-s1", "tiny-e5s2-xnli-direct-s1"):
        row = rows[(model, "adaptive-charnoise")]
        assert row["attack_kind"] == "adaptive-self"
        # the attacked checkpoint by hash and folder name: no local path on a public board
        assert row["attack_set"]["source_model"]["path"] == model
    assert "sha256" in report and (out / "report.png").stat().st_size > 5000
    # Context tables: each recipe's training loss and clean score, and TextAttack's metrics of
    # the adaptive attacks, copied from the checkpoints' cards and the attacks' reports.
    table = {tuple(c.strip() for c in line.strip("|").split("|")[:3]): line
             for line in report.splitlines() if line.startswith("| xnli |")}  # fmt: skip
    models = {m["model"]: m for m in board["models"]}
    for model, recipe in (
        ("tiny-e5s2-xnli-anli-s1", "anli"),
        ("tiny-e5s2-xnli-direct-s1", "direct"),
    ):
        cells = [c.strip() for c in table[("xnli", recipe, "1")].strip("|").split("|")]
        losses = {p["name"]: p["metrics"]["last_logged_loss"]
                  for p in models[model]["provenance"]["phases"]}  # fmt: skip
        assert cells[3] == (f"{losses['intermediate']:.3f}" if recipe == "anli" else "n/a")
        assert cells[4] == f"{losses['target']:.3f}"
        assert cells[5] == f"{100 * rows[(model, 'charnoise')]['clean']:.1f}"
        reports = list((out / "adaptive" / model / "charnoise").glob("*.json"))
        assert [r.name for r in reports] == ["de.json"]
        metrics = json.loads(reports[0].read_text(encoding="utf-8"))["metrics"]
        cells = [c.strip() for c in table[("xnli", recipe, "charnoise")].strip("|").split("|")]
        assert cells[3:6] == ["1", "8", f"{metrics['original_accuracy']:.1f}"]
        assert cells[6] == f"{metrics['accuracy_under_attack']:.1f}"
    assert (out / "site" / "study.html").is_file() and (out / "site" / "index.html").is_file()
    # Each checkpoint was scored on the held-out half only (docs/contracts.md section 8).
    scored = {}
    for results in (out / "results").rglob("results_*.json"):
        scored.update(json.loads(results.read_text())["xtreme_adv"]["tasks"])
    assert len(scored) == 4  # clean, static, and the two models' own adaptive sets
    assert {t["parallel_half"]["scored_half"] for t in scored.values()} == {1}
    # The adaptive sets were attacked with the study's settings of the family.
    params = [t["params"] for t in scored.values() if "params" in t]
    assert len(params) == 3 and all(p["min_similarity"] == 0 for p in params)
    # Run again: everything is done, nothing is redone.
    states = {p.name: p.read_bytes() for p in (out / "state").glob("*.json")}
    again = _run("run", str(path), "--out", str(out), timeout=300)
    assert again.returncode == 0 and "tiny: 12 done" in again.stdout
    assert {p.name: p.read_bytes() for p in (out / "state").glob("*.json")} == states
    status = _run("status", "--out", str(out))
    assert "total: 12 done" in status.stdout


@pytest.mark.slow
def test_export_copies_what_the_answer_is_published_with(reference, tmp_path):
    path, out = reference
    to = tmp_path / "docs" / "results" / "tiny"
    proc = _run("export", "--out", str(out), "--to", str(to))
    assert proc.returncode == 0, proc.stderr
    for name in ("report.md", "report.png", "leaderboard.json", "summary.md", "study.json"):
        assert (to / name).read_bytes() == (out / name if name.startswith(("report", "study"))
                                            else out / "site" / name).read_bytes()  # fmt: skip
    # The command that planned the study, as typed, in the plan and the report's provenance.
    study = json.loads((to / "study.json").read_text(encoding="utf-8"))
    assert study["command"] == f"xtreme-adv study run {path} --out {out} --no-progress"
    cells = json.loads((to / "cells.json").read_text(encoding="utf-8"))["cells"]
    assert list(cells) == [c["id"] for c in study["cells"]]
    for cell_id, cell in cells.items():
        state = json.loads((out / "state" / (cell_id.replace("/", "__") + ".json")).read_text())
        assert cell["status"] == state["status"] == "done"
        assert cell["seconds"] == state["seconds"] and cell["argv"] == state["argv"]
        # the checkout the cells ran from (this repository, a clean or dirty tree)
        assert cell["code"].removesuffix("-dirty") == _head()
    report = (to / "report.md").read_text(encoding="utf-8")
    assert f"`{cells[next(iter(cells))]['code']}` ({len(cells) - 1} cells)" in report  # no report
    adaptive = sorted(p.relative_to(to) for p in (to / "adaptive").rglob("*.json"))
    assert adaptive == sorted(p.relative_to(out) for p in (out / "adaptive").rglob("*.json"))
    assert len(adaptive) == 2  # the two models' charnoise attack in de
    inside = _run("export", "--out", str(out), "--to", str(out / "published"))
    assert inside.returncode == 2 and "inside the study folder" in inside.stderr
    assert not (out / "published").exists()


@pytest.mark.slow
def test_killed_shards_resumed_and_merged_equal_the_unsharded_study(reference, tmp_path):
    path, ref = reference
    shards = [tmp_path / "shard0", tmp_path / "shard1"]
    # Shard 0 is killed (the whole process group, SIGKILL) at a random moment after its first
    # cell finished, then run again with the same command.
    cmd = [
        XTREME_ADV,
        "study",
        "run",
        str(path),
        "--out",
        str(shards[0]),
        "--shard",
        "0/2",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        cmd,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    delay = random.Random(os.getpid()).uniform(0, 15)
    deadline = time.time() + 600
    while not list((shards[0] / "state").glob("*.json")) and proc.poll() is None:
        assert time.time() < deadline
        time.sleep(0.2)
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for i, out in enumerate(shards):
        run = _run("run", str(path), "--out", str(out), "--shard", f"{i}/2")
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        assert not (out / "site").exists()  # the board waits for the merge
    assert not list(shards[0].rglob(".*tmp-*"))  # no stray temporaries after the resume
    merged = tmp_path / "merged"
    for out in shards:
        shutil.copytree(out, merged, dirs_exist_ok=True)
    run = _run("run", str(path), "--out", str(merged))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "train" not in run.stdout.replace("tiny:", "")  # nothing retrained
    assert _board(merged) == _board(ref)


@pytest.mark.slow
def test_a_failed_cell_is_reported_and_the_others_go_on(
    tmp_path, shared_data, embedded_model_dir_small
):
    # The intermediate recipe reads a folder without ANLI files: its training fails, its eval is
    # skipped with that reason, the direct model is trained, evaluated and put on the board.
    empty = tmp_path / "no-anli"
    empty.mkdir()
    path = tiny_study(
        tmp_path / "spec",
        embedded_model_dir_small,
        shared_data,
        data={"xtreme_dir": str(shared_data / "xtreme"), "intermediate_dir": str(empty)},
        targets=["tatoeba"],
        languages=["de"],
        limits={"train_examples": 16, "retrieval_docs": 10},
    )
    out = tmp_path / "out"
    run = _run("run", str(path), "--out", str(out))
    assert run.returncode == 1
    assert "train/tiny-e5s2-tatoeba-anli-s1: failed: " in run.stdout
    status = _run("status", "--out", str(out)).stdout
    assert (
        "eval/tiny-e5s2-tatoeba-anli-s1: skipped: needs train/tiny-e5s2-tatoeba-anli-s1" in status
    )
    board = json.loads((out / "site" / "leaderboard.json").read_text(encoding="utf-8"))
    assert {r["model"] for r in board["rows"]} >= {"tiny-e5s2-tatoeba-direct-s1"}
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "`train/tiny-e5s2-tatoeba-anli-s1`: failed:" in report


@pytest.mark.slow
def test_slurm_launcher_through_submitits_local_executor(
    tmp_path, shared_data, embedded_model_dir_small
):
    path = tiny_study(
        tmp_path / "spec",
        embedded_model_dir_small,
        shared_data,
        recipes=["direct"],
        targets=["tatoeba"],
        languages=["de"],
        limits={"retrieval_docs": 10},
    )
    out = tmp_path / "out"
    run = _run("run", str(path), "--out", str(out), "--launcher", "slurm", "--cluster", "local")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert list((out / "submitit").rglob("*_submitted.pkl"))  # jobs went through submitit
    board = json.loads((out / "site" / "leaderboard.json").read_text(encoding="utf-8"))
    assert {(r["model"], r["lang"], r["attack"]) for r in board["rows"]} == {
        ("tiny-e5s2-tatoeba-direct-s1", "de", "charnoise")
    }
    assert (out / "report.md").is_file()


@pytest.mark.long
def test_kill_campaign_study(reference, tmp_path):
    """SIGKILL the whole study (process group) at random moments, XTREME_ADV_KILLS times
    (default 4), then run it to the end: the leaderboard equals the uninterrupted one and no
    temporary is left. Prints the campaign's figures."""
    path, ref = reference
    kills = int(os.environ.get("XTREME_ADV_KILLS", "4"))
    rng = random.Random(int(os.environ.get("XTREME_ADV_KILL_SEED", "0")))
    out = tmp_path / "killed"
    cmd = [XTREME_ADV, "study", "run", str(path), "--out", str(out), "--no-progress"]
    landed = 0
    for _ in range(kills):
        proc = subprocess.Popen(
            cmd,
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=rng.uniform(5, 60))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            landed += 1
    run = _run("run", str(path), "--out", str(out))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    stray = [p for p in out.rglob("*") if ".tmp-" in p.name]
    print(
        f"study kill campaign: kills={kills} landed={landed} stray={len(stray)} "
        f"identical={_board(out) == _board(ref)}"
    )
    assert _board(out) == _board(ref)
    assert not stray
