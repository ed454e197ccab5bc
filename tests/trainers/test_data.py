"""Data loaders: local XTREME / intermediate files, CCGbank, and the Hub path (mocked)."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import datasets
import pytest

from trainers.data import DataLocations, load_task_data
from trainers.data import hub as hub_module
from trainers.data.ccgbank import read_ccgbank
from trainers.data.readers import read_conll_tsv, read_pair_tsv
from trainers.errors import TrainUserError
from trainers.tasks import INTERMEDIATE_TASKS, PANX_LABELS, TARGET_TASKS, UPOS_LABELS


def _half(key: str) -> int:  # docs/contracts.md section 8
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16) % 2


def test_xnli_english_dev_stands_in_for_mnli(xtreme_data_dir: Path) -> None:
    data = load_task_data(TARGET_TASKS["xnli"], DataLocations(xtreme_dir=xtreme_data_dir))
    lines = (xtreme_data_dir / "xnli" / "dev-en.tsv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2490
    # Parallel to the scored XNLI dev splits: only rows of half 0 (and no copy of a half-1 row).
    scored = {line for i, line in enumerate(lines) if _half(str(i)) == 1}
    kept = [line.split("\t") for i, line in enumerate(lines)
            if _half(str(i)) == 0 and line not in scored]  # fmt: skip
    assert 1100 < len(kept) < 1400
    assert data.dataset["text_a"] == [a for a, _, _ in kept]
    assert data.dataset["text_b"] == [b for _, b, _ in kept]
    names = ["entailment", "neutral", "contradiction"]
    assert data.dataset["label"] == [names.index(y) for _, _, y in kept]
    assert "stand-in for MNLI" in data.source
    assert data.exclusion["n_trained"] == len(kept)
    assert len(data.sha256) == 64


def test_max_train_examples_is_a_seeded_sample(xtreme_data_dir: Path) -> None:
    where = DataLocations(xtreme_dir=xtreme_data_dir)
    a = load_task_data(TARGET_TASKS["pawsx"], where, max_examples=50, seed=1)
    b = load_task_data(TARGET_TASKS["pawsx"], where, max_examples=50, seed=1)
    c = load_task_data(TARGET_TASKS["pawsx"], where, max_examples=50, seed=2)
    assert len(a.dataset) == 50 and a.dataset["text_a"] == b.dataset["text_a"]
    assert a.dataset["text_a"] != c.dataset["text_a"]
    assert set(a.dataset["label"]) == {0, 1}


def test_squad_json_answers_point_into_the_context(xtreme_data_dir: Path) -> None:
    data = load_task_data(TARGET_TASKS["xquad"], DataLocations(xtreme_dir=xtreme_data_dir))
    assert 500 < len(data.dataset) < 700  # half 0 of XQuAD's 1190 question ids
    assert {_half(i) for i in data.dataset["id"]} == {0}
    for row in data.dataset.select(range(50)):
        start = row["answers"]["answer_start"][0]
        text = row["answers"]["text"][0]
        assert row["context"][start : start + len(text)] == text


def test_tydiqa_english_training_file(xtreme_data_dir: Path) -> None:
    data = load_task_data(TARGET_TASKS["tydiqa"], DataLocations(xtreme_dir=xtreme_data_dir))
    assert len(data.dataset) == 3696
    assert "stand-in" not in data.source


@pytest.mark.parametrize(("task", "labels"), [("udpos", UPOS_LABELS), ("panx", PANX_LABELS)])
def test_conll_files_become_sentences(xtreme_data_dir: Path, task: str, labels: tuple) -> None:
    data = load_task_data(TARGET_TASKS[task], DataLocations(xtreme_dir=xtreme_data_dir))
    lines = (xtreme_data_dir / task / "train-en.tsv").read_text(encoding="utf-8").splitlines()
    tokens = [line for line in lines if line.strip()]
    assert sum(len(t) for t in data.dataset["tokens"]) == len(tokens)
    first_token, first_tag = tokens[0].split("\t")
    assert data.dataset[0]["tokens"][0] == first_token
    assert labels[data.dataset[0]["tags"][0]] == first_tag


def test_intermediate_files(intermediate_dir: Path) -> None:
    where = DataLocations(intermediate_dir=intermediate_dir)
    anli = load_task_data(INTERMEDIATE_TASKS["anli"], where)
    # Rounds 1, 2, 3 of the analysis release: 1000 + 1000 + 1198 rows.
    assert len(anli.dataset) == 3198
    assert Counter(anli.dataset["label"]) == {0: 1070, 1: 1066, 2: 1062}
    cosmos = load_task_data(INTERMEDIATE_TASKS["cosmosqa"], where)
    assert len(cosmos.dataset) == 2985
    assert all(len(e) == 4 for e in cosmos.dataset["endings"][:100])
    siqa = load_task_data(INTERMEDIATE_TASKS["socialiqa"], where)
    assert len(siqa.dataset) == 1954
    row = siqa.dataset[0]
    # First line of the file: correct answer "C" = "Find somewhere to go".
    assert row["endings"][row["label"]] == "Find somewhere to go"


def test_bad_label_names_file_row_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "dev-en.tsv"
    bad.write_text("a\tb\tentailment\nc\td\tmaybe\n", encoding="utf-8")
    with pytest.raises(TrainUserError, match=r"dev-en.tsv: row 2, field label: unknown label"):
        read_pair_tsv(bad, ("entailment", "neutral", "contradiction"))


def test_bad_tag_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "train-en.tsv"
    bad.write_text("Paris\tB-LOC\nis\tO\n\nnice\tB-XYZ\n", encoding="utf-8")
    with pytest.raises(TrainUserError, match=r"train-en.tsv: line 4, field tag: 'B-XYZ'"):
        read_conll_tsv(bad, PANX_LABELS)


# Two sentences in CCGbank's AUTO format (section 02), as LDC2005T13 ships them.
_AUTO = """ID=wsj_0201.1 PARSER=GOLD NUMPARSE=1
(<T S[dcl] 0 2> (<T NP 0 1> (<L N NNP NNP Rolls-Royce N>) ) (<T S[dcl]\\NP 0 2> (<L (S[dcl]\\NP)/NP VBD VBD said (S[dcl]\\NP_1)/NP_2>) (<L NP PRP PRP it NP>) ) )
ID=wsj_0201.2 PARSER=GOLD NUMPARSE=1
(<T S[dcl] 0 2> (<L NP PRP PRP It NP>) (<T S[dcl]\\NP 0 2> (<L (S[dcl]\\NP)/NP VBZ VBZ expects (S[dcl]\\NP_1)/NP_2>) (<L NP NN NN growth NP>) ) )
"""  # noqa: E501


def test_ccgbank_supertags(tmp_path: Path) -> None:
    section = tmp_path / "ccgbank_1_1" / "data" / "AUTO" / "02"
    section.mkdir(parents=True)
    (section / "wsj_0201.auto").write_text(_AUTO, encoding="utf-8")
    ds, names, files = read_ccgbank(tmp_path / "ccgbank_1_1")
    assert ds["tokens"] == [["Rolls-Royce", "said", "it"], ["It", "expects", "growth"]]
    assert [names[t] for t in ds[0]["tags"]] == ["N", "(S[dcl]\\NP)/NP", "NP"]
    assert len(files) == 1


def test_ccg_path_that_is_not_ccgbank(xtreme_data_dir: Path) -> None:
    with pytest.raises(TrainUserError, match="not a CCGbank folder"):
        load_task_data(INTERMEDIATE_TASKS["ccg"], DataLocations(ccgbank=xtreme_data_dir))
    with pytest.raises(TrainUserError, match="needs a local CCGbank"):
        load_task_data(INTERMEDIATE_TASKS["ccg"], DataLocations())


def test_hub_failure_names_ids_and_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    # The Hub is unreachable from this machine: load_dataset is mocked to fail as it would
    # for a repo that still has a loading script under datasets 5.
    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Dataset scripts are no longer supported, but found hellaswag.py")

    monkeypatch.setattr(datasets, "load_dataset", refuse)
    with pytest.raises(TrainUserError) as err:
        load_task_data(INTERMEDIATE_TASKS["hellaswag"], DataLocations())
    message = str(err.value)
    assert "Rowan/hellaswag" in message and "refs/pr/7" in message
    assert "Dataset scripts are no longer supported" in message
    assert "fallback:" in message and "\n" not in message


def test_hub_rows_are_converted(monkeypatch: pytest.MonkeyPatch) -> None:
    # Mocked Hub: rows shaped like Rowan/hellaswag's and tau/commonsense_qa's train splits.
    rows = {
        "Rowan/hellaswag": {
            "ctx_a": ["A man is sitting on a roof."],
            "ctx_b": ["he"],
            "endings": [["is using wrap.", "is ripping shingles.", "is holding a rubik.", "x"]],
            "label": ["1"],
        },
        "tau/commonsense_qa": {
            "question": ["Where would you put a plate after washing it?"],
            "choices": [{"label": ["A", "B", "C"], "text": ["cupboard", "table", "oven"]}],
            "answerKey": ["A"],
        },
    }
    calls = []

    def fake_load(path: str, name: object = None, **kwargs: object) -> datasets.Dataset:
        calls.append((path, kwargs.get("split")))
        return datasets.Dataset.from_dict(rows[path])

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    swag, source = hub_module.load_from_hub("hellaswag")
    assert swag[0] == {
        "context": "A man is sitting on a roof.",
        "question": "he",
        "endings": ["is using wrap.", "is ripping shingles.", "is holding a rubik.", "x"],
        "label": 1,
    }
    assert source.startswith("hub:Rowan/hellaswag")
    csqa, _ = hub_module.load_from_hub("commonsenseqa")
    assert csqa[0]["endings"][csqa[0]["label"]] == "cupboard"
    assert calls == [("Rowan/hellaswag", "train"), ("tau/commonsense_qa", "train")]


def test_every_task_has_a_data_source() -> None:
    for name in [*INTERMEDIATE_TASKS, *TARGET_TASKS]:
        if name in ("ccg", "bucc", "tatoeba"):
            continue
        assert name in hub_module.HUB_TASKS, name
