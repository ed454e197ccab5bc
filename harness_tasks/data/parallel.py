"""The parallel hold-out rule ``xtreme-adv/parallel-half/1`` (docs/contracts.md section 8).

XNLI, PAWS-X, XQuAD and MLQA are translations of each other. A model trained on one half of
an English split parallel to a scored split is scored on the other half only. This module is
the evaluation side of the rule; ``trainers`` implements the same two functions (the packages
never import each other) and a test checks that both agree.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from harness_tasks.errors import XtremeAdvError

RULE = "xtreme-adv/parallel-half/1"
# Task families whose splits are translations of each other (and of an English split).
PARALLEL_FAMILIES = ("xnli", "pawsx", "xquad", "mlqa")
ENV = "XTREME_PARALLEL_HALF"


def parallel_key(doc_id: str, lang: str) -> str:
    """The parallel key of a document: its id without a leading ``<lang>-`` (``de-17`` -> ``17``).

    QA question ids (shared across languages) have no such prefix and are kept as they are.
    """
    doc_id = str(doc_id)
    prefix = f"{lang}-"
    return doc_id[len(prefix) :] if doc_id.startswith(prefix) else doc_id


def parallel_half(key: str) -> int:
    """Half (0 or 1) of a parallel key: SHA-256 of its UTF-8 bytes, as an integer, modulo 2."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16) % 2


def parse_half(value: object, where: str) -> int | None:
    """``0``/``1`` from metadata or the environment; ``None`` for unset; a user error otherwise."""
    if value is None or value == "":
        return None
    if str(value).strip() in {"0", "1"}:
        return int(str(value).strip())
    raise XtremeAdvError(f"{where} must be 0 or 1 (the parallel half to score), not {value!r}")


def card_scored_half(pretrained: object, family: str) -> tuple[int, dict] | None:
    """(scored half, exclusion entry) when ``pretrained``'s ``provenance.json`` excludes
    ``family`` under this rule; ``None`` when it is not a local folder or lists no exclusion."""
    if not isinstance(pretrained, str | os.PathLike):
        return None
    card = Path(pretrained) / "provenance.json"
    if not card.is_file():
        return None
    try:
        data = json.loads(card.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise XtremeAdvError(f"{card}: not valid JSON ({err})") from None
    for entry in (data or {}).get("scoring_exclusions") or []:
        if not isinstance(entry, dict) or entry.get("eval_task") != family:
            continue
        if entry.get("rule") != RULE:
            raise XtremeAdvError(
                f"{card}: scoring_exclusions entry for {family} has rule {entry.get('rule')!r}; "
                f"this version knows only {RULE!r}"
            )
        half = parse_half(entry.get("scored_half"), f"{card}: scoring_exclusions.scored_half")
        if half is None:
            raise XtremeAdvError(f"{card}: scoring_exclusions entry for {family} lacks scored_half")
        return half, entry
    return None


def resolve_half(family: str, metadata: dict) -> int | None:
    """The half to score for ``family``: metadata ``parallel_half``, else ``$XTREME_PARALLEL_HALF``,
    else the model card's exclusion (``pretrained=DIR``); ``None`` to score every document.

    Only the parallel families are ever restricted; others ignore the setting.
    """
    if family not in PARALLEL_FAMILIES:
        return None
    half = parse_half(metadata.get("parallel_half"), "metadata parallel_half")
    if half is None:
        half = parse_half(os.environ.get(ENV), ENV)
    if half is None:
        found = card_scored_half(metadata.get("pretrained"), family)
        half = found[0] if found else None
    return half


def half_rows(ids, lang: str, half: int) -> list[int]:
    """Positions of the document ids whose parallel key is in ``half``."""
    return [i for i, ident in enumerate(ids) if parallel_half(parallel_key(ident, lang)) == half]


def filter_half(dataset, lang: str, half: int):
    """Keep the rows of ``dataset`` (a ``datasets.Dataset`` with ``id``) whose key is in ``half``.

    Returns (filtered dataset, the record ``xtreme_adv.tasks.<task>.parallel_half``).
    """
    keep = half_rows(dataset["id"], lang, half)
    record = {
        "rule": RULE,
        "scored_half": half,
        "n_docs": len(keep),
        "n_excluded": len(dataset) - len(keep),
    }
    return dataset.select(keep), record


__all__ = [
    "ENV",
    "PARALLEL_FAMILIES",
    "RULE",
    "card_scored_half",
    "filter_half",
    "half_rows",
    "parallel_half",
    "parallel_key",
    "resolve_half",
]
