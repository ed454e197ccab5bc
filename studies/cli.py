"""``xtreme-adv study``: run, resume, shard and report a study.

xtreme-adv study run STUDY.yaml --out DIR        plan the cells, run what is not done
xtreme-adv study run --preset demo --out DIR     a study shipped with the package
xtreme-adv study run ... --shard 0/2             this machine's share (merge: copy folders)
xtreme-adv study run ... --launcher slurm        one submitit job per model group (train, eval)
xtreme-adv study status --out DIR                done / running / failed / skipped / left
xtreme-adv study plan STUDY.yaml --out DIR       the cells and their commands, nothing run
xtreme-adv study presets                         the shipped presets
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import warnings
from collections import Counter
from pathlib import Path

import yaml

from studies import spec
from studies.errors import StudyError
from studies.plan import Cell, cells_of, fingerprint, parse_shard, plan, select
from studies.runner import Runner, State, atomic_write, run_cells_job

PROG = "xtreme-adv study"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (docs/contracts.md section 1)
        raise StudyError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=__doc__,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def study_args(p):
        p.add_argument("study", nargs="?", type=Path, help="study YAML file")
        p.add_argument("--preset", help=f"a shipped study: {', '.join(spec.preset_names())}")
        p.add_argument("--out", type=Path, required=True, help="study folder")
        p.add_argument("--data-dir", type=Path, help="XTREME download folder (overrides)")
        p.add_argument("--intermediate-dir", type=Path, help="intermediate-task files")
        p.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=YAML",
            help="override a study key, e.g. limits.eval_docs=16 (repeatable)",
        )
        p.add_argument("--shard", help="i/n: run this machine's share of the models")

    run = sub.add_parser("run", help="run what is not done", allow_abbrev=False)
    study_args(run)
    run.add_argument("--launcher", choices=("local", "slurm"), default="local")
    run.add_argument(
        "--cluster",
        choices=("auto", "slurm", "local", "debug"),
        default="auto",
        help="submitit executor for --launcher slurm (local/debug: tests)",
    )
    run.add_argument(
        "--slurm-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="submitit parameter, e.g. slurm_partition=gpu (repeatable)",
    )
    run.add_argument("--verbose", action="store_true", help="stream every command's output")
    run.add_argument("--no-progress", action="store_true")
    pl = sub.add_parser("plan", help="list the cells", allow_abbrev=False)
    study_args(pl)
    st = sub.add_parser("status", help="done / running / failed / left", allow_abbrev=False)
    st.add_argument("--out", type=Path, required=True)
    sub.add_parser("presets", help="list the shipped presets", allow_abbrev=False)
    ex = sub.add_parser(
        "export",
        help="copy the report, leaderboard tables, cells and adaptive reports to a folder",
        allow_abbrev=False,
    )
    ex.add_argument("--out", type=Path, required=True, help="study folder")
    ex.add_argument("--to", type=Path, required=True, help="folder to publish, e.g. docs/results/X")
    return parser


def _apply_sets(path: Path, raw: dict, items: list[str]) -> dict:
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise StudyError(f"--set: {item!r} is not KEY=VALUE")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            raise StudyError(f"--set: {item!r}: the value is not YAML") from None
        node = raw
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise StudyError(f"--set: {key!r}: {part} is not a mapping in {path}")
        node[parts[-1]] = parsed
    return raw


def load_study(args) -> spec.Study:
    """The validated study of ``run`` / ``plan`` arguments."""
    if (args.study is None) == (args.preset is None):
        raise StudyError("give a study file or --preset NAME (one of them)")
    path = spec.preset_path(args.preset) if args.preset else args.study
    if not args.set:
        return spec.load(path, args.data_dir, args.intermediate_dir)
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return spec.load(path, args.data_dir, args.intermediate_dir)  # its own error message
    raw = _apply_sets(path, raw if isinstance(raw, dict) else {}, args.set)
    return spec._validate(Path(path), raw, args.data_dir, args.intermediate_dir)


def _check_out(out: Path) -> None:
    parent = out.resolve().parent
    if not parent.is_dir():
        raise StudyError(f"--out {out}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise StudyError(f"--out {out}: {parent} is not writable")
    if out.exists() and not out.is_dir():
        raise StudyError(f"--out {out}: exists and is not a folder")


def _env(study: spec.Study, out: Path, verbose: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["XTREME_ADV_DIR"] = str(out / "adversarial")
    env.setdefault("XTREME_ADV_ONLY_TASKS", "1")
    if study.xtreme_dir is not None:
        env["XTREME_DATA_DIR"] = str(study.xtreme_dir)
    else:
        env.pop("XTREME_DATA_DIR", None)
    if not verbose:  # quiet children: no INFO logs, no tokenizer warnings
        env.setdefault("TRANSFORMERS_VERBOSITY", "error")
        env.setdefault("DATASETS_VERBOSITY", "error")
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        env.setdefault("PYTHONWARNINGS", "ignore")
    return env


def _resolve_embedded(study: spec.Study) -> None:
    """``embedded[:N]`` bases become the cached converted folder (``xtreme-adv model path``,
    built on first use), so no study copies the model."""
    import dataclasses
    import subprocess

    from studies.runner import xtreme_adv_command

    for i, base in enumerate(study.base_models):
        if not base.path.startswith("embedded"):
            continue
        layers = base.path.split(":", 1)[1] if ":" in base.path else None
        argv = ["model", "path"] + (["--layers", layers] if layers else [])
        proc = subprocess.run(xtreme_adv_command() + argv, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
        if proc.returncode != 0 or not lines:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise StudyError(f"base model {base.name} ({base.path}): {last}")
        study.base_models[i] = dataclasses.replace(base, path=lines[-1].strip())


def _record(study: spec.Study, out: Path, cells: list[Cell], command: str | None = None) -> None:
    record = {
        "schema": "xtreme-adv/study/1",
        "name": study.name,
        "command": command,  # the `study run` that planned it, as typed
        "file": study.file,
        "fingerprint": fingerprint(cells),
        # attacks of the study that do not apply to a target: no cell is planned for them
        "not_applicable": [list(pair) for pair in study.not_applicable()],
        "cells": [
            {
                "id": c.id,
                "kind": c.kind,
                "output": str(c.output),
                "argv": c.argv,
                "deps": c.deps,
                "group": c.group,
                "skip": c.skip,
            }
            for c in cells
        ],
    }
    atomic_write(out / "study.json", json.dumps(record, indent=1, sort_keys=True) + "\n")


def cmd_run(args) -> int:
    """Plan and run."""
    study = load_study(args)
    shard = parse_shard(args.shard)
    _check_out(args.out)
    out = args.out.resolve()
    _resolve_embedded(study)
    cells = plan(study, out)
    mine = select(cells, shard)
    out.mkdir(exist_ok=True)
    if shard is None or not (out / "study.json").is_file():
        _record(study, out, cells, getattr(args, "command_line", None))
    env = _env(study, out, args.verbose)
    if study.xtreme_dir is None or study.skipped:
        print(
            f"{PROG}: note: no XTREME data folder: cells that need it are skipped (set "
            "XTREME_DATA_DIR or pass --data-dir; see `study status`)"
        )
    from studies.report import write_report

    if args.launcher == "slurm":
        outcome = _run_submitit(args, out, mine, env)
    else:
        runner = Runner(out, env, verbose=args.verbose, progress=not args.no_progress)
        outcome = runner.run(mine, report_fn=write_report)
    counts = Counter(status for status, _ in outcome.values())
    print(f"{study.name}: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    for cid, (status, reason) in outcome.items():
        if status in ("failed",):
            print(f"  {cid}: {status}: {reason}")
    if shard is not None:
        print(
            f"shard {args.shard} finished; copy every shard's folder into one and run "
            "`xtreme-adv study run` without --shard there for the leaderboard and report"
        )
    elif (out / "report.md").is_file():
        print(f"report: {out / 'report.md'}; site: {out / 'site' / 'index.html'}")
    return 1 if counts.get("failed") else 0


def _run_submitit(args, out: Path, cells: list[Cell], env: dict[str, str]) -> dict:
    """Shared cells (models, sets) as one job, then one job per model group, then the board and
    the report as one job; each waits for the one before."""
    import submitit

    params = {}
    for item in args.slurm_arg:
        key, sep, value = item.partition("=")
        if not sep:
            raise StudyError(f"--slurm-arg: {item!r} is not KEY=VALUE")
        params[key] = yaml.safe_load(value)
    cluster = None if args.cluster == "auto" else args.cluster
    executor = submitit.AutoExecutor(folder=str(out / "submitit" / "%j"), cluster=cluster)
    # a day per job unless told otherwise (submitit's own default is an hour)
    executor.update_parameters(**{"timeout_min": 24 * 60, **params})
    outcome: dict = {}
    shared = [c for c in cells if c.group is None and c.kind in ("model", "sets")]
    groups: dict[str, list[Cell]] = {}
    for cell in cells:
        if cell.group:
            groups.setdefault(cell.group, []).append(cell)
    final = [c for c in cells if c.kind in ("leaderboard",)]
    if shared:
        outcome.update(executor.submit(run_cells_job, str(out), shared, env).result())
    if groups:
        with executor.batch():
            jobs = [executor.submit(run_cells_job, str(out), g, env) for g in groups.values()]
        for job in jobs:
            outcome.update(job.result())
    if final:
        outcome.update(executor.submit(run_cells_job, str(out), final, env).result())
        report = [c for c in cells if c.kind == "report"]
        from studies.report import write_report

        outcome.update(Runner(out, env, progress=False).run(report, report_fn=write_report))
    return outcome


def cmd_plan(args) -> int:
    """Print the cells."""
    study = load_study(args)
    cells = select(plan(study, args.out.resolve()), parse_shard(args.shard))
    for cell in cells:
        command = "(in-process)" if cell.argv is None else "xtreme-adv " + " ".join(cell.argv)
        skip = f"  [skipped: {cell.skip}]" if cell.skip else ""
        print(f"{cell.id}: {command}{skip}")
    return 0


def cmd_status(args) -> int:
    """Print each cell's state and a summary."""
    out = args.out.resolve()
    if not (out / "study.json").is_file():
        raise StudyError(f"--out {args.out}: no study here (no study.json)")
    state = State(out)
    counts: Counter = Counter()
    kinds: dict[str, Counter] = {}
    for cell in cells_of(out):
        info = state.read(cell)
        status = info["status"]
        if status == "done" and not state.done(cell):
            status = "left"
        counts[status] += 1
        kinds.setdefault(cell.kind, Counter())[status] += 1
        if status in ("failed", "skipped", "running"):
            why = info.get("reason") or f"pid {info.get('pid')} on {info.get('host')}"
            print(f"{cell.id}: {status}: {why}")
    for kind, c in kinds.items():
        total = sum(c.values())
        bar = "#" * round(20 * c["done"] / total)
        print(
            f"{kind:<11} [{bar:<20}] {c['done']}/{total} done"
            + "".join(f", {n} {k}" for k, n in sorted(c.items()) if k != "done")
        )
    print("total: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``xtreme-adv study``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv or argv[0] in ("-h", "--help"):
            _parser().print_help()
            return 0
        args = _parser().parse_args(argv)
        args.command_line = f"{PROG} {shlex.join(argv)}"
        if getattr(args, "verbose", False) is False:
            logging.getLogger().setLevel(logging.ERROR)
            warnings.filterwarnings("ignore")
        if args.command == "presets":
            for name in spec.preset_names():
                print(f"{name}: {spec.preset_path(name)}")
            return 0
        if args.command == "run":
            return cmd_run(args)
        if args.command == "plan":
            return cmd_plan(args)
        if args.command == "export":
            from studies.export import export

            written = export(args.out, args.to)
            print(f"{len(written)} files -> {args.to}")
            return 0
        return cmd_status(args)
    except StudyError as err:
        sys.stderr.write(f"{PROG}: error: {err}\n")
        return 2
    except SystemExit as stop:  # --help inside a sub-parser
        return int(stop.code or 0)
