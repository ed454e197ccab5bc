"""Validity on the leaderboard, end to end on real data: a real XNLI-de charnoise set, a real
classifier scored by lm-eval (``xtreme-adv eval run --log_samples``), human judgments imported
with ``attack validate import``, and ``leaderboard build --validity``."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.adversarial.fitted_heads import fit_xnli

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]

N_DOCS = 24
XTREME_ADV = str(Path(sys.executable).with_name("xtreme-adv"))
ADV = "xtreme_adv_xnli_charnoise_de"
CLEAN = "xtreme_xnli_de"


def _samples(results: Path, task: str) -> dict[str, int]:
    (path,) = results.rglob(f"samples_{task}_*.jsonl")
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    return {str(line["doc"]["id"]): int(line["acc"]) for line in lines}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, xtreme_data_dir, embedded_model_dir_small):
    """A built set, a classifier scored on it and on its clean twin, and a judged sheet."""
    from adversarial.build import BuildRequest, build
    from adversarial.cli import main as attack
    from harness_tasks.data import load_eval_split

    tmp = tmp_path_factory.mktemp("validity_real")
    root = tmp / "adv"
    request = BuildRequest("xnli", "de", "charnoise", {"min_similarity": 0},
                           data_dir=str(xtreme_data_dir), limit=N_DOCS)  # fmt: skip
    build(request, root=root, progress=False)
    docs = load_eval_split("xnli", "de", data_dir=str(xtreme_data_dir)).dataset
    model = tmp / "clf"
    fit_xnli(embedded_model_dir_small, docs.select(range(N_DOCS)).to_list(), model)
    env = {
        **os.environ,
        "XTREME_ADV_DIR": str(root),
        "XTREME_DATA_DIR": str(xtreme_data_dir),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    results = tmp / "results"
    cmd = [XTREME_ADV, "eval", "run", "--model", "xtreme-encoder", "--model_args",
           f"pretrained={model}", "--tasks", CLEAN, ADV, "--limit", str(N_DOCS),
           "--log_samples", "--output_path", str(results)]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    clean, adv = _samples(results, CLEAN), _samples(results, ADV)
    # A reader judges every attacked example: half are invalid, and (as label-changing edits
    # do) the invalid ones are first those the model gets wrong under attack.
    sheet = tmp / "sheet"
    assert attack(["validate", "export", "--out", str(root), "--sheet", str(sheet),
                   "--n", str(N_DOCS)]) == 0  # fmt: skip
    rows = list(csv.DictReader((sheet / "validation.csv").open(encoding="utf-8")))
    ids = sorted({r["id"] for r in rows}, key=lambda d: (adv[d], d))
    invalid = set(ids[: len(ids) // 2])
    for row in rows:
        row["judgment"] = "label_changed" if row["id"] in invalid else "valid"
    with (sheet / "validation.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert attack(["validate", "import", "--out", str(root), "--sheet",
                   str(sheet / "validation.csv")]) == 0  # fmt: skip
    valid = sorted(set(ids) - invalid)
    return root, results, clean, adv, valid


def test_rows_show_validity_and_accuracy_on_valid_documents(evaluated, tmp_path):
    from leaderboards.cli import main

    root, results, clean, adv, valid = evaluated
    folder = root / "xnli/charnoise/de"
    site = tmp_path / "site"
    assert main(["build", str(results), "--out", str(site), "--bootstrap", "200",
                 "--validity", str(root)]) == 0  # fmt: skip
    board = json.loads((site / "leaderboard.json").read_text(encoding="utf-8"))
    (row,) = board["rows"]
    # The full row is unchanged: all 24 documents.
    assert row["n_paired"] == N_DOCS
    assert row["adv"] == pytest.approx(sum(adv.values()) / N_DOCS)
    # Validity of the set: the manifest's rate and Wilson interval, n judged.
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    human = manifest["human_validity"]
    assert row["validity"] == "judged" and row["n_judged"] == human["n_judged"] == N_DOCS
    assert row["valid_rate"] == pytest.approx(0.5)
    assert row["valid_ci"] == pytest.approx(human["valid"]["ci95"], abs=1e-6)
    # Validated-only scores, computed by hand from lm-eval's own samples of the valid docs.
    assert row["n_valid"] == len(valid) == N_DOCS // 2
    by_hand_clean = sum(clean[d] for d in valid) / len(valid)
    by_hand_adv = sum(adv[d] for d in valid) / len(valid)
    assert row["clean_valid"] == pytest.approx(by_hand_clean)
    assert row["adv_valid"] == pytest.approx(by_hand_adv)
    assert row["drop_valid"] == pytest.approx(by_hand_clean - by_hand_adv)
    assert row["adv_valid"] != pytest.approx(row["adv"])  # the judgments changed the number
    assert row["drop"] > 0  # the attack hurts this victim on the full set
    # The CSV and the model page carry the same numbers.
    (csv_row,) = list(csv.DictReader((site / "rows.csv").open(encoding="utf-8")))
    assert float(csv_row["adv_valid"]) == pytest.approx(by_hand_adv)
    assert float(csv_row["valid_ci_low"]) == pytest.approx(human["valid"]["ci95"][0], abs=1e-6)
    assert csv_row["n_valid"] == str(len(valid)) and csv_row["validity"] == "judged"
    (page,) = (site / "models").iterdir()
    assert f"n={N_DOCS}" in page.read_text(encoding="utf-8")

    # --validated-only: the row itself is scored on the valid documents only.
    only = tmp_path / "only"
    assert main(["build", str(results), "--out", str(only), "--bootstrap", "200",
                 "--validity", str(folder / "validity.json"), "--validated-only"]) == 0  # fmt: skip
    board = json.loads((only / "leaderboard.json").read_text(encoding="utf-8"))
    (row,) = board["rows"]
    assert board["settings"]["validated_only"] is True and board["settings"]["excluded"] == []
    assert row["n_paired"] == len(valid)
    assert row["clean"] == pytest.approx(by_hand_clean) and row["adv"] == pytest.approx(by_hand_adv)
    (avg,) = [a for a in board["averages"] if a["level"] == "all"]
    assert avg["adv"] == pytest.approx(by_hand_adv)
