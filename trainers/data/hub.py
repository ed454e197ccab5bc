"""Training data from the Hugging Face Hub, converted to the head schemas of readers.py.

Dataset ids are those that load under datasets 5 (no loading scripts), from
/work/shared/docs/hub-datasets-facts.md. Each task lists its attempts in order (the main id, then
automatic fallbacks such as a Parquet conversion branch); when all fail the error names them and
the local fallback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import datasets
from datasets import Dataset

from trainers.errors import TrainUserError
from trainers.tasks import NLI_LABELS, PANX_LABELS, UPOS_LABELS


@dataclass(frozen=True)
class HubAttempt:
    """One way of loading a task from the Hub: ``load_dataset(path, name, split=..., ...)``."""

    path: str
    name: str | None = None
    splits: tuple[str, ...] = ("train",)
    revision: str | None = None
    data_files: str | None = None  # for the "parquet" builder over a conversion branch

    def describe(self) -> str:
        """Human-readable id, as shown in errors and provenance."""
        where = self.data_files or self.path
        extra = f" config {self.name}" if self.name else ""
        rev = f" @ {self.revision}" if self.revision else ""
        return f"{where}{extra}{rev} [{'+'.join(self.splits)}]"

    def load(self) -> Dataset:
        """Load and concatenate the splits."""
        datasets.disable_progress_bars()
        parts = []
        for split in self.splits:
            kwargs: dict = {"split": split}
            if self.revision:
                kwargs["revision"] = self.revision
            if self.data_files:
                kwargs["data_files"] = {split: self.data_files}
            parts.append(datasets.load_dataset(self.path, self.name, **kwargs))
        return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)


def _parquet_branch(repo: str, config: str, split: str) -> HubAttempt:
    # datasets 5 refuses script repos; the Hub's automatic Parquet export lives on this branch.
    files = f"hf://datasets/{repo}@refs%2Fconvert%2Fparquet/{config}/{split}/*.parquet"
    return HubAttempt("parquet", splits=(split,), data_files=files)


def _pairs(a: str, b: str) -> Callable[[Dataset], Dataset]:
    def convert(ds: Dataset) -> Dataset:
        ds = ds.filter(lambda ex: int(ex["label"]) >= 0)  # GLUE marks unlabelled rows with -1
        return ds.map(
            lambda ex: {"text_a": ex[a], "text_b": ex[b], "label": int(ex["label"])},
            remove_columns=ds.column_names,
        )

    return convert


def _squad(ds: Dataset) -> Dataset:
    keep = ["id", "context", "question", "answers"]
    return ds.remove_columns([c for c in ds.column_names if c not in keep])


def _tydiqa_english(ds: Dataset) -> Dataset:
    # The secondary task mixes languages; the language is only in the id prefix.
    return _squad(ds.filter(lambda ex: str(ex["id"]).startswith("english")))


def _hellaswag(ds: Dataset) -> Dataset:
    ds = ds.filter(lambda ex: str(ex["label"]).strip() != "")
    return ds.map(
        lambda ex: {
            "context": ex["ctx_a"],
            "question": ex["ctx_b"],
            "endings": list(ex["endings"]),
            "label": int(ex["label"]),
        },
        remove_columns=ds.column_names,
    )


def _commonsenseqa(ds: Dataset) -> Dataset:
    ds = ds.filter(lambda ex: bool(ex["answerKey"]))
    return ds.map(
        lambda ex: {
            "context": ex["question"],
            "question": "",
            "endings": list(ex["choices"]["text"]),
            "label": list(ex["choices"]["label"]).index(ex["answerKey"]),
        },
        remove_columns=ds.column_names,
    )


def _cosmosqa(ds: Dataset) -> Dataset:
    ds = ds.filter(lambda ex: int(ex["label"]) >= 0)
    return ds.map(
        lambda ex: {
            "context": ex["context"],
            "question": ex["question"],
            "endings": [ex[f"answer{k}"] for k in range(4)],
            "label": int(ex["label"]),
        },
        remove_columns=ds.column_names,
    )


def _siqa(ds: Dataset) -> Dataset:
    return ds.map(
        lambda ex: {
            "context": ex["context"],
            "question": ex["question"],
            "endings": [ex["answerA"], ex["answerB"], ex["answerC"]],
            "label": int(str(ex["label"]).strip()) - 1,
        },
        remove_columns=ds.column_names,
    )


def _tags(column: str, labels: Sequence[str]) -> Callable[[Dataset], Dataset]:
    def convert(ds: Dataset) -> Dataset:
        feature = ds.features[column]
        names = getattr(getattr(feature, "feature", None), "names", None)
        if names is not None and list(names) != list(labels):
            # Remap by name in case the Hub's class order differs from the contract's.
            remap = [list(labels).index(n) for n in names]
            return ds.map(
                lambda ex: {"tokens": ex["tokens"], "tags": [remap[t] for t in ex[column]]},
                remove_columns=ds.column_names,
            )
        return ds.map(
            lambda ex: {"tokens": ex["tokens"], "tags": [int(t) for t in ex[column]]},
            remove_columns=ds.column_names,
        )

    return convert


@dataclass(frozen=True)
class HubTask:
    """How one task is read from the Hub."""

    attempts: tuple[HubAttempt, ...]
    convert: Callable[[Dataset], Dataset]
    local_fallback: str
    notes: tuple[str, ...] = field(default_factory=tuple)


_SQUAD = (HubAttempt("rajpurkar/squad"), HubAttempt("google/xtreme", "SQuAD"))
_SIQA = (HubAttempt("lighteval/siqa"),)

HUB_TASKS: dict[str, HubTask] = {
    "anli": HubTask(
        (HubAttempt("facebook/anli", splits=("train_r1", "train_r2", "train_r3")),),
        _pairs("premise", "hypothesis"),
        "--intermediate-dir DIR with anli/R1/train.jsonl ... or anli/*.csv",
    ),
    "mnli": HubTask(
        (HubAttempt("nyu-mll/glue", "mnli"),),
        _pairs("premise", "hypothesis"),
        "--data-dir XTREME_DIR with xnli/train-en.tsv (or xnli/dev-en.tsv as a stand-in)",
    ),
    "qqp": HubTask(
        (HubAttempt("nyu-mll/glue", "qqp"),),
        _pairs("question1", "question2"),
        "--data-dir XTREME_DIR with pawsx/train-en.tsv as a stand-in",
    ),
    "squad": HubTask(_SQUAD, _squad, "--data-dir XTREME_DIR with squad/train-v1.1.json"),
    "squad_v2": HubTask(
        (
            HubAttempt("rajpurkar/squad_v2"),
            _parquet_branch("rajpurkar/squad_v2", "squad_v2", "train"),
        ),
        _squad,
        "--intermediate-dir DIR with squad_v2/train-v2.0.json",
    ),  # fmt: skip
    "hellaswag": HubTask(
        (HubAttempt("Rowan/hellaswag"), HubAttempt("Rowan/hellaswag", revision="refs/pr/7")),
        _hellaswag,
        "--intermediate-dir DIR with hellaswag/hellaswag_train.jsonl",
    ),
    "commonsenseqa": HubTask(
        (HubAttempt("tau/commonsense_qa"),),
        _commonsenseqa,
        "--intermediate-dir DIR with commonsenseqa/train_rand_split.jsonl",
    ),
    "cosmosqa": HubTask(
        (_parquet_branch("allenai/cosmos_qa", "default", "train"),),
        _cosmosqa,
        "--intermediate-dir DIR with cosmosqa/train.csv (allenai/cosmos_qa has a loading script)",
    ),
    "socialiqa": HubTask(_SIQA, _siqa, "--intermediate-dir DIR with siqa/socialIQa_v1.4_trn.jsonl"),
    "xnli": HubTask(
        (HubAttempt("nyu-mll/glue", "mnli"),),
        _pairs("premise", "hypothesis"),
        "--data-dir XTREME_DIR with xnli/train-en.tsv (or xnli/dev-en.tsv as a stand-in)",
    ),
    "pawsx": HubTask(
        (HubAttempt("google-research-datasets/paws", "labeled_final"),),
        _pairs("sentence1", "sentence2"),
        "--data-dir XTREME_DIR with pawsx/train-en.tsv",
    ),
    "udpos": HubTask(
        (HubAttempt("google/xtreme", "udpos.English"),),
        _tags("pos_tags", UPOS_LABELS),
        "--data-dir XTREME_DIR with udpos/train-en.tsv",
    ),
    "panx": HubTask(
        (HubAttempt("google/xtreme", "PAN-X.en"),),
        _tags("ner_tags", PANX_LABELS),
        "--data-dir XTREME_DIR with panx/train-en.tsv",
    ),
    "xquad": HubTask(_SQUAD, _squad, "--data-dir XTREME_DIR with squad/train-v1.1.json"),
    "mlqa": HubTask(_SQUAD, _squad, "--data-dir XTREME_DIR with squad/train-v1.1.json"),
    "tydiqa": HubTask(
        (HubAttempt("google-research-datasets/tydiqa", "secondary_task"),),
        _tydiqa_english,
        "--data-dir XTREME_DIR with tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json",
    ),
    "xcopa": HubTask(_SIQA, _siqa, "--intermediate-dir DIR with siqa/socialIQa_v1.4_trn.jsonl"),
}

assert NLI_LABELS == ("entailment", "neutral", "contradiction")  # GLUE / ANLI order: 0, 1, 2


def load_from_hub(task: str) -> tuple[Dataset, str]:
    """Load ``task``'s English training data from the Hub; returns (dataset, source id)."""
    spec = HUB_TASKS[task]
    failures = []
    for attempt in spec.attempts:
        try:
            raw = attempt.load()
        except Exception as err:  # noqa: BLE001 - any Hub/loader failure moves to the next id
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            failures.append(f"{attempt.describe()}: {first[:160]}")
            continue
        return spec.convert(raw), f"hub:{attempt.describe()}"
    raise TrainUserError(
        f"task {task}: could not load its training data from the Hub ("
        + "; ".join(failures)
        + f"); fallback: {spec.local_fallback}"
    )
