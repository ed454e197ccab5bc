"""Sequence-tagging metrics: token accuracy and XTREME's seqeval F1 (UD-POS), entity-span F1
(PAN-X, seqeval).

A response is the predicted tags separated by whitespace, one per gold token. Both metrics are
corpus-level, so ``process_results`` passes (gold, predicted) through and the aggregation
functions compute the score over all sentences, as XTREME's evaluation does.
"""

from __future__ import annotations

from harness_tasks.families import NER_BIO, UPOS


def parse_tags(response: str, n_tokens: int, allowed: list[str], fallback: str) -> list[str]:
    """Tags aligned to ``n_tokens``; unknown and missing tags become ``fallback``."""
    known = set(allowed)
    tags = [t if t in known else fallback for t in (response or "").split()[:n_tokens]]
    return tags + [fallback] * (n_tokens - len(tags))


def _pair(doc: dict, results: list, allowed: list[str], fallback: str) -> tuple[list, list]:
    response = results[0] if results else ""
    gold = list(doc["tags"])
    return gold, parse_tags(response, len(gold), allowed, fallback)


def process_results_pos(doc: dict, results: list) -> dict[str, tuple]:
    """lm-eval hook for UD-POS: (gold, predicted) for token accuracy and XTREME's seqeval F1."""
    pair = _pair(doc, results, UPOS, "X")
    return {"acc": pair, "f1": pair}


def process_results_ner(doc: dict, results: list) -> dict[str, tuple]:
    """lm-eval hook for PAN-X: (gold, predicted) for corpus-level span F1."""
    return {"f1": _pair(doc, results, NER_BIO, "O")}


def token_accuracy(items: list[tuple[list[str], list[str]]]) -> float:
    """Micro-averaged token accuracy over all sentences."""
    correct = sum(g == p for gold, pred in items for g, p in zip(gold, pred, strict=True))
    total = sum(len(gold) for gold, _ in items)
    return correct / total if total else 0.0


def span_f1(items: list[tuple[list[str], list[str]]]) -> float:
    """Entity-span F1 over all sentences (seqeval's default CoNLL evaluation, as XTREME)."""
    from seqeval.metrics import f1_score

    gold = [list(g) for g, _ in items]
    pred = [list(p) for _, p in items]
    return float(f1_score(gold, pred))


def seqeval_f1(items: list[tuple[list[str], list[str]]]) -> float:
    """XTREME's UD-POS score: ``third_party/run_tag.py`` reports seqeval's ``f1_score`` on the
    POS tag sequences as if they were entity tags (a tag's first letter read as the BIO prefix,
    the rest as the type). It is not token accuracy: the README's "Protocols" section compares.
    Uses the installed seqeval (XTREME's install_tools.sh does not pin it).
    """
    import warnings

    from seqeval.metrics import f1_score

    gold = [list(g) for g, _ in items]
    pred = [list(p) for _, p in items]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "NOUN seems not to be NE tag", per tag
        return float(f1_score(gold, pred))
