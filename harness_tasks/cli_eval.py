"""``xtreme-adv eval ARGS...``: lm-eval's own command line with this plugin registered.

Every lm-eval subcommand and flag works unchanged (``eval ls tasks``, ``eval run --tasks
'xtreme_*' ...``, ``--include_path``, ``--log_samples``). Before handing over, task names that
look like ours are checked so that a typo in a task or language, or an adversarial set not
built yet, gets a one-line answer instead of lm-eval's long listing; afterwards the results
files written get an ``xtreme_adv`` section with the split and data hash of each task.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from harness_tasks import __version__, tasks_path
from harness_tasks.errors import XtremeAdvError
from harness_tasks.families import FAMILIES
from harness_tasks.registration import (
    adversarial_tasks_path,
    cache_templates,
    install_task_manager,
    register_model,
)
from harness_tasks.weights import adaptive_attack_name, weights_sha256

_CLEAN = re.compile(r"^xtreme_(?P<task>[a-z]+)_(?P<lang>[a-z]{2,3})$")
# <attack>: a family, or adaptive-<family>-<10 hex of the attacked weights> (attack adaptive)
_ADV = re.compile(
    r"^xtreme_adv_(?P<task>[a-z]+)_(?P<attack>[a-z]+|adaptive-[a-z]+-[0-9a-f]{10})"
    r"_(?P<lang>[a-z]{2,3})$"
)


# The adaptive set built against the checkpoint being evaluated (``pretrained=DIR``).
_SELF = re.compile(r"^xtreme_adv_(?P<task>[a-z]+)_adaptive-(?P<family>[a-z]+)-self_(?P<lang>\w+)$")


def _option(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _check_include(path: Path, task: str, attack: str, lang: str) -> None:
    """A set's YAML written before they held their configuration includes the clean YAML of
    the installation that built it; once that is gone, say so (building again rewrites it)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("include: "):
            included = Path(line.removeprefix("include: ").strip())
            if included.is_absolute() and not included.is_file():
                raise XtremeAdvError(
                    f"{path}: include {included} does not exist (the set was built by another "
                    "installation); running its build again rewrites the YAML: "
                    + _build_hint(task, attack, lang).removeprefix("build it with: ")
                )


def _build_hint(task: str, attack: str, lang: str) -> str:
    """How to build a missing adversarial set (adaptive sets come from ``attack adaptive``)."""
    if attack.startswith("adaptive-"):
        family = attack.split("-")[1]
        return (
            f"an adaptive set is built against its checkpoint with: xtreme-adv attack adaptive "
            f"--model CHECKPOINT --task {task} --lang {lang} --attack {family}"
        )
    return f"build it with: xtreme-adv attack build --task {task} --langs {lang} --attack {attack}"


def _with_option(argv: list[str], name: str, value: str) -> list[str]:
    """``argv`` with the value of option ``name`` (``--name V`` or ``--name=V``) replaced."""
    out = list(argv)
    for i, arg in enumerate(out):
        if arg == name and i + 1 < len(out):
            out[i + 1] = value
            return out
        if arg.startswith(name + "="):
            out[i] = f"{name}={value}"
            return out
    return out


def resolve_self_sets(names: list[str], model_args: str | None) -> list[str]:
    """Replace ``xtreme_adv_<task>_adaptive-<family>-self_<lang>`` by the name of the adaptive
    set built against the evaluated checkpoint (``--model_args pretrained=DIR``): ``self`` is
    the first 10 hex digits of its weights' SHA-256, as ``attack adaptive`` names the set. A
    study plans these before the checkpoint exists; a user need not hash weights by hand."""
    wanted = [m for m in map(_SELF.match, names) if m]
    if not wanted:
        return names
    from lm_eval.utils import simple_parse_args_string

    args = simple_parse_args_string(model_args) if model_args else {}
    pretrained = args.get("pretrained")
    first = wanted[0].string
    if not pretrained or not Path(str(pretrained)).is_dir():
        raise XtremeAdvError(
            f"--tasks {first}: '-self' names the set attacked against the evaluated checkpoint; "
            f"it needs --model_args pretrained=CHECKPOINT_FOLDER (got {pretrained!r})"
        )
    sha256 = weights_sha256(Path(str(pretrained)))
    if sha256 is None:
        raise XtremeAdvError(f"--tasks {first}: {pretrained} holds no model weights")
    out = []
    for name in names:
        m = _SELF.match(name)
        if m:
            attack = adaptive_attack_name(m["family"], sha256)
            name = f"xtreme_adv_{m['task']}_{attack}_{m['lang']}"
        out.append(name)
    return out


def check_task_names(names: list[str], include_path: str | None = None) -> None:
    """Raise a user error for an explicitly named xtreme task that cannot exist or is unbuilt
    (built: its YAML in ``$XTREME_ADV_DIR/tasks`` or under the user's ``--include_path``)."""
    folders = [adversarial_tasks_path(), *([Path(include_path)] if include_path else [])]
    for name in names:
        if any(ch in name for ch in "*?[") or not name.startswith("xtreme_"):
            continue
        adv = _ADV.match(name)
        if adv:
            family = FAMILIES.get(adv["task"])
            if family is None or adv["lang"] not in family.langs:
                raise XtremeAdvError(
                    f"unknown adversarial task {name!r}: task or language is not part of XTREME"
                )
            found = [y for f in folders if f.is_dir() for y in f.rglob(f"{name}.yaml")]
            if not found:
                looked = " and ".join(str(f) for f in folders)
                raise XtremeAdvError(
                    f"adversarial set {name} is not built (looked in {looked}); "
                    + _build_hint(adv["task"], adv["attack"], adv["lang"])
                )
            _check_include(found[0], adv["task"], adv["attack"], adv["lang"])
            continue
        clean = _CLEAN.match(name)
        family = FAMILIES.get(clean["task"]) if clean else None
        if family is None:
            raise XtremeAdvError(
                f"unknown task {name!r}; XTREME tasks are xtreme_<task>_<lang> "
                f"with <task> in {', '.join(FAMILIES)}"
            )
        if clean["lang"] not in family.langs:
            raise XtremeAdvError(
                f"unknown language {clean['lang']!r} for {family.title} "
                f"({name}); choose from {' '.join(family.langs)}"
            )


def _annotate_results(output_path: str, since: float) -> list[Path]:
    """Add the ``xtreme_adv`` section (split, source, data hash per task) to new results files."""
    from harness_tasks.data import LOADED

    root = Path(output_path)
    candidates = [root] if root.suffix == ".json" else list(root.rglob("results_*.json"))
    written = [p for p in candidates if p.is_file() and p.stat().st_mtime >= since - 1]
    for path in written:
        results = json.loads(path.read_text(encoding="utf-8"))
        tasks = {t: LOADED[t] for t in results.get("results", {}) if t in LOADED}
        groups = group_splits(results.get("group_subtasks", {}), tasks)
        results["xtreme_adv"] = {"version": __version__, "tasks": tasks, "groups": groups}
        for name, info in groups.items():
            if info["split"] == "mixed":
                detail = "; ".join(f"{s}: {' '.join(t)}" for s, t in info["splits"].items())
                sys.stderr.write(
                    f"xtreme-adv eval: warning: group {name} averages different splits "
                    f"({detail}); choose one with --metadata '{{\"split\": ...}}'\n"
                )
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(
            json.dumps(results, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
        )
        os.replace(tmp, path)
    return written


def group_splits(group_subtasks: dict, tasks: dict) -> dict:
    """Per group: the split its tasks scored, or ``"mixed"`` with the tasks of each split.

    XTREME's folders mix splits (PAWS-X de/zh have a labelled test, the others only dev), and a
    group average over both would be neither number; the results say so instead.
    """
    out = {}
    for group, members in group_subtasks.items():
        by_split: dict[str, list[str]] = {}
        for task in members:
            if task in tasks and "split" in tasks[task]:
                by_split.setdefault(tasks[task]["split"], []).append(task)
        if not by_split:
            continue
        protocols = sorted({tasks[t].get("protocol", "xtreme-adv") for t in members if t in tasks})
        info = {"split": next(iter(by_split)) if len(by_split) == 1 else "mixed"}
        if len(by_split) > 1:
            info["splits"] = by_split
        info["protocol"] = protocols[0] if len(protocols) == 1 else "mixed"
        out[group] = info
    return out


def _unwrap_user_error(err: BaseException) -> XtremeAdvError | None:
    while err is not None:
        if isinstance(err, XtremeAdvError):
            return err
        err = err.__cause__ or err.__context__
    return None


def run_lm_eval(argv: list[str]) -> int:
    """Run lm-eval's CLI on ``argv`` with the plugin installed; returns its exit code."""
    from lm_eval.__main__ import HarnessCLI
    from lm_eval.utils import setup_logging

    from harness_tasks.cli import no_abbreviations

    register_model()
    install_task_manager()
    cache_templates()
    setup_logging()
    saved = sys.argv
    sys.argv = ["xtreme-adv eval", *argv]
    try:
        parser = HarnessCLI()
        no_abbreviations(parser._parser)  # --task is not --tasks (as every project parser)
        parser.execute(parser.parse_args())
    except SystemExit as exit_:
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else 1
    finally:
        sys.argv = saved
    return 0


# lm-eval's --batch_size default is 1, which makes an encoder 20-30x slower (a Tatoeba group
# run took 54+ minutes at 1, 144 s at 64); xtreme-encoder gets this unless the user says.
ENCODER_BATCH_SIZE = 64


def with_encoder_batch_size(argv: list[str]) -> list[str]:
    """``argv`` with ``--batch_size 64`` added for ``--model xtreme-encoder`` when not given."""
    if (_option(argv, "--model") or _option(argv, "-M")) != "xtreme-encoder":
        return argv
    if _option(argv, "--batch_size") is not None or _option(argv, "-b") is not None:
        return argv
    if not argv or not (argv[0] == "run" or argv[0].startswith("-")):
        return argv  # other subcommands (ls, validate) take no batch size
    return [*argv, "--batch_size", str(ENCODER_BATCH_SIZE)]


NPROC = "--nproc-per-node"


def data_parallel(argv: list[str]) -> tuple[list[str], int]:
    """``argv`` without ``--nproc-per-node N``, and N (1 when absent)."""
    value = _option(argv, NPROC)
    if value is None:
        return argv, 1
    if not value.isdigit() or int(value) < 1:
        raise XtremeAdvError(f"{NPROC} {value!r}: expected a positive number of processes")
    at = next(i for i, arg in enumerate(argv) if arg.split("=")[0] == NPROC)
    return argv[:at] + argv[at + (1 if "=" in argv[at] else 2) :], int(value)


def launch_command(argv: list[str], nproc: int) -> list[str]:
    """torchrun (``torch.distributed.run``) running ``xtreme-adv eval <argv>`` ``nproc`` times."""
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        "--nproc_per_node", str(nproc), "-m", "harness_tasks.cli", "eval", *argv,
    ]  # fmt: skip


def main(argv: list[str]) -> int:
    """Entry point of ``xtreme-adv eval``."""
    try:
        argv, nproc = data_parallel(argv)
    except XtremeAdvError as err:
        sys.stderr.write(f"xtreme-adv eval: error: {err}\n")
        return 2
    argv = with_encoder_batch_size(argv)
    tasks = _option(argv, "--tasks")
    if tasks:
        names = [t.strip() for t in tasks.split(",") if t.strip()]
        resolved = resolve_self_sets(names, _option(argv, "--model_args"))
        if resolved != names:
            names = resolved
            argv = _with_option(argv, "--tasks", ",".join(names))
        check_task_names(names, _option(argv, "--include_path"))
    if nproc > 1:
        # Checked once here; each rank is lm-eval's data-parallel process (the adapter joins
        # the process group) and rank 0 writes and annotates the results.
        return subprocess.run(launch_command(argv, nproc)).returncode
    start = time.time()
    try:
        code = run_lm_eval(argv)
    except Exception as err:  # noqa: BLE001 - user errors may arrive wrapped by lm-eval
        user = _unwrap_user_error(err)
        if user is None:
            raise
        sys.stderr.write(f"xtreme-adv eval: error: {user}\n")
        return 2
    output = _option(argv, "--output_path") or _option(argv, "-o")
    if code == 0 and output and int(os.environ.get("RANK", "0")) == 0:
        _annotate_results(output, start)
    return code


def tasks_path_main(argv: list[str]) -> int:
    """Entry point of ``xtreme-adv tasks-path``: the folder for ``lm_eval --include_path``."""
    if argv and argv[0] in {"-h", "--help"}:
        print(
            "usage: xtreme-adv tasks-path\n\nPrints the folder of xtreme-adv's task YAMLs, "
            "for stock `lm_eval --include_path` (register `xtreme-encoder` through "
            "`xtreme-adv eval` or the Python API)."
        )
        return 0
    print(tasks_path())
    return 0


def matching_tasks(pattern: str) -> list[str]:
    """Clean task names matching an fnmatch pattern (without building lm-eval's index)."""
    names = [f.task_name(lang) for f in FAMILIES.values() for lang in f.langs]
    return [n for n in names if fnmatch.fnmatch(n, pattern)]
