"""Evaluation data for every XTREME task: an XTREME download folder first, else the Hub.

``load_eval_split`` is the one entry point; ``lm_eval_dataset`` is what the task YAMLs call
(lm-eval's ``custom_dataset``). The split scored is the labelled test split where the source
has one, else the dev split; a user can choose it (``--metadata '{"split": "validation"}'`` or
``XTREME_SPLIT``), and an unlabelled split is never scored.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from harness_tasks.data import hub, parallel, xtreme_folder
from harness_tasks.errors import XtremeAdvError
from harness_tasks.families import check_lang, family_of_task, get_family, lang_of_task

PROTOCOLS = ("xtreme-adv", "xtreme")
DEFAULT_PROTOCOL = "xtreme-adv"
SPLIT_ALIASES = {"dev": "validation", "val": "validation", "valid": "validation"}

# What each lm-eval task of this process loaded: task name -> {split, source, data_sha256}.
# `xtreme-adv eval` copies it into the results JSON it writes.
LOADED: dict[str, dict] = {}
# Candidate pools of retrieval tasks (target sentences), by task name; see _pool_aside.
POOLS: dict[str, list[dict]] = {}
# The data folder each task was loaded from (None: the Hub), for companion splits.
_ROOTS: dict[str, str | None] = {}


@dataclass
class EvalSplit:
    """One loaded evaluation split with where it came from."""

    dataset: object  # datasets.Dataset
    split: str
    source: str
    sha256: str


def _sha256_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _companions(family: str, path: Path) -> list[Path]:
    if family == "tatoeba":
        return [path, path.with_suffix(".eng")]
    if family == "bucc":
        return [path, path.with_suffix(".en"), path.with_suffix(".gold")]
    return [path]


def _normalise_split(split: str | None) -> str | None:
    if split in (None, "", "auto"):
        return None
    return SPLIT_ALIASES.get(split, split)


def _instead(family, lang: str, split: str, root: Path) -> str:
    """Where labelled data for ``family``/``lang`` can be found when ``split`` is withheld."""
    for other in ("validation", "test"):
        if other == split:
            continue
        for path in xtreme_folder.candidates(family.name, lang, other, root):
            if path.exists():
                return (
                    f'score split {other!r} instead (--metadata \'{{"split": "{other}"}}\' '
                    f"or XTREME_SPLIT={other})"
                )
    hub_splits = hub.SOURCES[family.name].splits
    return (
        f"score the Hugging Face Hub's labelled copy instead (unset XTREME_DATA_DIR; "
        f"splits {', '.join(hub_splits)}) or the dataset's original release"
    )


def _from_folder(family, lang: str, splits: list[str], root: Path, explicit: bool):
    if not root.is_dir():
        raise XtremeAdvError(
            f"XTREME data folder {root} does not exist (from XTREME_DATA_DIR or data_dir); "
            "point it at the folder google-research/xtreme's scripts/download_data.sh writes"
        )
    looked: list[str] = []
    withheld: list[tuple[str, xtreme_folder.Unlabelled]] = []
    for split in splits:
        for path in xtreme_folder.candidates(family.name, lang, split, root):
            looked.append(str(path))
            if not path.exists():
                continue
            try:
                rows = xtreme_folder.read(family.name, lang, path)
            except xtreme_folder.Unlabelled as err:
                withheld.append((split, err))
                break
            sha = _sha256_files(_companions(family.name, path))
            return rows, split, str(path), sha
    if withheld:
        split, err = withheld[0]
        raise XtremeAdvError(
            f"{family.task_name(lang)}: labels of split {split!r} are withheld in {err.path} "
            f"({err.reason}; unlabelled (never scored): {err.path}); "
            + _instead(family, lang, split, root)
        )
    which = "split " + splits[0] if explicit else "a labelled split"
    raise XtremeAdvError(
        f"no data for {family.task_name(lang)} ({which}) in {root}: looked for "
        f"{', '.join(looked) or 'nothing (no such split for this task)'}; run "
        "google-research/xtreme's scripts/download_data.sh into that folder, or unset "
        "XTREME_DATA_DIR to load from the Hugging Face Hub"
    )


def _from_hub(family, lang: str, splits: list[str], explicit: bool):
    for split in splits:
        try:
            rows, where, fingerprint = hub.load(family.name, lang, split)
        except KeyError:
            continue
        return rows, split, where, fingerprint
    raise XtremeAdvError(
        f"{family.task_name(lang)} has no labelled split {splits[0]!r} on the Hub "
        f"(labelled splits: {', '.join(hub.SOURCES[family.name].splits)})"
        if explicit
        else f"{family.task_name(lang)}: no labelled split on the Hub"
    )


def interleave_pairs(rows: list[dict]) -> list[dict]:
    """Order a retrieval set so that any prefix holds whole pairs (lm-eval's ``--limit``).

    Each gold pair is source then target; sentences without a pair follow, alternating.
    """
    targets = {r["id"]: r for r in rows if r["side"] == "target"}
    ordered, placed = [], set()
    for row in rows:
        if row["side"] == "source" and row["gold"] in targets and row["gold"] not in placed:
            ordered += [row, targets[row["gold"]]]
            placed.update((row["id"], row["gold"]))
    rest_src = [r for r in rows if r["side"] == "source" and r["id"] not in placed]
    rest_tgt = [r for r in rows if r["side"] == "target" and r["id"] not in placed]
    for i in range(max(len(rest_src), len(rest_tgt))):
        ordered += rest_src[i : i + 1] + rest_tgt[i : i + 1]
    return ordered


def load_eval_split(
    task: str,
    lang: str,
    split: str | None = None,
    data_dir: str | os.PathLike | None = None,
) -> EvalSplit:
    """Load the evaluation split of XTREME ``task`` in ``lang`` as contract rows.

    ``data_dir`` (default ``$XTREME_DATA_DIR``) names an XTREME download folder; without one
    the data comes from the Hugging Face Hub. ``split`` (default ``$XTREME_SPLIT``, else
    automatic) picks the split; automatic means the labelled test split, else validation.
    """
    import datasets

    family = get_family(task)
    check_lang(family, lang)
    chosen = _normalise_split(split if split is not None else os.environ.get("XTREME_SPLIT"))
    splits = [chosen] if chosen else list(family.split_preference)
    root = data_dir if data_dir is not None else os.environ.get("XTREME_DATA_DIR")
    if root:
        rows, used, source, sha = _from_folder(family, lang, splits, Path(root), bool(chosen))
    else:
        rows, used, source, sha = _from_hub(family, lang, splits, bool(chosen))
    if family.kind == "retrieval":
        rows = interleave_pairs(rows)
    for row in rows:
        row["split"] = used
        row["lang"] = lang
    dataset = datasets.Dataset.from_list(rows)
    _ROOTS[family.task_name(lang)] = str(root) if root else None
    LOADED[family.task_name(lang)] = {
        "split": used,
        "source": source,
        "data_sha256": sha,
        "n_docs": len(rows),
    }
    return EvalSplit(dataset=dataset, split=used, source=source, sha256=sha)


def companion_split(task_name: str, split: str) -> list[dict] | None:
    """Rows of another split of an already loaded clean task, from the same source (folder or
    Hub); ``None`` when that split has no labelled data. Used for BUCC's threshold, which
    XTREME chooses on dev and applies to test."""
    family = family_of_task(task_name)
    lang = lang_of_task(task_name)
    root = _ROOTS.get(task_name, os.environ.get("XTREME_DATA_DIR"))
    saved = LOADED.get(task_name)
    try:
        loaded = load_eval_split(family.name, lang, split=split, data_dir=root)
    except XtremeAdvError:
        return None
    finally:
        if saved is not None:
            LOADED[task_name] = saved  # the scored split stays what the results record
    return loaded.dataset.to_list()


def lm_eval_dataset(
    task: str, lang: str, split: str | None = None, data_dir: str | None = None, **_metadata
) -> object:
    """lm-eval ``custom_dataset`` hook: the chosen split as ``eval``, few-shot rows as ``fewshot``.

    lm-eval calls it as ``fn(**metadata, **dataset_kwargs)``; the metadata (including the
    model's arguments) is accepted and ignored apart from ``split``, ``data_dir``,
    ``parallel_half`` and ``pretrained`` (whose card may exclude a parallel half, see
    :mod:`harness_tasks.data.parallel`).
    """
    import datasets

    loaded = load_eval_split(task, lang, split=split, data_dir=data_dir)
    name = get_family(task).task_name(lang)
    dataset = apply_eval_options(name, task, lang, loaded.dataset, _metadata)
    fewshot = fewshot_split(name, loaded.split, data_dir)
    return datasets.DatasetDict(
        {"eval": dataset, "fewshot": fewshot if fewshot is not None else dataset.select([])}
    )


def fewshot_split(task_name: str, scored_split: str, data_dir: str | None = None):
    """Few-shot examples for ``--num_fewshot``: another labelled split than the scored one
    (dev when test is scored, train when dev is), never the scored split itself (lm-eval's
    fallback for tasks with only a test split). ``None`` when there is none; retrieval tasks
    (whose documents are pool-dependent) have none.
    """
    family = family_of_task(task_name)
    if family.kind == "retrieval":
        return None
    other = {"test": "validation", "validation": "train"}.get(scored_split)
    if other is None:
        return None
    saved = LOADED.get(task_name)
    try:
        return load_eval_split(family.name, lang_of_task(task_name), other, data_dir).dataset
    except XtremeAdvError:
        return None
    finally:
        if saved is not None:
            LOADED[task_name] = saved


def resolve_protocol(metadata: dict) -> str:
    """Scoring protocol: metadata ``protocol``, else ``$XTREME_PROTOCOL``, else ``xtreme-adv``.

    ``xtreme`` scores as google-research/xtreme's scripts (Tatoeba English -> source, BUCC
    threshold ties kept); see the README's "Protocols" section.
    """
    value = metadata.get("protocol") or os.environ.get("XTREME_PROTOCOL") or DEFAULT_PROTOCOL
    if value not in PROTOCOLS:
        raise XtremeAdvError(
            f"protocol {value!r} (metadata protocol / XTREME_PROTOCOL) is unknown; "
            f"choose from {', '.join(PROTOCOLS)}"
        )
    return str(value)


def apply_eval_options(task_name: str, family: str, lang: str, dataset, metadata: dict):
    """Per-run options on one task's documents, recorded in ``LOADED[task_name]``:

    - the parallel hold-out (docs/contracts.md section 8), ``parallel_half``;
    - the scoring ``protocol``, carried by every document when it is not the default (metrics
      and the adapter read it).
    """
    entry = LOADED.setdefault(task_name, {})
    half = parallel.resolve_half(family, metadata)
    if half is not None:
        dataset, record = parallel.filter_half(dataset, lang, half)
        entry["parallel_half"] = record
        entry["n_docs"] = record["n_docs"]
    protocol = resolve_protocol(metadata)
    entry["protocol"] = protocol
    if protocol != DEFAULT_PROTOCOL:  # documents without the field: the default protocol
        if "protocol" in dataset.column_names:
            dataset = dataset.remove_columns("protocol")
        dataset = dataset.add_column("protocol", [protocol] * len(dataset))
    if get_family(family).kind == "retrieval":
        dataset = _pool_aside(task_name, dataset, entry)
    return dataset


def _pool_aside(task_name: str, dataset, entry: dict):
    """Retrieval: only source sentences are lm-eval documents; the candidate pool (English
    side) is kept in :data:`POOLS` under the task name, which each source doc carries as
    ``pool``. So no model generates for a pool sentence, and ``--limit`` counts sources while
    the pool stays whole (a pair is never split)."""
    sides = dataset["side"]
    POOLS[task_name] = dataset.select([i for i, s in enumerate(sides) if s == "target"]).to_list()
    sources = dataset.select([i for i, s in enumerate(sides) if s == "source"])
    if "pool" in sources.column_names:
        sources = sources.remove_columns("pool")
    entry["n_docs"] = len(sources)
    entry["n_pool"] = len(POOLS[task_name])
    return sources.add_column("pool", [task_name] * len(sources))


def pool_of(docs: list[dict]) -> list[dict]:
    """The candidate pool of retrieval ``docs``: their target docs, else the pool they name."""
    targets = [d for d in docs if d.get("side") == "target"]
    if targets or not docs or not docs[0].get("pool"):
        return targets
    return POOLS.get(docs[0]["pool"], [])
