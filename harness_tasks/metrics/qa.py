"""Extractive-QA exact match and F1 with the official normalisations.

XQuAD and TyDiQA-GoldP are scored with the SQuAD v1.1 script's normalisation, MLQA with the
MLQA script's language-aware one (``mlqa_evaluation_v1.py``), as XTREME does. Scores are in
[0, 1] like every metric of this project (XTREME prints them times 100).
transformers' ``squad_metrics`` is gone from recent transformers, so the (short) official
functions are reproduced here.
"""

from __future__ import annotations

import re
import string
import sys
import unicodedata
from collections import Counter
from functools import lru_cache

_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b")
_MLQA_ARTICLES = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "ar": re.compile(r"\sال^|ال"),
}
_MIXED_SEGMENTATION = {"zh"}
_HAN = re.compile(r"[\u4e00-\u9fa5]")


@lru_cache(maxsize=1)
def _unicode_punctuation() -> frozenset[str]:
    punct = {chr(i) for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P")}
    return frozenset(punct | set(string.punctuation))


def normalize_squad(text: str) -> str:
    """SQuAD v1.1: lower case, drop ASCII punctuation and English articles, squash spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = _SQUAD_ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _mixed_segmentation(text: str) -> list[str]:
    punct = _unicode_punctuation()
    out: list[str] = []
    pending = ""
    for char in text:
        if _HAN.search(char) or char in punct:
            out.extend(pending.split())
            pending = ""
            out.append(char)
        else:
            pending += char
    out.extend(pending.split())
    return out


def normalize_mlqa(text: str, lang: str) -> str:
    """MLQA v1: lower case, drop Unicode punctuation and the language's articles, segment."""
    punct = _unicode_punctuation()
    text = "".join(ch for ch in text.lower() if ch not in punct)
    if lang in _MLQA_ARTICLES:
        text = _MLQA_ARTICLES[lang].sub(" ", text)
    tokens = _mixed_segmentation(text) if lang in _MIXED_SEGMENTATION else text.split()
    return " ".join(t for t in tokens if t.strip())


def _f1(prediction: list[str], truth: list[str]) -> float:
    common = Counter(prediction) & Counter(truth)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(prediction)
    recall = same / len(truth)
    return 2 * precision * recall / (precision + recall)


def score(prediction: str, answers: list[str], style: str, lang: str = "en") -> dict[str, float]:
    """Exact match and F1 of ``prediction`` against the best of ``answers``.

    ``style`` is ``"squad"`` (XQuAD, TyDiQA) or ``"mlqa"`` (language-aware normalisation).
    """
    if style == "mlqa":
        norm = lambda t: normalize_mlqa(t, lang)  # noqa: E731
    else:
        norm = normalize_squad
    pred = norm(prediction)
    exact = max(float(pred == norm(a)) for a in answers)
    f1 = max(_f1(pred.split(), norm(a).split()) for a in answers)
    return {"exact_match": exact, "f1": f1}


def _answer_text(results: list) -> str:
    answer = results[0] if results else ""
    return answer.strip() if isinstance(answer, str) else ""


def process_results_squad(doc: dict, results: list) -> dict[str, float]:
    """lm-eval hook for XQuAD and TyDiQA-GoldP (SQuAD v1.1 normalisation)."""
    return score(_answer_text(results), list(doc["answers"]["text"]), "squad")


def process_results_mlqa(doc: dict, results: list) -> dict[str, float]:
    """lm-eval hook for MLQA (language from the doc id's task; see ``lang`` in the doc)."""
    return score(_answer_text(results), list(doc["answers"]["text"]), "mlqa", doc.get("lang", "en"))
