"""Loaders for the Hugging Face Hub, with dataset ids that load under datasets 5.x.

Ids and column layouts are those recorded in ``shared/docs/hub-datasets-facts.md``; each entry
converts the Hub's columns to the contract schema of ``docs/contracts.md`` section 3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness_tasks.errors import XtremeAdvError
from harness_tasks.families import NER_BIO, UPOS
from harness_tasks.languages import TATOEBA_ISO3, TYDIQA_NAMES, UD_NAMES


@dataclass(frozen=True)
class HubSource:
    """Where one family lives on the Hub and how its rows become contract rows."""

    path: str
    config: Callable[[str], str | None]
    splits: dict[str, str]  # contract split -> Hub split
    convert: Callable[[list[dict], str], list[dict]]
    fallback: str


def _pairs(a: str, b: str):
    def convert(records: list[dict], lang: str) -> list[dict]:
        return [
            {"id": f"{lang}-{i}", a: r[a], b: r[b], "label": int(r["label"])}
            for i, r in enumerate(records)
            if int(r["label"]) >= 0
        ]

    return convert


def _tags(column: str, names: list[str]):
    def convert(records: list[dict], lang: str) -> list[dict]:
        return [
            {
                "id": f"{lang}-{i}",
                "tokens": list(r["tokens"]),
                "tags": [names[t] if isinstance(t, int) else t for t in r[column]],
            }
            for i, r in enumerate(records)
        ]

    return convert


def _squad(records: list[dict], lang: str) -> list[dict]:
    return [
        {
            "id": str(r["id"]),
            "context": r["context"],
            "question": r["question"],
            "answers": {
                "text": list(r["answers"]["text"]),
                "answer_start": [int(s) for s in r["answers"]["answer_start"]],
            },
        }
        for r in records
    ]


def _tydiqa(records: list[dict], lang: str) -> list[dict]:
    prefix = TYDIQA_NAMES[lang] + "-"
    return _squad([r for r in records if str(r["id"]).startswith(prefix)], lang)


def _tatoeba(records: list[dict], lang: str) -> list[dict]:
    source = [
        {
            "id": f"src-{i}",
            "sentence": r["source_sentence"].rstrip("\n"),
            "side": "source",
            "gold": f"tgt-{i}",
        }
        for i, r in enumerate(records)
    ]
    target = [
        {
            "id": f"tgt-{i}",
            "sentence": r["target_sentence"].rstrip("\n"),
            "side": "target",
            "gold": "",
        }
        for i, r in enumerate(records)
    ]
    return source + target


def _bucc(records: list[dict], lang: str) -> list[dict]:
    # mteb/BUCC: one row per language pair with both corpora and 1-based gold index pairs.
    rows: list[dict] = []
    for r in records:
        gold = {int(i): int(j) for i, j in r["gold"]}
        rows += [
            {
                "id": f"{lang}-{i + 1}",
                "sentence": s,
                "side": "source",
                "gold": f"en-{gold[i + 1]}" if i + 1 in gold else "",
            }
            for i, s in enumerate(r["sentence1"])
        ]
        rows += [
            {"id": f"en-{j + 1}", "sentence": s, "side": "target", "gold": ""}
            for j, s in enumerate(r["sentence2"])
        ]
    return rows


def _xcopa(records: list[dict], lang: str) -> list[dict]:
    return [
        {
            "id": str(r.get("idx", i)),
            "premise": r["premise"],
            "choice1": r["choice1"],
            "choice2": r["choice2"],
            "question": r["question"],
            "label": int(r["label"]),
        }
        for i, r in enumerate(records)
    ]


SOURCES: dict[str, HubSource] = {
    "xnli": HubSource(
        "facebook/xnli",
        lambda lang: lang,
        {"test": "test", "validation": "validation"},
        _pairs("premise", "hypothesis"),
        "google/xtreme XNLI",
    ),
    "pawsx": HubSource(
        "google-research-datasets/paws-x",
        lambda lang: lang,
        {"test": "test", "validation": "validation"},
        _pairs("sentence1", "sentence2"),
        "google/xtreme PAWS-X.<lang>",
    ),
    "udpos": HubSource(
        "google/xtreme",
        lambda lang: f"udpos.{UD_NAMES[lang]}",
        {"test": "test", "validation": "validation"},
        _tags("pos_tags", UPOS),
        "an XTREME download folder (XTREME_DATA_DIR)",
    ),
    "panx": HubSource(
        "google/xtreme",
        lambda lang: f"PAN-X.{lang}",
        {"test": "test", "validation": "validation"},
        _tags("ner_tags", NER_BIO),
        "unimelb-nlp/wikiann",
    ),
    "xquad": HubSource(
        "google/xquad",
        lambda lang: f"xquad.{lang}",
        {"validation": "validation"},
        _squad,
        "an XTREME download folder (XTREME_DATA_DIR)",
    ),
    "mlqa": HubSource(
        "google/xtreme",
        lambda lang: f"MLQA.{lang}.{lang}",
        {"test": "test", "validation": "validation"},
        _squad,
        "facebook/mlqa with revision refs/pr/5",
    ),
    "tydiqa": HubSource(
        "google-research-datasets/tydiqa",
        lambda lang: "secondary_task",
        {"validation": "validation", "train": "train"},
        _tydiqa,
        "an XTREME download folder (XTREME_DATA_DIR)",
    ),
    "bucc": HubSource(
        "mteb/BUCC",
        lambda lang: f"{lang}-en",
        {"test": "test"},
        _bucc,
        "an XTREME download folder with bucc2018/ (XTREME_DATA_DIR)",
    ),
    "tatoeba": HubSource(
        "google/xtreme",
        lambda lang: f"tatoeba.{TATOEBA_ISO3[lang]}",
        {"validation": "validation"},
        _tatoeba,
        "mteb/tatoeba-bitext-mining",
    ),
    "xcopa": HubSource(
        "cambridgeltl/xcopa",
        lambda lang: lang,
        {"test": "test", "validation": "validation"},
        _xcopa,
        "an XTREME-R download folder (XTREME_DATA_DIR)",
    ),
}


def load(family: str, lang: str, split: str) -> tuple[list[dict], str, str]:
    """Load ``family``/``lang``/``split`` from the Hub: (rows, source description, fingerprint).

    Raises :class:`KeyError` when the source has no such split (the caller tries the next one).
    """
    import datasets

    source = SOURCES[family]
    if split not in source.splits:
        raise KeyError(split)
    config = source.config(lang)
    hub_split = source.splits[split]
    where = f"hf://{source.path} (config {config}, split {hub_split})"
    try:
        ds = datasets.load_dataset(source.path, config, split=hub_split)
    except Exception as err:  # noqa: BLE001 - any load failure is reported the same way
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise XtremeAdvError(
            f"could not load {where}: {first[:200]}; set XTREME_DATA_DIR to an XTREME download "
            f"folder (google-research/xtreme scripts/download_data.sh), or try {source.fallback}"
        ) from None
    return source.convert(ds.to_list(), lang), where, ds._fingerprint
