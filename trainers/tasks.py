"""The tasks ``xtreme-adv train`` knows: intermediate tasks (X-STILTs) and XTREME target tasks.

Each task declares its head (docs/contracts.md s.4 fixes the target heads and label names the
``xtreme-encoder`` adapter expects) and its default preset (trainers/presets.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from trainers.errors import TrainUserError

# Head types; "encoder" = no head, the checkpoint is the encoder itself (BUCC, Tatoeba).
CLASSIFICATION = "classification"
MULTIPLE_CHOICE = "multiple_choice"
QA = "qa"
TAGGING = "tagging"
ENCODER = "encoder"

NLI_LABELS = ("entailment", "neutral", "contradiction")
PAWS_LABELS = ("not_paraphrase", "paraphrase")
UPOS_LABELS = (
    "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()
)
PANX_LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")


@dataclass(frozen=True)
class TaskSpec:
    """One trainable task: its head, label names and the data it trains on."""

    name: str
    role: str  # "intermediate" or "target"
    head: str
    labels: tuple[str, ...]
    preset: str
    data: str  # what it trains on, for `train list` and docs

    @property
    def num_labels(self) -> int:
        """Number of classes of a classification or tagging head."""
        return len(self.labels)


INTERMEDIATE_TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in [
        TaskSpec("anli", "intermediate", CLASSIFICATION, NLI_LABELS, "jiant-intermediate",
                 "ANLI rounds 1-3 (facebook/anli)"),
        TaskSpec("mnli", "intermediate", CLASSIFICATION, NLI_LABELS, "jiant-intermediate",
                 "MultiNLI (nyu-mll/glue mnli)"),
        TaskSpec("qqp", "intermediate", CLASSIFICATION, ("not_duplicate", "duplicate"),
                 "jiant-intermediate", "Quora Question Pairs (nyu-mll/glue qqp)"),
        TaskSpec("squad", "intermediate", QA, (), "jiant-intermediate-qa",
                 "SQuAD v1.1 (rajpurkar/squad)"),
        TaskSpec("squad_v2", "intermediate", QA, (), "jiant-intermediate-qa",
                 "SQuAD v2.0 (rajpurkar/squad_v2)"),
        TaskSpec("hellaswag", "intermediate", MULTIPLE_CHOICE, (), "jiant-intermediate",
                 "HellaSwag (Rowan/hellaswag)"),
        TaskSpec("commonsenseqa", "intermediate", MULTIPLE_CHOICE, (), "jiant-intermediate",
                 "CommonsenseQA (tau/commonsense_qa)"),
        TaskSpec("cosmosqa", "intermediate", MULTIPLE_CHOICE, (), "jiant-intermediate",
                 "CosmosQA (local csv; allenai/cosmos_qa Parquet export)"),
        TaskSpec("socialiqa", "intermediate", MULTIPLE_CHOICE, (), "jiant-intermediate",
                 "SocialIQA (lighteval/siqa)"),
        # Supertag labels come from the treebank itself (--ccgbank), hence no fixed label list.
        TaskSpec("ccg", "intermediate", TAGGING, (), "jiant-intermediate",
                 "CCGbank supertags (licensed: local --ccgbank folder only)"),
    ]
}  # fmt: skip

TARGET_TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in [
        TaskSpec("xnli", "target", CLASSIFICATION, NLI_LABELS, "jiant-xnli",
                 "MultiNLI train (English)"),
        TaskSpec("pawsx", "target", CLASSIFICATION, PAWS_LABELS, "jiant-pawsx",
                 "PAWS labeled_final train (English)"),
        TaskSpec("udpos", "target", TAGGING, UPOS_LABELS, "jiant-tagging",
                 "UD English (EWT) UPOS"),
        TaskSpec("panx", "target", TAGGING, PANX_LABELS, "jiant-tagging",
                 "PAN-X / WikiANN English"),
        TaskSpec("xquad", "target", QA, (), "jiant-qa", "SQuAD v1.1 train"),
        TaskSpec("mlqa", "target", QA, (), "jiant-qa", "SQuAD v1.1 train"),
        TaskSpec("tydiqa", "target", QA, (), "jiant-qa", "TyDiQA-GoldP English train"),
        # XTREME-R trains XCOPA on SocialIQA (English); covers the contract's xcopa head.
        TaskSpec("xcopa", "target", MULTIPLE_CHOICE, (), "jiant-intermediate",
                 "SocialIQA train (English), as XTREME-R"),
        TaskSpec("bucc", "target", ENCODER, (), "", "no target training (encoder as is)"),
        TaskSpec("tatoeba", "target", ENCODER, (), "", "no target training (encoder as is)"),
    ]
}  # fmt: skip


def target_task(name: str) -> TaskSpec:
    """The target task called ``name`` (``--target``)."""
    if name not in TARGET_TASKS:
        raise TrainUserError(
            f"--target: unknown target task {name!r}; choose from {', '.join(TARGET_TASKS)}"
        )
    return TARGET_TASKS[name]


def intermediate_tasks(names: str) -> list[TaskSpec]:
    """The intermediate tasks of a comma-separated ``--intermediate`` value, in order."""
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    if not wanted:
        raise TrainUserError("--intermediate: give at least one task, e.g. anli or anli,cosmosqa")
    specs = []
    for name in wanted:
        if name not in INTERMEDIATE_TASKS:
            raise TrainUserError(
                f"--intermediate: unknown intermediate task {name!r}; "
                f"choose from {', '.join(INTERMEDIATE_TASKS)}"
            )
        if name in [s.name for s in specs]:
            raise TrainUserError(f"--intermediate: task {name!r} given twice")
        specs.append(INTERMEDIATE_TASKS[name])
    return specs
