"""``leaderboard build --validity`` / ``--validated-only`` over the synthetic lm-eval corpus:
rows without judgments say so, judgments of another build are refused, and validated-only
rows, averages and comparisons are computed on the documents judged valid."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from scipy.stats import binomtest

from leaderboards.cli import main
from leaderboards.synthetic import sha256_text

from .conftest import N_DOCS, edit_results

SET = ("xnli", "charnoise", "de")
ADV = "xtreme_adv_xnli_charnoise_de"
CLEAN = "xtreme_xnli_de"


def _judge(folder, judgments: dict[str, str], data_sha256: str | None = None):
    task, attack, lang = SET
    record = {
        "schema": "xtreme-adv/validity/1", "set": "/".join(SET), "task": task, "attack": attack,
        "lang": lang, "data_sha256": data_sha256 or sha256_text(ADV), "judgments": judgments,
    }  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "validity.json").write_text(json.dumps(record), encoding="utf-8")
    return folder / "validity.json"


def _judgments() -> dict[str, str]:
    """60 documents judged: every other one valid, the rest label_changed / unreadable."""
    out = {}
    for i in range(0, 60):
        doc = f"de-{i:05d}"
        out[doc] = "valid" if i % 2 == 0 else ("label_changed" if i % 4 == 1 else "unreadable")
    return out


def _per_doc(folder, task: str) -> dict[str, int]:
    (path,) = folder.glob(f"samples_{task}_*.jsonl")
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    return {line["doc"]["id"]: int(line["acc"]) for line in lines}


def test_rows_without_judgments_say_so_and_judged_rows_show_the_rate(corpus, tmp_path):
    path = _judge(tmp_path / "sets" / "xnli/charnoise/de", _judgments())
    site = tmp_path / "site"
    args = ["build", str(corpus), "--out", str(site), "--bootstrap", "50"]
    assert main([*args, "--validity", str(tmp_path / "sets")]) == 0
    board = json.loads((site / "leaderboard.json").read_text(encoding="utf-8"))
    wilson = binomtest(30, 60).proportion_ci(method="wilson")  # what the manifest records
    judged = [r for r in board["rows"] if (r["task"], r["attack"], r["lang"]) == SET]
    others = [r for r in board["rows"] if (r["task"], r["attack"], r["lang"]) != SET]
    assert len(judged) == 6 and len(others) > 0
    for row in others:
        assert row["validity"] == "not validated" and row["n_judged"] == 0
        assert row["valid_rate"] is None and row["adv_valid"] is None and row["n_valid"] is None
    for row in judged:
        assert row["validity"] == "judged" and row["n_judged"] == 60
        assert row["valid_rate"] == 0.5
        assert row["valid_ci"] == pytest.approx(list(wilson), abs=1e-9)
        folder = corpus / row["model"]
        clean, adv = _per_doc(folder, CLEAN), _per_doc(folder, ADV)
        valid = [d for d, j in _judgments().items() if j == "valid"]
        assert row["n_valid"] == 30 and row["n_paired"] == N_DOCS
        assert row["clean_valid"] == pytest.approx(np.mean([clean[d] for d in valid]))
        assert row["adv_valid"] == pytest.approx(np.mean([adv[d] for d in valid]))
    assert board["validity"][0]["used"] is True and board["validity"][0]["n_judged"] == 60
    # CSV: the same columns, empty where there is nothing; the summary and site list the set.
    rows = list(csv.DictReader((site / "rows.csv").open(encoding="utf-8")))
    assert {r["validity"] for r in rows} == {"judged", "not validated"}
    assert all(r["valid_ci_low"] == "" for r in rows if r["validity"] == "not validated")
    shown = f"| xnli | charnoise | de | 60 | 50.0 [{100 * wilson[0]:.1f}, {100 * wilson[1]:.1f}] |"
    assert shown in (site / "summary.md").read_text(encoding="utf-8")
    assert "validity-h" in (site / "index.html").read_text(encoding="utf-8")
    # The judgments file given directly works the same.
    assert main([*args, "--validity", str(path)]) == 0


def test_validated_only_scores_rows_and_comparisons_on_valid_documents(corpus, tmp_path):
    _judge(tmp_path / "sets" / "xnli/charnoise/de", _judgments())
    site = tmp_path / "site"
    assert main(["build", str(corpus), "--out", str(site), "--bootstrap", "50",
                 "--validity", str(tmp_path / "sets"), "--validated-only"]) == 0  # fmt: skip
    board = json.loads((site / "leaderboard.json").read_text(encoding="utf-8"))
    assert {(r["task"], r["attack"], r["lang"]) for r in board["rows"]} == {SET}
    for row in board["rows"]:
        assert row["n_paired"] == row["n_valid"] == 30
        assert row["adv"] == row["adv_valid"] and row["adv_reported"] != row["adv"]
    excluded = board["settings"]["excluded"]
    assert len(excluded) == 6 * (2 * 3 + 2 * 2 - 1)  # every other row of the six models
    assert {e["reason"] for e in excluded} == {"not validated"}
    assert {c["task"] for c in board["comparisons"]} == {"xnli"}
    assert all(c["n_paired"] == 30 for c in board["comparisons"])
    assert "Validated only" in (site / "summary.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"data_sha256": "0" * 64}, "another build of the set"),
        ({"judgments": {"de-00001": "fine"}}, "judgments.de-00001 is 'fine'"),
        ({"schema": "other"}, "schema is 'other'"),
    ],
)
def test_bad_judgments_are_one_line_and_nothing_is_written(
    corpus, tmp_path, capsys, change, message
):
    path = _judge(tmp_path / "sets" / "xnli/charnoise/de", _judgments())
    record = json.loads(path.read_text(encoding="utf-8"))
    record.update(change)
    path.write_text(json.dumps(record), encoding="utf-8")
    site = tmp_path / "site"
    code = main(["build", str(corpus), "--out", str(site), "--validity", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err and str(path) in err
    assert not site.exists()


def test_validated_only_needs_judgments(corpus, tmp_path, capsys):
    site = tmp_path / "site"
    assert main(["build", str(corpus), "--out", str(site), "--validated-only"]) == 2
    assert "--validated-only needs judgments" in capsys.readouterr().err
    assert not site.exists()


def test_judgments_pair_only_with_results_that_name_their_set(corpus_copy, tmp_path, capsys):
    path = _judge(tmp_path / "sets" / "xnli/charnoise/de", _judgments())
    copy = tmp_path / "copy"
    (copy / "xnli/charnoise/de").mkdir(parents=True)
    (copy / "xnli/charnoise/de/validity.json").write_bytes(path.read_bytes())
    site = tmp_path / "site"
    # Two files judging one set: refused; the same file reached twice: read once.
    sets = str(tmp_path / "sets")
    assert main(["build", str(corpus_copy), "--out", str(site), "--validity", sets,
                 "--validity", str(copy)]) == 2  # fmt: skip
    assert "judges the same set" in capsys.readouterr().err
    assert main(["build", str(corpus_copy), "--out", str(site), "--bootstrap", "20",
                 "--validity", sets, "--validity", str(path)]) == 0  # fmt: skip
    capsys.readouterr()
    # Results that do not record which set they scored cannot be paired with judgments.
    for results in corpus_copy.rglob("results_*.json"):
        edit_results(results, lambda d: d["xtreme_adv"]["tasks"][ADV].pop("data_sha256"))
    assert main(["build", str(corpus_copy), "--out", str(tmp_path / "site2"),
                 "--validity", str(path)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert f"xtreme_adv.tasks.{ADV}.data_sha256 is missing" in err and err.count("\n") == 1
    assert not (tmp_path / "site2").exists()
