"""Retrieval metrics for Tatoeba (accuracy) and BUCC (F1 at XTREME's optimal threshold).

A retrieval set lists source sentences and the candidate pool (``side == "target"``) as docs;
a model answers each source doc with a JSON object ``{"id": <target id>, "score": <float>}``
(the encoder adapter does so directly; free-text generations are matched to the pool by
:func:`match_candidates`). Target docs are answered with an empty string and not scored.
"""

from __future__ import annotations

import json
import math

_NOT_SCORED = None


def parse_answer(response: str) -> tuple[str, float]:
    """(target id, score) from a retrieval answer; ("", -inf) when it names no candidate."""
    try:
        answer = json.loads(response)
        return str(answer["id"]), float(answer.get("score", 0.0))
    except (TypeError, ValueError, KeyError):
        return "", -math.inf


def _char_ngrams(text: str, n: int = 3) -> set[str]:
    text = f" {' '.join(text.lower().split())} "
    return {text[i : i + n] for i in range(max(1, len(text) - n + 1))}


def match_candidates(resps: list[list[str]], docs: list[dict]) -> list[list[str]]:
    """lm-eval filter: map free-text answers (e.g. an LM's translation) to the closest target.

    Answers that already name a candidate (the encoder adapter's JSON) pass unchanged. The
    similarity is the Dice coefficient of character trigrams, which needs no tokenizer and so
    works for every script.
    """
    pool = [(d["id"], _char_ngrams(d["sentence"])) for d in docs if d["side"] == "target"]
    out = []
    for responses, doc in zip(resps, docs, strict=True):
        text = responses[0] if responses else ""
        if doc["side"] != "source" or parse_answer(text)[0]:
            out.append([text])
            continue
        grams = _char_ngrams(text)
        best_id, best = "", -1.0
        for ident, cand in pool:
            sim = 2 * len(grams & cand) / (len(grams) + len(cand))
            if sim > best:
                best_id, best = ident, sim
        out.append([json.dumps({"id": best_id, "score": best})])
    return out


def process_results_tatoeba(doc: dict, results: list) -> dict:
    """lm-eval hook for Tatoeba: 1.0 when the retrieved English sentence is the gold one."""
    if doc["side"] != "source":
        return {"acc": _NOT_SCORED}
    return {"acc": float(parse_answer(results[0] if results else "")[0] == doc["gold"])}


def mean_scored(items: list) -> float:
    """Mean over the scored (source) docs; candidate-pool docs carry ``None``."""
    scored = [x for x in items if x is not None]
    return sum(scored) / len(scored) if scored else 0.0


def process_results_bucc(doc: dict, results: list) -> dict:
    """lm-eval hook for BUCC: (gold target, mined target, score) of a source sentence."""
    if doc["side"] != "source":
        return {"f1": _NOT_SCORED}
    ident, score = parse_answer(results[0] if results else "")
    return {"f1": (doc["gold"], ident, score)}


def best_threshold_f1(items: list) -> tuple[float, float]:
    """(best F1, threshold) over mined pairs, as XTREME's ``bucc_optimize``.

    Candidates are sorted by score; the threshold is placed where F1 against all gold pairs
    peaks. XTREME picks it on the dev gold and applies it to test; where only one labelled split
    exists (as in XTREME's download folder), it is chosen and scored on that split.
    """
    mined = [
        (score, gold == ident and ident != "")
        for gold, ident, score in (x for x in items if x is not None)
        if ident and score != -math.inf
    ]
    n_gold = sum(1 for x in items if x is not None and x[0])
    if not mined or n_gold == 0:
        return 0.0, 0.0
    mined.sort(key=lambda m: -m[0])
    best_f1, threshold, hits = 0.0, mined[0][0], 0
    for rank, (score, correct) in enumerate(mined, start=1):
        hits += correct
        precision, recall = hits / rank, hits / n_gold
        f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
        if f1 > best_f1:
            best_f1, threshold = f1, score
    return best_f1, threshold


def bucc_f1(items: list) -> float:
    """Aggregation for BUCC: F1 at the optimal threshold."""
    return best_threshold_f1(items)[0]
