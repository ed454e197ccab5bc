"""Documents under one parallel key are translations of each other (real XNLI and PAWS-X).

The parallel hold-out (docs/contracts.md section 8) and the leaderboard's averages over
languages (``leaderboards.parallel_units``) both rest on it: ``<lang>-<i>`` of every language is
item ``i`` of the same split. Read, not assumed: a translation keeps the item's numbers, so the
3+-digit numbers of the English document reappear in the document under the same key (measured
here: 83-100% per language), and almost never in another item's (0.4% for PAWS-X de test
against en dev, which hold other items under the same keys).
"""

from __future__ import annotations

import re

import pytest

from harness_tasks.data import load_eval_split
from harness_tasks.data.parallel import parallel_key

NUMBER = re.compile(r"\d{3,}")
CASES = [
    ("xnli", "premise", ["ar", "bg", "de", "el", "es", "fr", "hi", "ru", "tr", "vi", "zh"]),
    ("pawsx", "sentence1", ["de", "es", "fr", "ja", "ko", "zh"]),
]


def _numbers_kept(english: dict[str, str], other: dict[str, str]) -> tuple[float, int]:
    """Share of English documents with numbers whose numbers all reappear under the same key."""
    kept = total = 0
    for key, text in english.items():
        numbers = set(NUMBER.findall(text))
        if not numbers or key not in other:
            continue
        total += 1
        kept += numbers <= set(NUMBER.findall(other[key]))
    return kept / max(total, 1), total


@pytest.mark.parametrize(("task", "field", "langs"), CASES)
def test_documents_under_one_key_are_translations(task, field, langs, xtreme_data_dir):
    def by_key(lang: str) -> dict[str, str]:
        rows = load_eval_split(task, lang, split="validation", data_dir=xtreme_data_dir).dataset
        return {parallel_key(r["id"], lang): r[field] for r in rows}

    english = by_key("en")
    for lang in langs:
        other = by_key(lang)
        share, total = _numbers_kept(english, other)
        assert total >= 100 and share >= 0.8, (task, lang, share, total)
        # the same documents 101 keys apart (XNLI gives each premise three hypotheses in a
        # row): other items, so the numbers do not follow
        shifted = {str(int(k) + 101): text for k, text in other.items()}
        assert _numbers_kept(english, shifted)[0] < 0.1, (task, lang)
