"""Multi-task intermediate training: one shared encoder, one small head per task, one Trainer.

Batches hold one task each (heads differ in input shape); each epoch a task contributes
``min(size, cap)`` examples, so tasks are sampled in proportion to their size with a cap (jiant's
"proportional" sampling with ``--multitask-cap``). The heads are dropped after the phase (the
target phase builds a fresh transformers head on the carried-over encoder), so they are plain
linear layers here: transformers has no stand-alone head modules to share one encoder between.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from datasets import Dataset
from torch import nn
from torch.utils.data import DataLoader
from transformers import PreTrainedModel, Trainer
from transformers.modeling_outputs import ModelOutput

from trainers.tasks import CLASSIFICATION, MULTIPLE_CHOICE, QA, TAGGING

_ENCODER_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class MultiTaskModel(nn.Module):
    """A shared transformers encoder with one head per task, selected by ``task_index``."""

    def __init__(self, encoder: PreTrainedModel, tasks: Sequence[tuple[str, str, int]]):
        """``tasks``: (name, head type, number of labels) per task, in task-index order."""
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        dropout = getattr(encoder.config, "hidden_dropout_prob", 0.1)
        self.task_names = [name for name, _, _ in tasks]
        self.task_heads = [head for _, head, _ in tasks]
        self.dropout = nn.Dropout(dropout)
        outputs = {CLASSIFICATION: None, MULTIPLE_CHOICE: 1, QA: 2, TAGGING: None}
        self.heads = nn.ModuleDict(
            {
                name: nn.Linear(hidden, outputs[head] or num_labels)
                for name, head, num_labels in tasks
            }
        )
        for head in self.heads.values():
            # Same initialisation as transformers' heads.
            nn.init.normal_(head.weight, std=getattr(encoder.config, "initializer_range", 0.02))
            nn.init.zeros_(head.bias)

    def forward(
        self,
        task_index: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
    ) -> ModelOutput:
        """Loss (and logits) of one single-task batch."""
        task = int(task_index.reshape(-1)[0])
        name, head_type = self.task_names[task], self.task_heads[task]
        choices = input_ids.shape[1] if head_type == MULTIPLE_CHOICE else None
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        if choices is not None:  # (batch, choices, length) -> (batch * choices, length)
            inputs = {k: v.reshape(-1, v.shape[-1]) for k, v in inputs.items() if v is not None}
        hidden = self.dropout(self.encoder(**inputs).last_hidden_state)
        head = self.heads[name]
        ce = nn.CrossEntropyLoss(ignore_index=-100)
        if head_type in (CLASSIFICATION, MULTIPLE_CHOICE):
            logits = head(hidden[:, 0])  # first token (<s> / [CLS]) as the sequence summary
            if choices is not None:
                logits = logits.view(-1, choices)
            loss = ce(logits, labels) if labels is not None else None
        elif head_type == TAGGING:
            logits = head(hidden)
            loss = (
                ce(logits.view(-1, logits.shape[-1]), labels.view(-1))
                if labels is not None
                else None
            )
        else:  # QA: start and end logits, as *ForQuestionAnswering
            logits = head(hidden)
            start, end = logits[..., 0], logits[..., 1]
            loss = None
            if start_positions is not None:
                limit = start.shape[1]
                qa_ce = nn.CrossEntropyLoss(ignore_index=limit)
                loss = (
                    qa_ce(start, start_positions.clamp(0, limit))
                    + qa_ce(end, end_positions.clamp(0, limit))
                ) / 2
        return ModelOutput(loss=loss, logits=logits)


class TaskBatchSampler(torch.utils.data.Sampler):
    """Single-task batches over a concatenation of task datasets, reshuffled per epoch.

    Each epoch task ``t`` contributes ``min(n_t, cap)`` examples (a fresh random subset if capped);
    its last batch is filled up from the same task so that every batch is full and single-task
    (accelerate's per-process sharding needs equal batch sizes). The order depends only on
    (seed, epoch), so a resumed run replays it exactly.
    """

    def __init__(self, sizes: Sequence[int], batch_size: int, cap: int | None, seed: int):
        """``sizes``: examples per task, in the order the datasets are concatenated."""
        super().__init__()
        self.sizes = list(sizes)
        self.offsets = np.cumsum([0, *self.sizes[:-1]]).tolist()
        self.batch_size = batch_size
        self.drop_last = False
        self.cap = cap
        self.seed = seed
        self.epoch = 0
        # accelerate calls ``batch_sampler.sampler.set_epoch`` when it wraps this sampler.
        self.sampler = self

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order ``__iter__`` yields."""
        self.epoch = epoch

    def per_task_examples(self) -> list[int]:
        """Examples each task contributes per epoch."""
        return [min(n, self.cap) if self.cap else n for n in self.sizes]

    def __len__(self) -> int:
        return sum(math.ceil(k / self.batch_size) for k in self.per_task_examples())

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        batches = []
        for size, take, offset in zip(
            self.sizes, self.per_task_examples(), self.offsets, strict=True
        ):
            order = rng.permutation(size)
            picked = order[:take].tolist()
            n_batches = math.ceil(take / self.batch_size)
            filler = order.tolist() * math.ceil(self.batch_size / size + 1)
            picked = (picked + filler)[: n_batches * self.batch_size]
            for b in range(n_batches):
                chunk = picked[b * self.batch_size : (b + 1) * self.batch_size]
                batches.append([offset + i for i in chunk])
        for index in rng.permutation(len(batches)):
            yield batches[index]


class MultiTaskDataset(torch.utils.data.Dataset):
    """The tokenized task datasets seen as one, each row tagged with its ``task_index``."""

    def __init__(self, parts: Sequence[Dataset]):
        """``parts``: one tokenized dataset per task, in task-index order."""
        self.parts = list(parts)
        self.offsets = np.cumsum([0, *[len(p) for p in self.parts]]).tolist()

    def __len__(self) -> int:
        return self.offsets[-1]

    def __getitem__(self, index: int) -> dict:
        task = int(np.searchsorted(self.offsets, index, side="right") - 1)
        row = dict(self.parts[task][index - self.offsets[task]])
        row["task_index"] = task
        return row


class MultiTaskCollator:
    """Collates a single-task batch with that task's own collator, adding ``task_index``."""

    def __init__(self, collators: Sequence):
        """``collators``: one per task, in task-index order."""
        self.collators = list(collators)

    def __call__(self, features: list[dict]) -> dict:
        task = features[0]["task_index"]
        rows = [{k: v for k, v in f.items() if k != "task_index"} for f in features]
        batch = dict(self.collators[task](rows))
        batch["task_index"] = torch.full((len(rows),), task, dtype=torch.long)
        return batch


class MultiTaskTrainer(Trainer):
    """A Trainer whose training batches come from a :class:`TaskBatchSampler`."""

    def __init__(self, *args: object, task_batch_sampler: TaskBatchSampler, **kwargs: object):
        """As Trainer, plus the batch sampler to draw training batches from."""
        super().__init__(*args, **kwargs)
        self.task_batch_sampler = task_batch_sampler

    def get_train_dataloader(self) -> DataLoader:
        """Batches from the task batch sampler, prepared by accelerate (sharded under DDP)."""
        loader = DataLoader(
            self.train_dataset,
            batch_sampler=self.task_batch_sampler,
            collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers,
            pin_memory=self.args.dataloader_pin_memory,
        )
        return self.accelerator.prepare(loader)
