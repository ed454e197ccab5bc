"""Shared intermediate phases (``--intermediate-cache``): trained once, reused by every target,
the same weights as unshared runs, resumable after a kill inside the shared phase."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

import pytest
from safetensors.torch import load_file
from transformers import TrainerCallback

from trainers.cli import build_parser, config_from_args, main
from trainers.pipeline import run
from trainers.shared_phase import phase_lock

SMALL = ["--max-train-examples", "32", "--epochs", "1", "--batch-size", "8",
         "--grad-accum", "1", "--max-length", "48", "--logging-steps", "2",
         "--intermediate-epochs", "2", "--intermediate-batch-size", "8",
         "--intermediate-grad-accum", "1", "--intermediate-max-length", "48",
         "--intermediate-max-train-examples", "24", "--freeze-embeddings"]  # fmt: skip


def _card(out: Path) -> dict:
    return json.loads((out / "provenance.json").read_text(encoding="utf-8"))


def _argv(model: Path, data: Path, inter: Path, target: str, out: Path, *extra: str) -> list[str]:
    return ["intermediate", "--model", str(model), "--intermediate", "socialiqa",
            "--target", target, "--out", str(out), "--data-dir", str(data),
            "--intermediate-dir", str(inter), "--seed", "5", *SMALL, *extra]  # fmt: skip


class _Killed(Exception):
    """Stands for the process being killed."""


class _KillAtStep(TrainerCallback):
    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise _Killed(f"step {self.step}")


def test_targets_share_one_intermediate_phase_with_unshared_weights(
    tiny_model: Path, xtreme_data_dir: Path, intermediate_dir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "intermediate"
    args = (tiny_model, xtreme_data_dir, intermediate_dir)
    # A kill inside the shared phase (socialiqa: 3 steps an epoch, a resume point every 2) ...
    config = config_from_args(
        build_parser().parse_args(
            _argv(
                *args,
                "xnli",
                tmp_path / "xnli",
                "--intermediate-cache",
                str(cache),
                "--save-steps",
                "2",
            )  # fmt: skip
        )
    )
    with pytest.raises(_Killed):
        run(config, callbacks=[_KillAtStep(3)])
    (phase,) = [p for p in cache.iterdir() if p.is_dir()]
    assert phase.name.startswith("socialiqa-s5-")
    assert (phase / "checkpoint-2").is_dir() and not (phase / "phase.json").exists()
    # ... is resumed by the same command, which leaves the encoder and record, no resume points.
    assert main(_argv(*args, "xnli", tmp_path / "xnli", "--intermediate-cache", str(cache),
                      "--save-steps", "2")) == 0  # fmt: skip
    assert sorted(p.name for p in phase.iterdir()) == ["encoder", "phase.json"]
    record = json.loads((phase / "phase.json").read_text(encoding="utf-8"))
    assert record["metrics"]["resumed_from"] == "checkpoint-2"

    # A run for another target reuses it: no phase trained, the same record in its card.
    stamp = (phase / "encoder" / "model.safetensors").stat().st_mtime_ns
    assert main(_argv(*args, "pawsx", tmp_path / "pawsx", "--intermediate-cache", str(cache))) == 0
    assert (phase / "encoder" / "model.safetensors").stat().st_mtime_ns == stamp
    assert [p.name for p in cache.iterdir() if p.is_dir()] == [phase.name]
    shared = _card(tmp_path / "pawsx")
    assert shared["phases"][0] == record and shared["recipe"] == "intermediate"
    assert _card(tmp_path / "xnli")["phases"][0] == record

    # Sharing changes no weight: the same run without the cache trains the same model ...
    assert main(_argv(*args, "pawsx", tmp_path / "alone")) == 0
    alone = _card(tmp_path / "alone")
    assert alone["weights_sha256"] == shared["weights_sha256"]
    assert alone["phases"][0]["hyperparameters"] == record["hyperparameters"]
    # ... and a retrieval target publishes the shared encoder itself.
    assert main(_argv(*args, "tatoeba", tmp_path / "tatoeba", "--intermediate-cache",
                      str(cache))) == 0  # fmt: skip
    encoder = load_file(phase / "encoder" / "model.safetensors")
    published = load_file(tmp_path / "tatoeba" / "model.safetensors")
    assert encoder.keys() == published.keys()
    assert all(published[k].equal(v) for k, v in encoder.items())

    # Another seed is another phase.
    assert main(_argv(*args, "xnli", tmp_path / "seed6", "--intermediate-cache", str(cache),
                      "--seed", "6")) == 0  # fmt: skip
    names = sorted(p.name for p in cache.iterdir() if p.is_dir())
    assert len(names) == 2 and any(n.startswith("socialiqa-s6-") for n in names)


def test_a_phase_being_trained_is_locked(tmp_path: Path) -> None:
    folder = tmp_path / "cache" / "anli-s1-0123456789abcdef"
    with phase_lock(folder, hold=True):
        with open(folder.with_name(folder.name + ".lock"), "a+") as other:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(folder.with_name(folder.name + ".lock"), "a+") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released


def test_cache_is_for_intermediate_runs_and_folders(tmp_path: Path, capsys) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x", encoding="utf-8")
    code = main(["intermediate", "--intermediate", "anli", "--target", "xnli", "--out",
                 str(tmp_path / "o"), "--intermediate-cache", str(not_a_folder)])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--intermediate-cache {not_a_folder}" in err
    assert not (tmp_path / "o").exists()
