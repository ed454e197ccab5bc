"""The same command as a 2-process data-parallel job on CPU (gloo): ``xtreme-adv train
--nproc-per-node 2``, which runs ``torchrun -m trainers`` with the other arguments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoModelForSequenceClassification

from trainers.hashing import sha256_file
from trainers.launch import launch_command

XTREME_ADV = str(Path(sys.executable).with_name("xtreme-adv"))


@pytest.mark.slow
def test_torchrun_two_processes_on_cpu(
    tiny_model: Path, xtreme_data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ddp"
    command = [
        XTREME_ADV, "train", "direct", "--nproc-per-node", "2", "--model", str(tiny_model),
        "--target", "pawsx", "--out", str(out), "--data-dir", str(xtreme_data_dir),
        "--max-train-examples", "64", "--epochs", "1", "--batch-size", "8", "--grad-accum", "1",
        "--max-length", "64", "--freeze-embeddings",
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    card = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    hyper = card["phases"][0]["hyperparameters"]
    assert hyper["world_size"] == 2 and hyper["effective_batch_size"] == 16
    assert card["phases"][0]["metrics"]["global_step"] == 4  # 64 examples / (2 x 8)
    assert card["weights_sha256"] == sha256_file(out / "model.safetensors")
    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert model.config.id2label == {0: "not_paraphrase", 1: "paraphrase"}


def test_nproc_per_node_is_torchrun_with_the_other_arguments(tmp_path: Path) -> None:
    argv = ["direct", "--nproc-per-node", "4", "--target", "xnli", "--nproc-per-node=4", "--bf16"]
    assert launch_command(argv, 4) == [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "4",
        "-m", "trainers", "direct", "--target", "xnli", "--bf16",
    ]  # fmt: skip
    # A bad count is one line, exit 2, checked before anything is launched.
    bad = subprocess.run(
        [XTREME_ADV, "train", "direct", "--target", "xnli", "--out", str(tmp_path / "o"),
         "--nproc-per-node", "zero"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines()[-1] == (
        "xtreme-adv train: error: --nproc-per-node 'zero': not an integer"
    )
    assert not (tmp_path / "o").exists()
