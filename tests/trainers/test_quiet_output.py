"""``xtreme-adv train`` is quiet by default (a progress bar per phase, one summary line) and shows
the libraries' logs with ``--verbose``; the final train loss stays in the card.

8 real XNLI examples, one optimisation step, each run a fresh ``xtreme-adv train`` process
(import-time noise counts too). The default run uses the real 2-layer embedded e5-small (whose
tokenizer triggers transformers' spurious regex warning); the ``--verbose`` run a tiny 2-layer
BERT (the same warnings from the same code paths, a third of the time).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

XTREME_ADV = str(Path(sys.executable).with_name("xtreme-adv"))
TINY = ["--max-train-examples", "8", "--epochs", "1", "--batch-size", "8", "--grad-accum", "1",
        "--max-length", "32"]  # fmt: skip
SUMMARY = re.compile(
    r"^finished (?P<id>\S+): (?P<out>.+) \(final train loss (?P<loss>[0-9.]+), "
    r"wall time (?P<wall>[0-9.]+) s\)$"
)
NOISE = ("Some weights", "newly initialized", "incorrect regex", "train_runtime", "'loss'",
         "Warning", "WARNING", "Running training", "Traceback")  # fmt: skip


def _argv(model: Path, data: Path, out: Path) -> list[str]:
    return ["direct", "--model", str(model), "--target", "xnli", "--out", str(out),
            "--data-dir", str(data), *TINY]  # fmt: skip


def _env() -> dict[str, str]:
    """This environment without the variables that quieten libraries by themselves."""
    quieting = ("TOKENIZERS_PARALLELISM", "PYTHONWARNINGS")
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_VERBOSITY") and k not in quieting}  # fmt: skip
    return dict(env, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="2")


def _card_loss(out: Path) -> float:
    card = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    (phase,) = card["phases"]
    # One step, logging_steps 50: the loss is logged at the final step all the same.
    assert phase["metrics"]["last_logged_step"] == phase["metrics"]["global_step"] == 1
    return phase["metrics"]["last_logged_loss"]


@pytest.mark.slow
def test_default_output_is_one_bar_and_one_summary_line(
    embedded_model_dir_small: Path, xtreme_data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "quiet"
    run = subprocess.run(
        [XTREME_ADV, "train", *_argv(embedded_model_dir_small, xtreme_data_dir, out)],
        capture_output=True, text=True, env=_env(), timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    # stdout: exactly the summary line, with the card's loss and wall time.
    (line,) = run.stdout.splitlines()
    match = SUMMARY.match(line)
    assert match, line
    card = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert match["id"] == card["model_id"] and Path(match["out"]) == out
    assert float(match["loss"]) == pytest.approx(_card_loss(out), abs=1e-4)
    assert float(match["wall"]) == pytest.approx(card["run"]["wall_time_s"], abs=0.05)
    # stderr: the target phase's progress bar and nothing else.
    pieces = [p.strip() for p in re.split(r"[\r\n]", run.stderr) if p.strip()]
    assert pieces and all(p.startswith("target: ") for p in pieces), run.stderr[-3000:]
    assert "target: 100%" in run.stderr
    for noise in NOISE:
        assert noise not in run.stderr + run.stdout, noise


@pytest.mark.slow
def test_verbose_shows_the_library_logs(
    tiny_model: Path, xtreme_data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "verbose"
    run = subprocess.run(
        [XTREME_ADV, "train", *_argv(tiny_model, xtreme_data_dir, out), "--verbose"],
        capture_output=True, text=True, env=_env(), timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Some weights of BertForSequenceClassification were not initialized" in run.stderr
    assert "newly initialized" in run.stderr and "***** Running training *****" in run.stderr
    assert "'train_runtime'" in run.stdout and "'loss'" in run.stdout  # Trainer's log dicts
    match = SUMMARY.match(run.stdout.splitlines()[-1])
    assert match and float(match["loss"]) == pytest.approx(_card_loss(out), abs=1e-4)
