"""The training pipeline: pretrained -> (intermediate) -> target, one transformers Trainer a phase.

The encoder carries over between phases; heads are new in each phase. Each phase trains in
``<out>/_work/<phase>`` with periodic Trainer checkpoints, so a killed run resumes from the last
one (Trainer restores optimizer, scheduler, RNG states and the data position). Works unchanged
under ``torchrun`` / ``accelerate launch``: Trainer handles the process group; only the main
process writes the run folder.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from accelerate import PartialState
from transformers import (
    AutoModel,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint

from trainers.checkpoints import set_aside_incomplete
from trainers.config import RunConfig
from trainers.data import TaskData, check_locations, load_task_data
from trainers.data.ccgbank import auto_files
from trainers.data.parallel import merge_exclusions
from trainers.errors import TrainUserError
from trainers.hashing import sha256_file, sha256_files
from trainers.heads import HEADS
from trainers.models import (
    BaseModel,
    base_card_settings,
    check_head,
    check_head_size,
    cpu_only,
    freeze_embeddings,
    resolve_base_model,
)
from trainers.multitask import (
    MultiTaskCollator,
    MultiTaskDataset,
    MultiTaskModel,
    MultiTaskTrainer,
    TaskBatchSampler,
)
from trainers.output import LogFinalStep, install_progress, trainer_log_levels
from trainers.presets import PhaseSettings
from trainers.provenance import build_card, render_model_card, run_environment
from trainers.runfolder import CARD_FILE, WORK, RunFolder, write_json_atomic, write_text_atomic
from trainers.shared_phase import drop_resume_points, phase_folder, phase_lock
from trainers.tasks import (
    CLASSIFICATION,
    ENCODER,
    TaskSpec,
    intermediate_tasks,
    target_task,
)

log = logging.getLogger("trainers")
PHASE_FILE = "phase.json"


def training_arguments(
    config: RunConfig, settings: PhaseSettings, output_dir: Path, multitask: bool = False
) -> TrainingArguments:
    """TrainingArguments of one phase: the phase settings, the run's seed, flags and extras."""
    kwargs = {
        "output_dir": str(output_dir),
        "learning_rate": settings.learning_rate,
        "num_train_epochs": settings.num_train_epochs,
        "per_device_train_batch_size": settings.per_device_train_batch_size,
        "gradient_accumulation_steps": settings.gradient_accumulation_steps,
        "warmup_ratio": settings.warmup_ratio,
        "weight_decay": settings.weight_decay,
        "seed": config.seed,
        "data_seed": config.seed,
        "save_strategy": "steps",
        "save_steps": config.save_steps,
        "save_total_limit": config.save_total_limit,
        "logging_steps": config.logging_steps,
        "report_to": [],
        "bf16": config.bf16,
        "fp16": config.fp16,
        "use_cpu": cpu_only(),
        "save_safetensors": True,
        # Quiet by default: Trainer's log level, its progress bar (trainers.output).
        **trainer_log_levels(config.verbose),
        # Under DDP a multi-task batch leaves the other tasks' heads unused.
        "ddp_find_unused_parameters": multitask,
    }
    kwargs.update(config.trainer_args)
    return TrainingArguments(**kwargs)


class NoFinalCheckpoint(TrainerCallback):
    """Skip the resume checkpoint Trainer writes after the last step (weights, optimizer and
    scheduler: seconds for a small model, minutes for a large one). The phase saves its model
    right after; a run killed in between resumes from the last periodic checkpoint and ends
    with the same weights."""

    def on_step_end(self, args, state, control, **kwargs):
        """Cancel the save that DefaultFlowCallback asked for at the final step only."""
        periodic = state.save_steps > 0 and state.global_step % state.save_steps == 0
        if state.global_step >= state.max_steps and not periodic:
            control.should_save = False
        return control


def _train(trainer: Trainer, output_dir: Path) -> dict:
    """Train, resuming from the newest complete checkpoint in ``output_dir`` if there is one
    (incomplete ones, left by a kill during a checkpoint write, are set aside first)."""
    args = trainer.args
    if args.should_save:  # the main process checks and renames; the others then see the result
        set_aside_incomplete(output_dir, args.world_size)
    args.distributed_state.wait_for_everyone()
    last = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
    if last:
        log.warning("resuming from %s", last)
    result = trainer.train(resume_from_checkpoint=last)
    history = [h for h in trainer.state.log_history if "loss" in h]
    metrics = {
        "global_step": trainer.state.global_step,
        "epoch": trainer.state.epoch,
        "train_loss": result.training_loss if not last else None,
        # The loss of the last logging window (LogFinalStep logs the final step too).
        "last_logged_loss": history[-1]["loss"] if history else None,
        "last_logged_step": history[-1]["step"] if history else None,
        "train_samples_per_second": result.metrics.get("train_samples_per_second"),
        "resumed_from": Path(last).name if last else None,
    }
    return {k: v for k, v in metrics.items() if v is not None}


def _phase_record(
    name: str, data: Sequence[TaskData], settings: PhaseSettings, config: RunConfig,
    args: TrainingArguments, metrics: dict,
) -> dict:  # fmt: skip
    hyper = settings.as_dict()
    if len(data) == 1:
        hyper.pop("multitask_cap")
    hyper.update(
        seed=config.seed,
        freeze_embeddings=config.freeze_embeddings,
        world_size=args.world_size,
        effective_batch_size=args.per_device_train_batch_size
        * args.gradient_accumulation_steps
        * args.world_size,
        bf16=config.bf16,
        fp16=config.fp16,
        **{f"trainer.{k}": v for k, v in sorted(config.trainer_args.items())},
    )
    return {"name": name, "tasks": [d.card() for d in data], "hyperparameters": hyper,
            "metrics": metrics}  # fmt: skip


def _load(task: TaskSpec, config: RunConfig, settings: PhaseSettings) -> TaskData:
    return load_task_data(task, config.data, settings.max_train_examples, config.seed)


def _load_tokenizer(base: BaseModel) -> PreTrainedTokenizerBase:
    try:
        return AutoTokenizer.from_pretrained(base.path)
    except (OSError, ValueError, TypeError, KeyError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise TrainUserError(
            f"--model {base.name}: cannot load its tokenizer ({first[:200]})"
        ) from None


def _require_fast(tokenizer: PreTrainedTokenizerBase, task: TaskSpec) -> None:
    if task.head in ("qa", "tagging") and not tokenizer.is_fast:
        raise TrainUserError(
            f"task {task.name}: needs a fast (Rust) tokenizer for offsets / word ids; "
            f"{type(tokenizer).__name__} is not one"
        )


def intermediate_phase(
    config: RunConfig,
    tasks: Sequence[TaskSpec],
    base: BaseModel,
    tokenizer: PreTrainedTokenizerBase,
    folder: RunFolder,
    callbacks: Sequence[TrainerCallback],
) -> tuple[Path, dict]:
    """Multi-task (or single-task) intermediate training; returns (encoder folder, record).

    With ``config.intermediate_cache`` the phase is trained in (or read from) the folder that
    every run agreeing on its data, settings, seed and base model shares (trainers.shared_phase).
    """
    work = folder.work("intermediate")
    shared = config.intermediate_cache is not None
    if not shared and (work / PHASE_FILE).is_file():
        return work / "encoder", json.loads((work / PHASE_FILE).read_text(encoding="utf-8"))
    settings = config.intermediate_settings
    args = training_arguments(config, settings, work, multitask=True)
    with args.main_process_first(desc="intermediate data"):
        data = [_load(task, config, settings) for task in tasks]
    if shared:
        identity = _phase_record("intermediate", data, settings, config, args, {})
        del identity["metrics"]
        work = phase_folder(config.intermediate_cache, base.sha256, identity)
        args = training_arguments(config, settings, work, multitask=True)
    encoder_dir = work / "encoder"
    with phase_lock(work, hold=shared and args.should_save):
        args.distributed_state.wait_for_everyone()  # the main process holds the lock
        if (work / PHASE_FILE).is_file():
            log.info("intermediate phase already trained: %s", work)
            return encoder_dir, json.loads((work / PHASE_FILE).read_text(encoding="utf-8"))
        record = _train_intermediate(config, data, settings, args, base, tokenizer, callbacks)
        if shared and args.should_save and not config.keep_checkpoints:
            drop_resume_points(work)
        args.distributed_state.wait_for_everyone()
    return encoder_dir, record


def _train_intermediate(
    config: RunConfig,
    data: Sequence[TaskData],
    settings: PhaseSettings,
    args: TrainingArguments,
    base: BaseModel,
    tokenizer: PreTrainedTokenizerBase,
    callbacks: Sequence[TrainerCallback],
) -> dict:
    """Train the intermediate phase in ``args.output_dir``; save its encoder and record there."""
    work = Path(args.output_dir)
    encoder_dir = work / "encoder"
    with args.main_process_first(desc="intermediate features"):
        features = [HEADS[d.task.head].prepare(d.dataset, tokenizer, settings) for d in data]
    set_seed(config.seed)  # head initialisation independent of what ran before in this process
    encoder = AutoModel.from_pretrained(base.path)
    model = MultiTaskModel(
        encoder, [(d.task.name, d.task.head, max(len(d.labels), 1)) for d in data]
    )
    if config.freeze_embeddings:
        freeze_embeddings(encoder)
    sampler = TaskBatchSampler(
        [len(f) for f in features], settings.per_device_train_batch_size,
        settings.multitask_cap, config.seed,
    )  # fmt: skip
    trainer = MultiTaskTrainer(
        model=model,
        args=args,
        train_dataset=MultiTaskDataset(features),
        data_collator=MultiTaskCollator([HEADS[d.task.head].collator(tokenizer) for d in data]),
        processing_class=tokenizer,
        callbacks=[NoFinalCheckpoint(), LogFinalStep(), *callbacks],
        task_batch_sampler=sampler,
    )
    install_progress(trainer, "intermediate", config.verbose)
    metrics = _train(trainer, work)
    metrics["examples_per_epoch"] = dict(
        zip([d.task.name for d in data], sampler.per_task_examples(), strict=True)
    )
    record = _phase_record("intermediate", data, settings, config, args, metrics)
    if trainer.is_world_process_zero():
        shutil.rmtree(encoder_dir, ignore_errors=True)  # a save cut short by a kill
        encoder.save_pretrained(encoder_dir, safe_serialization=True)
        save_tokenizer(tokenizer, encoder_dir)
        write_json_atomic(work / PHASE_FILE, record)
    args.distributed_state.wait_for_everyone()
    return record


def target_phase(
    config: RunConfig,
    task: TaskSpec,
    encoder_dir: Path,
    tokenizer: PreTrainedTokenizerBase,
    folder: RunFolder,
    callbacks: Sequence[TrainerCallback],
) -> tuple[Path, dict]:
    """Fine-tune a fresh transformers head for ``task`` on the encoder in ``encoder_dir``."""
    work = folder.work("target")
    model_dir = work / "model"
    if (work / PHASE_FILE).is_file():
        return model_dir, json.loads((work / PHASE_FILE).read_text(encoding="utf-8"))
    settings = config.target_settings
    head = HEADS[task.head]
    args = training_arguments(config, settings, work)
    with args.main_process_first(desc="target data"):
        data = _load(task, config, settings)
        features = head.prepare(data.dataset, tokenizer, settings)
    kwargs = {}
    if data.labels:
        kwargs = {
            "num_labels": len(data.labels),
            "id2label": dict(enumerate(data.labels)),
            "label2id": {name: i for i, name in enumerate(data.labels)},
        }
    if task.head == CLASSIFICATION:
        # Set now, not by the first training forward pass (transformers does that): a run
        # resumed from its last checkpoint makes no forward pass, and its config.json would
        # differ from an uninterrupted run's.
        kwargs["problem_type"] = "single_label_classification"
    set_seed(config.seed)  # the new head's initialisation must not depend on earlier phases
    model = head.auto_class.from_pretrained(encoder_dir, **kwargs)
    if config.freeze_embeddings:
        freeze_embeddings(model)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=features,
        data_collator=head.collator(tokenizer),
        processing_class=tokenizer,
        callbacks=[NoFinalCheckpoint(), LogFinalStep(), *callbacks],
    )
    install_progress(trainer, "target", config.verbose)
    metrics = _train(trainer, work)
    record = _phase_record("target", [data], settings, config, args, metrics)
    if trainer.is_world_process_zero():
        shutil.rmtree(model_dir, ignore_errors=True)  # a save cut short by a kill
    trainer.save_model(str(model_dir))  # main process only
    if trainer.is_world_process_zero():
        save_tokenizer(tokenizer, model_dir)
    if trainer.is_world_process_zero():
        write_json_atomic(work / PHASE_FILE, record)
    args.distributed_state.wait_for_everyone()
    return model_dir, record


def _publish(model_dir: Path, folder: RunFolder, card_without_hash: dict) -> dict:
    """Move the final checkpoint's files into ``--out``; the card goes last (= finished)."""
    out = folder.out
    staging = out / WORK / "final"
    if staging.exists():
        shutil.rmtree(staging)
    # Hard links: instant for multi-GB weights, and the phase's own copy stays intact until the
    # card is written (a kill in between resumes cleanly).
    shutil.copytree(
        model_dir, staging, ignore=shutil.ignore_patterns("training_args.bin"), copy_function=_link
    )
    weights = staging / "model.safetensors"
    if not weights.is_file():  # sharded checkpoints (large models) hash their index instead
        weights = staging / "model.safetensors.index.json"
    # tokenizer.json holds the whole fast tokenizer; slow-only tokenizers hash their files.
    tokenizer_files = (
        [staging / "tokenizer.json"]
        if (staging / "tokenizer.json").is_file()
        else [
            p
            for p in sorted(staging.iterdir())
            if p.name.startswith(("tokenizer", "sentencepiece"))
        ]
    )
    card = dict(
        card_without_hash,
        weights_sha256=sha256_file(weights),
        tokenizer_sha256=sha256_files(tokenizer_files) if tokenizer_files else None,
    )
    card = build_card(**card)
    write_text_atomic(staging / "README.md", render_model_card(card))
    for item in sorted(staging.iterdir()):
        target = out / item.name
        if target.is_dir():
            shutil.rmtree(target)
        item.replace(target)
    write_json_atomic(out / CARD_FILE, card)
    return card


def _link(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # file systems without hard links
        shutil.copy2(src, dst)
    os.chmod(dst, 0o644)


def default_model_id(config: RunConfig, base: BaseModel, recipe: str) -> str:
    """``<base>-<target>-<recipe>-s<seed>``, intermediate tasks joined by '+'."""
    tasks = "+".join(config.intermediate_tasks)
    if recipe == "intermediate":
        return f"{base.short_name}-{tasks}-{config.target}-s{config.seed}"
    return f"{base.short_name}-{config.target}-{recipe}-s{config.seed}"


def run(config: RunConfig, callbacks: Sequence[TrainerCallback] = ()) -> Path:
    """Run a whole recipe into ``config.out``; returns the finished checkpoint folder.

    ``callbacks`` are extra transformers TrainerCallbacks given to every phase's Trainer.
    """
    target = target_task(config.target)
    inter = (
        intermediate_tasks(",".join(config.intermediate_tasks))
        if config.recipe == "intermediate"
        else []
    )
    started = time.monotonic()
    folder = RunFolder(config.out)
    folder.check_location()  # before anything slow
    if config.fp16 and cpu_only():
        raise TrainUserError("--fp16 needs a CUDA GPU; on CPU use --bf16 or neither")
    if "ccg" in config.intermediate_tasks:  # fail before the run folder is claimed
        if config.data.ccgbank is None:
            raise TrainUserError("task ccg needs a local CCGbank (LDC2005T13): pass --ccgbank DIR")
        auto_files(config.data.ccgbank)
    check_locations(config.data)
    base = resolve_base_model(config.model)
    text_prefix, retrieval_layer = base_card_settings(base)  # its card is checked here
    if inter:
        check_head(base, ENCODER, "intermediate training")
    check_head(base, target.head, f"target task {target.name}")
    if not inter and target.head != ENCODER:
        check_head_size(base, target)
    record = config.record(base.sha256)
    if folder.finished:  # the same command again (a kill after the card): only tidy up
        folder.check(record)
        if PartialState().is_main_process:
            folder.tidy(config.keep_checkpoints)
        log.info("already finished: %s", folder.out)
        return folder.out
    tokenizer = _load_tokenizer(base)
    for task in [*inter, target]:
        _require_fast(tokenizer, task)
    state = PartialState()
    # The main process checks everything (data included: read once here, from the datasets
    # cache later) and then claims the folder; the others then see its run file.
    if state.is_main_process:
        folder.check(record)
        for task in inter:
            _load(task, config, config.intermediate_settings)
        if target.head != ENCODER:
            _load(target, config, config.target_settings)
        folder.claim(record)
    state.wait_for_everyone()
    if not state.is_main_process:
        folder.check(record)
    phases = []
    encoder_dir = base.path
    if inter:
        encoder_dir, phase = intermediate_phase(config, inter, base, tokenizer, folder, callbacks)
        phases.append(phase)
    if target.head == ENCODER:
        # BUCC / Tatoeba: the checkpoint is the encoder itself (as the paper does).
        model_dir = encoder_dir
        if encoder_dir == base.path:
            model_dir = folder.work("encoder")
            if state.is_main_process:
                _save_encoder(base.path, tokenizer, model_dir)
            state.wait_for_everyone()
    else:
        model_dir, phase = target_phase(config, target, encoder_dir, tokenizer, folder, callbacks)
        phases.append(phase)

    recipe = config.recipe if phases else "pretrained"
    if state.is_main_process:
        exclusions = [t["scoring_exclusion"] for p in phases for t in p["tasks"]
                      if t.get("scoring_exclusion")]  # fmt: skip
        precision = "bf16" if config.bf16 else "fp16" if config.fp16 else "fp32"
        card = _publish(
            model_dir,
            folder,
            {
                "model_id": config.model_id or default_model_id(config, base, recipe),
                "recipe": recipe,
                "base_name": base.name,
                "base_sha256": base.sha256,
                "intermediate_tasks": [t.name for t in inter],
                "target_task": target.name,
                "seed": config.seed,
                "phases": phases,
                "text_prefix": text_prefix,
                "retrieval_layer": retrieval_layer,
                "scoring_exclusions": merge_exclusions(exclusions),
                "run": run_environment(
                    config.command, precision, state.num_processes, time.monotonic() - started
                ),
            },
        )
        folder.tidy(config.keep_checkpoints)
        log.info("finished %s: %s", card["model_id"], folder.out)
    state.wait_for_everyone()
    return folder.out


def _save_encoder(path: Path, tokenizer: PreTrainedTokenizerBase, out: Path) -> None:
    model: PreTrainedModel = AutoModel.from_pretrained(path)
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out, safe_serialization=True)
    save_tokenizer(tokenizer, out)


def save_tokenizer(tokenizer: PreTrainedTokenizerBase, out: Path) -> None:
    """Save ``tokenizer`` without the truncation / padding state that preprocessing left on its
    Rust backend (whether preprocessing ran at all depends on the datasets cache), so the
    written ``tokenizer.json`` depends on the tokenizer alone."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        backend.no_truncation()
        backend.no_padding()
    tokenizer.save_pretrained(out)
