"""Kill campaign for ``xtreme-adv train`` (marked ``long``: minutes).

An intermediate run (ANLI + SocialIQA, then XNLI; tiny 2-layer encoder, checkpoints every 3
steps) is killed with SIGKILL, then started again with the same command until it finishes:

- at random moments (uniform over an uninterrupted run's wall time, ``XTREME_ADV_KILLS`` runs,
  default 12, up to 3 kills each, seeded);
- inside chosen writes (``tests/trainers/killpoint.py``): half of a checkpoint's weights, of its
  optimizer file, of an RNG file, and of the target phase's final weights.

Each finished folder is compared with an uninterrupted run's: the same bytes in
``model.safetensors``, ``config.json``, tokenizer files and ``trainers_run.json``, and exactly the
same file names (no stray files). The figures are printed (run with ``-s``)::

    XTREME_ADV_LONG=1 pytest -s tests/trainers/test_kill_campaign.py
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trainers.hashing import sha256_file

REPO = Path(__file__).resolve().parents[2]
COMPARED = ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "trainers_run.json")  # fmt: skip
CHOSEN = (
    "checkpoint-3/model.safetensors",  # intermediate phase: first checkpoint's weights
    "checkpoint-6/optimizer.pt",  # intermediate phase, second checkpoint
    "checkpoint-3/rng_state.pth",
    "model/model.safetensors",  # target phase's final save, before phase.json
)

pytestmark = pytest.mark.long


def _argv(tiny_model: Path, data: Path, inter: Path, out: Path) -> list[str]:
    return ["intermediate", "--model", str(tiny_model), "--intermediate", "anli,socialiqa",
            "--target", "xnli", "--out", str(out), "--data-dir", str(data),
            "--intermediate-dir", str(inter), "--seed", "7", "--save-steps", "3",
            "--max-train-examples", "48", "--epochs", "1", "--batch-size", "8", "--grad-accum",
            "1", "--max-length", "64", "--intermediate-epochs", "2",
            "--intermediate-batch-size", "8", "--intermediate-grad-accum", "1",
            "--intermediate-max-length", "64", "--multitask-cap", "24"]  # fmt: skip


def _env() -> dict:
    return dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS="1",
                MKL_NUM_THREADS="1")  # fmt: skip


def _train(argv: list[str], kill_after: float | None = None) -> int:
    """Run ``xtreme-adv train`` in a subprocess; SIGKILL it after ``kill_after`` seconds."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "trainers", *argv], cwd=REPO, env=_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        return proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return -9


def _files(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): sha256_file(p) for p in out.rglob("*") if p.is_file()}


def _verdict(reference: Path, out: Path) -> tuple[bool, list[str]]:
    ref, got = _files(reference), _files(out)
    stray = sorted(set(got) - set(ref)) + [f"missing {k}" for k in sorted(set(ref) - set(got))]
    same = all(got.get(name) == ref[name] for name in COMPARED)
    return same, stray


def test_kill_campaign(
    tiny_model: Path, xtreme_data_dir: Path, intermediate_dir: Path, tmp_path: Path
) -> None:
    reference = tmp_path / "reference"
    started = time.monotonic()
    assert _train(_argv(tiny_model, xtreme_data_dir, intermediate_dir, reference)) == 0
    full = time.monotonic() - started
    rng = random.Random(int(os.environ.get("XTREME_ADV_KILL_SEED", "0")))
    runs = int(os.environ.get("XTREME_ADV_KILLS", "12"))
    rows = []
    for n in range(runs):
        out = tmp_path / f"random-{n}"
        argv = _argv(tiny_model, xtreme_data_dir, intermediate_dir, out)
        kills = 0
        for _ in range(rng.randint(1, 3)):
            if _train(argv, kill_after=rng.uniform(0, 0.95 * full)) == -9:
                kills += 1
        rows.append((f"random-{n}", kills, _train(argv), out))
    for where in CHOSEN:
        out = tmp_path / where.replace("/", "_")
        argv = _argv(tiny_model, xtreme_data_dir, intermediate_dir, out)
        done = subprocess.run(
            [sys.executable, "-m", "tests.trainers.killpoint", where, "--", *argv],
            cwd=REPO, env=_env(), capture_output=True, timeout=900,
        )  # fmt: skip
        rows.append((where, int(done.returncode == -9), _train(argv), out))

    print(f"\nkill campaign: uninterrupted run {full:.1f} s")
    print("run                              kills  resumed  byte-identical  stray files")
    totals = [0, 0, 0, 0]
    for name, kills, code, out in rows:
        same, stray = _verdict(reference, out) if code == 0 else (False, ["(did not finish)"])
        print(f"{name:<32} {kills:>5}  {code == 0!s:>7}  {same!s:>14}  {len(stray)} {stray[:3]}")
        totals = [totals[0] + kills, totals[1] + (code == 0), totals[2] + same,
                  totals[3] + len(stray)]  # fmt: skip
    print(f"total: {len(rows)} runs, {totals[0]} kills, {totals[1]} resumed to the end, "
          f"{totals[2]} byte-identical, {totals[3]} stray files")  # fmt: skip
    assert totals[1] == totals[2] == len(rows) and totals[3] == 0
