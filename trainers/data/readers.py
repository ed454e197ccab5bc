"""Readers for local training files, each returning a ``datasets.Dataset`` in a head's schema.

Schemas (what the preprocessing in trainers/heads.py consumes):

- classification: ``text_a``, ``text_b`` (str), ``label`` (int)
- multiple choice: ``context``, ``question`` (str), ``endings`` (list[str]), ``label`` (int)
- extractive QA: ``id``, ``context``, ``question``, ``answers`` {``text``, ``answer_start``}
- tagging: ``tokens`` (list[str]), ``tags`` (list[int], indices into the task's label names)

File formats are those of XTREME's download folder and of the intermediate tasks' own releases
(see ../shared/data/README.md). I/O goes through ``datasets`` (csv / json builders, or
``Dataset.from_generator`` for CoNLL-style files, which datasets has no builder for), so reads are
cached and fingerprinted.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import datasets
from datasets import Dataset, Features, Value

from trainers.errors import TrainUserError
from trainers.hashing import sha256_file

# XNLI-MT's MultiNLI training file spells the third class "contradictory".
_NLI_ALIASES = {"contradictory": "contradiction", "e": "entailment", "n": "neutral",
                "c": "contradiction"}  # fmt: skip


def _load(builder: str, paths: Sequence[Path], **kwargs: object) -> Dataset:
    """``load_dataset(builder, data_files=paths, split="train")`` with quiet progress bars."""
    datasets.disable_progress_bars()
    return datasets.load_dataset(
        builder, data_files=[str(p) for p in paths], split="train", **kwargs
    )


def _tsv(paths: Sequence[Path], columns: list[str]) -> Dataset:
    # XTREME's TSVs have no header and unescaped quotes: QUOTE_NONE keeps quotes as text.
    return _load(
        "csv",
        paths,
        delimiter="\t",
        column_names=columns,
        quoting=csv.QUOTE_NONE,
        keep_default_na=False,
        features=Features({c: Value("string") for c in columns}),
    )


def _label_index(
    value: object, names: Sequence[str], path: Path, row: int, field: str = "label"
) -> int:
    text = str(value).strip()
    text = _NLI_ALIASES.get(text, text)
    if text in names:
        return names.index(text)
    if text.isdigit() and int(text) < len(names):
        return int(text)
    raise TrainUserError(
        f"{path}: row {row + 1}, field {field}: unknown label {value!r} "
        f"(expected one of {', '.join(names)})"
    )


def _drop_header(ds: Dataset, field: str) -> Dataset:
    # Some releases (XNLI-MT's MultiNLI) carry a header line; headerless reading makes it row 0.
    if len(ds) and str(ds[0][field]).strip().lower() in {"label", "gold_label"}:
        return ds.select(range(1, len(ds)))
    return ds


def read_pair_tsv(path: Path, labels: Sequence[str]) -> Dataset:
    """XNLI / MultiNLI / PAWS-X TSV: ``text_a TAB text_b TAB label`` (name or index)."""
    ds = _drop_header(_tsv([path], ["text_a", "text_b", "label_text"]), "label_text")
    ds = ds.map(
        lambda ex, i: {"label": _label_index(ex["label_text"], labels, path, i, "label")},
        with_indices=True,
        remove_columns=["label_text"],
        desc=f"labels of {path.name}",
    )
    return ds


def read_anli(paths: Sequence[Path], labels: Sequence[str]) -> Dataset:
    """ANLI: the analysis release's CSV (context, statement, gold_label e/n/c) or the official
    JSONL (context, hypothesis, label e/n/c)."""
    if all(p.suffix == ".csv" for p in paths):
        ds = _load("csv", paths, keep_default_na=False)
        a, b, y = "context", "statement", "gold_label"
    else:
        ds = _load("json", paths)
        a, b, y = "context", "hypothesis", "label"
    missing = [c for c in (a, b, y) if c not in ds.column_names]
    if missing:
        raise TrainUserError(f"{paths[0]}: missing column(s) {', '.join(missing)} for ANLI")
    return ds.map(
        lambda ex, i: {
            "text_a": ex[a],
            "text_b": ex[b],
            "label": _label_index(ex[y], labels, paths[0], i, y),
        },
        with_indices=True,
        remove_columns=ds.column_names,
        desc="ANLI",
    )


def read_cosmosqa(path: Path) -> Dataset:
    """CosmosQA CSV: id, context, question, answer0-3, label (0-3)."""
    ds = _load("csv", [path], keep_default_na=False)
    need = ["context", "question", "answer0", "answer1", "answer2", "answer3", "label"]
    missing = [c for c in need if c not in ds.column_names]
    if missing:
        raise TrainUserError(f"{path}: missing column(s) {', '.join(missing)} for CosmosQA")
    return ds.map(
        lambda ex: {
            "context": ex["context"],
            "question": ex["question"],
            "endings": [ex[f"answer{k}"] for k in range(4)],
            "label": int(ex["label"]),
        },
        remove_columns=ds.column_names,
        desc="CosmosQA",
    )


def read_siqa(path: Path) -> Dataset:
    """SocialIQA JSONL: context, question, answerA-C, correct (A/B/C) or label ("1"-"3")."""
    ds = _load("json", [path])

    def convert(ex: dict, i: int) -> dict:
        if ex.get("correct"):
            label = "ABC".find(str(ex["correct"]).strip())
        else:
            label = int(str(ex.get("label", "0")).strip() or 0) - 1
        if label not in (0, 1, 2):
            raise TrainUserError(f"{path}: row {i + 1}, field correct: {ex.get('correct')!r}")
        endings = [ex["answerA"], ex["answerB"], ex["answerC"]]
        return {"context": ex["context"], "question": ex["question"], "endings": endings,
                "label": label}  # fmt: skip

    return ds.map(convert, with_indices=True, remove_columns=ds.column_names, desc="SocialIQA")


def _need(ds: Dataset, path: Path, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise TrainUserError(f"{path}: missing field(s) {', '.join(missing)} for {what}")


def read_hellaswag(path: Path) -> Dataset:
    """HellaSwag JSONL as released (rowanz/hellaswag ``hellaswag_{train,val}.jsonl``): ``ctx_a``,
    ``ctx_b`` (``ctx`` = both), ``endings`` (4), ``label``. Context = ``ctx_a``, question =
    ``ctx_b``, as the Hub conversion (trainers/data/hub.py) does."""
    ds = _load("json", [path])
    _need(ds, path, ["ctx_a", "ctx_b", "endings", "label"], "HellaSwag")

    def convert(ex: dict, i: int) -> dict:
        endings = list(ex["endings"] or [])
        label = str(ex["label"]).strip()
        if not label.isdigit() or int(label) >= len(endings):
            raise TrainUserError(
                f"{path}: row {i + 1}, field label: {ex['label']!r} is not the index of one of "
                f"its {len(endings)} endings"
            )
        return {"context": ex["ctx_a"], "question": ex["ctx_b"], "endings": endings,
                "label": int(label)}  # fmt: skip

    return ds.map(convert, with_indices=True, remove_columns=ds.column_names, desc="HellaSwag")


def read_commonsenseqa(path: Path) -> Dataset:
    """CommonsenseQA JSONL as released (``train_rand_split.jsonl``): ``question.stem``,
    ``question.choices[{label, text}]``, ``answerKey``. Context = the stem, endings = the
    choices' texts, as the Hub conversion does."""
    ds = _load("json", [path])
    _need(ds, path, ["question", "answerKey"], "CommonsenseQA")

    def convert(ex: dict, i: int) -> dict:
        question = ex["question"] or {}
        choices = question.get("choices") or []
        letters = [str(c.get("label")) for c in choices]
        if not question.get("stem") or str(ex["answerKey"]) not in letters:
            raise TrainUserError(
                f"{path}: row {i + 1}, field answerKey: {ex['answerKey']!r} is not one of the "
                f"question's choice labels {letters} (or question.stem is empty)"
            )
        return {"context": question["stem"], "question": "",
                "endings": [str(c.get("text")) for c in choices],
                "label": letters.index(str(ex["answerKey"]))}  # fmt: skip

    return ds.map(convert, with_indices=True, remove_columns=ds.column_names, desc="CSQA")


def flatten_squad(batch: dict) -> dict:
    """SQuAD JSON articles (title, paragraphs[context, qas]) -> one row per question."""
    out: dict[str, list] = {"id": [], "context": [], "question": [], "answers": []}
    for paragraphs in batch["paragraphs"]:
        for paragraph in paragraphs:
            for qa in paragraph["qas"]:
                answers = qa.get("answers") or []
                out["id"].append(str(qa["id"]))
                out["context"].append(paragraph["context"])
                out["question"].append(qa["question"])
                out["answers"].append(
                    {
                        "text": [a["text"] for a in answers],
                        "answer_start": [int(a["answer_start"]) for a in answers],
                    }
                )
    return out


def read_squad_json(path: Path) -> Dataset:
    """SQuAD-format JSON (SQuAD, XQuAD, MLQA, TyDiQA-GoldP): one row per question."""
    ds = _load("json", [path], field="data")
    if "paragraphs" not in ds.column_names:
        raise TrainUserError(f"{path}: not SQuAD JSON (no data[].paragraphs)")
    return ds.map(flatten_squad, batched=True, remove_columns=ds.column_names, desc="SQuAD")


def _conll_rows(path: str, labels: Sequence[str], content_sha256: str) -> Iterator[dict]:
    # content_sha256 is unused here: it is part of gen_kwargs so the datasets cache key changes
    # whenever the file's bytes do (from_generator fingerprints its arguments, not the file).
    del content_sha256
    index = {name: i for i, name in enumerate(labels)}
    tokens: list[str] = []
    tags: list[int] = []
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            line = line.rstrip("\n")
            if not line.strip():
                if tokens:
                    yield {"tokens": tokens, "tags": tags}
                tokens, tags = [], []
                continue
            parts = line.split("\t")
            if len(parts) < 2 or parts[-1] not in index:
                value = parts[-1] if len(parts) > 1 else line
                raise TrainUserError(
                    f"{path}: line {lineno}, field tag: {value!r} is not one of the task's "
                    f"{len(labels)} labels (expected 'token<TAB>tag')"
                )
            tokens.append(parts[0])
            tags.append(index[parts[-1]])
    if tokens:
        yield {"tokens": tokens, "tags": tags}


def read_conll_tsv(path: Path, labels: Sequence[str]) -> Dataset:
    """XTREME's udpos / panx TSV: ``token TAB tag`` lines, a blank line between sentences."""
    return from_generator(
        _conll_rows,
        # A tuple, not a list: datasets would shard list-valued gen_kwargs.
        {"path": str(path), "labels": tuple(labels), "content_sha256": sha256_file(path)},
    )


def from_generator(generator: Callable[..., Iterator[dict]], gen_kwargs: dict) -> Dataset:
    """``Dataset.from_generator`` that lets a TrainUserError raised while reading come out as is."""
    datasets.disable_progress_bars()
    try:
        return Dataset.from_generator(generator, gen_kwargs=gen_kwargs)
    except datasets.exceptions.DatasetGenerationError as err:
        if isinstance(err.__cause__, TrainUserError):
            raise err.__cause__ from None
        raise
