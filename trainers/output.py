"""What ``xtreme-adv train`` shows: quiet by default, the libraries' logs with ``--verbose``.

Default: one progress bar per training phase (Trainer's own ``ProgressCallback``, named after
the phase, without the log dicts it prints) and one summary line on stdout; transformers,
datasets and Python warnings at ERROR. ``--verbose``: transformers at INFO (Trainer's banner,
"Some weights ... newly initialized", tokenizer warnings), datasets' progress bars, and every
Trainer log dict (``{'loss': ...}``, ``{'train_runtime': ...}``) as Trainer prints them.
Everything goes through the libraries' logging APIs and Trainer's callbacks.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm
from transformers import Trainer, TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback
from transformers.utils import logging as hf_logging

from trainers.runfolder import CARD_FILE

_LOG = logging.getLogger("trainers")


def configure_output(verbose: bool) -> Callable[[], None]:
    """Set the libraries' log levels and progress bars for a ``train`` run, up front; returns
    a function that puts them back (``main`` called in-process leaves no global change)."""
    import datasets

    restore = _saver()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("xtreme-adv train: %(message)s"))
    _LOG.handlers[:] = [handler]
    _LOG.setLevel(logging.INFO if verbose else logging.WARNING)
    if verbose:
        hf_logging.set_verbosity_info()
        hf_logging.enable_progress_bar()
        datasets.logging.set_verbosity_warning()
        datasets.enable_progress_bars()
        return restore
    # The Rust tokenizer's "process just got forked" notice (a fork after tokenizing).
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()  # hub downloads, "Loading checkpoint shards"
    hf_logging.captureWarnings(True)  # Python warnings of the libraries, at ERROR too
    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()  # "Map: 100%|..." while tokenizing
    return restore


def _saver() -> Callable[[], None]:
    """Snapshot of what ``configure_output`` changes, as a function that restores it."""
    import datasets

    hf_level, ds_level = hf_logging.get_verbosity(), datasets.logging.get_verbosity()
    hf_bars, ds_bars = hf_logging.is_progress_bar_enabled(), datasets.is_progress_bar_enabled()
    handlers, level = list(_LOG.handlers), _LOG.level
    tokenizers_env = os.environ.get("TOKENIZERS_PARALLELISM")

    def restore() -> None:
        hf_logging.set_verbosity(hf_level)
        datasets.logging.set_verbosity(ds_level)
        hf_logging.enable_progress_bar() if hf_bars else hf_logging.disable_progress_bar()
        datasets.enable_progress_bars() if ds_bars else datasets.disable_progress_bars()
        hf_logging.captureWarnings(False)
        _LOG.handlers[:] = handlers
        _LOG.setLevel(level)
        if tokenizers_env is None:
            os.environ.pop("TOKENIZERS_PARALLELISM", None)

    return restore


def trainer_log_levels(verbose: bool) -> dict:
    """TrainingArguments fields for the run's verbosity (Trainer sets transformers' level from
    them when it starts). Quiet: the main process keeps the level ``configure_output`` set
    (``passive``: a direct ``pipeline.run`` call changes no global state), replicas (torchrun
    ranks > 0) go to ERROR instead of Trainer's default WARNING."""
    return {
        "log_level": "info" if verbose else "passive",
        "log_level_replica": "warning" if verbose else "error",
        "disable_tqdm": False,
    }


class PhaseProgress(ProgressCallback):
    """Trainer's progress bar, named after the phase; its log dicts only when verbose."""

    def __init__(self, phase: str, verbose: bool) -> None:
        """``phase``: the bar's label; ``verbose``: also print Trainer's log dicts."""
        super().__init__()
        self.phase = phase
        self.verbose = verbose

    def on_train_begin(self, args, state, control, **kwargs):
        """Open the bar (main process only), labelled with the phase."""
        if state.is_world_process_zero:  # a resumed run starts at its checkpoint's step
            self.training_bar = tqdm(
                total=state.max_steps, initial=state.global_step, desc=self.phase,
                unit="step", dynamic_ncols=True,
            )  # fmt: skip
        self.current_step = state.global_step

    def on_log(self, args, state, control, logs=None, **kwargs):
        """Print Trainer's log dict above the bar only with ``--verbose``."""
        if self.verbose:
            super().on_log(args, state, control, logs=logs, **kwargs)


class LogFinalStep(TrainerCallback):
    """Log the loss at the last step too (Trainer logs every ``logging_steps`` only), so the
    card's ``last_logged_loss`` is the loss at the end of training, short runs included."""

    def on_step_end(self, args, state, control, **kwargs):
        """Ask DefaultFlowCallback's logging for the final step."""
        if state.global_step >= state.max_steps:
            control.should_log = True
        return control


def install_progress(trainer: Trainer, phase: str, verbose: bool) -> None:
    """Replace Trainer's default progress / printer callback by the run's (see module doc)."""
    if trainer.args.disable_tqdm:  # a user's --trainer-arg disable_tqdm=true: no bar
        if not verbose:
            trainer.remove_callback(PrinterCallback)
        return
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(PhaseProgress(phase, verbose))


def summary_line(out: Path) -> str:
    """One line from the finished run's card: model id, folder, final train loss, wall time."""
    card = json.loads((Path(out) / CARD_FILE).read_text(encoding="utf-8"))
    losses = [p["metrics"].get("last_logged_loss") for p in card.get("phases") or []]
    loss = losses[-1] if losses else None
    parts = [f"final train loss {loss:.4f}" if loss is not None else "no training (encoder)"]
    wall = (card.get("run") or {}).get("wall_time_s")
    if wall is not None:
        parts.append(f"wall time {wall:.1f} s")
    return f"finished {card['model_id']}: {Path(out)} ({', '.join(parts)})"


__all__ = [
    "LogFinalStep",
    "PhaseProgress",
    "configure_output",
    "install_progress",
    "summary_line",
    "trainer_log_levels",
]
