"""``xtreme-adv demo`` on the offline default: sample data, adversarial sets, lm-eval, board."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness_tasks.demo import ATTACKS, side_by_side

XTREME_ADV = str(Path(sys.executable).with_name("xtreme-adv"))


def _scores(results: Path) -> dict[str, float]:
    out = {}
    for path in results.rglob("results_*.json"):
        report = json.loads(path.read_text(encoding="utf-8"))
        out.update({k: v["acc,none"] for k, v in report["results"].items()})
    return out


@pytest.mark.slow
def test_demo_builds_attacks_evaluates_and_ranks_on_the_sample(tmp_path, embedded_model_dir_small):
    env = {k: v for k, v in os.environ.items() if k != "XTREME_DATA_DIR"}
    env.update(HF_HUB_OFFLINE="1", OMP_NUM_THREADS="2")
    out = tmp_path / "demo"
    cmd = [XTREME_ADV, "demo", "--out", str(out), "--layers", "2", "--langs", "de,ru,hi,zh",
           "--limit", "20"]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    # One line says what was skipped and how to get the rest; the study reports why per cell.
    (note,) = [line for line in run.stdout.splitlines() if "XTREME_DATA_DIR not set" in line]
    assert "XNLI training" in note and "--intermediate-dir" in note
    # Quiet: progress bars only, no library logs or tokenizer warnings from the steps.
    assert "INFO" not in run.stderr and "tokenizer" not in run.stderr.lower()

    # One adversarial set per (attack, language), each with its manifest and lm-eval YAML.
    for attack in ATTACKS:
        for lang in ("de", "ru", "hi", "zh"):
            manifest = json.loads(
                (out / "adversarial" / "tatoeba" / attack / lang / "manifest.json").read_text()
            )
            assert manifest["validity"]["n_scored"] == 20  # --limit 20 queries
            # (visual noise may find no look-alike in some scripts; German always has some)
            assert manifest["validity"]["attacked"] > 0 or lang != "de"
            assert (
                out / "adversarial" / "tasks" / f"xtreme_adv_tatoeba_{attack}_{lang}.yaml"
            ).is_file()

    # Clean and adversarial tasks were scored through lm-eval, and the side-by-side table printed
    # is the one computed from those results files.
    scores = _scores(out / "results")
    assert {f"xtreme_tatoeba_{lang}" for lang in ("de", "ru", "hi", "zh")} <= set(scores)
    assert len(scores) == 4 * (1 + len(ATTACKS))
    table = side_by_side(out / "results")
    assert table in run.stdout
    de_row = next(line for line in table.splitlines() if re.search(r"\bde\b", line))
    expected = [f"{100 * scores['xtreme_tatoeba_de']:.1f}"] + [
        f"{100 * scores[f'xtreme_adv_tatoeba_{a}_de']:.1f}" for a in ATTACKS
    ]
    assert de_row.split()[-3:] == expected
    # Each adversarial task's data is recorded in the results like a clean task's.
    (results_file,) = (out / "results").rglob("results_*.json")
    recorded = json.loads(results_file.read_text(encoding="utf-8"))["xtreme_adv"]["tasks"]
    for attack in ATTACKS:
        manifest = json.loads(
            (out / "adversarial" / "tatoeba" / attack / "de" / "manifest.json").read_text()
        )
        entry = recorded[f"xtreme_adv_tatoeba_{attack}_de"]
        assert entry["data_sha256"] == manifest["data"]["sha256"]
        assert entry["clean_data_sha256"] == recorded["xtreme_tatoeba_de"]["data_sha256"]
        assert entry["attack"] == attack and entry["split"] == "validation"

    # The leaderboard was built from the same results, and its site is complete.
    board = json.loads((out / "site" / "leaderboard.json").read_text(encoding="utf-8"))
    rows = [r for r in board["rows"] if r["task"] == "tatoeba"]
    assert len(rows) == 4 * len(ATTACKS)
    for row in rows:
        clean = scores[f"xtreme_tatoeba_{row['lang']}"]
        adv = scores[f"xtreme_adv_tatoeba_{row['attack']}_{row['lang']}"]
        assert row["clean"] == pytest.approx(clean) and row["adv"] == pytest.approx(adv)
    assert (out / "site" / "index.html").is_file() and (out / "site" / "study.html").is_file()
    # The report says what was skipped and why.
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "No intermediate/direct comparison" in report
    assert "`train/demo-e5s-2l-xnli-direct-s13`: skipped: no xnli data" in report

    # Run again: every step finds its output and nothing is rebuilt or re-evaluated.
    states = {p.name: p.read_bytes() for p in (out / "state").glob("*.json")}
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {p.name: p.read_bytes() for p in (out / "state").glob("*.json")} == states
    assert side_by_side(out / "results") in again.stdout


def test_demo_bad_input_is_one_line(tmp_path):
    for flags, message in [
        (["--langs", "de,xx"], "--langs: xx not among Tatoeba's languages"),
        (["--xnli-limit", "0"], "--xnli-limit: 0 must be a positive integer"),
        (["--out", str(tmp_path / "missing" / "demo")], "does not exist"),
    ]:
        run = subprocess.run([XTREME_ADV, "demo", *flags], capture_output=True, text=True,
                             cwd=tmp_path, timeout=120)  # fmt: skip
        assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
        assert message in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_side_by_side_reads_primary_metrics(tmp_path):
    folder = tmp_path / "m1" / "model"
    folder.mkdir(parents=True)
    report = {
        "results": {
            "xtreme_xnli_de": {"acc,none": 0.5, "acc_stderr,none": 0.01},
            "xtreme_adv_xnli_visual_de": {"acc,none": 0.25},
            "xtreme_panx_de": {"f1,none": 0.8125},
            "xtreme_adv_panx_charnoise_de": {"f1,none": 0.5},
            "xtreme-xnli": {"acc,none": 0.5},  # a group: skipped
        }
    }
    (folder / "results_2026.json").write_text(json.dumps(report), encoding="utf-8")
    lines = side_by_side(tmp_path).splitlines()
    assert lines[0].split() == ["model", "task", "lang", "clean", *ATTACKS]
    assert lines[1].split() == ["m1", "panx", "(f1)", "de", "81.2", "50.0", "-"]
    assert lines[2].split() == ["m1", "xnli", "(acc)", "de", "50.0", "-", "25.0"]
    assert len(lines) == 3


@pytest.mark.slow
def test_demo_trains_direct_and_intermediate_and_compares_them(
    tmp_path, shared_data, embedded_model_dir_small
):
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="2",
               XTREME_DATA_DIR=str(shared_data / "xtreme"))  # fmt: skip
    out = tmp_path / "demo"
    cmd = [XTREME_ADV, "demo", "--out", str(out), "--layers", "2", "--langs", "de,ar",
           "--limit", "10", "--train-examples", "48", "--xnli-limit", "16"]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    ckpts = out / "checkpoints"
    cards = {
        kind: json.loads((ckpts / f"demo-e5s-2l-xnli-{kind}-s13" / "provenance.json").read_text())
        for kind in ("direct", "anli")
    }
    assert cards["direct"]["recipe"] == "direct"
    assert cards["anli"]["intermediate_tasks"] == ["anli"]
    # The intermediate data came from the folder beside XTREME_DATA_DIR, not the Hub.
    (inter_phase,) = [p for p in cards["anli"]["phases"] if p["name"] == "intermediate"]
    assert str(shared_data / "intermediate") in inter_phase["tasks"][0]["source"]

    for kind in ("direct", "anli"):
        scores = _scores(out / "results" / f"demo-e5s-2l-xnli-{kind}-s13")
        assert set(scores) == {
            f"xtreme_{p}xnli_{s}{lang}"
            for lang in ("de", "ar")
            for p, s in [("", ""), *[("adv_", f"{a}_") for a in ATTACKS]]
        }
    # The leaderboard pairs the intermediate model with its direct baseline, with intervals,
    # and the report states each comparison as the leaderboard computed it.
    board = json.loads((out / "site" / "leaderboard.json").read_text(encoding="utf-8"))
    comparisons = [c for c in board["comparisons"] if c["task"] == "xnli"]
    assert {(c["lang"], c["attack"]) for c in comparisons} == {
        (lang, a) for lang in ("de", "ar") for a in ATTACKS
    }
    assert all(c["intermediate_models"] == [cards["anli"]["model_id"]] for c in comparisons)
    assert all(c["ci_examples"] is not None for c in comparisons)
    report = (out / "report.md").read_text(encoding="utf-8")
    for c in comparisons:
        assert f"| xnli | {c['lang']} | {c['attack']} | 13 |" in report
    assert "XTREME_DATA_DIR not set" not in run.stdout
