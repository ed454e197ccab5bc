"""``attack validate export`` / ``import``: a sheet for annotators, validity rates back."""

from __future__ import annotations

import csv
import json
import math

import pytest

from adversarial.build import BuildRequest, build
from adversarial.cli import main
from harness_tasks.data import load_eval_split
from tests.adversarial.fitted_heads import fit_xnli

pytestmark = pytest.mark.shared_data


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@pytest.fixture(scope="module")
def built(tmp_path_factory, xtreme_data_dir):
    root = tmp_path_factory.mktemp("validate") / "adv"
    for lang, attack in (("zh", "charnoise"), ("ru", "visual")):
        request = BuildRequest(
            "xnli", lang, attack, {"min_similarity": 0}, data_dir=str(xtreme_data_dir), limit=16
        )
        build(request, root=root, progress=False)
    return root


def test_export_then_import_writes_wilson_intervals(built, tmp_path, capsys, xtreme_data_dir):
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
    # The per-example judgments sit beside the set, keyed by the document id that the set,
    # its clean split and lm-eval's samples (doc.id) share, with the hash of the set judged.
    record = json.loads((built / "xnli/charnoise/zh/validity.json").read_text(encoding="utf-8"))
    assert manifest["human_validity"]["judgments_file"] == "validity.json"
    assert record["judgments"] == verdict and record["rates"] == {
        k: v for k, v in result.items() if k not in ("sheet", "judgments_file")
    }
    assert record["data_sha256"] == manifest["data"]["sha256"]
    assert (record["task"], record["attack"], record["lang"]) == ("xnli", "charnoise", "zh")
    clean = load_eval_split("xnli", "zh", data_dir=str(xtreme_data_dir)).dataset
    clean_ids = {str(i) for i in clean["id"]}
    assert set(verdict) <= clean_ids
    # The ru set had no judgment: its manifest is untouched and it has no judgments file.
    ru = json.loads((built / "xnli/visual/ru/manifest.json").read_text(encoding="utf-8"))
    assert "human_validity" not in ru
    assert not (built / "xnli/visual/ru/validity.json").exists()
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


def test_judgments_of_a_text_the_set_no_longer_holds_are_refused(built, tmp_path, capsys):
    sheet = tmp_path / "sheet"
    main(["validate", "export", "--out", str(built), "--sheet", str(sheet), "--n", "2"])
    path = sheet / "validation.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    rows[0]["judgment"] = "valid"
    rows[0]["perturbed"] = rows[0]["perturbed"] + " x"  # as if the set was rebuilt since
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    folder = built / rows[0]["set"]
    judged = folder / "validity.json"
    before = (folder / "manifest.json").read_bytes(), judged.is_file() and judged.read_bytes()
    capsys.readouterr()
    assert main(["validate", "import", "--out", str(built), "--sheet", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 2:" in err and "export a new sheet" in err
    assert (
        (folder / "manifest.json").read_bytes(),
        judged.is_file() and judged.read_bytes(),
    ) == before


def _planted(text: str, changes: list[tuple[int, int, str]], field: str = "premise"):
    """``text`` with ``changes`` (start, end, new text) applied, and their edit records."""
    edits, out = [], text
    for start, end, new in sorted(changes, reverse=True):
        out = out[:start] + new + out[end:]
    shift = 0
    for start, end, new in sorted(changes):
        edits.append({"field": field, "start": start, "end": end, "original": text[start:end],
                      "perturbed": new, "new_start": start + shift})  # fmt: skip
        shift += len(new) - (end - start)
    return out, edits


@pytest.mark.parametrize(
    ("name", "negation"), [("xnli/charnoise/zh", "不"), ("xnli/visual/ru", "не ")]
)
def test_prescreen_flags_a_label_change_and_a_garbage_swap_and_passes_a_typo(built, name, negation):
    from adversarial.prescreen import Prescreen
    from adversarial.segment import graphemes, word_spans
    from adversarial.validate import _rows

    folder = built / name
    rows = [r for r in _rows(folder) if r["adv_status"] == "attacked"]
    screen = Prescreen.for_set(folder, rows)
    lang = screen.manifest["lang"]
    assert screen.margin["margin"] is not None and screen.margin["n_texts"] >= 16
    # A real example of the set and the first real edit the attack made in its premise.
    row = next(r for r in rows if any(e["field"] == "premise" for e in json.loads(r["adv_edits"])))
    text = json.loads(row["adv_original"])["premise"]
    first = next(e for e in json.loads(row["adv_edits"]) if e["field"] == "premise")
    planted = {"id": row["id"], "adv_ratio": 0.0, "adv_similarity": None}

    def flags(changes):
        perturbed, edits = _planted(text, changes)
        return {f for f, _ in screen.flags(planted, "premise", text, perturbed, edits)}

    # 1. A clean typo: that one real edit alone.
    assert flags([(first["start"], first["end"], first["perturbed"])]) == set()
    # 2. A planted label change: a negation written before the second word.
    second = word_spans(text, lang)[1][0]
    assert "protected_word_introduced" in flags([(second, second, negation)])
    # 3. A garbage swap: half the words replaced by words of other documents of the set.
    spans = [s for s in word_spans(text, lang) if len(graphemes(text[s[0] : s[1]])) > 1]

    def premise(r):
        return json.loads(r["adv_original"]).get("premise", r["premise"])

    others = [
        premise(r)[a:b]
        for r in rows
        if r["id"] != row["id"]
        for a, b in word_spans(premise(r), lang)
    ]
    others = [w for w in others if len(graphemes(w)) > 1 and w not in text]
    swap = [(a, b, others[k]) for k, (a, b) in enumerate(spans[::2])]
    assert "chrf_below_typo" in flags(swap)


def test_prescreen_back_check_with_a_reference_model(
    built, tmp_path, capsys, embedded_model_dir_small
):
    import torch

    from adversarial.build import _model_identity
    from adversarial.validate import _rows

    folder = built / "xnli/charnoise/zh"
    rows = [r for r in _rows(folder) if r["adv_status"] == "attacked"]
    originals = [{**r, **json.loads(r["adv_original"])} for r in rows]
    model, tokenizer = fit_xnli(embedded_model_dir_small, originals, tmp_path / "ref")

    def predict(docs):
        enc = tokenizer([d["premise"] for d in docs], [d["hypothesis"] for d in docs],
                        truncation=True, padding=True, return_tensors="pt")  # fmt: skip
        with torch.no_grad():
            return model(**enc).logits.argmax(-1).tolist()

    flipped = {
        r["id"] for r, a, b in zip(rows, predict(originals), predict(rows), strict=True) if a != b
    }
    assert flipped  # the typos change some predictions of this small reference model
    sheet = tmp_path / "sheet"
    ref = str(tmp_path / "ref")
    argv = ["validate", "export", "--out", str(built), "--sheet", str(sheet), "--n", "16",
            "--task", "xnli", "--attack", "charnoise", "--prescreen", ref]  # fmt: skip
    assert main(argv) == 0
    sheet_rows = list(csv.DictReader((sheet / "validation.csv").open(encoding="utf-8")))
    flagged = {r["id"] for r in sheet_rows if "reference_changed" in r["prescreen"]}
    assert flagged == flipped
    reasons = [r["prescreen_reason"] for r in sheet_rows if r["id"] in flipped]
    assert all("reference model: " in reason and " -> " in reason for reason in reasons)
    page = (sheet / "validation.html").read_text(encoding="utf-8")
    likely = {"protected_word_edited", "protected_word_introduced", "chrf_below_typo",
              "below_floor", "reference_changed"}  # fmt: skip
    shaded = sum(bool(likely & set(r["prescreen"].split(","))) for r in sheet_rows)
    assert page.count("<tr class=flag>") == shaded >= len(flipped)
    assert f"({shaded} flagged by the pre-screen)" in capsys.readouterr().out
    # The attack's victim cannot be its own reference.
    manifest = folder / "manifest.json"
    before = manifest.read_bytes()
    data = json.loads(before)
    data["source_model"] = _model_identity(str(tmp_path / "ref"))
    manifest.write_text(json.dumps(data), encoding="utf-8")
    try:
        capsys.readouterr()
        assert main([*argv[:5], str(tmp_path / "sheet2"), *argv[6:]]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "was attacked with" in err
        assert not (tmp_path / "sheet2").exists()
    finally:
        manifest.write_bytes(before)


def test_prescreen_finds_token_edits_in_the_joined_sentence():
    from adversarial.prescreen import _spans

    tokens = ["Die", "Zeugen", "Jehovas", "in", "Kaliningrad"]
    edits = [{"field": "tokens", "start": 1, "end": 2, "original": "Zeugen"},
             {"field": "tokens", "start": 4, "end": 5, "original": "Kaliningrad"}]  # fmt: skip
    text = " ".join(tokens)
    assert [text[a:b] for a, b in _spans(text, edits)] == ["Zeugen", "Kaliningrad"]
    assert _spans(text, [{"start": 0, "end": 1, "original": "Zeugen"}]) is None


@pytest.mark.parametrize(("lang", "least_swaps"), [("de", 0.9), ("ru", 0.9), ("zh", 0.7)])
def test_chrf_flag_separates_word_swaps_from_typos_on_real_text(xtreme_data_dir, lang, least_swaps):
    import random

    from adversarial.prescreen import separation

    ds = load_eval_split("xnli", lang, data_dir=str(xtreme_data_dir)).dataset
    texts = list(ds["premise"][:100]) + list(ds["hypothesis"][:100])
    random.Random(1).shuffle(texts)
    result = separation(texts[:100], lang, n_calibration=40)
    assert result["n_texts"] >= 50
    assert result["typo"] <= 0.1 and result["last_character"] <= 0.1
    assert result["word_swap"] >= least_swaps
