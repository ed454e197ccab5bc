"""Training data for a task: from local folders when they hold the task's files, else the Hub.

Local folders: an XTREME download folder (``--data-dir`` / ``XTREME_DATA_DIR``, laid out as
google-research/xtreme's ``download_data.sh`` leaves it), an intermediate-task folder
(``--intermediate-dir``: ``anli/``, ``cosmosqa/``, ``siqa/`` ... as ../shared/data/intermediate),
and a CCGbank folder (``--ccgbank``). Where the real training file is missing, a listed stand-in
(e.g. XNLI English dev for MultiNLI) is used and the provenance source says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from datasets import Dataset

from trainers.data import parallel, readers
from trainers.data.ccgbank import read_ccgbank
from trainers.data.hub import HUB_TASKS, load_from_hub
from trainers.errors import TrainUserError
from trainers.hashing import sha256_files
from trainers.tasks import TaskSpec

log = logging.getLogger("trainers")


@dataclass(frozen=True)
class DataLocations:
    """Where local training files live (any may be None)."""

    xtreme_dir: Path | None = None
    intermediate_dir: Path | None = None
    ccgbank: Path | None = None


@dataclass
class TaskData:
    """A task's training set in its head's schema, with where it came from."""

    task: TaskSpec
    dataset: Dataset
    labels: tuple[str, ...]
    source: str
    sha256: str
    exclusion: dict | None = None  # the scoring_exclusions entry, for parallel stand-ins

    def card(self) -> dict:
        """The provenance entry of this data set (docs/contracts.md s.5)."""
        entry = {
            "name": self.task.name,
            "source": self.source,
            "sha256": self.sha256,
            "n_examples": len(self.dataset),
        }
        if self.exclusion:
            entry["scoring_exclusion"] = self.exclusion
        return entry


@dataclass(frozen=True)
class LocalFile:
    """One candidate local file set for a task: folder kind, glob patterns, reader, note."""

    base: str  # "xtreme" or "intermediate"
    patterns: tuple[str, ...]
    read: Callable[[list[Path], TaskSpec], Dataset]
    note: str = ""  # e.g. "stand-in for MultiNLI train"
    # (scored task family, key kind "row" / "id") when the file is parallel to scored splits:
    # then only half 0 of its parallel keys is trained on (docs/contracts.md section 8).
    parallel: tuple[str, str] | None = None


def _pair(paths: list[Path], task: TaskSpec) -> Dataset:
    return readers.read_pair_tsv(paths[0], task.labels)


def _squad(paths: list[Path], task: TaskSpec) -> Dataset:
    return readers.read_squad_json(paths[0])


def _cosmosqa(paths: list[Path], task: TaskSpec) -> Dataset:
    return readers.read_cosmosqa(paths[0])


def _conll(paths: list[Path], task: TaskSpec) -> Dataset:
    return readers.read_conll_tsv(paths[0], task.labels)


_SQUAD_FILES = (
    LocalFile("xtreme", ("squad/train-v1.1.json",), _squad),
    LocalFile("xtreme", ("xquad/xquad.en.json",), _squad, "XQuAD English as a stand-in for SQuAD",
              ("xquad", "id")),
    LocalFile("xtreme", ("mlqa/MLQA_V1/dev/dev-context-en-question-en.json",), _squad,
              "MLQA English dev as a stand-in for SQuAD", ("mlqa", "id")),
    LocalFile("xtreme", ("tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json",), _squad,
              "TyDiQA-GoldP English as a stand-in for SQuAD"),
)  # fmt: skip
_MNLI_FILES = (
    LocalFile("xtreme", ("xnli/train-en.tsv",), _pair),
    LocalFile(
        "xtreme",
        ("xnli/dev-en.tsv",),
        _pair,
        "XNLI English dev as a stand-in for MNLI",
        ("xnli", "row"),
    ),
)
_SIQA_FILES = (
    LocalFile("intermediate", ("siqa/socialIQa_v1.4_trn.jsonl",),
              lambda p, t: readers.read_siqa(p[0])),
    LocalFile("intermediate", ("siqa/socialIQa_v1.4_dev.jsonl",),
              lambda p, t: readers.read_siqa(p[0]), "SocialIQA dev (no train file found)"),
)  # fmt: skip

LOCAL_FILES: dict[str, tuple[LocalFile, ...]] = {
    "xnli": _MNLI_FILES,
    "mnli": _MNLI_FILES,
    "pawsx": (
        LocalFile("xtreme", ("pawsx/train-en.tsv",), _pair),
        LocalFile("xtreme", ("pawsx/dev-en.tsv",), _pair, "PAWS-X English dev (no train file)",
                  ("pawsx", "row")),
    ),
    "qqp": (
        LocalFile("xtreme", ("pawsx/dev-en.tsv",), _pair, "PAWS-X English dev as a QQP stand-in",
                  ("pawsx", "row")),
    ),
    "udpos": (LocalFile("xtreme", ("udpos/train-en.tsv",), _conll),),
    "panx": (LocalFile("xtreme", ("panx/train-en.tsv",), _conll),),
    "xquad": _SQUAD_FILES,
    "mlqa": _SQUAD_FILES,
    "squad": _SQUAD_FILES,
    "squad_v2": (LocalFile("intermediate", ("squad_v2/train-v2.0.json",), _squad),),
    "tydiqa": (
        LocalFile("xtreme", ("tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json",), _squad),
    ),
    "anli": (
        LocalFile("intermediate", ("anli/R*/train.jsonl",),
                  lambda p, t: readers.read_anli(p, t.labels)),
        LocalFile("intermediate", ("anli/*.csv",), lambda p, t: readers.read_anli(p, t.labels),
                  "ANLI analysis release (dev rounds)"),
    ),
    "cosmosqa": (
        LocalFile("intermediate", ("cosmosqa/train.csv",), _cosmosqa),
        LocalFile("intermediate", ("cosmosqa/valid.csv",), _cosmosqa,
                  "CosmosQA dev (no train file found)"),
    ),
    "socialiqa": _SIQA_FILES,
    "xcopa": _SIQA_FILES,
    "hellaswag": (
        LocalFile("intermediate", ("hellaswag/hellaswag_train.jsonl",),
                  lambda p, t: readers.read_hellaswag(p[0])),
        LocalFile("intermediate", ("hellaswag/hellaswag_val.jsonl",),
                  lambda p, t: readers.read_hellaswag(p[0]), "HellaSwag dev (no train file found)"),
    ),
    "commonsenseqa": (
        LocalFile("intermediate", ("commonsenseqa/train_rand_split.jsonl",),
                  lambda p, t: readers.read_commonsenseqa(p[0])),
        LocalFile("intermediate", ("commonsenseqa/dev_rand_split.jsonl",),
                  lambda p, t: readers.read_commonsenseqa(p[0]),
                  "CommonsenseQA dev (no train file found)"),
    ),
}  # fmt: skip


def check_locations(where: DataLocations) -> None:
    """Raise, naming the flag and path, when a given data folder does not exist (a mistyped
    ``--data-dir`` must never fall through to the Hub)."""
    for flag, path in (
        ("--data-dir (or $XTREME_DATA_DIR)", where.xtreme_dir),
        ("--intermediate-dir", where.intermediate_dir),
        ("--ccgbank", where.ccgbank),
    ):
        if path is not None and not Path(path).is_dir():
            why = "is not a folder" if Path(path).exists() else "does not exist"
            raise TrainUserError(f"{flag} {path}: {why}")


def describe_source(task: TaskSpec, where: DataLocations) -> tuple[str, str]:
    """(offline here: "yes" / "no" / "n/a", where the training data comes from) for
    ``train list``: the local file that would be read (with its stand-in and hold-out notes),
    or the Hub ids and the local layout that would make the task run offline."""
    if task.head == "encoder":
        return "n/a", "no training data (the encoder is the checkpoint)"
    if task.name == "ccg":
        if where.ccgbank is not None and Path(where.ccgbank).is_dir():
            return "yes", f"{where.ccgbank} (CCGbank, licensed)"
        return "no", "needs --ccgbank DIR (CCGbank is licensed, LDC2005T13; never on the Hub)"
    found = _find_local(task, where)
    if found is not None:
        candidate, paths = found
        text = ", ".join(str(p) for p in paths)
        if candidate.note:
            text += f" ({candidate.note})"
        if candidate.parallel:
            text += (
                f"; trains on half {parallel.TRAINED_HALF} of its parallel keys, "
                f"{candidate.parallel[0]} is scored on half {parallel.SCORED_HALF}"
            )
        return "yes", text
    hub = HUB_TASKS.get(task.name)
    ids = "; ".join(a.describe() for a in hub.attempts) if hub else task.data
    fallback = f"; offline: {hub.local_fallback}" if hub else ""
    return "no", f"Hub: {ids}{fallback}"


def _find_local(task: TaskSpec, where: DataLocations) -> tuple[LocalFile, list[Path]] | None:
    roots = {"xtreme": where.xtreme_dir, "intermediate": where.intermediate_dir}
    for candidate in LOCAL_FILES.get(task.name, ()):
        root = roots[candidate.base]
        if root is None:
            continue
        paths = sorted(p for pattern in candidate.patterns for p in Path(root).glob(pattern))
        if paths:
            return candidate, paths
    return None


def _hub_sha256(ds: Dataset) -> str:
    files = [f["filename"] for f in ds.cache_files if Path(f["filename"]).is_file()]
    return sha256_files(sorted(set(files))) if files else f"fingerprint:{ds._fingerprint}"


def load_task_data(
    task: TaskSpec, where: DataLocations, max_examples: int | None = None, seed: int = 42
) -> TaskData:
    """Load ``task``'s English training set (local files first, then the Hub).

    ``max_examples`` keeps a seeded random sample of that size (for small runs).
    """
    labels = task.labels
    family = trained_on = None
    if task.name == "ccg":
        if where.ccgbank is None:
            raise TrainUserError(
                "task ccg needs a local CCGbank (it is licensed, LDC2005T13): pass --ccgbank DIR"
            )
        ds, labels, files = read_ccgbank(where.ccgbank)
        source, digest = f"ccgbank:{where.ccgbank}", sha256_files(files)
    elif (found := _find_local(task, where)) is not None:
        candidate, paths = found
        ds = candidate.read(paths, task)
        note = f" ({candidate.note})" if candidate.note else ""
        source = ", ".join(str(p) for p in paths) + note
        digest = sha256_files(paths)
        if candidate.parallel:  # never train on the translations of what is scored
            family, key = candidate.parallel
            ds = parallel.keep_trained_half(ds, key)
            trained_on = ", ".join(candidate.patterns)
    else:
        if where.xtreme_dir or where.intermediate_dir:
            log.warning("task %s: no local training file found; loading from the Hub", task.name)
        ds, source = load_from_hub(task.name)
        digest = _hub_sha256(ds)
    if len(ds) == 0:
        raise TrainUserError(f"task {task.name}: no training examples in {source}")
    if max_examples is not None and max_examples < len(ds):
        ds = ds.shuffle(seed=seed).select(range(max_examples))
    excluded = parallel.exclusion(family, trained_on, len(ds)) if family else None
    return TaskData(task, ds, labels, source, digest, excluded)
