"""Per-head preprocessing with the real XLM-R tokenizer, and the multi-task batch sampler."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from transformers import XLMRobertaTokenizerFast

from tests.trainers.conftest import xlmr_tokenizer_file
from trainers.data import DataLocations, load_task_data
from trainers.heads import HEADS
from trainers.multitask import TaskBatchSampler
from trainers.presets import PhaseSettings
from trainers.tasks import INTERMEDIATE_TASKS, TARGET_TASKS


@pytest.fixture(scope="module")
def tokenizer() -> XLMRobertaTokenizerFast:
    return XLMRobertaTokenizerFast(tokenizer_file=str(xlmr_tokenizer_file()))


def test_qa_windows_point_at_the_answer(xtreme_data_dir: Path, tokenizer) -> None:
    data = load_task_data(TARGET_TASKS["xquad"], DataLocations(xtreme_dir=xtreme_data_dir))
    examples = data.dataset.select(range(40))
    settings = PhaseSettings(max_seq_length=128, doc_stride=32)
    features = HEADS["qa"].prepare(examples, tokenizer, settings)
    assert len(features) > len(examples)  # XQuAD paragraphs are longer than 128 tokens
    answers = {a["text"][0].strip() for a in examples["answers"]}
    found = 0
    for row in features:
        start, end = row["start_positions"], row["end_positions"]
        assert len(row["input_ids"]) <= 128
        if start == 0:  # window without the answer: points at <s>
            assert end == 0
            continue
        span = tokenizer.decode(row["input_ids"][start : end + 1]).strip()
        # Token boundaries may add a character or two around the answer ("(118)" for "118").
        assert any(answer in span and len(span) <= len(answer) + 3 for answer in answers), span
        found += 1
    assert found >= 40  # every question has at least one window holding its answer


def test_tagging_labels_first_subtoken_only(xtreme_data_dir: Path, tokenizer) -> None:
    data = load_task_data(TARGET_TASKS["panx"], DataLocations(xtreme_dir=xtreme_data_dir))
    examples = data.dataset.select(range(30))
    features = HEADS["tagging"].prepare(examples, tokenizer, PhaseSettings(max_seq_length=256))
    for example, feature in zip(examples, features, strict=True):
        labelled = [t for t in feature["labels"] if t != -100]
        assert labelled == example["tags"]  # one label per word, in order
    # Some words split into several sub-tokens, whose continuations carry -100.
    assert any(
        len(f["labels"]) - 2 > len(e["tokens"]) for e, f in zip(examples, features, strict=True)
    )


def test_multiple_choice_pairs_every_ending(intermediate_dir: Path, tokenizer) -> None:
    data = load_task_data(
        INTERMEDIATE_TASKS["socialiqa"], DataLocations(intermediate_dir=intermediate_dir)
    )
    examples = data.dataset.select(range(5))
    features = HEADS["multiple_choice"].prepare(examples, tokenizer, PhaseSettings())
    row = features[0]
    assert len(row["input_ids"]) == 3 and row["label"] == examples[0]["label"]
    text = tokenizer.decode(row["input_ids"][2], skip_special_tokens=True)
    assert examples[0]["context"][:20] in text and examples[0]["endings"][2] in text
    batch = HEADS["multiple_choice"].collator(tokenizer)([dict(r) for r in features])
    assert tuple(batch["input_ids"].shape[:2]) == (5, 3)


def test_task_sampler_is_proportional_with_a_cap() -> None:
    sizes = [100, 30, 7]
    sampler = TaskBatchSampler(sizes, batch_size=4, cap=40, seed=3)
    assert sampler.per_task_examples() == [40, 30, 7]
    batches = list(sampler)
    assert len(batches) == len(sampler) == 10 + 8 + 2
    offsets = [0, 100, 130, 137]
    per_task = Counter()
    for batch in batches:
        tasks = {next(t for t in range(3) if offsets[t] <= i < offsets[t + 1]) for i in batch}
        assert len(tasks) == 1 and len(batch) == 4  # single-task, full batches
        per_task[tasks.pop()] += 1
    assert per_task == {0: 10, 1: 8, 2: 2}
    # The cap draws a fresh subset of the big task each epoch; an epoch replays identically.
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    sampler.set_epoch(0)
    assert first != second and list(sampler) == first
