"""The ten XTREME task families: languages, head kind, labels and metrics.

Everything else (YAML generation, loaders, the encoder adapter) reads these specs, so a new
language is one entry in :mod:`harness_tasks.languages` plus a regeneration of the YAMLs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness_tasks import languages as L
from harness_tasks.errors import XtremeAdvError

UPOS = "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()
NER_BIO = "O B-PER I-PER B-ORG I-ORG B-LOC I-LOC".split()


@dataclass(frozen=True)
class TaskFamily:
    """One XTREME task: its languages, how an encoder answers it, and how it is scored."""

    name: str
    title: str
    langs: tuple[str, ...]
    kind: str  # classification | multiple_choice | qa | tagging | retrieval
    metrics: tuple[str, ...]  # first is the primary metric
    labels: tuple[str, ...] | None = None
    # Splits in order of preference; the first labelled one that exists is scored.
    split_preference: tuple[str, ...] = ("test", "validation")

    @property
    def metric(self) -> str:
        """The primary metric (what XTREME reports for this task)."""
        return self.metrics[0]

    def task_name(self, lang: str) -> str:
        """lm-eval task name of the clean task for ``lang``."""
        return f"xtreme_{self.name}_{lang}"

    @property
    def group_name(self) -> str:
        """Group name; hyphenated so that the globs ``xtreme_*`` never match it."""
        return f"xtreme-{self.name}"


FAMILIES: dict[str, TaskFamily] = {
    f.name: f
    for f in (
        TaskFamily(
            "xnli", "XNLI", tuple(L.XNLI), "classification", ("acc",),
            labels=("entailment", "neutral", "contradiction"),
        ),
        TaskFamily(
            "pawsx", "PAWS-X", tuple(L.PAWSX), "classification", ("acc",),
            labels=("not_paraphrase", "paraphrase"),
        ),
        TaskFamily("xcopa", "XCOPA", tuple(L.XCOPA), "multiple_choice", ("acc",)),
        TaskFamily("udpos", "UD-POS", tuple(L.UDPOS), "tagging", ("acc", "f1"),
                   labels=tuple(UPOS)),
        TaskFamily("panx", "PAN-X NER", tuple(L.PANX), "tagging", ("f1",), labels=tuple(NER_BIO)),
        TaskFamily("xquad", "XQuAD", tuple(L.XQUAD), "qa", ("f1", "exact_match"),
                   split_preference=("validation",)),
        TaskFamily("mlqa", "MLQA", tuple(L.MLQA), "qa", ("f1", "exact_match")),
        TaskFamily("tydiqa", "TyDiQA-GoldP", tuple(L.TYDIQA), "qa", ("f1", "exact_match"),
                   split_preference=("validation",)),
        TaskFamily("bucc", "BUCC 2018", tuple(L.BUCC), "retrieval", ("f1",)),
        TaskFamily("tatoeba", "Tatoeba", tuple(L.TATOEBA), "retrieval", ("acc",),
                   split_preference=("validation",)),
    )
}  # fmt: skip

_TASK_RE = re.compile(r"^xtreme_(?:adv_)?(?P<family>[a-z]+)_")


def get_family(name: str) -> TaskFamily:
    """Return the family called ``name``, or raise a user error listing the valid names."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise XtremeAdvError(
            f"unknown XTREME task {name!r}; choose from {', '.join(FAMILIES)}"
        ) from None


def check_lang(family: TaskFamily, lang: str) -> None:
    """Raise a user error when ``lang`` is not one of the family's XTREME languages."""
    if lang not in family.langs:
        raise XtremeAdvError(
            f"language {lang!r} is not part of XTREME's {family.title}; "
            f"choose from {' '.join(family.langs)}"
        )


def family_of_task(task_name: str) -> TaskFamily:
    """Family of an lm-eval task name (``xtreme_<task>_<lang>`` or ``xtreme_adv_...``)."""
    match = _TASK_RE.match(task_name)
    if not match or match.group("family") not in FAMILIES:
        raise XtremeAdvError(f"{task_name!r} is not an xtreme-adv task")
    return FAMILIES[match.group("family")]


def lang_of_task(task_name: str) -> str:
    """Language code of an lm-eval task name (the last ``_``-separated part)."""
    return task_name.rsplit("_", 1)[-1]
