"""Retrieval metrics for Tatoeba (accuracy) and BUCC (F1 at XTREME's optimal threshold).

A retrieval set lists source sentences and the candidate pool (``side == "target"``) as docs;
a model answers each source doc with a JSON object ``{"id": <target id>, "score": <float>}``
(the encoder adapter does so directly; free-text generations are matched to the pool by
:func:`match_candidates`). Target docs are answered with an empty string and not scored.
"""

from __future__ import annotations

import json
import math

import numpy as np

_NOT_SCORED = None
MATCH_BLOCK = 512  # answers per block of the sparse similarity product (bounded memory)


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


def _trigram_matrix(texts: list[str], vocab: dict[str, int]):
    """Binary sparse matrix [texts, trigrams] (trigrams not in ``vocab`` are added to it)."""
    from scipy import sparse

    rows, cols = [], []
    for n, text in enumerate(texts):
        for gram in _char_ngrams(text):
            rows.append(n)
            cols.append(vocab.setdefault(gram, len(vocab)))
    data = np.ones(len(rows), dtype=np.float64)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(texts), max(len(vocab), 1)))


def match_candidates(resps: list[list[str]], docs: list[dict]) -> list[list[str]]:
    """lm-eval filter: map free-text answers (e.g. an LM's translation) to the closest target.

    Answers that already name a candidate (the encoder adapter's JSON) pass unchanged. The
    similarity is the Dice coefficient of character trigrams, which needs no tokenizer and so
    works for every script; it is computed for all answers against the whole pool at once as a
    sparse product (BUCC zh: 8,624 answers x 13,589 candidates), in row blocks.
    """
    from harness_tasks.data import pool_of

    pool = pool_of(list(docs))
    out: list[list[str] | None] = [None] * len(docs)
    todo = []
    for n, (responses, doc) in enumerate(zip(resps, docs, strict=True)):
        text = responses[0] if responses else ""
        if doc["side"] != "source" or parse_answer(text)[0] or not pool:
            out[n] = [text]
        else:
            todo.append((n, text))
    if todo:
        vocab: dict[str, int] = {}
        cand = _trigram_matrix([d["sentence"] for d in pool], vocab)
        cand_sizes = np.asarray(cand.sum(axis=1)).ravel()
        for start in range(0, len(todo), MATCH_BLOCK):
            block = todo[start : start + MATCH_BLOCK]
            query = _trigram_matrix([t for _, t in block], vocab)
            query = query[:, : cand.shape[1]]  # trigrams no candidate has cannot match
            sizes = np.array([len(_char_ngrams(t)) for _, t in block], dtype=np.float64)
            inter = (query @ cand.T).toarray()
            dice = 2 * inter / (sizes[:, None] + cand_sizes[None, :])
            best = dice.argmax(axis=1)
            for row, ((n, _), j) in enumerate(zip(block, best, strict=True)):
                answer = {"id": pool[int(j)]["id"], "score": float(dice[row, j])}
                out[n] = [json.dumps(answer)]
    return [o if o is not None else [""] for o in out]


def process_results_tatoeba(doc: dict, results: list) -> dict:
    """lm-eval hook for Tatoeba: 1.0 when the retrieval of this pair is right.

    Source -> English (default): the source doc's answer names its gold English sentence.
    XTREME's direction (``protocol=xtreme``): the answer carries the English ``query`` (this
    doc's gold) and names the source sentence it retrieved, right when that is this doc.
    """
    if doc["side"] != "source":
        return {"acc": _NOT_SCORED}
    response = results[0] if results else ""
    ident, _ = parse_answer(response)
    try:
        query = json.loads(response).get("query")
    except (TypeError, ValueError, AttributeError):
        query = None
    if query is not None:
        return {"acc": float(query == doc["gold"] and ident == doc["id"])}
    return {"acc": float(ident == doc["gold"])}


def mean_scored(items: list) -> float:
    """Mean over the scored (source) docs; candidate-pool docs carry ``None``."""
    scored = [x for x in items if x is not None]
    return sum(scored) / len(scored) if scored else 0.0


def process_results_bucc(doc: dict, results: list) -> dict:
    """lm-eval hook for BUCC: (gold, mined target, score, protocol, threshold chosen on dev)."""
    if doc["side"] != "source":
        return {"f1": _NOT_SCORED}
    response = results[0] if results else ""
    ident, score = parse_answer(response)
    try:
        threshold = json.loads(response).get("threshold")  # chosen on dev (protocol=xtreme)
    except (TypeError, ValueError, AttributeError):
        threshold = None
    protocol = doc.get("protocol") or "xtreme-adv"
    return {"f1": (doc["gold"], ident, float(score), protocol, threshold)}


def _mined(items: list) -> tuple[list[tuple[float, bool]], int]:
    """(score, correct) of every mined pair, and the number of gold pairs."""
    scored = [x for x in items if x is not None]
    mined = [
        (float(x[2]), x[0] == x[1] and x[1] != "") for x in scored if x[1] and x[2] != -math.inf
    ]
    return mined, sum(1 for x in scored if x[0])


def best_threshold_f1(items: list) -> tuple[float, float]:
    """(best F1, threshold) over mined pairs, ties at the threshold broken by rank.

    Candidates are sorted by score; the threshold is placed where F1 against all gold pairs
    peaks, counting the candidates ranked above it (so of several pairs with the same score,
    only the first ones may be kept). XTREME's own rule is :func:`xtreme_bucc_f1`.
    """
    mined, n_gold = _mined(items)
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
    return float(best_f1), float(threshold)


def optimize_threshold(mined: list[tuple[float, bool]], n_gold: int) -> float:
    """XTREME's ``bucc_optimize``: the midpoint between the score of the best-F1 cut and the
    next one. (Where the best cut is the last candidate, XTREME's code raises IndexError;
    here the last score itself is the threshold.)"""
    items = sorted(mined, key=lambda m: -m[0])
    threshold, best_f1, correct = 0.0, 0.0, 0
    for n, (score, hit) in enumerate(items, start=1):
        correct += hit
        if correct:
            precision, recall = correct / n, correct / n_gold
            f1 = 2 * precision * recall / (precision + recall)
            if f1 > best_f1:
                best_f1 = f1
                following = items[n][0] if n < len(items) else score
                threshold = (score + following) / 2
    return float(threshold)


def f1_at_threshold(mined: list[tuple[float, bool]], n_gold: int, threshold: float) -> float:
    """XTREME's ``bucc_extract`` + ``bucc_eval``: F1 of every pair scoring >= ``threshold``."""
    kept = [hit for score, hit in mined if score >= threshold]
    correct = sum(kept)
    if not correct:
        return 0.0
    precision, recall = correct / len(kept), correct / n_gold
    return float(2 * precision * recall / (precision + recall))


def xtreme_bucc_f1(items: list, threshold: float | None = None) -> float:
    """BUCC F1 as XTREME: threshold from ``bucc_optimize`` (or given, e.g. chosen on dev), then
    every pair scoring at least the threshold is extracted (ties all kept)."""
    mined, n_gold = _mined(items)
    if not mined or n_gold == 0:
        return 0.0
    if threshold is None:
        threshold = optimize_threshold(mined, n_gold)
    return f1_at_threshold(mined, n_gold, threshold)


def bucc_f1(items: list) -> float:
    """Aggregation for BUCC: F1 at the optimal threshold, by the protocol the docs carry."""
    scored = [x for x in items if x is not None]
    if scored and len(scored[0]) > 3 and scored[0][3] == "xtreme":
        given = [x[4] for x in scored if len(x) > 4 and x[4] is not None]
        return xtreme_bucc_f1(items, threshold=given[0] if given else None)
    return best_threshold_f1(items)[0]
