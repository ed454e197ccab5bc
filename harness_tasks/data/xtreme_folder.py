"""Readers for an XTREME download folder (the layout google-research/xtreme's
``scripts/download_data.sh`` writes).

These formats (CoNLL-style token TSVs, headerless sentence-pair TSVs, line-aligned bitexts) are
not among ``datasets``' packaged builders, so they are parsed here, which also lets every error
name the file, the line and the value. SQuAD-style JSON is flattened the same way for XQuAD,
MLQA and TyDiQA-GoldP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from harness_tasks.errors import XtremeAdvError
from harness_tasks.families import NER_BIO, UPOS
from harness_tasks.languages import TATOEBA_ISO3, TYDIQA_NAMES

# XTREME calls its validation split "dev" in file names.
FILE_SPLIT = {"validation": "dev", "test": "test", "train": "train"}
XNLI_LABELS = {"entailment": 0, "neutral": 1, "contradiction": 2, "contradictory": 2}


class Unlabelled(Exception):
    """The split exists but carries no gold labels (XTREME withholds most test labels).

    ``reason`` says how the withholding shows (no label column, blank answers, one constant
    label, sorted English side).
    """

    def __init__(self, path: object, reason: str = "no label column") -> None:
        super().__init__(f"{path} ({reason})")
        self.path = str(path)
        self.reason = reason


# Fewer rows than this cannot show a withheld label by being constant (a real split can).
MIN_ROWS_CONSTANT = 20


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        # utf-8-sig: a byte-order mark (Windows editors) is not part of the first token.
        with path.open(encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                yield number, line.rstrip("\n").rstrip("\r")
    except UnicodeDecodeError as err:
        raise XtremeAdvError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None


def candidates(family: str, lang: str, split: str, root: Path) -> list[Path]:
    """Files that would hold ``family``/``lang``/``split`` in an XTREME folder, first match wins."""
    fs = FILE_SPLIT.get(split, split)
    if family in {"xnli", "pawsx", "udpos", "panx"}:
        return [root / family / f"{fs}-{lang}.tsv"]
    if family == "xquad":
        return [root / "xquad" / f"xquad.{lang}.json"] if split == "validation" else []
    if family == "mlqa":
        return [root / "mlqa" / "MLQA_V1" / fs / f"{fs}-context-{lang}-question-{lang}.json"]
    if family == "tydiqa":
        base = root / "tydiqa" / f"tydiqa-goldp-v1.1-{fs}"
        return [
            base / f"tydiqa.goldp.{lang}.{fs}.json",
            base / f"tydiqa.{lang}.{fs}.json",
            base / f"tydiqa-goldp-{fs}-{TYDIQA_NAMES.get(lang, lang)}.json",
        ]
    if family == "bucc":
        return [root / "bucc2018" / f"{lang}-en.{fs}.{lang}"]
    if family == "tatoeba":
        iso3 = TATOEBA_ISO3.get(lang, lang)
        if split != "validation":
            return []
        # LASER's aligned files first; then the names XTREME's preprocessing writes.
        return [
            root / "tatoeba" / f"tatoeba.{iso3}-eng.{iso3}",
            root / "tatoeba" / f"{lang}-en.{lang}",
        ]
    if family == "xcopa":
        fs = "val" if split == "validation" else fs
        return [
            root / "xcopa" / f"{fs}-{lang}.jsonl",  # XTREME(-R)'s download_data.sh
            root / "xcopa" / lang / f"{fs}.{lang}.jsonl",  # cambridgeltl/xcopa's data/ folder
            root / "xcopa" / f"{fs}.{lang}.jsonl",
        ]
    return []


def read(family: str, lang: str, path: Path) -> list[dict]:
    """Read one file of ``family`` into rows of the contract schema (without ``split``)."""
    reader = _READERS[family]
    rows = reader(path, lang)
    if not rows:
        raise XtremeAdvError(f"{path}: no examples found")
    return rows


def _pairs(path: Path, lang: str, labels: dict[str, int] | None, names: tuple[str, str]):
    rows = []
    unlabelled = None  # decided by the first line: a whole file without labels is withheld
    for number, line in _lines(path):
        if not line.strip():
            continue
        cols = line.split("\t")
        if unlabelled is None:
            unlabelled = len(cols) == 2
        if unlabelled and len(cols) == 2:
            continue
        if len(cols) != 3:
            raise XtremeAdvError(
                f"{path}:{number}: expected 3 tab-separated fields "
                f"({names[0]}, {names[1]}, label), found {len(cols)}"
            )
        raw = cols[2].strip()
        if labels is not None:
            if raw not in labels:
                raise XtremeAdvError(f"{path}:{number}: field label has unknown value {raw!r}")
            label = labels[raw]
        else:
            if raw not in {"0", "1"}:
                raise XtremeAdvError(f"{path}:{number}: field label must be 0 or 1, not {raw!r}")
            label = int(raw)
        rows.append(
            {"id": f"{lang}-{len(rows)}", names[0]: cols[0], names[1]: cols[1], "label": label}
        )
    if unlabelled:
        if rows:
            raise XtremeAdvError(
                f"{path}: some lines have a label and some do not (line 1 has none); "
                "fix the file or remove the unlabelled lines"
            )
        raise Unlabelled(path)
    return rows


def _xnli(path: Path, lang: str) -> list[dict]:
    rows = _pairs(path, lang, XNLI_LABELS, ("premise", "hypothesis"))
    return rows


def _pawsx(path: Path, lang: str) -> list[dict]:
    return _pairs(path, lang, None, ("sentence1", "sentence2"))


def _conll(path: Path, lang: str, tagset: list[str]) -> list[dict]:
    allowed = set(tagset)
    rows: list[dict] = []
    tokens: list[str] = []
    tags: list[str] = []
    prefix = f"{lang}:"

    def flush() -> None:
        if tokens:
            rows.append({"id": f"{lang}-{len(rows)}", "tokens": list(tokens), "tags": list(tags)})
            tokens.clear()
            tags.clear()

    first = True
    for number, line in _lines(path):
        if not line.strip():
            flush()
            continue
        cols = line.split("\t")
        if first and len(cols) == 1:
            raise Unlabelled(path, "tokens without tags")
        first = False
        if len(cols) != 2:
            raise XtremeAdvError(
                f"{path}:{number}: expected token TAB tag, found {len(cols)} fields"
            )
        token, tag = cols
        if tag not in allowed:
            raise XtremeAdvError(f"{path}:{number}: field tag has unknown value {tag!r}")
        # XTREME's processed PAN-X files prefix every token with "<lang>:".
        tokens.append(token[len(prefix) :] if token.startswith(prefix) else token)
        tags.append(tag)
    flush()
    return rows


def _squad(path: Path, lang: str) -> list[dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        articles = data["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise XtremeAdvError(f"{path}: not SQuAD-format JSON ({err})") from None
    rows = []
    blank = 0  # questions whose answer text is empty
    for article in articles:
        for paragraph in article.get("paragraphs", []):
            context = paragraph.get("context")
            for qa in paragraph.get("qas", []):
                answers = qa.get("answers") or []
                if not isinstance(context, str) or "question" not in qa or not answers:
                    raise XtremeAdvError(
                        f"{path}: question {qa.get('id', '?')!r} lacks context, question or answers"
                    )
                if any(not str(a.get("text", "")).strip() for a in answers):
                    blank += 1
                rows.append(
                    {
                        "id": str(qa.get("id", f"{lang}-{len(rows)}")),
                        "context": context,
                        "question": qa["question"],
                        "answers": {
                            "text": [a["text"] for a in answers],
                            "answer_start": [int(a["answer_start"]) for a in answers],
                        },
                    }
                )
    if rows and blank == len(rows):
        # XTREME's remove_qa_test_annotations: every answer is {"answer_start": 0, "text": ""}.
        raise Unlabelled(path, "every answer is blank")
    if blank:
        raise XtremeAdvError(
            f"{path}: {blank} of {len(rows)} questions have a blank answer text; "
            "a labelled file needs every answer"
        )
    return rows


def _tatoeba(path: Path, lang: str) -> list[dict]:
    if path.name == f"{lang}-en.{lang}":
        # google-research/xtreme's tatoeba_preprocess sorts the English side, which hides the
        # gold alignment (labels withheld for its leaderboard): nothing to score.
        raise Unlabelled(path, "XTREME's preprocessing sorted the English side")
    english = path.with_suffix(".eng")
    if not english.exists():
        raise XtremeAdvError(f"{english}: missing (the English side of {path.name})")
    source = [line for _, line in _lines(path)]
    target = [line for _, line in _lines(english)]
    if len(source) != len(target):
        raise XtremeAdvError(
            f"{path}: {len(source)} lines but {english.name} has {len(target)}; "
            "Tatoeba files must be line-aligned"
        )
    stripped = [t.strip() for t in target]
    if len(target) >= MIN_ROWS_CONSTANT and stripped == sorted(stripped):
        raise Unlabelled(english, "the English side is sorted, so its alignment is hidden")
    rows = [
        {"id": f"src-{i}", "sentence": s, "side": "source", "gold": f"tgt-{i}"}
        for i, s in enumerate(source)
    ]
    rows += [
        {"id": f"tgt-{i}", "sentence": t, "side": "target", "gold": ""}
        for i, t in enumerate(target)
    ]
    return rows


def _id_sentences(path: Path) -> list[tuple[str, str]]:
    out = []
    for number, line in _lines(path):
        if not line:
            continue
        if "\t" not in line:
            raise XtremeAdvError(f"{path}:{number}: expected id TAB sentence")
        ident, sentence = line.split("\t", 1)
        out.append((ident, sentence))
    return out


def _bucc(path: Path, lang: str) -> list[dict]:
    gold_path = path.with_suffix(".gold")
    english = path.with_suffix(".en")
    if not gold_path.exists():
        raise Unlabelled(path, f"no {gold_path.name}")
    if not english.exists():
        raise XtremeAdvError(f"{english}: missing (the English side of {path.name})")
    gold = dict(_id_sentences(gold_path))
    rows = [
        {"id": i, "sentence": s, "side": "source", "gold": gold.get(i, "")}
        for i, s in _id_sentences(path)
    ]
    rows += [
        {"id": i, "sentence": s, "side": "target", "gold": ""} for i, s in _id_sentences(english)
    ]
    return rows


def _xcopa(path: Path, lang: str) -> list[dict]:
    rows = []
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            label = int(record["label"])
            row = {
                "id": str(record.get("idx", len(rows))),
                "premise": record["premise"],
                "choice1": record["choice1"],
                "choice2": record["choice2"],
                "question": record["question"],
                "label": label,
            }
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise XtremeAdvError(f"{path}:{number}: not an XCOPA record ({err})") from None
        if label not in (0, 1):
            raise XtremeAdvError(f"{path}:{number}: field label must be 0 or 1, not {label!r}")
        if row["question"] not in ("cause", "effect"):
            raise XtremeAdvError(
                f"{path}:{number}: field question must be cause or effect, not {row['question']!r}"
            )
        rows.append(row)
    if len(rows) >= MIN_ROWS_CONSTANT and len({r["label"] for r in rows}) == 1:
        # XTREME's xcopa_preprocess sets every test label to 0 ("to prevent cheating").
        raise Unlabelled(path, f"every label is {rows[0]['label']}")
    return rows


_READERS = {
    "xnli": _xnli,
    "pawsx": _pawsx,
    "udpos": lambda path, lang: _conll(path, lang, UPOS),
    "panx": lambda path, lang: _conll(path, lang, NER_BIO),
    "xquad": _squad,
    "mlqa": _squad,
    "tydiqa": _squad,
    "tatoeba": _tatoeba,
    "bucc": _bucc,
    "xcopa": _xcopa,
}

__all__ = ["candidates", "read", "Unlabelled"]
