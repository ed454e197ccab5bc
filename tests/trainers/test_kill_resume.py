"""Kills during checkpoint writes: a run resumes from the newest complete checkpoint and ends
with the same bytes as an uninterrupted run, with no stray files."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trainers.checkpoints import checkpoint_problem
from trainers.cli import main
from trainers.hashing import sha256_file

REPO = Path(__file__).resolve().parents[2]
SMALL = ["--max-train-examples", "48", "--epochs", "1", "--batch-size", "8",
         "--grad-accum", "1", "--max-length", "64", "--logging-steps", "2",
         "--save-steps", "3", "--seed", "5"]  # fmt: skip
# Files whose bytes must not depend on kills (the card holds times and resume notes).
COMPARED = ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "trainers_run.json")  # fmt: skip


def _argv(tiny_model: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return ["direct", "--model", str(tiny_model), "--target", "xnli", "--out", str(out),
            "--data-dir", str(data), *SMALL, *extra]  # fmt: skip


def _files(out: Path) -> dict[str, str]:
    """Every file under ``out`` (relative name -> sha256), stray files included."""
    return {str(p.relative_to(out)): sha256_file(p) for p in out.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def reference(tiny_model: Path, xtreme_data_dir: Path, tmp_path_factory) -> Path:
    """The uninterrupted run (6 steps, checkpoints at 3 and, kept for resume tests, 6)."""
    out = tmp_path_factory.mktemp("kill") / "whole"
    assert main(_argv(tiny_model, xtreme_data_dir, out, "--keep-checkpoints")) == 0
    return out


def _assert_same_as(reference: Path, out: Path) -> None:
    ref, got = _files(reference), _files(out)
    assert sorted(got) == sorted(k for k in ref if not k.startswith("_work")), (
        "stray or missing files"
    )
    for name in COMPARED:
        assert got[name] == ref[name], name
    a = json.loads((reference / "provenance.json").read_text(encoding="utf-8"))
    b = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert a["weights_sha256"] == b["weights_sha256"]


def test_checkpoint_problems_are_named(reference: Path, tmp_path: Path) -> None:
    good = reference / "_work" / "target" / "checkpoint-3"
    assert checkpoint_problem(good) is None
    cases = {
        "trainer_state.json": "trainer_state.json missing",
        "model.safetensors": "model.safetensors is truncated",
        "optimizer.pt": "optimizer.pt is truncated",
        "rng_state.pth": "rng_state.pth is truncated",
    }
    for name, why in cases.items():
        broken = tmp_path / name / "checkpoint-3"
        shutil.copytree(good, broken)
        data = (broken / name).read_bytes()
        (broken / name).write_bytes(data[: len(data) // 2])
        assert why in checkpoint_problem(broken), name
    (broken / "rng_state.pth").unlink()
    assert checkpoint_problem(broken) == "rng_state.pth missing"


def test_planted_incomplete_checkpoints_are_set_aside(
    reference: Path, tiny_model: Path, xtreme_data_dir: Path, tmp_path: Path, caplog
) -> None:
    # A run killed after its step-3 checkpoint, with two newer checkpoints a kill left unfinished:
    # checkpoint-6 as a kill inside the weights write leaves it (config, weights as .tmp), and
    # checkpoint-5 whole but for a truncated optimizer file.
    out = tmp_path / "run"
    work = out / "_work" / "target"
    work.mkdir(parents=True)
    shutil.copy(reference / "trainers_run.json", out / "trainers_run.json")
    shutil.copytree(reference / "_work/target/checkpoint-3", work / "checkpoint-3")
    six = work / "checkpoint-6"
    six.mkdir()
    shutil.copy(reference / "_work/target/checkpoint-3/config.json", six / "config.json")
    weights = (reference / "_work/target/checkpoint-3/model.safetensors").read_bytes()
    (six / "model.safetensors.tmp").write_bytes(weights[:1000])
    five = work / "checkpoint-5"
    shutil.copytree(work / "checkpoint-3", five)
    state = json.loads((five / "trainer_state.json").read_text(encoding="utf-8"))
    (five / "trainer_state.json").write_text(json.dumps(dict(state, global_step=5)))
    (five / "optimizer.pt").write_bytes((five / "optimizer.pt").read_bytes()[:100])

    with caplog.at_level(logging.WARNING, logger="trainers"):
        assert main(_argv(tiny_model, xtreme_data_dir, out)) == 0
    aside = [r.getMessage() for r in caplog.records if "set aside" in r.getMessage()]
    assert len(aside) == 2 and "checkpoint-6 (trainer_state.json missing" in aside[0]
    assert "checkpoint-5 (optimizer.pt is truncated" in aside[1]
    card = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert card["phases"][0]["metrics"]["resumed_from"] == "checkpoint-3"
    _assert_same_as(reference, out)


@pytest.mark.slow
@pytest.mark.parametrize(
    "where",
    # Inside a checkpoint's weights; with --run-long also inside its optimizer file and inside
    # the phase's final save (then the run resumes from its last checkpoint and makes no step).
    [
        "checkpoint-6/model.safetensors",
        pytest.param("checkpoint-6/optimizer.pt", marks=pytest.mark.long),
        pytest.param("model/model.safetensors", marks=pytest.mark.long),
    ],
)
def test_sigkill_inside_a_checkpoint_write_then_same_command(
    where: str, reference: Path, tiny_model: Path, xtreme_data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    argv = _argv(tiny_model, xtreme_data_dir, out)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    done = subprocess.run(
        [sys.executable, "-m", "tests.trainers.killpoint", where, "--", *argv],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == -9, done.stderr[-2000:]
    folder, name = where.split("/")
    half = out / "_work" / "target" / folder / name
    assert half.is_file() and not (out / "provenance.json").exists()
    if folder.startswith("checkpoint-"):
        assert checkpoint_problem(half.parent) is not None
    assert main(argv) == 0
    _assert_same_as(reference, out)


def test_resumed_at_the_last_step_writes_the_same_config(
    reference: Path, tiny_model: Path, xtreme_data_dir: Path, tmp_path: Path
) -> None:
    # A kill during the phase's final save leaves the last checkpoint (step 6 of 6): the same
    # command resumes there, trains no step, and must still write the same config.json
    # (transformers sets problem_type in the first training forward pass only).
    out = tmp_path / "run"
    (out / "_work" / "target").mkdir(parents=True)
    shutil.copy(reference / "trainers_run.json", out / "trainers_run.json")
    shutil.copytree(reference / "_work/target/checkpoint-6", out / "_work/target/checkpoint-6")
    assert main(_argv(tiny_model, xtreme_data_dir, out)) == 0
    card = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert card["phases"][0]["metrics"]["resumed_from"] == "checkpoint-6"
    _assert_same_as(reference, out)


def test_kill_after_the_card_is_tidied_by_the_same_command(
    reference: Path, tiny_model: Path, xtreme_data_dir: Path, tmp_path: Path
) -> None:
    # What a kill right after provenance.json was written leaves: the whole folder, _work
    # included, plus the temporary file of an interrupted atomic write.
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    (out / ".provenance.json.abc123").write_text("{", encoding="utf-8")
    before = {k: v for k, v in _files(out).items() if not k.startswith(("_work", "."))}
    assert main(_argv(tiny_model, xtreme_data_dir, out)) == 0
    assert _files(out) == before  # nothing rewritten, leftovers gone
    _assert_same_as(reference, out)
