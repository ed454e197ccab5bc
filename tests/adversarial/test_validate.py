"""``attack validate export`` / ``import``: a sheet for annotators, validity rates back."""

from __future__ import annotations

import csv
import json
import math

import pytest

from adversarial.build import BuildRequest, build
from adversarial.cli import main

pytestmark = pytest.mark.shared_data


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@pytest.fixture
def built(tmp_path, xtreme_data_dir):
    root = tmp_path / "adv"
    for lang, attack in (("zh", "charnoise"), ("ru", "visual")):
        request = BuildRequest(
            "xnli", lang, attack, {"min_similarity": 0}, data_dir=str(xtreme_data_dir), limit=16
        )
        build(request, root=root, progress=False)
    return root


def test_export_then_import_writes_wilson_intervals(built, tmp_path, capsys):
    sheet = tmp_path / "sheet"
    assert main(["validate", "export", "--out", str(built), "--sheet", str(sheet), "--n", "5"]) == 0
    rows = list(csv.DictReader((sheet / "validation.csv").open(encoding="utf-8")))
    page = (sheet / "validation.html").read_text(encoding="utf-8")
    sets = {r["set"] for r in rows}
    assert sets == {"xnli/charnoise/zh", "xnli/visual/ru"}
    for name in sets:
        assert len({r["id"] for r in rows if r["set"] == name}) == 5
    for row in rows:  # the sheet shows real before/after texts and their edits
        assert row["original"] != row["perturbed"] and row["judgment"] == ""
        for edit in json.loads(row["edits"]):
            assert edit["original"] in row["original"]
        assert page.count("<mark>") >= len(rows)
    # An annotator judges the zh rows: per example, the worst field judgment counts.
    zh_ids = sorted({r["id"] for r in rows if r["set"] == "xnli/charnoise/zh"})
    verdict = dict(zip(zh_ids, ["valid", "valid", "valid", "label_changed", "unreadable"]))
    for row in rows:
        if row["set"] == "xnli/charnoise/zh":
            row["judgment"] = verdict[row["id"]]
    with (sheet / "validation.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert (
        main(["validate", "import", "--out", str(built), "--sheet", str(sheet / "validation.csv")])
        == 0
    )
    manifest = json.loads((built / "xnli/charnoise/zh/manifest.json").read_text(encoding="utf-8"))
    result = manifest["human_validity"]
    assert result["n_judged"] == 5
    for name, k in (("valid", 3), ("label_changed", 1), ("unreadable", 1)):
        assert result[name]["count"] == k
        assert result[name]["ci95"] == pytest.approx(_wilson(k, 5), abs=1e-6)
    # The ru set had no judgment: its manifest is untouched.
    ru = json.loads((built / "xnli/visual/ru/manifest.json").read_text(encoding="utf-8"))
    assert "human_validity" not in ru
    assert "xnli/charnoise/zh: 5 judged" in capsys.readouterr().out


def test_a_bad_judgment_is_one_line_and_writes_nothing(built, tmp_path, capsys):
    sheet = tmp_path / "sheet"
    main(["validate", "export", "--out", str(built), "--sheet", str(sheet), "--n", "2"])
    path = sheet / "validation.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    rows[0]["judgment"] = "valid"
    rows[1]["judgment"] = "maybe"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    before = (built / "xnli/charnoise/zh/manifest.json").read_bytes()
    capsys.readouterr()
    assert main(["validate", "import", "--out", str(built), "--sheet", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 3: judgment 'maybe'" in err
    assert (built / "xnli/charnoise/zh/manifest.json").read_bytes() == before
