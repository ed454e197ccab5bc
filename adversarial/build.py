"""Build, resume, shard and merge adversarial sets; one folder per (task, attack, language).

Layout under the output root (``$XTREME_ADV_DIR``, default ``~/.cache/xtreme-adv/adversarial``)::

    <task>/<attack>/<lang>/data.parquet     the set (contract columns + adv_* columns)
    <task>/<attack>/<lang>/manifest.json    provenance, validity statistics, per-example edits
    tasks/xtreme_adv_<task>_<attack>_<lang>.yaml and the group YAML (lm-eval registration)
    .work/<task>/<attack>/<lang>/<config-key>/chunk-NNNNN.jsonl   work in progress

Work is cut into fixed chunks of documents; each chunk is written atomically once done, so an
interrupted build resumes at the first missing chunk, and shards (``chunk % num_shards``) can run
on several machines and be merged. Every random choice is seeded per document, every batch is
formed within one chunk, so the result does not depend on where a build stopped.

A finished set (manifest and data present, the data's hash as the manifest records it, and the
manifest's ``config_key`` equal to the request's) is not built again. Temporary files and
folders carry the id of the process that made them (``.<name>.tmp-<pid>-*``,
``.<lang>.old-<pid>``); the next build or merge removes those whose process is gone, so a kill
at any moment leaves nothing behind for good. ``XTREME_ADV_KILL_AT=<point>`` (tests only) makes
the process SIGKILL itself at a named point (``write:<file name>``, ``merge:parquet``,
``merge:swap``, ``merge:yaml``, ``merge:cleanup``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import signal
import tempfile
from importlib import metadata
from pathlib import Path

from tqdm.auto import tqdm

from adversarial import calibration
from harness_tasks.errors import XtremeAdvError
from harness_tasks.weights import weights_sha256

SCHEMA = "xtreme-adv/adversarial-set/1"
CHUNK_SIZE = 64
_VERSIONED = (
    "xtreme-adv",
    "textattack",
    "transformers",
    "torch",
    "datasets",
    "pyarrow",
    "stopwordsiso",
    "confusable-homoglyphs",
    "pythainlp",
    "tinysegmenter",
    "jieba",
    "regex",
)


def default_root() -> Path:
    """``$XTREME_ADV_DIR`` or ``~/.cache/xtreme-adv/adversarial``."""
    env = os.environ.get("XTREME_ADV_DIR")
    return Path(env) if env else Path.home() / ".cache" / "xtreme-adv" / "adversarial"


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape the output."""
    out = {}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def kill_point(name: str) -> None:
    """SIGKILL this process when ``$XTREME_ADV_KILL_AT`` names ``name`` (kill tests only)."""
    if os.environ.get("XTREME_ADV_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


_STALE = re.compile(r"\.(?:tmp|old)-(\d+)(?:-|$)")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(folder: Path, prefix: str = ".") -> list[Path]:
    """Remove temporary files and folders (``<prefix>*.tmp-<pid>-*``, ``*.old-<pid>``) in
    ``folder`` whose process is no longer running; returns what was removed.

    Names without a process id (written before ids were recorded) are always stale.
    """
    removed = []
    if not Path(folder).is_dir():
        return removed
    for entry in sorted(Path(folder).iterdir()):
        if not entry.name.startswith(prefix) or not (
            ".tmp-" in entry.name or ".old-" in entry.name
        ):
            continue
        match = _STALE.search(entry.name)
        if match and _pid_alive(int(match.group(1))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-{os.getpid()}-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        kill_point(f"write:{path.name}")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def set_dir(root: Path, task: str, attack: str, lang: str) -> Path:
    """Folder of one built set."""
    return Path(root) / task / attack / lang


def work_dir(root: Path, task: str, attack: str, lang: str) -> Path:
    """Parent folder of the work-in-progress folders of one set."""
    return Path(root) / ".work" / task / attack / lang


class BuildRequest:
    """What to build: task, language, attack with parameters, seed and where the data is."""

    def __init__(
        self,
        task: str,
        lang: str,
        attack: str,
        params: dict | None = None,
        seed: int = 0,
        data_dir: str | None = None,
        split: str | None = None,
        source_model: str | None = None,
        limit: int | None = None,
        parallel_half: int | None = None,
        each_half: bool = False,
    ):
        from adversarial import recipes

        self.family = recipes.get_family(attack)
        recipes.check_task(self.family, task)
        self.task, self.lang, self.attack, self.seed = task, lang, attack, int(seed)
        self.params = canonical_params(attack, recipes.resolve_params(self.family, params or {}))
        self.data_dir, self.split, self.limit = data_dir, split, limit
        self.parallel_half = check_parallel_half(task, parallel_half)
        self.each_half = check_each_half(task, each_half, limit, self.parallel_half)
        self.source_model = source_model
        if source_model and task not in ("xnli", "pawsx"):
            raise XtremeAdvError(
                f"--source-model: transfer sets need a classification task (xnli, pawsx), "
                f"not {task}"
            )

    def load(self):
        """Load the clean evaluation split (a user error if it does not exist)."""
        half = "each" if self.each_half else self.parallel_half
        return load_limited_split(self.task, self.lang, self.split, self.data_dir, self.limit, half)

    def config(self, loaded) -> dict:
        """Everything the output depends on; its hash names the work folder."""
        return {
            "schema": SCHEMA,
            "task": self.task,
            "lang": self.lang,
            "attack": self.attack,
            "params": self.params,
            "seed": self.seed,
            **split_config(loaded, self.limit),
            "source_model": _model_identity(self.source_model),
            "chunk_size": CHUNK_SIZE,
            "versions": library_versions(),
            "validity_setup": calibration.setup(self, loaded),
        }


def _limited_rows(dataset, limit: int) -> list[int]:
    """Row indices kept by ``--limit``: the first ``limit`` documents; for retrieval tasks the
    first ``limit`` source rows and every target row (the candidate pool stays whole)."""
    if "side" not in dataset.column_names:
        return list(range(min(limit, len(dataset))))
    sides = dataset["side"]
    sources = [i for i, side in enumerate(sides) if side == "source"][:limit]
    return sorted(sources + [i for i, side in enumerate(sides) if side != "source"])


def split_config(loaded, limit: int | None) -> dict:
    """The attacked split's part of a build configuration: split, source hash, limit, rows,
    and the parallel half when only one is attacked."""
    out = {
        "split": loaded.split,
        "source": {
            "path": str(loaded.source),
            "sha256": loaded.sha256,
            "n_docs": len(loaded.full_dataset),
        },
        "limit": limit,
        "n_rows": len(loaded.dataset),
    }
    if loaded.parallel_half is not None:  # set by load_limited_split
        out["parallel_half"] = loaded.parallel_half
    return out


def _require_parallel_task(task: str, flag: str) -> None:
    """A user error unless ``task``'s splits are translations of each other."""
    from harness_tasks.data.parallel import PARALLEL_FAMILIES

    if task not in PARALLEL_FAMILIES:
        raise XtremeAdvError(
            f"{flag}: {task} is not a parallel task (those are {', '.join(PARALLEL_FAMILIES)})"
        )


def check_parallel_half(task: str, half: int | None) -> int | None:
    """``--parallel-half``: 0 or 1, for the tasks whose splits are translations of each other."""
    from harness_tasks.data.parallel import parse_half

    half = parse_half(half, "--parallel-half")
    if half is not None:
        _require_parallel_task(task, f"--parallel-half {half}")
    return half


def check_each_half(task: str, each_half: bool, limit: int | None, half: int | None) -> bool:
    """``--each-half``: a parallel task, with ``--limit``, without ``--parallel-half``."""
    if not each_half:
        return False
    _require_parallel_task(task, "--each-half")
    if limit is None or half is not None:
        raise XtremeAdvError(
            "--each-half takes --limit N (the first N documents of each half) and no "
            "--parallel-half"
        )
    return True


def load_limited_split(
    task: str, lang: str, split, data_dir, limit: int | None, half: int | str | None = None
):
    """The clean split to attack: the documents of parallel ``half`` when given (the half a
    model trained on the other is scored on: docs/contracts.md section 8), then ``limit`` of
    them (retrieval: queries); with ``half="each"`` the first ``limit`` documents of each half
    (what any model is scored on under ``--limit``, whichever half, or none, it is restricted
    to); ``full_dataset`` whole; ``positions`` each attacked row's position in the split (what
    seeds its edits, so a document is perturbed alike in a set of one half and in a set of the
    whole split).

    Distractor and entity pools, and the retrieval candidate pool, come from the whole split,
    also under ``--limit``; a user error if the split does not exist.
    """
    from harness_tasks.data import load_eval_split
    from harness_tasks.data.parallel import RULE, half_rows

    loaded = load_eval_split(task, lang, split=split, data_dir=data_dir)
    loaded.full_dataset = loaded.dataset
    positions = list(range(len(loaded.dataset)))
    loaded.parallel_half = None
    if half == "each":
        ids = loaded.dataset["id"]
        positions = sorted(half_rows(ids, lang, 0)[:limit] + half_rows(ids, lang, 1)[:limit])
        loaded.dataset = loaded.dataset.select(positions)
        loaded.parallel_half = {"rule": RULE, "half": "each", "n_docs": len(positions)}
        limit = None  # counted per half
    elif half is not None:
        positions = half_rows(loaded.dataset["id"], lang, half)
        loaded.dataset = loaded.dataset.select(positions)
        loaded.parallel_half = {"rule": RULE, "half": half, "n_docs": len(positions)}
    if limit is not None:
        rows = _limited_rows(loaded.dataset, limit)
        loaded.dataset = loaded.dataset.select(rows)
        positions = [positions[r] for r in rows]
    loaded.positions = positions
    return loaded


def write_parquet(dataset, path: Path) -> None:
    """``dataset.to_parquet(path)`` without datasets' "Creating parquet" bar (the build shows
    its own, one per set)."""
    import datasets

    bars = datasets.utils.logging.is_progress_bar_enabled()
    datasets.utils.logging.disable_progress_bar()
    try:
        dataset.to_parquet(str(path))
    finally:
        if bars:
            datasets.utils.logging.enable_progress_bar()


def _model_identity(path: str | None) -> dict | None:
    if not path:
        return None
    folder = Path(path)
    sha256 = weights_sha256(folder)  # the evaluator's key too (eval's adaptive-<family>-self)
    if sha256 is None:
        raise XtremeAdvError(f"--source-model {path}: no model weights (*.safetensors) found")
    return {"path": str(folder.resolve()), "sha256": sha256}


def canonical_params(family: str, params: dict) -> dict:
    """``params`` with numbers in one spelling: an int where the family declares an int,
    otherwise a float (``0`` and ``0.0`` are one setting, and must name one build)."""
    from adversarial import recipes

    declared = recipes.FAMILIES[family].defaults() if family in recipes.FAMILIES else {}
    out = {}
    for key, value in params.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            default = declared.get(key)
            as_int = isinstance(default, int) and not isinstance(default, bool)
            value = int(value) if as_int and float(value).is_integer() else float(value)
        out[key] = value
    return out


def config_key(config: dict) -> str:
    """Short stable hash of a build configuration.

    Local paths are left out (the data and source model count by their hashes), so shards
    built on machines with different folder layouts share one key and merge together.
    Parameters are hashed in their canonical spelling (``canonical_params``).
    """
    portable = {**config, "source": {k: v for k, v in config["source"].items() if k != "path"}}
    if isinstance(config.get("params"), dict):
        family = config.get("family") or config.get("attack")
        portable["params"] = canonical_params(str(family), config["params"])
    if config.get("source_model"):
        portable["source_model"] = config["source_model"]["sha256"]
    return sha256_bytes(json.dumps(portable, sort_keys=True).encode())[:16]


def build(
    request: BuildRequest,
    root: Path | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    progress: bool = True,
    stop_after: int | None = None,
) -> Path | None:
    """Build (or resume) the set; returns its folder, or None when only a shard was built.

    ``stop_after`` ends the run after that many new chunks (tests use it to interrupt a build).
    """
    if num_shards < 1 or not 0 <= shard_index < num_shards:
        raise XtremeAdvError(
            f"--shard-index {shard_index} must be in [0, --num-shards {num_shards})"
        )
    root = Path(root) if root else default_root()
    loaded = request.load()
    config = request.config(loaded)
    key = config_key(config)
    work = work_dir(root, request.task, request.attack, request.lang) / key
    final = set_dir(root, request.task, request.attack, request.lang)
    if finished(final, key):
        # Done before (perhaps killed after the swap): finish what the merge left undone.
        _finish(root, request.task, request.attack, request.lang, work)
        return final if num_shards == 1 else None
    remove_stale(work)
    n_docs = len(loaded.dataset)
    n_chunks = max(1, math.ceil(n_docs / CHUNK_SIZE))
    mine = [c for c in range(n_chunks) if c % num_shards == shard_index]
    todo = [c for c in mine if not (work / _chunk_name(c)).exists()]
    # The attack is set up (dictionaries, models) before anything is written, so bad input
    # leaves no work folder behind.
    runner = _ChunkRunner(request, loaded) if todo else None
    if not (work / "config.json").exists():
        atomic_write_text(work / "config.json", json.dumps(config, indent=1, sort_keys=True))
    if runner is not None:
        label = f"{request.task}/{request.attack}/{request.lang}"
        bar = tqdm(
            total=len(mine),
            initial=len(mine) - len(todo),
            desc=label,
            unit="chunk",
            disable=not progress,
        )
        for done, chunk in enumerate(todo):
            if stop_after is not None and done >= stop_after:
                bar.close()
                return None
            start, end = chunk * CHUNK_SIZE, min(n_docs, (chunk + 1) * CHUNK_SIZE)
            rows = runner.run(start, end)
            text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
            atomic_write_text(work / _chunk_name(chunk), text)
            bar.update(1)
        bar.close()
    if num_shards > 1:
        atomic_write_text(work / f"shard-{shard_index}-of-{num_shards}.done", "")
        return None
    return merge(root, request.task, request.attack, request.lang)


def finished(folder: Path, key: str) -> bool:
    """Whether ``folder`` holds a complete set built under the configuration ``key``: its
    manifest parses, names ``key`` and the hash of the data file it describes."""
    try:
        manifest = json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))
        data = Path(folder) / manifest["data"]["file"]
        return manifest.get("config_key") == key and sha256_file(data) == manifest["data"]["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _finish(root: Path, task: str, attack: str, lang: str, work: Path | None) -> None:
    """The steps after a set is in place: task YAMLs, no work folder, no stale temporaries."""
    from adversarial.registry import tasks_dir, write_task_yamls

    final = set_dir(root, task, attack, lang)
    remove_stale(final.parent, prefix=f".{lang}.")
    remove_stale(tasks_dir(root))
    write_task_yamls(root, task, attack, lang)
    kill_point("merge:cleanup")
    if work is not None and work.exists():
        shutil.rmtree(work, ignore_errors=True)
        parent = work.parent
        while parent != Path(root) and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()  # empty .work/<task>/<attack>/<lang> folders go too
            parent = parent.parent


def _chunk_name(chunk: int) -> str:
    return f"chunk-{chunk:05d}.jsonl"


class _ChunkRunner:
    """Runs the perturbation of a range of documents (static or transferred from a model)."""

    def __init__(self, request: BuildRequest, loaded):
        from adversarial.engine import Perturber, build_gazetteer

        self.request, self.loaded = request, loaded
        params = request.params
        docs = None
        gazetteer = None
        if request.attack == "distractor":
            docs = loaded.full_dataset.to_list()
        if request.attack == "entityswap":
            gazetteer = _gazetteer(request, loaded, build_gazetteer)
        self.perturber = Perturber(
            request.task,
            request.lang,
            request.attack,
            params,
            request.seed,
            pool_docs=docs,
            gazetteer=gazetteer,
        )
        self.encoder = None
        if float(params["min_similarity"]) > 0 or request.attack in ("distractor", "entityswap"):
            from adversarial.similarity import load_encoder

            self.encoder = load_encoder(str(params["similarity_model"]))
        self.attack = None
        if request.source_model:
            from adversarial.transfer import TransferAttack

            # The searches apply the calibrated floor the manifest records (as static sets do).
            floor = calibration.for_request(request, loaded)["floor"]
            self.attack = TransferAttack(request, self.encoder, floor=floor)

    def run(self, start: int, end: int) -> list[dict]:
        docs = self.loaded.dataset.select(range(start, end)).to_list()
        if self.encoder is not None:
            self.encoder.clear_cache()  # batches never span chunks: resumable == uninterrupted
        if self.attack is not None:
            return self.attack.run(docs, start)
        from adversarial.floor import apply_similarity_floor

        positions = self.loaded.positions
        plans = [self.perturber.plan(doc, positions[start + k]) for k, doc in enumerate(docs)]
        floor = calibration.for_request(self.request, self.loaded)["floor"]
        sims = apply_similarity_floor(plans, self.encoder, floor, self.request.lang)
        return [self.perturber.realise(p, s) for p, s in zip(plans, sims, strict=True)]


def _gazetteer(request: BuildRequest, loaded, build_gazetteer) -> dict:
    from harness_tasks.data import load_eval_split

    if request.task in ("panx", "udpos"):
        return build_gazetteer(loaded.full_dataset.to_list(), request.task)
    source = str(request.params["gazetteer_task"])
    try:
        tagged = load_eval_split(source, request.lang, data_dir=request.data_dir)
    except XtremeAdvError as err:
        raise XtremeAdvError(
            f"entityswap on {request.task}-{request.lang} takes its entities from {source} in "
            f"the same language, which is not available: {err}"
        ) from None
    return build_gazetteer(tagged.dataset.to_list(), source)


def _find_work(root: Path, task: str, attack: str, lang: str) -> Path:
    parent = work_dir(root, task, attack, lang)
    candidates = sorted(p for p in parent.glob("*") if (p / "config.json").exists())
    if not candidates:
        raise XtremeAdvError(
            f"nothing to merge for {task}/{attack}/{lang} in {root}: run "
            f"`xtreme-adv attack build --task {task} --langs {lang} --attack {attack}` first"
        )
    if len(candidates) > 1:
        keys = ", ".join(p.name for p in candidates)
        raise XtremeAdvError(
            f"{parent}: several unfinished builds with different settings ({keys}); "
            "remove the ones you do not want"
        )
    return candidates[0]


def merge(root: Path, task: str, attack: str, lang: str) -> Path:
    """Assemble the chunks of a finished build into the set folder (atomically)."""
    import datasets

    from adversarial.manifest import build_manifest

    root = Path(root)
    work = _find_work(root, task, attack, lang)
    config = json.loads((work / "config.json").read_text(encoding="utf-8"))
    n_docs = config["n_rows"]
    n_chunks = max(1, math.ceil(n_docs / config["chunk_size"]))
    missing = [c for c in range(n_chunks) if not (work / _chunk_name(c)).exists()]
    if missing:
        raise XtremeAdvError(
            f"{work}: {len(missing)} of {n_chunks} chunks missing (first: {missing[0]}); run the "
            "remaining shards (same --num-shards) before merging"
        )
    key = config_key(config)
    final = set_dir(root, task, attack, lang)
    remove_stale(final.parent, prefix=f".{lang}.")
    if finished(final, key):
        _finish(root, task, attack, lang, work)
        return final
    rows = []
    for c in range(n_chunks):
        with open(work / _chunk_name(c), encoding="utf-8") as handle:
            rows.extend(json.loads(line) for line in handle)
    dataset = datasets.Dataset.from_list(rows)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{lang}.tmp-{os.getpid()}-"))
    try:
        write_parquet(dataset, tmp / "data.parquet")
        kill_point("merge:parquet")
        manifest = build_manifest(config, rows, sha256_file(tmp / "data.parquet"))
        manifest["config_key"] = key  # what a later build compares to skip a finished set
        atomic_write_text(
            tmp / "manifest.json",
            json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False),
        )
        _replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    kill_point("merge:yaml")
    _finish(root, task, attack, lang, work)
    return final


def _replace_dir(tmp: Path, final: Path) -> None:
    """Swap ``tmp`` into ``final``; the old set (if any) is removed only after the swap."""
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
        kill_point("merge:swap")
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
