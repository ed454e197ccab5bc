"""Real model, real data, real evaluation: train on the embedded e5-small, score with lm-eval.

The embedded model is cut to 2 layers and trained on 64 examples so the test fits the suite's
budget; the full-size numbers are in docs/trainers.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trainers.hashing import sha256_file

XTREME_ADV = str(Path(sys.executable).with_name("xtreme-adv"))


@pytest.mark.slow
def test_direct_xnli_checkpoint_evaluates_through_xtreme_adv_eval(
    xtreme_data_dir: Path, tmp_path: Path
) -> None:
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="2",
               XTREME_DATA_DIR=str(xtreme_data_dir))  # fmt: skip
    model = subprocess.run(
        [XTREME_ADV, "model", "path", "--layers", "2"],
        capture_output=True, text=True, env=env, timeout=600, check=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    out = tmp_path / "e5s-xnli"
    train = subprocess.run(
        [XTREME_ADV, "train", "direct", "--model", model, "--target", "xnli", "--out", str(out),
         "--max-train-examples", "64", "--epochs", "1", "--batch-size", "16", "--grad-accum",
         "1", "--max-length", "96", "--freeze-embeddings", "--lr", "5e-5"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert train.returncode == 0, train.stderr[-2000:]
    card = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    results = tmp_path / "results"
    evaluate = subprocess.run(
        [XTREME_ADV, "eval", "run", "--model", "xtreme-encoder", "--model_args",
         f"pretrained={out}", "--tasks", "xtreme_xnli_de", "--limit", "30",
         "--output_path", str(results)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert evaluate.returncode == 0, evaluate.stderr[-2000:]
    (path,) = results.rglob("results_*.json")
    report = json.loads(path.read_text(encoding="utf-8"))
    assert 0.0 <= report["results"]["xtreme_xnli_de"]["acc,none"] <= 1.0
    assert report["results"]["xtreme_xnli_de"]["sample_len"] == 30
    # The adapter read the checkpoint as written: same weights, same provenance card.
    seen = report["config"]["xtreme_adv_model"]
    assert seen["weights_sha256"] == sha256_file(out / "model.safetensors")
    assert seen["provenance"]["model_id"] == card["model_id"] == "e5-small-0.3.0-l2-xnli-direct-s42"


@pytest.mark.slow
def test_qa_and_tagging_checkpoints_of_both_pipelines_evaluate_without_extra_flags(
    tiny_model: Path, xtreme_data_dir: Path, intermediate_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    from harness_tasks.api import simple_evaluate
    from trainers.cli import main

    small = [
        "--max-train-examples",
        "32",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--grad-accum",
        "1",
        "--max-length",
        "64",
        "--data-dir",
        str(xtreme_data_dir),
    ]
    qa, ner = tmp_path / "qa-direct", tmp_path / "ner-anli"
    assert (
        main(
            [
                "direct",
                "--model",
                str(tiny_model),
                "--target",
                "xquad",
                "--out",
                str(qa),
                "--doc-stride",
                "16",
                *small,
            ]
        )
        == 0
    )
    assert main(["intermediate", "--model", str(tiny_model), "--intermediate", "anli",
                 "--intermediate-dir", str(intermediate_dir), "--intermediate-epochs", "1",
                 "--intermediate-max-length", "64", "--target", "panx", "--out", str(ner),
                 *small]) == 0  # fmt: skip
    monkeypatch.setenv("XTREME_DATA_DIR", str(xtreme_data_dir))
    monkeypatch.setenv("XTREME_ADV_ONLY_TASKS", "1")
    for folder, task, metrics, recipe in [
        (qa, "xtreme_xquad_de", ("f1,none", "exact_match,none"), "direct"),
        (ner, "xtreme_panx_de", ("f1,none",), "intermediate"),
    ]:
        out = simple_evaluate(model="xtreme-encoder", model_args=f"pretrained={folder}",
                              tasks=[task], device="cpu", batch_size=8, limit=12)  # fmt: skip
        scores = out["results"][task]
        assert all(0.0 <= scores[m] <= 1.0 for m in metrics)
        assert out["n-samples"][task]["effective"] == 12
        seen = out["config"]["xtreme_adv_model"]
        assert seen["weights_sha256"] == sha256_file(folder / "model.safetensors")
        assert seen["provenance"]["recipe"] == recipe
