"""Hyper-parameters of one training phase, and the named presets taken from jiant's XTREME recipe.

Source: jiant ``guides/benchmarks/xtreme.md`` and ``jiant/scripts/benchmarks/xtreme/`` as summarised
in docs/trainers.md: learning rate 1e-5 everywhere; epochs XNLI 2, PAWS-X 5, POS 10, NER 10, QA 2;
effective batch 32 (4 x 8 accumulation), QA 16 (4 x 4); warmup 10 %; maximum length 256
(classification, tagging, MNLI), 384 (QA). Intermediate phase: 1e-5, 3 epochs, length 256.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields


@dataclass
class PhaseSettings:
    """Knobs of one phase (intermediate or target); every field is a CLI flag and a YAML key."""

    learning_rate: float = field(default=1e-5, metadata={"help": "peak learning rate (AdamW)"})
    num_train_epochs: float = field(default=3.0, metadata={"help": "epochs over the training set"})
    per_device_train_batch_size: int = field(default=4, metadata={"help": "batch per device"})
    gradient_accumulation_steps: int = field(
        default=8,
        metadata={"help": "steps accumulated per update (effective batch = batch x this)"},
    )
    warmup_ratio: float = field(default=0.1, metadata={"help": "share of steps in linear warmup"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    max_seq_length: int = field(default=256, metadata={"help": "tokens per input (truncated)"})
    doc_stride: int = field(
        default=128, metadata={"help": "QA only: overlap between windows of a long context"}
    )
    max_train_examples: int | None = field(
        default=None, metadata={"help": "use at most N examples per task (seeded sample)"}
    )
    multitask_cap: int | None = field(
        default=None,
        metadata={
            "help": "multi-task only: a task contributes at most N examples per epoch "
            "(tasks are sampled in proportion to min(size, cap))"
        },
    )

    def replace(self, **changes: object) -> PhaseSettings:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        """Plain dict, for run files and provenance cards."""
        return dataclasses.asdict(self)


PHASE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(PhaseSettings))

_CLASSIFICATION = PhaseSettings(max_seq_length=256)
_QA = PhaseSettings(
    per_device_train_batch_size=4, gradient_accumulation_steps=4, max_seq_length=384
)

# name -> (settings, one-line description). Task specs name their default preset.
PRESETS: dict[str, tuple[PhaseSettings, str]] = {
    "jiant-xnli": (_CLASSIFICATION.replace(num_train_epochs=2), "jiant XTREME XNLI (MNLI) target"),
    "jiant-pawsx": (_CLASSIFICATION.replace(num_train_epochs=5), "jiant XTREME PAWS-X target"),
    "jiant-tagging": (
        _CLASSIFICATION.replace(num_train_epochs=10),
        "jiant XTREME POS / NER target",
    ),
    "jiant-qa": (_QA.replace(num_train_epochs=2), "jiant XTREME XQuAD / MLQA / TyDiQA target"),
    "jiant-intermediate": (
        _CLASSIFICATION.replace(num_train_epochs=3),
        "jiant default intermediate phase (classification, multiple choice, tagging)",
    ),
    "jiant-intermediate-qa": (
        _QA.replace(num_train_epochs=3),
        "jiant default intermediate phase for SQuAD-style tasks",
    ),
}


def preset(name: str) -> PhaseSettings:
    """The settings of a named preset (a fresh copy)."""
    from trainers.errors import TrainUserError

    if name not in PRESETS:
        raise TrainUserError(f"--preset: unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return PRESETS[name][0].replace()
