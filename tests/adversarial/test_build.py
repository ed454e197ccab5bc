"""Building sets on the real XTREME slices: every family, labels and spans intact, validity."""

from __future__ import annotations

import json

import pytest

from adversarial.build import BuildRequest, build
from adversarial.engine import apply_char_edits
from harness_tasks.data import load_eval_split

from .conftest import read_manifest

pytestmark = pytest.mark.shared_data

NO_SIM = {"min_similarity": 0}


def _build(root, data_dir, task, lang, attack, params=None, limit=24, seed=0):
    request = BuildRequest(
        task, lang, attack, params or NO_SIM, seed=seed, data_dir=str(data_dir), limit=limit
    )
    return build(request, root=root, progress=False)


def _rows(folder):
    import datasets

    return datasets.Dataset.from_parquet(str(folder / "data.parquet")).to_list()


def _limited(docs, limit):
    """What ``--limit`` keeps: the first ``limit`` documents; for retrieval the first ``limit``
    queries and the whole candidate pool, so each query is ranked as in the full set."""
    if "side" not in docs[0]:
        return docs[:limit]
    kept = [d["id"] for d in docs if d["side"] == "source"][:limit]
    return [d for d in docs if d["side"] == "target" or d["id"] in kept]


def _check_set(folder, data_dir, task, lang, limit=24):
    """Every invariant a set must keep, checked against the clean data."""
    manifest = read_manifest(folder)
    clean = _limited(load_eval_split(task, lang, data_dir=str(data_dir)).dataset.to_list(), limit)
    rows = _rows(folder)
    v = manifest["validity"]
    assert len(rows) == len(clean) == v["n_docs"]
    assert v["attacked"] > 0
    assert v["qa_answers_preserved"] == v["qa_answers"]
    assert v["tagged_aligned"] == v["tagged_examples"]
    assert v["stopword_edits"] == 0
    assert v["max_ratio_observed"] <= manifest["attack"]["params"]["max_ratio"]
    for row, doc in zip(rows, clean, strict=True):
        assert row["id"] == doc["id"]
        for key in ("label", "gold", "side"):
            if key in doc:
                assert row[key] == doc[key]
        if "answers" in doc:
            assert row["answers"]["text"] == doc["answers"]["text"]
            for text, start in zip(
                row["answers"]["text"], row["answers"]["answer_start"], strict=True
            ):
                assert row["context"][start : start + len(text)] == text
        if "tags" in doc and manifest["attack"]["name"] != "entityswap":
            assert row["tags"] == doc["tags"]
        if "tokens" in doc:
            assert len(row["tokens"]) == len(row["tags"])
        # The recorded edits turn the original into the perturbed text, field by field.
        edits = json.loads(row["adv_edits"])
        for field in {e["field"] for e in edits} - {"tokens"}:
            mine = [(e["start"], e["end"], e["perturbed"]) for e in edits if e["field"] == field]
            assert apply_char_edits(doc[field], mine)[0] == row[field]
        if row["adv_status"] == "attacked":
            assert any(row[f] != doc[f] for f in doc if f not in ("answers",))
        else:
            assert {f: row[f] for f in doc} == doc
    return manifest


# (task, languages in >= 4 scripts) per family; small slices keep the suite fast.
WORD_LEVEL = [
    ("charnoise", "xnli", ["de", "ru", "ar", "hi", "zh", "el"]),
    ("charnoise", "xquad", ["hi", "zh"]),
    ("charnoise", "panx", ["ka", "ko", "he"]),  # ja PAN-X tokens are characters: protected
    ("charnoise", "tatoeba", ["ru"]),
    ("visual", "xnli", ["de", "ru", "ar", "hi", "el", "vi"]),
    ("visual", "xquad", ["ar"]),
    ("visual", "panx", ["ko", "ta"]),
]


@pytest.mark.parametrize(("attack", "task", "langs"), WORD_LEVEL)
def test_word_level_families_build_across_scripts(out_root, xtreme_data_dir, attack, task, langs):
    for lang in langs:
        folder = _build(out_root, xtreme_data_dir, task, lang, attack)
        manifest = _check_set(folder, xtreme_data_dir, task, lang)
        assert manifest["task_name"] == f"xtreme_adv_{task}_{attack}_{lang}"
        assert (out_root / "tasks" / f"xtreme_adv_{task}_{attack}_{lang}.yaml").is_file()


@pytest.mark.slow
def test_distractor_keeps_answers_and_labels(out_root, xtreme_data_dir):
    for task, lang in [
        ("xquad", "de"),
        ("xquad", "ru"),
        ("xquad", "zh"),
        ("xnli", "ar"),
        ("xnli", "hi"),
        ("pawsx", "ko"),
        ("pawsx", "ja"),
    ]:
        folder = _build(
            out_root,
            xtreme_data_dir,
            task,
            lang,
            "distractor",
            {"similarity_model": "embedded:2"},
            limit=12,
        )
        manifest = _check_set(folder, xtreme_data_dir, task, lang, limit=12)
        rows = _rows(folder)
        for row in rows:
            edits = json.loads(row["adv_edits"])
            if task == "xquad":
                # AddSent: one sentence appended after the context, holding no gold answer.
                (edit,) = edits
                assert edit["field"] == "context" and edit["original"] == ""
                assert not any(a in edit["perturbed"] for a in row["answers"]["text"])
            if task == "pawsx" and edits:
                # The same clause after both sentences keeps the paraphrase relation.
                assert len({e["perturbed"] for e in edits}) == 1 and len(edits) == 2
        assert manifest["validity"]["mean_similarity"] is not None


def test_entityswap_swaps_same_type_entities(out_root, xtreme_data_dir):
    for lang in ["de", "ar", "zh", "hi", "ru"]:
        folder = _build(
            out_root,
            xtreme_data_dir,
            "panx",
            lang,
            "entityswap",
            {"similarity_model": "embedded:2"},
            limit=16,
        )
        _check_set(folder, xtreme_data_dir, "panx", lang, limit=16)
        for row in _rows(folder):
            original = json.loads(row["adv_original"])
            if not original:
                continue
            old_types = {t[2:] for t in original["tags"] if t != "O"}
            new_types = {t[2:] for t in row["tags"] if t != "O"}
            assert new_types <= old_types
            assert len(row["tokens"]) == len(row["tags"])
    folder = _build(
        out_root,
        xtreme_data_dir,
        "xquad",
        "ar",
        "entityswap",
        {"similarity_model": "embedded:2"},
        limit=40,
    )
    manifest = _check_set(folder, xtreme_data_dir, "xquad", "ar", limit=40)
    assert manifest["validity"]["attacked"] > 0
    # An entity the question names is never swapped out of the context.
    for row in _rows(folder):
        for edit in json.loads(row["adv_edits"]):
            assert edit["original"].casefold() not in row["question"].casefold()


def test_codeswitch_with_a_muse_dictionary(out_root, xtreme_data_dir, tmp_path):
    # A few real MUSE de-en / ru-en entries (MUSE lists lower-case forms).
    (tmp_path / "de-en.txt").write_text(
        "mutter mother\nschule school\nhaus house\nbus bus\nsagte said\ngesagt said\n"
        "mama mom\nzeit time\njahr year\nstadt city\nleute people\nkinder children\n",
        encoding="utf-8",
    )
    (tmp_path / "ru-en.txt").write_text(
        "мама mom\nшкола school\nдом house\nвремя time\nгод year\nлюди people\n"
        "сказал said\nавтобус bus\nмать mother\nгород city\n",
        encoding="utf-8",
    )
    for lang in ["de", "ru"]:
        folder = _build(
            out_root,
            xtreme_data_dir,
            "xnli",
            lang,
            "codeswitch",
            {"dictionary": str(tmp_path), "min_similarity": 0},
            limit=64,
        )
        _check_set(folder, xtreme_data_dir, "xnli", lang, limit=64)
        table: dict[str, set[str]] = {}
        for line in (tmp_path / f"{lang}-en.txt").read_text(encoding="utf-8").splitlines():
            src, tgt = line.split()
            table.setdefault(src, set()).add(tgt)
        n_edits = 0
        for row in _rows(folder):
            for edit in json.loads(row["adv_edits"]):
                assert edit["perturbed"].lower() in table[edit["original"].lower()]
                n_edits += 1
        assert n_edits > 0


def test_similarity_floor_is_enforced_and_reported(out_root, xtreme_data_dir):
    params = {"similarity_model": "embedded:2", "min_similarity": 0.93, "max_ratio": 0.5}
    folder = _build(out_root, xtreme_data_dir, "xnli", "ru", "charnoise", params, limit=32)
    manifest = _check_set(folder, xtreme_data_dir, "xnli", "ru", limit=32)
    v = manifest["validity"]
    assert v["similarity_floor"] == 0.93
    assert v["min_similarity_observed"] >= 0.93
    rows = _rows(folder)
    assert all(r["adv_similarity"] >= 0.93 for r in rows if r["adv_status"] == "attacked")
    # Check the floor against the encoder itself, not only against the manifest.
    from adversarial.similarity import load_encoder

    clean = load_eval_split("xnli", "ru", data_dir=str(xtreme_data_dir)).dataset.to_list()[:32]
    enc = load_encoder("embedded:2")
    enc.clear_cache()
    pairs = [
        (d["premise"], r["premise"])
        for d, r in zip(clean, rows, strict=True)
        if r["premise"] != d["premise"]
    ]
    assert pairs and min(enc.similarity(pairs)) >= 0.93 - 1e-4
