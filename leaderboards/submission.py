"""Submissions: one ``.tar.gz`` holding lm-eval results, samples and provenance, plus a manifest.

Why a tar.gz: lm-eval's files go in byte for byte (so task hashes and per-sample files can be
re-checked exactly as lm-eval wrote them), samples JSONL compress about tenfold, and the format
is read by the standard library. A submission is untrusted: it is read in memory, never
extracted; members must be regular files with plain relative names (no absolute paths, no
``..``, no links or devices); sizes and member counts are capped; nothing is unpickled or run.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from leaderboards.compute import check_twins
from leaderboards.errors import LeaderboardError
from leaderboards.holdout import check_run
from leaderboards.installed import InstalledTask, installed_tasks, same_version
from leaderboards.jsonio import MAX_RESULTS_BYTES, MAX_SAMPLES_BYTES, dumps, load_json, loads
from leaderboards.names import parse_task
from leaderboards.results import (
    LocalFiles,
    ModelRun,
    check_provenance,
    merge_runs,
    read_results,
)

SCHEMA = "xtreme-adv/submission/1"
MANIFEST = "submission.json"
MAX_SUBMISSION_BYTES = 256 * 1024 * 1024  # compressed file
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024  # sum of member sizes
MAX_MEMBER_BYTES = MAX_SAMPLES_BYTES  # refused from its header, before a byte is read
MAX_MEMBERS = 20000
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


SPOOL_BYTES = 1024 * 1024  # members larger than this wait on disk, not in memory
_CHUNK = 1024 * 1024


class Member:
    """One archive member, copied out once: its size, sha256 and a private spooled copy.

    Memory stays bounded whatever the archive holds: above ``SPOOL_BYTES`` the copy lives in
    an anonymous temporary file, and samples are parsed from it line by line.
    """

    def __init__(self, source: BinaryIO, size: int):
        self.fh = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        digest = hashlib.sha256()
        copied = 0
        while chunk := source.read(_CHUNK):
            copied += len(chunk)
            if copied > size:
                raise LeaderboardError("member is longer than its header says")
            digest.update(chunk)
            self.fh.write(chunk)
        self.size = copied
        self.sha256 = digest.hexdigest()

    @classmethod
    def of(cls, data: bytes) -> Member:
        """A member from bytes in memory (what ``submit`` packs)."""
        return cls(io.BytesIO(data), len(data))

    def read(self) -> bytes:
        """All of the member (callers check its size first)."""
        self.fh.seek(0)
        return self.fh.read()

    def lines(self) -> Iterator[bytes]:
        """The member's lines, one at a time."""
        self.fh.seek(0)
        yield from self.fh


class MemoryFiles:
    """The members of a submission (a FileSet for results.read_results), never extracted."""

    def __init__(self, archive: str, members: dict[str, Member]):
        self.archive = archive
        self.members = members

    def results_files(self) -> list[str]:
        """Every member named ``results_*.json``."""
        return sorted(
            n for n in self.members if re.match(r"^results_.+\.json$", PurePosixPath(n).name)
        )

    def has(self, name: str) -> bool:
        """Whether the archive holds ``name``."""
        return name in self.members

    def _checked(self, name: str, limit: int) -> Member:
        member = self.members[name]
        if member.size > limit:
            raise LeaderboardError(f"{self.origin(name)}: {member.size} bytes is over {limit}")
        return member

    def read(self, name: str, limit: int) -> bytes:
        """A member's bytes (refused unread above ``limit``)."""
        return self._checked(name, limit).read()

    def origin(self, name: str) -> str:
        """``archive:member``."""
        return f"{self.archive}:{name}"

    def lines(self, name: str, limit: int) -> Iterator[bytes]:
        """A member's lines (refused unread above ``limit``)."""
        return self._checked(name, limit).lines()


def check_member_name(archive: str, name: str) -> str:
    """Reject names that could escape the archive or are not plain relative paths."""
    if "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise LeaderboardError(f"{archive}: member {name!r} is an absolute or Windows path")
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise LeaderboardError(f"{archive}: member {name!r} has an empty, '.' or '..' component")
    if not all(_NAME_RE.match(p) for p in parts) or len(name) > 300:
        raise LeaderboardError(
            f"{archive}: member name {name!r} has characters outside [A-Za-z0-9._+-]"
        )
    return name


def read_archive(path: Path) -> dict[str, Member]:
    """Read a submission's members into memory, enforcing every rule of the module docstring."""
    origin = str(path)
    try:
        size = os.path.getsize(path)
    except OSError as err:
        raise LeaderboardError(f"{origin}: cannot read ({err.strerror})") from None
    if size > MAX_SUBMISSION_BYTES:
        raise LeaderboardError(
            f"{origin}: submission is {size} bytes, over the limit of {MAX_SUBMISSION_BYTES}"
        )
    members: dict[str, Member] = {}
    total = 0
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for count, info in enumerate(tar, start=1):
                if count > MAX_MEMBERS:
                    raise LeaderboardError(f"{origin}: more than {MAX_MEMBERS} members")
                name = info.name[:-1] if info.name.endswith("/") else info.name
                check_member_name(origin, name)
                if info.isdir():
                    continue
                if not info.isfile():
                    kind = "link" if (info.issym() or info.islnk()) else "special file"
                    raise LeaderboardError(
                        f"{origin}: member {name!r} is a {kind}; only files allowed"
                    )
                if name in members:
                    raise LeaderboardError(f"{origin}: member {name!r} appears twice")
                total += info.size
                if info.size > MAX_MEMBER_BYTES or total > MAX_UNPACKED_BYTES:
                    raise LeaderboardError(
                        f"{origin}: member {name!r} takes the unpacked size over the limit "
                        f"({MAX_MEMBER_BYTES} per file, {MAX_UNPACKED_BYTES} in all)"
                    )
                fh = tar.extractfile(info)
                members[name] = Member(fh, info.size) if fh else Member.of(b"")
    except (tarfile.TarError, gzip.BadGzipFile, EOFError, OSError, zlib.error) as err:
        raise LeaderboardError(f"{origin}: not a readable .tar.gz submission ({err})") from None
    return members


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _no_link(path: Path, root: Path) -> None:
    """Never pack a symbolic link, or a file reached through one (it may point anywhere)."""
    if path.is_symlink() or not path.resolve().is_relative_to(Path(root).resolve()):
        raise LeaderboardError(
            f"{path}: is a symbolic link (or lies behind one); submissions pack regular files "
            "only, copy the file in if it belongs there"
        )
    if not path.is_file():
        raise LeaderboardError(f"{path}: not a regular file")


def _collect(paths: list[Path], provenance: Path | None) -> dict[str, bytes]:
    """Files for a submission: each results file, its samples, and its provenance card."""
    members: dict[str, bytes] = {}
    card_bytes = None
    if provenance is not None:
        _no_link(Path(provenance), Path(provenance).parent)
        card_bytes = Path(provenance).read_bytes()
        check_provenance(load_json(Path(provenance), 1024 * 1024), str(provenance))
    index = 0
    for root in paths:
        files = LocalFiles(root)
        names = files.results_files()
        if not names:
            raise LeaderboardError(f"{root}: no lm-eval results_*.json found")
        for name in names:
            _no_link(files.root / name, files.root)
            read_results(files, name)  # a submission must at least read cleanly
            folder = PurePosixPath(name).parent
            stamp = PurePosixPath(name).name[len("results_") : -len(".json")]
            target = f"results/{index:04d}"
            index += 1
            members[f"{target}/{PurePosixPath(name).name}"] = files.read(name, MAX_RESULTS_BYTES)
            base = files.root / folder.as_posix()
            for sample in sorted(base.glob(f"samples_*_{stamp}.jsonl")):
                _no_link(sample, files.root)
                members[f"{target}/{sample.name}"] = sample.read_bytes()
            if card_bytes is not None:
                members[f"{target}/provenance.json"] = card_bytes
            elif (base / "provenance.json").is_file():
                _no_link(base / "provenance.json", files.root)
                members[f"{target}/provenance.json"] = (base / "provenance.json").read_bytes()
    for name in members:
        check_member_name("submission", name)
    return members


def submit(paths: list[Path], out: Path, provenance: Path | None = None) -> dict:
    """Pack results folders into ``out`` (.tar.gz), written atomically; returns the manifest."""
    members = _collect(paths, provenance)
    packed = {n: Member.of(b) for n, b in members.items()}
    runs = merge_runs(
        [
            read_results(MemoryFiles(str(out), packed), n)
            for n in sorted(members)
            if PurePosixPath(n).name.startswith("results_")
        ]
    )
    manifest = {
        "schema": SCHEMA,
        "models": sorted(runs),
        "files": [
            {"path": n, "sha256": _sha256(members[n]), "size": len(members[n])}
            for n in sorted(members)
        ],
    }
    members[MANIFEST] = (dumps(manifest) + "\n").encode("utf-8")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            # mtime=0 and fixed owners: the same inputs give the same bytes.
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
                with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    for name in [MANIFEST, *sorted(n for n in members if n != MANIFEST)]:
                        info = tarfile.TarInfo(name)
                        info.size = len(members[name])
                        info.mode = 0o644
                        tar.addfile(info, io.BytesIO(members[name]))
        size = os.path.getsize(tmp)
        if size > MAX_SUBMISSION_BYTES:
            raise LeaderboardError(
                f"{out}: submission would be {size} bytes, over {MAX_SUBMISSION_BYTES}"
            )
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a submission is meant to be shared
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return manifest


@dataclass
class Validation:
    """What ``validate`` checked; ``notes`` are facts worth printing, not failures."""

    models: list[str]
    tasks: int
    checks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    runs: dict[str, ModelRun] = field(default_factory=dict)


def _check_manifest(origin: str, members: dict[str, bytes]) -> dict:
    if MANIFEST not in members:
        raise LeaderboardError(f"{origin}: no {MANIFEST} manifest")
    if members[MANIFEST].size > MAX_RESULTS_BYTES:
        raise LeaderboardError(f"{origin}:{MANIFEST}: {members[MANIFEST].size} bytes is too big")
    manifest = loads(members[MANIFEST].read(), f"{origin}:{MANIFEST}")
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        raise LeaderboardError(f"{origin}:{MANIFEST}: schema is not {SCHEMA!r}")
    listed = manifest.get("files")
    if not isinstance(listed, list):
        raise LeaderboardError(f"{origin}:{MANIFEST}: files is not a list")
    names = set()
    for entry in listed:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise LeaderboardError(f"{origin}:{MANIFEST}: bad files entry {entry!r}")
        name = entry["path"]
        if name in names:
            raise LeaderboardError(f"{origin}:{MANIFEST}: {name!r} listed twice")
        names.add(name)
        if name not in members:
            raise LeaderboardError(f"{origin}:{MANIFEST}: lists {name!r}, not in the archive")
        if entry.get("sha256") != members[name].sha256:
            raise LeaderboardError(f"{origin}:{name}: sha256 differs from the manifest")
    extra = sorted(set(members) - names - {MANIFEST})
    if extra:
        raise LeaderboardError(f"{origin}: member {extra[0]!r} is not listed in {MANIFEST}")
    return manifest


def check_submission(path: Path) -> Validation:
    """What ``build`` and ``validate`` both check of a submission: archive rules, manifest
    members and hashes, results that re-score from their samples, value ranges, one result
    per task and model, provenance cards, twins, and the manifest's model list."""
    origin = str(path)
    members = read_archive(Path(path))
    manifest = _check_manifest(origin, members)
    files = MemoryFiles(origin, members)
    names = files.results_files()
    if not names:
        raise LeaderboardError(f"{origin}: no results_*.json member")
    per_file = [read_results(files, n) for n in names]
    checks = [
        "archive members are plain files with safe relative paths, within size caps",
        "manifest lists every member with its sha256",
        f"{len(names)} results file(s) from lm-eval 0.4.13 parse; metrics are finite and "
        "re-score from their samples",
    ]
    # Duplicates: a task may appear once per model across the whole submission.
    seen: dict[tuple[str, str], str] = {}
    for run in per_file:
        for task_name, result in run.tasks.items():
            key = (run.model_id, task_name)
            if key in seen:
                raise LeaderboardError(
                    f"{result.source}: duplicate {task_name} for model {run.model_id!r} "
                    f"(also in {seen[key]})"
                )
            seen[key] = result.source
            if result.samples is None or result.task_hash is None:
                raise LeaderboardError(
                    f"{result.source}: {task_name} has no per-sample file or task hash; "
                    "submissions need lm-eval --log_samples output"
                )
            for field_name, value in (("value", result.value), ("stderr", result.stderr)):
                if value is not None and not 0.0 <= value <= 1.0:
                    raise LeaderboardError(
                        f"{result.source}: results.{task_name}.{result.metric} {field_name} "
                        f"is {value}, outside [0, 1]"
                    )
    checks.append("no task twice per model; every task has samples and a task hash")
    checks.append("every task hash equals the hash of its samples file; values lie in [0, 1]")
    runs = merge_runs(per_file)
    if sorted(runs) != sorted(manifest.get("models") or []):
        raise LeaderboardError(
            f"{origin}:{MANIFEST}: models {manifest.get('models')!r} do not match the results "
            f"({sorted(runs)!r})"
        )
    for run in runs.values():
        if run.provenance is None:
            raise LeaderboardError(f"{run.files[0]}: model {run.model_id!r} has no provenance card")
        check_twins(run)
        check_run(run)
    checks.append(
        "every model has a provenance card; every clean task has its adversarial twins; "
        "no task scored on a parallel half the model was trained on"
    )
    n_tasks = sum(len(r.tasks) for r in runs.values())
    return Validation(sorted(runs), n_tasks, checks, runs=runs)


def validate(path: Path, task_dirs: list[Path], reference: Path | None = None) -> Validation:
    """Check a submission: :func:`check_submission`, then installed tasks and the reference."""
    result = check_submission(path)
    runs = result.runs
    installed = installed_tasks(task_dirs)
    if not installed:
        raise LeaderboardError(
            "no installed xtreme_* task YAMLs found; pass --tasks-dir "
            "(the tasks folder of harness_tasks)"
        )
    _check_installed(runs, installed)
    result.checks.append(
        f"task versions match {len(installed)} installed task YAMLs; languages covered"
    )
    if reference is not None:
        _check_reference(runs, Path(reference))
        result.checks.append(
            f"task hashes match the reference {reference}; models already on it carry the "
            "same provenance"
        )
    return result


def _check_installed(runs: dict[str, ModelRun], installed: dict[str, InstalledTask]) -> None:
    langs_installed: dict[str, set[str]] = {}
    for name in installed:
        parsed = parse_task(name)
        if parsed is not None and parsed.attack is None:
            langs_installed.setdefault(parsed.task, set()).add(parsed.lang)
    for run in runs.values():
        families: dict[str, set[str]] = {}
        for task_name, result in sorted(run.tasks.items()):
            spec = installed.get(task_name)
            if spec is None:
                if result.name.attack is None:
                    raise LeaderboardError(f"{result.source}: {task_name} is not an installed task")
                continue  # adversarial sets are generated per site; checked when present
            if not same_version(spec.version, result.version):
                raise LeaderboardError(
                    f"{result.source}: versions.{task_name} is {result.version}, but the "
                    f"installed task {spec.path} has version {spec.version}"
                )
            if result.name.attack is None:
                families.setdefault(result.name.task, set()).add(result.name.lang)
        for task, langs in families.items():
            missing = sorted(langs_installed.get(task, set()) - langs)
            if missing:
                raise LeaderboardError(
                    f"{run.files[0]}: model {run.model_id!r} covers {task} in {len(langs)} "
                    f"languages; missing {', '.join(missing)}"
                )


def _check_reference(runs: dict[str, ModelRun], reference: Path) -> None:
    data = load_json(reference)
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise LeaderboardError(f"{reference}: not a leaderboard.json (no rows)")
    hashes: dict[str, str] = {}
    for row in data["rows"]:
        if not isinstance(row, dict):
            continue
        adv = f"xtreme_adv_{row.get('task')}_{row.get('attack')}_{row.get('lang')}"
        clean = f"xtreme_{row.get('task')}_{row.get('lang')}"
        for name, key in ((clean, "task_hash_clean"), (adv, "task_hash_adv")):
            if isinstance(row.get(key), str):
                hashes.setdefault(name, row[key])
    _check_same_provenance(runs, data, reference)
    for run in runs.values():
        for task_name, result in run.tasks.items():
            ref = hashes.get(task_name)
            if ref is not None and result.task_hash != ref:
                raise LeaderboardError(
                    f"{result.source}: task_hashes.{task_name} is {result.task_hash}, but the "
                    f"reference {reference} has {ref} (different documents or prompts)"
                )


IDENTITY = ("weights_sha256", "base_model.sha256", "recipe", "seed")


def _identity(card: dict | None, weights: str | None) -> dict[str, object]:
    card = card or {}
    base = card.get("base_model") if isinstance(card.get("base_model"), dict) else {}
    return {
        "weights_sha256": weights or card.get("weights_sha256"),
        "base_model.sha256": base.get("sha256"),
        "recipe": card.get("recipe"),
        "seed": card.get("seed"),
    }


def _check_same_provenance(runs: dict[str, ModelRun], data: dict, reference: Path) -> None:
    """A submission may not replace a model already on the board with another checkpoint."""
    on_board = {m.get("model"): m for m in data.get("models") or [] if isinstance(m, dict)}
    for run in runs.values():
        old = on_board.get(run.model_id)
        if old is None:
            continue
        mine = _identity(run.provenance, run.weights_sha256)
        theirs = _identity(old.get("provenance"), old.get("weights_sha256"))
        for key in IDENTITY:
            if mine[key] != theirs[key]:
                raise LeaderboardError(
                    f"{run.files[0]}: model {run.model_id!r} is already on {reference} with "
                    f"{key} {theirs[key]!r}; this submission has {mine[key]!r} (a new "
                    "checkpoint needs a new model id)"
                )
