"""The adapter's batching: every input once, at most ``size`` per batch, little padding."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness_tasks.adapter.checkpoint import PAD_RATIO, PAD_SLACK, length_batches

DATA = Path(__file__).resolve().parents[2] / "../shared/data/xtreme"


def _premises() -> list[str]:
    tsv = DATA / "xnli" / "dev-de.tsv"
    if not tsv.is_file():
        pytest.skip(f"shared data not found at {tsv}")
    rows = [line.split("\t") for line in tsv.read_text(encoding="utf-8").splitlines()[1:400]]
    return [f"{r[0]} {r[1]}" for r in rows if len(r) >= 2]


@pytest.mark.parametrize("size", [1, 7, 128])
def test_batches_cover_every_input_once_longest_first(size):
    texts = _premises()
    batches = list(length_batches(texts, size))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(texts)))
    assert all(1 <= len(b) <= size for b in batches)
    lengths = [len(texts[i]) for i in flat]
    assert lengths == sorted(lengths, reverse=True)


def test_no_batch_pads_a_short_text_to_a_much_longer_one():
    # Real XNLI-de pairs of very different lengths, as an adaptive attack's call holds them.
    texts = _premises()
    batches = list(length_batches(texts, 128))
    for batch in batches:
        longest = len(texts[batch[0]])
        for i in batch:
            assert len(texts[i]) >= PAD_RATIO * longest or longest - len(texts[i]) <= PAD_SLACK
    real = sum(len(t) for t in texts)
    padded = sum(len(b) * len(texts[b[0]]) for b in batches)
    fixed = sum(len(texts[b[0]]) * len(b) for b in _fixed(texts, 128))
    assert padded <= real / PAD_RATIO < fixed  # fixed-size batches of sorted inputs pad more


def _fixed(texts: list[str], size: int) -> list[list[int]]:
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    return [order[s : s + size] for s in range(0, len(order), size)]
