"""One preprocessing pipeline per head type, as transformers' example scripts write them.

- classification (run_xnli.py): tokenize the sentence pair.
- multiple choice (run_swag.py): pair the context with ``question + ending`` for every choice.
- extractive QA (run_qa.py, ``prepare_train_features``): long contexts split into windows with a
  doc stride; answer character spans mapped to token positions through the offset mapping;
  windows without the answer (and unanswerable questions) point at the first token.
- tagging (run_ner.py, ``tokenize_and_align_labels``): words split into sub-tokens; the first
  sub-token of a word carries its label, the others -100.

transformers ships these as example scripts, not library functions, hence the copies here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from datasets import Dataset
from transformers import (
    AutoModel,
    AutoModelForMultipleChoice,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    DataCollatorForMultipleChoice,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    PreTrainedTokenizerBase,
)
from transformers.models.auto import modeling_auto

from trainers.presets import PhaseSettings
from trainers.tasks import CLASSIFICATION, ENCODER, MULTIPLE_CHOICE, QA, TAGGING


def tokenize_classification(
    examples: dict, tokenizer: PreTrainedTokenizerBase, settings: PhaseSettings
) -> dict:
    """Sentence pairs -> input ids; ``label`` is kept as is."""
    return tokenizer(
        examples["text_a"], examples["text_b"], truncation=True, max_length=settings.max_seq_length
    )


def tokenize_multiple_choice(
    examples: dict, tokenizer: PreTrainedTokenizerBase, settings: PhaseSettings
) -> dict:
    """Each example -> one (context, question + ending) pair per choice, nested per example."""
    first, second, sizes = [], [], []
    for context, question, endings in zip(
        examples["context"], examples["question"], examples["endings"], strict=True
    ):
        sizes.append(len(endings))
        first.extend([context] * len(endings))
        second.extend([f"{question} {ending}".strip() for ending in endings])
    flat = tokenizer(first, second, truncation="only_first", max_length=settings.max_seq_length)
    out: dict[str, list] = {key: [] for key in flat}
    start = 0
    for size in sizes:
        for key, values in flat.items():
            out[key].append(values[start : start + size])
        start += size
    return out


def tokenize_qa(
    examples: dict, tokenizer: PreTrainedTokenizerBase, settings: PhaseSettings
) -> dict:
    """SQuAD-style examples -> training windows with start/end token positions (run_qa.py)."""
    pad_right = tokenizer.padding_side == "right"
    questions = [q.lstrip() for q in examples["question"]]
    tokenized = tokenizer(
        questions if pad_right else examples["context"],
        examples["context"] if pad_right else questions,
        truncation="only_second" if pad_right else "only_first",
        max_length=settings.max_seq_length,
        stride=min(settings.doc_stride, settings.max_seq_length // 2),
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    sample_map = tokenized.pop("overflow_to_sample_mapping")
    offsets_all = tokenized.pop("offset_mapping")
    starts, ends = [], []
    context_index = 1 if pad_right else 0
    for i, offsets in enumerate(offsets_all):
        input_ids = tokenized["input_ids"][i]
        cls_index = (
            input_ids.index(tokenizer.cls_token_id) if tokenizer.cls_token_id in input_ids else 0
        )
        sequence_ids = tokenized.sequence_ids(i)
        answers = examples["answers"][sample_map[i]]
        if len(answers["answer_start"]) == 0:
            starts.append(cls_index)
            ends.append(cls_index)
            continue
        start_char = answers["answer_start"][0]
        end_char = start_char + len(answers["text"][0])
        token_start = 0
        while sequence_ids[token_start] != context_index:
            token_start += 1
        token_end = len(input_ids) - 1
        while sequence_ids[token_end] != context_index:
            token_end -= 1
        if not (offsets[token_start][0] <= start_char and offsets[token_end][1] >= end_char):
            starts.append(cls_index)  # answer outside this window
            ends.append(cls_index)
            continue
        while token_start < len(offsets) and offsets[token_start][0] <= start_char:
            token_start += 1
        starts.append(token_start - 1)
        while offsets[token_end][1] >= end_char:
            token_end -= 1
        ends.append(token_end + 1)
    tokenized["start_positions"] = starts
    tokenized["end_positions"] = ends
    return tokenized


def tokenize_tagging(
    examples: dict, tokenizer: PreTrainedTokenizerBase, settings: PhaseSettings
) -> dict:
    """Pre-split words -> sub-tokens; the first sub-token of each word carries its tag."""
    tokenized = tokenizer(
        examples["tokens"],
        truncation=True,
        max_length=settings.max_seq_length,
        is_split_into_words=True,
    )
    labels = []
    for i, tags in enumerate(examples["tags"]):
        previous = None
        row = []
        for word in tokenized.word_ids(batch_index=i):
            row.append(-100 if word is None or word == previous else tags[word])
            previous = word
        labels.append(row)
    tokenized["labels"] = labels
    return tokenized


@dataclass(frozen=True)
class Head:
    """A head type: its transformers Auto class, preprocessing and batch collator."""

    name: str
    auto_class: type
    mapping: dict  # model_type -> class name, to check a model has this head before training
    tokenize: Callable[[dict, PreTrainedTokenizerBase, PhaseSettings], dict] | None
    collator: Callable[[PreTrainedTokenizerBase], Callable] | None
    keep_columns: tuple[str, ...]  # schema columns the model consumes after tokenization

    def prepare(
        self, ds: Dataset, tokenizer: PreTrainedTokenizerBase, settings: PhaseSettings
    ) -> Dataset:
        """Tokenize a schema dataset into model features (cached by datasets)."""
        drop = [c for c in ds.column_names if c not in self.keep_columns]
        return ds.map(
            self.tokenize,
            batched=True,
            fn_kwargs={"tokenizer": tokenizer, "settings": settings},
            remove_columns=drop,
            desc=f"tokenizing ({self.name})",
        )


HEADS: dict[str, Head] = {
    CLASSIFICATION: Head(
        CLASSIFICATION,
        AutoModelForSequenceClassification,
        modeling_auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
        tokenize_classification,
        lambda tok: DataCollatorWithPadding(tok),
        ("label",),
    ),
    MULTIPLE_CHOICE: Head(
        MULTIPLE_CHOICE,
        AutoModelForMultipleChoice,
        modeling_auto.MODEL_FOR_MULTIPLE_CHOICE_MAPPING_NAMES,
        tokenize_multiple_choice,
        lambda tok: DataCollatorForMultipleChoice(tok),
        ("label",),
    ),
    QA: Head(
        QA,
        AutoModelForQuestionAnswering,
        modeling_auto.MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES,
        tokenize_qa,
        lambda tok: DataCollatorWithPadding(tok),
        (),
    ),
    TAGGING: Head(
        TAGGING,
        AutoModelForTokenClassification,
        modeling_auto.MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES,
        tokenize_tagging,
        lambda tok: DataCollatorForTokenClassification(tok),
        (),
    ),
    ENCODER: Head(ENCODER, AutoModel, modeling_auto.MODEL_MAPPING_NAMES, None, None, ()),
}
