"""Loaders on the real XTREME slices, split choice, and clear errors for bad data."""

from __future__ import annotations

import json

import pytest

from harness_tasks.data import hub, lm_eval_dataset, load_eval_split
from harness_tasks.errors import XtremeAdvError
from harness_tasks.families import FAMILIES

REAL = [
    ("xnli", "ar", 2490),
    ("pawsx", "zh", 2000),
    ("udpos", "de", 977),
    ("panx", "ka", None),
    ("xquad", "ro", 1190),
    ("mlqa", "zh", None),
    ("tatoeba", "ja", None),
    ("bucc", "zh", None),
]


@pytest.mark.parametrize("task,lang,n", REAL)
def test_real_slices_load_in_the_contract_schema(task, lang, n, xtreme_data_dir):
    loaded = load_eval_split(task, lang, data_dir=xtreme_data_dir)
    rows = loaded.dataset
    if n is not None:
        assert len(rows) == n
    assert set(rows["split"]) == {loaded.split} and set(rows["lang"]) == {lang}
    assert len(set(rows["id"])) == len(rows)  # ids are unique: samples pair by id
    first = rows[0]
    kind = FAMILIES[task].kind
    if kind == "classification":
        assert set(rows["label"]) <= set(range(len(FAMILIES[task].labels)))
    elif kind == "tagging":
        assert all(len(r["tokens"]) == len(r["tags"]) for r in rows)
        assert set(t for r in rows for t in r["tags"]) <= set(FAMILIES[task].labels)
    elif kind == "qa":
        for r in rows.select(range(50)):
            for text, start in zip(r["answers"]["text"], r["answers"]["answer_start"]):
                assert r["context"][start : start + len(text)] == text
    else:
        sources = [r for r in rows if r["side"] == "source"]
        targets = {r["id"] for r in rows if r["side"] == "target"}
        assert sources and all(not r["gold"] or r["gold"] in targets for r in sources)
    assert first["id"]


def test_split_choice_prefers_labelled_test_and_can_be_overridden(xtreme_data_dir, monkeypatch):
    assert load_eval_split("pawsx", "de", data_dir=xtreme_data_dir).split == "test"
    assert load_eval_split("pawsx", "de", split="dev", data_dir=xtreme_data_dir).split == (
        "validation"
    )
    monkeypatch.setenv("XTREME_SPLIT", "validation")
    assert load_eval_split("pawsx", "de", data_dir=xtreme_data_dir).split == "validation"
    # the lm-eval hook returns the chosen split under the key lm-eval's YAML names
    # (and a few-shot split that is never the scored one)
    assert list(lm_eval_dataset(task="pawsx", lang="de", data_dir=str(xtreme_data_dir))) == [
        "eval",
        "fewshot",
    ]


def test_unlabelled_split_is_never_scored(tmp_path):
    (tmp_path / "xnli").mkdir()
    (tmp_path / "xnli" / "test-de.tsv").write_text("Ein Satz.\tNoch einer.\n")
    (tmp_path / "xnli" / "dev-de.tsv").write_text("Ein Satz.\tNoch einer.\tneutral\n")
    # automatic choice skips the unlabelled test split
    assert load_eval_split("xnli", "de", data_dir=tmp_path).split == "validation"
    with pytest.raises(XtremeAdvError, match="unlabelled"):
        load_eval_split("xnli", "de", split="test", data_dir=tmp_path)


def test_tatoeba_as_xtreme_preprocessing_writes_it_is_unlabelled(tmp_path):
    # XTREME's tatoeba_preprocess: <xx>-en.<xx> as is, <xx>-en.en sorted (alignment hidden).
    (tmp_path / "tatoeba").mkdir()
    (tmp_path / "tatoeba" / "de-en.de").write_text("Wo ist der Bahnhof?\nEs regnet.\n")
    (tmp_path / "tatoeba" / "de-en.en").write_text("It is raining.\nWhere is the station?\n")
    with pytest.raises(XtremeAdvError, match=r"unlabelled \(never scored\): .*de-en\.de"):
        load_eval_split("tatoeba", "de", data_dir=tmp_path)
    # LASER's aligned files beside them are scored.
    (tmp_path / "tatoeba" / "tatoeba.deu-eng.deu").write_text("Es regnet.\n")
    (tmp_path / "tatoeba" / "tatoeba.deu-eng.eng").write_text("It is raining.\n")
    assert load_eval_split("tatoeba", "de", data_dir=tmp_path).source.endswith("deu-eng.deu")


def test_tatoeba_uses_three_letter_file_names(xtreme_data_dir):
    rows = load_eval_split("tatoeba", "zh", data_dir=xtreme_data_dir)
    assert rows.source.endswith("tatoeba.cmn-eng.cmn")


@pytest.mark.parametrize(
    "content,needle",
    [
        ("a\tb\tc\td\n", "expected 3 tab-separated fields"),
        ("a\tb\t7\n", "must be 0 or 1"),
    ],
)
def test_malformed_pair_files(tmp_path, content, needle):
    (tmp_path / "pawsx").mkdir()
    (tmp_path / "pawsx" / "dev-de.tsv").write_text(content)
    with pytest.raises(XtremeAdvError, match=needle) as err:
        load_eval_split("pawsx", "de", data_dir=tmp_path)
    assert "dev-de.tsv:1" in str(err.value)


def test_malformed_tagging_and_json(tmp_path):
    (tmp_path / "panx").mkdir()
    (tmp_path / "panx" / "dev-de.tsv").write_text("Berlin\tB-CITY\n")
    with pytest.raises(XtremeAdvError, match="unknown value 'B-CITY'"):
        load_eval_split("panx", "de", data_dir=tmp_path)
    (tmp_path / "xquad").mkdir()
    (tmp_path / "xquad" / "xquad.de.json").write_text('{"data": [')
    with pytest.raises(XtremeAdvError, match="xquad.de.json: not SQuAD-format JSON"):
        load_eval_split("xquad", "de", data_dir=tmp_path)


def test_unknown_task_and_language():
    with pytest.raises(XtremeAdvError, match="unknown XTREME task 'xnl'"):
        load_eval_split("xnl", "de")
    with pytest.raises(XtremeAdvError, match="choose from"):
        load_eval_split("xnli", "ja")


def test_hub_loader_converts_hub_columns(monkeypatch):
    """The Hub is unreachable here, so ``datasets.load_dataset`` is replaced by a stand-in that
    returns rows in the column layout the Hub dataset has (hub-datasets-facts.md)."""
    import datasets

    calls = []

    def fake_load(path, name=None, split=None, **_):
        calls.append((path, name, split))
        if path == "google/xtreme" and name == "PAN-X.de":
            return datasets.Dataset.from_list(
                [{"tokens": ["Anton", "lebt"], "ner_tags": [1, 0], "langs": ["de", "de"]}]
            )
        if path == "mteb/BUCC":
            return datasets.Dataset.from_list(
                [{"sentence1": ["a", "b"], "sentence2": ["x", "y"], "gold": [[2, 1]]}]
            )
        raise ConnectionError("offline")

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    monkeypatch.delenv("XTREME_DATA_DIR", raising=False)
    rows = load_eval_split("panx", "de").dataset
    assert rows[0]["tags"] == ["B-PER", "O"] and calls[-1] == ("google/xtreme", "PAN-X.de", "test")
    bucc = load_eval_split("bucc", "de").dataset
    # gold pairs first, so that a --limit prefix keeps whole pairs
    assert [(r["id"], r["gold"]) for r in bucc] == [
        ("de-2", "en-1"),
        ("en-1", ""),
        ("de-1", ""),
        ("en-2", ""),
    ]
    with pytest.raises(XtremeAdvError, match="facebook/xnli.*XTREME_DATA_DIR"):
        load_eval_split("xnli", "de")
    assert json.dumps(hub.SOURCES["tydiqa"].splits)  # TyDiQA has no test split on the Hub
