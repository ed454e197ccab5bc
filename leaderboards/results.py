"""Read lm-eval 0.4.13 output folders (results JSON, samples JSONL) and provenance cards.

The layout is lm-eval's own (docs/contracts.md section 6): ``<out>/<model>/results_<time>.json``
and, with ``--log_samples``, ``samples_<task>_<time>.jsonl`` beside it. Nothing here imports
lm-eval or the other packages of this project: files are the interface.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

import numpy as np

from leaderboards.errors import LeaderboardError
from leaderboards.jsonio import (
    MAX_RESULTS_BYTES,
    MAX_SAMPLES_BYTES,
    finite,
    iter_jsonl_lines,
    iter_lines,
    loads,
    read_bytes,
)
from leaderboards.names import FILTER, TaskName, parse_task
from leaderboards.units import KIND_OF_TASK, QA_TASKS, Scores, cluster_of, shared_ids, unit_value

LM_EVAL_VERSION = "0.4.13"
PROVENANCE_SCHEMA = "xtreme-adv/provenance/1"
RECIPES = ("direct", "intermediate", "pretrained")
REQUIRED_KEYS = ("results", "configs", "versions", "n-samples", "config", "lm_eval_version")
_RESULTS_RE = re.compile(r"^results_(?P<stamp>.+)\.json$")


class FileSet(Protocol):
    """Where results come from: a folder on disk or the members of a submission archive."""

    def results_files(self) -> list[str]:
        """Relative paths of every ``results_*.json``, sorted."""
        ...

    def has(self, name: str) -> bool:
        """Whether the relative path ``name`` exists."""
        ...

    def read(self, name: str, limit: int) -> bytes:
        """The bytes of ``name`` (at most ``limit``)."""
        ...

    def origin(self, name: str) -> str:
        """How to name ``name`` in a message."""
        ...

    def lines(self, name: str, limit: int) -> Iterator[bytes]:
        """The lines of ``name`` one at a time (refused before reading if over ``limit``)."""
        ...


class LocalFiles:
    """Results under a folder on disk, or one results file (its folder holds the samples)."""

    def __init__(self, root: Path):
        root = Path(root)
        if not root.exists():
            raise LeaderboardError(f"{root}: no such file or folder")
        self.only = root.name if root.is_file() else None
        self.root = root.parent if root.is_file() else root

    def results_files(self) -> list[str]:
        """Every ``results_*.json`` under the root, as paths relative to it."""
        if self.only is not None:
            return [self.only]
        found = (p for p in self.root.rglob("results_*.json") if p.is_file())
        return sorted(p.relative_to(self.root).as_posix() for p in found)

    def has(self, name: str) -> bool:
        """Whether ``name`` is a file under the root."""
        return (self.root / name).is_file()

    def read(self, name: str, limit: int) -> bytes:
        """Read ``name`` under a size cap."""
        return read_bytes(self.root / name, limit)

    def origin(self, name: str) -> str:
        """The file's path."""
        return str(self.root / name)

    def lines(self, name: str, limit: int) -> Iterator[bytes]:
        """Stream the lines of ``name``; its size is checked before anything is read."""
        return iter_lines(self.root / name, limit)


Samples = Scores  # per-document units of one task (leaderboards.units)


@dataclass
class TaskResult:
    """One task's score in one results file."""

    name: TaskName
    metric: str
    value: float
    stderr: float | None
    n: int
    version: str
    task_hash: str | None
    config: dict
    source: str
    date: float
    samples: Samples | None = None
    extra: dict = field(default_factory=dict)  # xtreme_adv.tasks.<task> (contracts.md 6, 8)


@dataclass
class ModelRun:
    """Everything read for one model (one checkpoint), merged over its results files."""

    model_id: str
    provenance: dict | None
    tasks: dict[str, TaskResult] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    model_name: str = ""
    weights_sha256: str | None = None  # of the evaluated checkpoint (the adapter's record)
    model_args: dict = field(default_factory=dict)  # lm-eval's --model_args
    lm_eval_model: str = ""  # lm-eval's --model


def version_str(value: object) -> str:
    """lm-eval writes versions as floats (1.0) or strings; compare them as text."""
    return str(value)


def _model_args(config: dict) -> dict:
    args = config.get("model_args")
    if isinstance(args, dict):
        return args
    if isinstance(args, str):  # "pretrained=x,batch_size=2", lm-eval's CLI form
        pairs = (item.split("=", 1) for item in args.split(",") if "=" in item)
        return {k.strip(): v.strip() for k, v in pairs}
    return {}


# lm-eval's `date` is time.time() at the start of the run: nothing before 2020 ran lm-eval 0.4.
EARLIEST_DATE = 1577836800.0  # 2020-01-01T00:00:00Z
_MODEL_ID_RE = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,199}$")


def check_model_id(model_id: str, origin: str) -> str:
    """Model ids are printable ASCII: no look-alike letters (Cyrillic "а" for
    Latin "a"), no bidirectional overrides or invisible characters can make one id pass for
    another on the site."""
    if not _MODEL_ID_RE.match(model_id):
        bad = next((c for c in model_id if not 0x20 <= ord(c) <= 0x7E), None)
        what = f"character U+{ord(bad):04X}" if bad is not None else f"length {len(model_id)}"
        raise LeaderboardError(
            f"{origin}: model id {model_id.encode('unicode_escape').decode()!r} has {what}; "
            "model ids are 1-200 printable ASCII characters"
        )
    return model_id


def check_date(value: object, origin: str, now: float | None = None) -> float:
    """lm-eval's ``date`` (seconds since the epoch) must be a real time between 2020 and now."""
    limit = (time.time() if now is None else now) + 86400.0
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not EARLIEST_DATE <= value <= limit
    ):
        raise LeaderboardError(
            f"{origin}: date is {value!r}, expected the run's start time in seconds since the "
            "epoch (2020 to now)"
        )
    return float(value)


def check_provenance(card: object, origin: str) -> dict:
    """Check the fields of a provenance card (contracts.md section 5) this package uses."""
    if not isinstance(card, dict):
        raise LeaderboardError(f"{origin}: provenance is {type(card).__name__}, expected object")
    if card.get("schema") != PROVENANCE_SCHEMA:
        raise LeaderboardError(
            f"{origin}: provenance schema is {card.get('schema')!r}, expected {PROVENANCE_SCHEMA}"
        )
    model_id = card.get("model_id")
    if not isinstance(model_id, str) or not model_id.strip() or len(model_id) > 200:
        raise LeaderboardError(f"{origin}: provenance model_id is {model_id!r}")
    check_model_id(model_id, f"{origin}: provenance")
    if card.get("recipe") not in RECIPES:
        raise LeaderboardError(
            f"{origin}: provenance recipe is {card.get('recipe')!r}, expected one of {RECIPES}"
        )
    base = card.get("base_model")
    if not isinstance(base, dict) or not isinstance(base.get("sha256"), str):
        raise LeaderboardError(f"{origin}: provenance base_model.sha256 is missing")
    seed = card.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise LeaderboardError(f"{origin}: provenance seed is {seed!r}, expected an integer")
    if not isinstance(card.get("target_task"), str | None):
        raise LeaderboardError(f"{origin}: provenance target_task is {card.get('target_task')!r}")
    inter = card.get("intermediate_tasks", [])
    if not isinstance(inter, list) or not all(isinstance(t, str) for t in inter):
        raise LeaderboardError(f"{origin}: provenance intermediate_tasks is {inter!r}")
    return card


def task_hash_of(lines: list[dict]) -> str:
    """lm-eval's task hash: sha256 of the concatenated doc/prompt/target hashes of its samples.

    Same computation as ``EvaluationTracker.save_results_aggregated`` in lm-eval 0.4.13.
    """
    joined = "".join(
        str(s.get("doc_hash", "")) + str(s.get("prompt_hash", "")) + str(s.get("target_hash", ""))
        for s in lines
    )
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def read_samples(
    lines: Iterable[bytes], origin: str, task: TaskResult
) -> tuple[Samples | None, str]:
    """Parse one samples JSONL as a stream; returns the per-document units and the task hash.

    Lines are decoded one at a time and only the fields the leaderboard needs are kept, so
    memory grows with the number of documents, not with the size of the file. Per-sample
    values are checked against the task's metric kind (leaderboards.units); a value of the
    wrong shape is an error naming the file and line.
    """
    kind = "mean" if task.name.task not in KIND_OF_TASK else KIND_OF_TASK[task.name.task]
    hasher = hashlib.sha256()
    ids: list[str] = []
    num: list[float] = []
    den: list[float] = []
    score: list[float] = []
    clusters: list[int] = []
    perturbed: list[bool] = []  # adversarial documents: adv_status (docs/contracts.md section 6)
    rule, threshold = "rank", None  # BUCC's threshold rule (harness_tasks' protocol field)
    seen: set[str] = set()
    count = 0
    for number, line in iter_jsonl_lines(lines, origin):
        count += 1
        # lm-eval's task hash covers every line, whatever its filter
        hasher.update(
            (
                str(line.get("doc_hash", ""))
                + str(line.get("prompt_hash", ""))
                + str(line.get("target_hash", ""))
            ).encode("utf-8")
        )
        if line.get("filter", FILTER) != FILTER:
            continue
        doc = line.get("doc")
        doc_id = doc.get("id") if isinstance(doc, dict) else None
        if not isinstance(doc_id, str | int) or isinstance(doc_id, bool):
            raise LeaderboardError(
                f"{origin} line {number}: doc.id is {doc_id!r}; samples are paired by doc.id "
                "(docs/contracts.md section 6)"
            )
        doc_id = str(doc_id)
        if doc_id in seen:
            raise LeaderboardError(f"{origin} line {number}: duplicate doc.id {doc_id!r}")
        seen.add(doc_id)
        value = line.get(task.metric)
        if value is None:  # not scored: a retrieval candidate (target side) row
            continue
        unit = unit_value(kind, value)
        if unit is None:
            shown = repr(value)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            raise LeaderboardError(
                f"{origin} line {number}: {task.metric} is {shown}, not a per-sample value "
                f"of {task.name.task} (docs/contracts.md section 6)"
            )
        ids.append(doc_id)
        if kind == "bucc":
            if isinstance(value, list | tuple) and len(value) == 5:
                if value[3] == "xtreme":
                    rule = "xtreme"
                if value[3] == "xtreme" and isinstance(value[4], int | float) and threshold is None:
                    threshold = float(value[4])
            gold, mined, s = unit
            num.append(float(bool(mined) and gold == mined))
            den.append(float(bool(gold)))
            score.append(s if mined else -math.inf)
        else:
            num.append(unit[0])
            den.append(unit[1])
        if task.name.task in QA_TASKS:
            clusters.append(cluster_of(doc))
        if "adv_status" in doc:
            perturbed.append(doc["adv_status"] == "attacked")
    if count == 0:
        raise LeaderboardError(f"{origin}: no samples")
    digest = hasher.hexdigest()
    if not ids:
        return None, digest
    values = np.asarray(num, dtype=np.float64)
    if kind == "mean" and bool(np.all((values == 0.0) | (values == 1.0))):
        values = values.astype(np.uint8)  # correctness: one byte a document, not eight
    scores = Scores(
        kind,
        shared_ids(ids),
        values,
        None if kind == "mean" else np.asarray(den, dtype=np.float64),
        np.asarray(score, dtype=np.float64) if kind == "bucc" else None,
        np.asarray(clusters, dtype=np.int64) if clusters else None,
        rule,
        threshold,
        np.asarray(perturbed, dtype=np.uint8) if len(perturbed) == len(ids) else None,
    )
    if kind == "mean" and (values.min() < 0.0 or values.max() > 1.0):
        raise LeaderboardError(f"{origin}: {task.metric} per sample outside [0, 1]")
    return scores, digest


# A reported value and the value its samples give agree to this (float sums in another order).
RESCORE_TOLERANCE = 1e-6


def check_rescored(result: TaskResult, origin: str) -> None:
    """Refuse a results value that its own per-sample file does not give."""
    if result.samples is None:
        return
    again = result.samples.value()
    if abs(again - result.value) > RESCORE_TOLERANCE:
        raise LeaderboardError(
            f"{result.source}: results.{result.name.name}.{result.metric},none is "
            f"{result.value!r}, but its samples {origin} give {again!r}"
        )


# What the leaderboard uses of xtreme_adv.tasks.<task> (contracts.md sections 6 and 8).
_EXTRA_CLEAN = ("parallel_half",)
_EXTRA_ADV = (
    "parallel_half", "data_sha256", "clean_data_sha256", "attack", "params", "seed",
    "source_model", "source",
)  # fmt: skip


_STRINGS: dict[str, str] = {}


def _shared(text: str) -> str:
    """One object per distinct string: task and data hashes repeat for every model."""
    return _STRINGS.setdefault(text, text)


def _extra(entry: object, adversarial: bool) -> dict:
    """The fields of a task's ``xtreme_adv`` entry that are used (80,000 tasks at 200 models)."""
    if not isinstance(entry, dict):
        return {}
    keys = _EXTRA_ADV if adversarial else _EXTRA_CLEAN
    return {
        k: _shared(entry[k]) if isinstance(entry[k], str) else entry[k] for k in keys if k in entry
    }


def read_results(files: FileSet, name: str, with_samples: bool = True) -> ModelRun:
    """Read one lm-eval results file (and its samples files) into a single-file ModelRun."""
    origin = files.origin(name)
    data = loads(files.read(name, MAX_RESULTS_BYTES), origin)
    if not isinstance(data, dict):
        raise LeaderboardError(f"{origin}: expected a JSON object (an lm-eval results file)")
    for key in REQUIRED_KEYS:
        if key not in data:
            raise LeaderboardError(f"{origin}: missing key {key!r}; not an lm-eval results file")
    if data["lm_eval_version"] != LM_EVAL_VERSION:
        raise LeaderboardError(
            f"{origin}: lm_eval_version is {data['lm_eval_version']!r}, expected {LM_EVAL_VERSION}"
        )
    for key in ("results", "configs", "versions", "n-samples", "config"):
        if not isinstance(data[key], dict):
            raise LeaderboardError(f"{origin}: {key} is not an object")
    config = data["config"]
    adv_model = config.get("xtreme_adv_model") if isinstance(config, dict) else None
    card = adv_model.get("provenance") if isinstance(adv_model, dict) else None
    folder = PurePosixPath(name).parent
    card_name = (folder / "provenance.json").as_posix()
    if card is None and files.has(card_name):
        card = loads(files.read(card_name, 1024 * 1024), files.origin(card_name))
        card = check_provenance(card, files.origin(card_name))
    elif card is not None:
        card = check_provenance(card, f"{origin}: config.xtreme_adv_model")
    args = _model_args(config)
    model_name = str(data.get("model_name") or config.get("model") or "")
    model_id = (
        card["model_id"]
        if card
        else str(args.get("pretrained") or args.get("path") or model_name or origin)
    )
    check_model_id(model_id, origin)
    weights = adv_model.get("weights_sha256") if isinstance(adv_model, dict) else None
    weights = weights if isinstance(weights, str) else None
    if card and weights and card.get("weights_sha256") and card["weights_sha256"] != weights:
        raise LeaderboardError(
            f"{origin}: config.xtreme_adv_model.weights_sha256 is {weights}, but the provenance "
            f"card of {model_id!r} says {card['weights_sha256']} (a card of another checkpoint)"
        )
    run = ModelRun(
        model_id=model_id, provenance=card, files=[origin], model_name=model_name,
        weights_sha256=weights or (card or {}).get("weights_sha256"),
        model_args=args, lm_eval_model=str(config.get("model") or ""),
    )  # fmt: skip
    stamp_match = _RESULTS_RE.match(PurePosixPath(name).name)
    stamp = stamp_match["stamp"] if stamp_match else None
    date = check_date(data.get("date"), origin)
    section = data.get("xtreme_adv")
    per_task = section.get("tasks") if isinstance(section, dict) else None
    per_task = per_task if isinstance(per_task, dict) else {}
    hashes = data.get("task_hashes") or {}
    for task_name, metrics in sorted(data["results"].items()):
        parsed = parse_task(task_name)
        if parsed is None:
            continue  # groups and tasks from outside this project are not leaderboard rows
        if not isinstance(metrics, dict):
            raise LeaderboardError(f"{origin}: results.{task_name} is not an object")
        key = f"{parsed.metric},{FILTER}"
        if key not in metrics:
            raise LeaderboardError(f"{origin}: results.{task_name} has no {key!r}")
        value = finite(metrics[key], origin, f"results.{task_name}.{key}")
        stderr = metrics.get(f"{parsed.metric}_stderr,{FILTER}")
        stderr = (
            float(stderr)
            if isinstance(stderr, int | float) and math.isfinite(stderr) and stderr >= 0
            else None
        )
        counts = data["n-samples"].get(task_name)
        n = counts.get("effective") if isinstance(counts, dict) else None
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise LeaderboardError(f"{origin}: n-samples.{task_name}.effective is {n!r}")
        if task_name not in data["versions"]:
            raise LeaderboardError(f"{origin}: versions has no {task_name!r}")
        task_hash = hashes.get(task_name) if isinstance(hashes, dict) else None
        result = TaskResult(
            name=parsed,
            metric=parsed.metric,
            value=value,
            stderr=stderr,
            n=n,
            version=version_str(data["versions"][task_name]),
            task_hash=_shared(task_hash) if isinstance(task_hash, str) else None,
            config={},  # not kept: 2 KB a task, 80,000 tasks at 200 models
            source=origin,
            date=date,
            extra=_extra(per_task.get(task_name), parsed.attack is not None),
        )
        if with_samples and stamp is not None:
            sample_name = (folder / f"samples_{task_name}_{stamp}.jsonl").as_posix()
            if files.has(sample_name):
                sorigin = files.origin(sample_name)
                samples, digest = read_samples(
                    files.lines(sample_name, MAX_SAMPLES_BYTES), sorigin, result
                )
                if result.task_hash is not None and digest != result.task_hash:
                    raise LeaderboardError(
                        f"{origin}: task_hashes.{task_name} is {result.task_hash}, but "
                        f"{sorigin} hashes to {digest}"
                    )
                result.samples = samples
                check_rescored(result, sorigin)
        run.tasks[task_name] = result
    return run


def merge_runs(runs: list[ModelRun]) -> dict[str, ModelRun]:
    """Merge per-file runs by model id; a task evaluated twice keeps the newest result."""
    merged: dict[str, ModelRun] = {}
    for run in runs:
        into = merged.get(run.model_id)
        if into is None:
            merged[run.model_id] = into = ModelRun(
                run.model_id, run.provenance, {}, [], run.model_name, run.weights_sha256,
                run.model_args, run.lm_eval_model,
            )  # fmt: skip
        else:
            _check_same_model(into, run)
        into.provenance = into.provenance or run.provenance
        into.weights_sha256 = into.weights_sha256 or run.weights_sha256
        into.files.extend(run.files)
        for task_name, result in run.tasks.items():
            old = into.tasks.get(task_name)
            if old is None or (result.date, result.source) > (old.date, old.source):
                into.tasks[task_name] = result
    return merged


def _check_same_model(into: ModelRun, run: ModelRun) -> None:
    """Results of one model id from several files must be of one checkpoint: a file may not
    replace another model's scores with a copied card (same id, another checkpoint)."""
    if run.provenance and into.provenance and run.provenance != into.provenance:
        raise LeaderboardError(
            f"{run.files[0]}: provenance of {run.model_id!r} differs from {into.files[0]}"
        )
    if bool(run.provenance) != bool(into.provenance):
        raise LeaderboardError(
            f"{run.files[0]}: model {run.model_id!r} has a provenance card in one results file "
            f"and none in {into.files[0]}"
        )
    if run.weights_sha256 and into.weights_sha256 and run.weights_sha256 != into.weights_sha256:
        raise LeaderboardError(
            f"{run.files[0]}: model {run.model_id!r} was evaluated from weights "
            f"{run.weights_sha256}, but {into.files[0]} from {into.weights_sha256}; one model id, "
            "one checkpoint"
        )


def read_inputs(paths: list[Path], with_samples: bool = True) -> dict[str, ModelRun]:
    """Read every results file under ``paths`` (folders or files) and merge them by model."""
    runs: list[ModelRun] = []
    for path in paths:
        files = LocalFiles(path)
        names = files.results_files()
        if not names:
            raise LeaderboardError(f"{path}: no lm-eval results_*.json found")
        runs.extend(read_results(files, name, with_samples) for name in names)
    return merge_runs(runs)
