"""A checkpoint scored through lm-eval on the adaptive set built against itself, named
``xtreme_adv_<task>_adaptive-<family>-self_<lang>`` (what a study plans before the checkpoint
exists): ``eval run`` resolves ``self`` from the checkpoint's weights, and the scores it writes
are the attack's outcomes, row by row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adversarial.adaptive_sets import AdaptiveRequest, build_adaptive
from adversarial.registry import load_set

XTREME_ADV = str(Path(sys.executable).with_name("xtreme-adv"))

pytestmark = pytest.mark.shared_data


def test_a_model_is_scored_on_its_own_adaptive_set(small_classifier, xtreme_data_dir, tmp_path):
    root = tmp_path / "sets"
    request = AdaptiveRequest(str(small_classifier), "xnli", "de", "charnoise",
                              {"min_similarity": 0}, query_budget=40,
                              data_dir=str(xtreme_data_dir), limit=10)  # fmt: skip
    build_adaptive(request, root=root)
    rows, manifest = load_set("xnli", request.attack, "de", root)
    rows = rows.to_list()
    real = manifest["task_name"]
    env = dict(os.environ, XTREME_ADV_DIR=str(root), HF_HUB_OFFLINE="1",
               XTREME_DATA_DIR=str(xtreme_data_dir))  # fmt: skip
    out = tmp_path / "results"
    proc = subprocess.run(
        [XTREME_ADV, "eval", "run", "--model", "xtreme-encoder", "--model_args",
         f"pretrained={small_classifier}", "--tasks",
         "xtreme_xnli_de,xtreme_adv_xnli_adaptive-charnoise-self_de", "--device", "cpu",
         "--limit", "10", "--log_samples", "--output_path", str(out)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = out.rglob("results_*.json")
    report = json.loads(path.read_text(encoding="utf-8"))
    assert set(report["results"]) == {"xtreme_xnli_de", real}
    assert report["xtreme_adv"]["tasks"][real]["kind"] == "adaptive"
    (samples,) = out.rglob(f"samples_{real}_*.jsonl")
    acc = {
        json.loads(line)["doc"]["id"]: json.loads(line)["acc"]
        for line in samples.read_text(encoding="utf-8").splitlines()
    }
    # lm-eval's score of each row is the attack's outcome on it: a successful attack or a
    # document the model got wrong before any edit scores 0, a failed attack 1.
    outcome = {r["id"]: (r["adv_status"], r["adv_reason"]) for r in rows}
    assert set(acc) == set(outcome) and len(acc) == 10
    expected = {i: 0.0 if s in (("attacked", ""), ("skipped", "source_model_wrong")) else 1.0
                for i, s in outcome.items()}  # fmt: skip
    assert acc == expected
    assert set(expected.values()) == {0.0, 1.0}  # both outcomes occur: the check can fail
    metrics = manifest["adaptive"]["metrics"]
    assert report["results"][real]["acc,none"] == pytest.approx(
        metrics["accuracy_under_attack"] / 100
    )


def test_self_needs_a_checkpoint_folder(tmp_path):
    proc = subprocess.run(
        [XTREME_ADV, "eval", "run", "--model", "xtreme-encoder", "--tasks",
         "xtreme_adv_xnli_adaptive-charnoise-self_de", "--device", "cpu"],
        capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"), timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "adaptive-charnoise-self_de" in line and "pretrained=CHECKPOINT_FOLDER" in line


def test_one_process_attacks_several_languages_as_separate_runs_do(
    small_classifier, xtreme_data_dir, tmp_path, capsys
):
    """``attack adaptive --lang de,fr --json-dir D`` (a study's one cell per model and family)
    writes each language's report and set exactly as one run per language does."""
    from adversarial.cli import main

    common = ["adaptive", "--model", str(small_classifier), "--task", "xnli",
              "--attack", "charnoise", "--param", "min_similarity=0", "--query-budget", "20",
              "--num-examples", "6", "--data-dir", str(xtreme_data_dir)]  # fmt: skip
    together = tmp_path / "together"
    assert main([*common, "--lang", "de,fr", "--json-dir", str(together / "json"),
                 "--out", str(together / "sets")]) == 0  # fmt: skip
    for lang in ("de", "fr"):
        alone = tmp_path / f"alone-{lang}"
        assert main([*common, "--lang", lang, "--json", str(alone / "report.json"),
                     "--out", str(alone / "sets")]) == 0  # fmt: skip
        a = json.loads((together / "json" / f"{lang}.json").read_text(encoding="utf-8"))
        b = json.loads((alone / "report.json").read_text(encoding="utf-8"))
        set_a, set_b = Path(a.pop("set")), Path(b.pop("set"))
        assert set_a.is_relative_to(together) and set_b.is_relative_to(alone)
        assert a == b and a["lang"] == lang and a["metrics"]["n_examples"] == 6
        rows_a, _ = load_set("xnli", set_a.parent.name, lang, together / "sets")
        rows_b, _ = load_set("xnli", set_b.parent.name, lang, alone / "sets")
        assert rows_a.to_list() == rows_b.to_list()
    capsys.readouterr()
    assert main([*common, "--lang", "de,fr", "--json", str(tmp_path / "one.json")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--json" in line and "--json-dir" in line and not (tmp_path / "one.json").exists()
