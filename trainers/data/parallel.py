"""The trainer side of the parallel hold-out rule ``xtreme-adv/parallel-half/1``
(docs/contracts.md section 8): never train on what is scored.

XNLI, PAWS-X, XQuAD and MLQA are translations of each other. When a trainer uses an English split
that is parallel to a scored split (the offline stand-ins: XNLI-en dev, PAWS-X-en dev, XQuAD-en,
MLQA-en), it keeps only the rows whose *parallel key* is in half 0; the evaluation scores half 1.
``harness_tasks.data.parallel`` implements the same two functions for the evaluation side (the
packages never import each other); a test checks that both agree on the real data.
"""

from __future__ import annotations

import hashlib
import json

from datasets import Dataset

RULE = "xtreme-adv/parallel-half/1"
TRAINED_HALF = 0
SCORED_HALF = 1


def parallel_key(doc_id: str, lang: str = "en") -> str:
    """A document's parallel key: its id without a leading ``<lang>-`` (QA ids as they are)."""
    doc_id = str(doc_id)
    prefix = f"{lang}-"
    return doc_id[len(prefix) :] if doc_id.startswith(prefix) else doc_id


def parallel_half(key: str) -> int:
    """Half (0 or 1) of a parallel key: SHA-256 of its UTF-8 bytes, as an integer, modulo 2."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16) % 2


def row_keys(ds: Dataset, key: str) -> list[str]:
    """The parallel key of every row: ``key`` "row" = the row's index in the file (pair TSVs),
    "id" = the ``id`` column (QA question ids, shared across languages)."""
    if key == "row":
        return [str(i) for i in range(len(ds))]
    return [parallel_key(i) for i in ds["id"]]


def keep_trained_half(ds: Dataset, key: str) -> Dataset:
    """The rows of ``ds`` that may be trained on: half 0 of their parallel keys, and no other
    row with the same content in half 1 (PAWS-X dev repeats some pairs: training on one copy
    would train on the translation of a scored document)."""
    halves = [parallel_half(k) for k in row_keys(ds, key)]
    columns = [c for c in ds.column_names if c != "id"]
    content = [json.dumps(row, sort_keys=True) for row in ds.select_columns(columns)]
    scored = {c for c, h in zip(content, halves, strict=True) if h != TRAINED_HALF}
    keep = [
        i
        for i, (c, h) in enumerate(zip(content, halves, strict=True))
        if h == TRAINED_HALF and c not in scored
    ]
    return ds.select(keep)


def exclusion(eval_task: str, trained_on: str, n_trained: int) -> dict:
    """The machine-readable ``scoring_exclusions`` entry of the provenance card."""
    return {
        "eval_task": eval_task,
        "rule": RULE,
        "trained_half": TRAINED_HALF,
        "scored_half": SCORED_HALF,
        "trained_on": trained_on,
        "n_trained": n_trained,
    }


def merge_exclusions(entries: list[dict]) -> list[dict]:
    """One entry per evaluation task family, from the per-phase entries (several phases may
    train on stand-ins of one family: their files are listed, their examples added up)."""
    merged: dict[str, dict] = {}
    for entry in entries:
        have = merged.get(entry["eval_task"])
        if have is None:
            merged[entry["eval_task"]] = dict(entry)
            continue
        files = have["trained_on"].split(", ")
        if entry["trained_on"] not in files:
            have["trained_on"] = ", ".join([*files, entry["trained_on"]])
            have["n_trained"] += entry["n_trained"]
        else:  # the same file in two phases: the same half, at most the larger sample
            have["n_trained"] = max(have["n_trained"], entry["n_trained"])
    return [merged[k] for k in sorted(merged)]
