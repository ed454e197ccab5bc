"""``xtreme-adv train {direct,intermediate,list}``: argument parsing and error reporting."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

import yaml

from trainers import launch
from trainers.config import (
    RunConfig,
    check_run_number,
    check_trainer_args,
    path_or_none,
    phase_settings,
    read_yaml,
)
from trainers.data import DataLocations, check_locations, describe_source
from trainers.errors import TrainUserError
from trainers.presets import PRESETS, PhaseSettings
from trainers.tasks import INTERMEDIATE_TASKS, TARGET_TASKS, intermediate_tasks, target_task

PROG = "xtreme-adv train"


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so errors come out as the one contract line,
    and takes no abbreviations (``--intermediate`` must never be read as ``--intermediate-dir``).
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise TrainUserError(message)


# Short spellings people type, accepted beside the field names.
_ALIASES = {
    "learning_rate": "lr",
    "num_train_epochs": "epochs",
    "per_device_train_batch_size": "batch-size",
    "gradient_accumulation_steps": "grad-accum",
    "max_seq_length": "max-length",
}


def _phase_flags(
    group: argparse._ArgumentGroup, prefix: str, phase: str, skip: tuple[str, ...]
) -> None:
    """One flag per PhaseSettings field (plus its short alias), ``prefix`` naming the phase."""
    for f in dataclasses.fields(PhaseSettings):
        if f.name in skip:
            continue
        flags = [f"--{prefix}{f.name.replace('_', '-')}"]
        if f.name in _ALIASES:
            flags.append(f"--{prefix}{_ALIASES[f.name]}")
        group.add_argument(
            *flags,
            dest=f"{prefix.replace('-', '_')}{f.name}",
            default=None,
            metavar="N",
            help=f"{phase}: {f.metadata['help']}",
        )


def _add_run_flags(p: argparse.ArgumentParser, intermediate: bool) -> None:
    p.add_argument("--model", help="Hub id or local folder (default: the embedded e5-small)")
    p.add_argument("--target", help=f"target task: {', '.join(TARGET_TASKS)}")
    if intermediate:
        p.add_argument(
            "--intermediate",
            help=f"comma-separated intermediate tasks: {', '.join(INTERMEDIATE_TASKS)}",
        )
    p.add_argument("--out", help="output folder (final checkpoint + resumable work)")
    p.add_argument("--config", help="YAML file with run keys and target:/intermediate: sections")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 42)")
    p.add_argument(
        "--preset", help=f"target-phase preset instead of the task's: {', '.join(PRESETS)}"
    )
    if intermediate:
        p.add_argument("--intermediate-preset", help="intermediate-phase preset")
        p.add_argument(
            "--intermediate-cache",
            metavar="DIR",
            help="train the intermediate phase once into DIR and reuse it in every run with "
            "the same base model, intermediate data, settings and seed (one per target)",
        )
    p.add_argument(
        "--freeze-embeddings",
        action="store_true",
        default=None,
        help="freeze the embedding layer (saves memory and time)",
    )
    p.add_argument("--bf16", action="store_true", default=None, help="bfloat16 mixed precision")
    p.add_argument("--fp16", action="store_true", default=None, help="float16 (CUDA only)")
    p.add_argument("--data-dir", help="XTREME download folder (default: $XTREME_DATA_DIR)")
    p.add_argument(
        "--intermediate-dir", help="local intermediate-task files (anli/, cosmosqa/ ...)"
    )
    p.add_argument("--ccgbank", help="CCGbank folder (for the ccg intermediate task)")
    p.add_argument("--save-steps", default=None, help="checkpoint every N steps (500)")
    p.add_argument("--logging-steps", default=None, help="log every N steps (50)")
    p.add_argument("--save-total-limit", default=None, help="checkpoints kept (2)")
    p.add_argument("--model-id", help="model_id in the provenance card (default: derived)")
    p.add_argument(
        "--nproc-per-node",
        default=None,
        metavar="N",
        help="run as N data-parallel processes under torchrun (one per GPU; default 1)",
    )
    p.add_argument(
        "--keep-checkpoints",
        action="store_true",
        default=None,
        help="keep the intermediate Trainer checkpoints under OUT/_work",
    )
    p.add_argument(
        "--trainer-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other transformers TrainingArguments field (repeatable)",
    )
    p.add_argument(
        "--verbose",
        action="store_true",
        help="show the libraries' logs and warnings and Trainer's log lines "
        "(default: a progress bar per phase and one summary line)",
    )
    p.add_argument(
        "--max-train-examples",
        default=None,
        metavar="N",
        help="use at most N examples per task in every phase (small runs)",
    )
    g = p.add_argument_group("target phase (override the preset)")
    _phase_flags(g, "", "target phase", skip=("max_train_examples", "multitask_cap"))
    if intermediate:
        g = p.add_argument_group("intermediate phase (override the preset)")
        _phase_flags(g, "intermediate-", "intermediate phase", skip=("multitask_cap",))
        g.add_argument(
            "--multitask-cap",
            dest="intermediate_multitask_cap",
            default=None,
            metavar="N",
            help="multi-task sampling: a task contributes at most N examples per epoch "
            "(tasks are sampled in proportion to min(size, N)); default: no cap",
        )


def build_parser() -> argparse.ArgumentParser:
    """The ``xtreme-adv train`` parser."""
    parser = _Parser(prog=PROG, description="Fine-tune encoders for XTREME, with provenance.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    direct = sub.add_parser("direct", help="fine-tune on the target task only")
    _add_run_flags(direct, intermediate=False)
    inter = sub.add_parser("intermediate", help="intermediate task(s), then the target task")
    _add_run_flags(inter, intermediate=True)
    listing = sub.add_parser(
        "list", help="list tasks with their heads, presets and where their data comes from here"
    )
    listing.add_argument("--data-dir", help="XTREME download folder (default: $XTREME_DATA_DIR)")
    listing.add_argument("--intermediate-dir", help="local intermediate-task files")
    listing.add_argument("--ccgbank", help="CCGbank folder")
    return parser


def _phase_values(ns: argparse.Namespace, prefix: str) -> dict:
    return {
        f.name: getattr(ns, f"{prefix}{f.name}")
        for f in dataclasses.fields(PhaseSettings)
        if getattr(ns, f"{prefix}{f.name}", None) is not None
    }


def _trainer_args(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise TrainUserError(f"--trainer-arg {item!r}: expected KEY=VALUE")
        out[key.strip()] = yaml.safe_load(value)
    return check_trainer_args(out, "--trainer-arg")


def _cache_folder(ns: argparse.Namespace, pick, where: str) -> Path | None:
    """``--intermediate-cache``: a folder or a path where one can be created."""
    value = pick(getattr(ns, "intermediate_cache", None), "intermediate_cache")
    if value is None:
        return None
    if ns.command != "intermediate":
        raise TrainUserError(f"{where}: intermediate_cache is for `train intermediate`")
    folder = Path(str(value))
    if folder.exists() and not folder.is_dir():
        raise TrainUserError(f"--intermediate-cache {folder}: exists and is not a folder")
    return folder


def config_from_args(ns: argparse.Namespace) -> RunConfig:
    """Resolve presets, ``--config`` and flags into a RunConfig (precedence in that order)."""
    yml = read_yaml(ns.config) if ns.config else {}
    where = f"--config {ns.config}"

    def pick(flag: object, key: str, default: object = None) -> object:
        return flag if flag is not None else yml.get(key, default)

    target_name = pick(ns.target, "target")
    if not target_name:
        raise TrainUserError("--target is required (e.g. --target xnli)")
    target = target_task(str(target_name))
    out = pick(ns.out, "out")
    if not out:
        raise TrainUserError("--out is required (the folder the checkpoint goes to)")
    inter_names: list[str] = []
    inter_specs = []
    if ns.command == "intermediate":
        value = pick(getattr(ns, "intermediate", None), "intermediate_tasks")
        if isinstance(value, list):
            value = ",".join(value)
        inter_specs = intermediate_tasks(str(value or ""))
        inter_names = [t.name for t in inter_specs]
    elif yml.get("intermediate_tasks"):
        raise TrainUserError(f"{where}: intermediate_tasks is for `train intermediate`")

    shared = {}
    if ns.max_train_examples is not None:
        shared["max_train_examples"] = ns.max_train_examples
    target_settings = (
        phase_settings(
            target.preset,
            pick(ns.preset, "target_preset"),
            (yml.get("target_settings", {}), f"{where}: target"),
            (shared, "--max-train-examples"),
            (_phase_values(ns, ""), "flags"),
        )
        if target.preset
        else PhaseSettings()
    )
    inter_settings = PhaseSettings()
    if inter_specs:
        # QA intermediate tasks get the QA preset unless mixed with others.
        default = (
            "jiant-intermediate-qa"
            if all(t.head == "qa" for t in inter_specs)
            else "jiant-intermediate"
        )
        inter_settings = phase_settings(
            default,
            pick(getattr(ns, "intermediate_preset", None), "intermediate_preset"),
            (yml.get("intermediate_settings", {}), f"{where}: intermediate"),
            (shared, "--max-train-examples"),
            (_phase_values(ns, "intermediate_"), "flags"),
            prefix="intermediate-",
        )
    trainer_args = check_trainer_args(dict(yml.get("trainer_args") or {}), f"{where}: trainer_args")
    trainer_args.update(_trainer_args(ns.trainer_arg))
    data_dir = pick(ns.data_dir, "data_dir") or os.environ.get("XTREME_DATA_DIR")
    seed = pick(ns.seed, "seed", 42)
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        raise TrainUserError(f"{where}: field seed: {seed!r} is not an integer") from None
    if not 0 <= seed < 2**32:
        raise TrainUserError(f"--seed {seed}: must be between 0 and 2**32 - 1")
    return RunConfig(
        recipe=ns.command,
        target=target.name,
        out=path_or_none(out),
        model=pick(ns.model, "model"),
        intermediate_tasks=inter_names,
        seed=seed,
        target_settings=target_settings,
        intermediate_settings=inter_settings,
        freeze_embeddings=bool(pick(ns.freeze_embeddings, "freeze_embeddings", False)),
        bf16=bool(pick(ns.bf16, "bf16", False)),
        fp16=bool(pick(ns.fp16, "fp16", False)),
        save_steps=check_run_number(pick(ns.save_steps, "save_steps", 500), "--save-steps"),
        logging_steps=check_run_number(
            pick(ns.logging_steps, "logging_steps", 50), "--logging-steps"
        ),
        save_total_limit=check_run_number(
            pick(ns.save_total_limit, "save_total_limit", 2), "--save-total-limit"
        ),
        trainer_args=trainer_args,
        data=DataLocations(
            xtreme_dir=path_or_none(data_dir),
            intermediate_dir=path_or_none(pick(ns.intermediate_dir, "intermediate_dir")),
            ccgbank=path_or_none(pick(ns.ccgbank, "ccgbank")),
        ),
        model_id=pick(ns.model_id, "model_id"),
        keep_checkpoints=bool(pick(ns.keep_checkpoints, "keep_checkpoints", False)),
        intermediate_cache=_cache_folder(ns, pick, where),
        verbose=bool(ns.verbose),
    )


def list_tasks(where: DataLocations | None = None) -> str:
    """The text of ``train list``: per task its role, head, preset, whether it runs offline
    with the given data folders and from what (else the Hub ids); then the presets."""
    where = where or DataLocations()
    rows = [
        "task            role          head             preset                 offline  "
        "data here (what it trains on)"
    ]
    for spec in [*INTERMEDIATE_TASKS.values(), *TARGET_TASKS.values()]:
        offline, source = describe_source(spec, where)
        rows.append(
            f"{spec.name:<15} {spec.role:<13} {spec.head:<16} {spec.preset or '-':<22} "
            f"{offline:<8} {source}"
        )
    rows += ["", "presets (jiant XTREME recipe):"]
    for name, (settings, about) in PRESETS.items():
        s = settings
        rows.append(
            f"  {name:<22} lr={s.learning_rate:g} epochs={s.num_train_epochs:g} "
            f"batch={s.per_device_train_batch_size}x{s.gradient_accumulation_steps} "
            f"warmup={s.warmup_ratio:g} max_len={s.max_seq_length}  # {about}"
        )
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``xtreme-adv train``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        ns = build_parser().parse_args(argv)
        if ns.command is None:
            build_parser().print_help()
            return 2
        if ns.command == "list":
            data_dir = ns.data_dir or os.environ.get("XTREME_DATA_DIR")
            where = DataLocations(
                xtreme_dir=path_or_none(data_dir),
                intermediate_dir=path_or_none(ns.intermediate_dir),
                ccgbank=path_or_none(ns.ccgbank),
            )
            check_locations(where)
            sys.stdout.write(list_tasks(where))
            return 0
        config = config_from_args(ns)
        nproc = check_run_number(
            ns.nproc_per_node if ns.nproc_per_node is not None else 1, "--nproc-per-node"
        )
        if nproc > 1 and not launch.inside_launcher():
            return launch.relaunch(argv, nproc)  # the arguments were checked here, once
        config.command = ["xtreme-adv", "train", *argv]
        from trainers.output import configure_output, summary_line  # heavy imports: training

        restore = configure_output(config.verbose)
        try:
            from accelerate import PartialState

            from trainers.pipeline import run

            out = run(config)
            if PartialState().is_main_process:
                print(summary_line(out), flush=True)
        finally:
            restore()
        return 0
    except TrainUserError as err:
        sys.stderr.write(f"{PROG}: error: {err}\n")
        return 2
    except OSError as err:  # a folder that cannot be written, a file that vanished ...
        if os.environ.get("XTREME_ADV_DEBUG") == "1":
            raise
        where = " -> ".join(str(p) for p in (err.filename, err.filename2) if p is not None)
        sys.stderr.write(f"{PROG}: error: {where or 'I/O'}: {err.strerror or err}\n")
        return 2


__all__ = ["main", "build_parser", "config_from_args", "list_tasks"]
