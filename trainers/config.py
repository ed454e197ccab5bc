"""A run's full configuration: task presets, then ``--preset``, then ``--config`` YAML, then flags.

YAML layout (every key optional)::

    model: intfloat/multilingual-e5-small
    seed: 42
    freeze_embeddings: true
    target: {learning_rate: 2.0e-5, num_train_epochs: 2, max_train_examples: 4000}
    intermediate: {num_train_epochs: 1, multitask_cap: 20000}
    trainer_args: {logging_steps: 20}   # any transformers TrainingArguments field
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from transformers import TrainingArguments

from trainers.data import DataLocations
from trainers.errors import TrainUserError
from trainers.presets import PHASE_FIELDS, PhaseSettings, preset

# Run-level YAML keys (besides the phase sections) and the RunConfig fields they set.
RUN_KEYS = (
    "model", "target", "intermediate_tasks", "seed", "freeze_embeddings", "bf16", "fp16",
    "save_steps", "logging_steps", "save_total_limit", "model_id", "keep_checkpoints",
    "data_dir", "intermediate_dir", "ccgbank", "intermediate_cache",
)  # fmt: skip
_TRAINING_ARGS_FIELDS = {f.name for f in dataclasses.fields(TrainingArguments)}
# TrainingArguments set from PhaseSettings / the run: not to be overridden through trainer_args.
_OWNED = {
    "output_dir", "seed", "data_seed", "learning_rate", "num_train_epochs",
    "per_device_train_batch_size", "gradient_accumulation_steps", "warmup_ratio", "weight_decay",
}  # fmt: skip


@dataclass
class RunConfig:
    """Everything a ``train direct`` / ``train intermediate`` run needs."""

    recipe: str  # "direct" or "intermediate"
    target: str
    out: Path
    model: str | None = None
    intermediate_tasks: list[str] = field(default_factory=list)
    seed: int = 42
    target_settings: PhaseSettings = field(default_factory=PhaseSettings)
    intermediate_settings: PhaseSettings = field(default_factory=PhaseSettings)
    freeze_embeddings: bool = False
    bf16: bool = False
    fp16: bool = False
    save_steps: int = 500
    logging_steps: int = 50
    save_total_limit: int = 2
    trainer_args: dict = field(default_factory=dict)
    data: DataLocations = field(default_factory=DataLocations)
    model_id: str | None = None
    keep_checkpoints: bool = False
    # Intermediate phases shared between runs (trainers.shared_phase); where they are kept does
    # not change what is trained, so it is not compared on resume.
    intermediate_cache: Path | None = None
    command: list[str] | None = None  # the command line, for the card (not compared on resume)
    verbose: bool = False  # libraries' logs and Trainer's log dicts (not compared on resume)

    def record(self, base_sha256: str) -> dict:
        """What makes two runs the same run (compared when resuming in a folder)."""
        return {
            "recipe": self.recipe,
            "model": self.model,
            "base_sha256": base_sha256,
            "target": self.target,
            "intermediate_tasks": list(self.intermediate_tasks),
            "seed": self.seed,
            "target_settings": self.target_settings.as_dict(),
            "intermediate_settings": (
                self.intermediate_settings.as_dict() if self.intermediate_tasks else None
            ),
            "freeze_embeddings": self.freeze_embeddings,
            "bf16": self.bf16,
            "fp16": self.fp16,
            "trainer_args": dict(sorted(self.trainer_args.items())),
            "data": {k: str(v) if v else None for k, v in dataclasses.asdict(self.data).items()},
        }


def _coerce(name: str, value: object, where: str) -> object:
    """Convert a YAML / CLI value to the PhaseSettings field's type."""
    kinds = {f.name: f.type for f in dataclasses.fields(PhaseSettings)}
    kind = str(kinds[name])
    if value is None:
        if "None" in kind:
            return None
        raise TrainUserError(f"{where}: field {name}: a value is required")
    try:
        if kind.startswith("int"):
            number = float(value)
            if number != int(number):
                raise ValueError
            return int(number)
        if kind.startswith("float"):
            return float(value)
    except (TypeError, ValueError):
        raise TrainUserError(f"{where}: field {name}: {value!r} is not a number") from None
    return value


def apply_phase_overrides(settings: PhaseSettings, values: dict, where: str) -> PhaseSettings:
    """``settings`` with ``values`` (field -> value) applied; unknown fields are errors."""
    changes = {}
    for key, value in values.items():
        if key not in PHASE_FIELDS:
            raise TrainUserError(
                f"{where}: unknown field {key!r}; phase fields are {', '.join(PHASE_FIELDS)}"
            )
        changes[key] = _coerce(key, value, where)
    return settings.replace(**changes)


def read_yaml(path: Path) -> dict:
    """The ``--config`` file as a dict, checked for unknown keys."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise TrainUserError(f"--config {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise TrainUserError(
            f"--config {path}: not valid YAML ({str(err).splitlines()[0]})"
        ) from None
    if not isinstance(data, dict):
        raise TrainUserError(f"--config {path}: expected a mapping at the top level")
    allowed = {*RUN_KEYS, "target_settings", "intermediate_settings", "trainer_args",
               "target_preset", "intermediate_preset"}  # fmt: skip
    # "target:" / "intermediate:" as mappings are the phase sections; as strings, run keys.
    for key in list(data):
        if key in ("target", "intermediate") and isinstance(data[key], dict):
            data[f"{key}_settings"] = data.pop(key)
        elif key not in allowed:
            raise TrainUserError(
                f"--config {path}: unknown key {key!r}; allowed: {', '.join(sorted(allowed))}"
            )
    return data


def check_trainer_args(values: dict, where: str) -> dict:
    """Validate extra TrainingArguments fields (``--trainer-arg`` / YAML ``trainer_args``)."""
    for key in values:
        if key not in _TRAINING_ARGS_FIELDS:
            raise TrainUserError(f"{where}: {key!r} is not a transformers TrainingArguments field")
        if key in _OWNED:
            raise TrainUserError(
                f"{where}: {key!r} is set by trainers itself; use the phase setting instead"
            )
    return values


# Allowed values of each phase field: (test, what the error says it must be).
_RULES: dict[str, tuple[Callable[[float], bool], str]] = {
    "learning_rate": (lambda v: v > 0, "> 0"),
    "num_train_epochs": (lambda v: v > 0, "> 0 (0 epochs would publish an untrained model)"),
    "per_device_train_batch_size": (lambda v: v >= 1, "at least 1"),
    "gradient_accumulation_steps": (lambda v: v >= 1, "at least 1"),
    "warmup_ratio": (lambda v: 0 <= v <= 1, "between 0 and 1"),
    "weight_decay": (lambda v: v >= 0, ">= 0"),
    "max_seq_length": (lambda v: v >= 8, "at least 8 tokens"),
    "doc_stride": (lambda v: v >= 1, "at least 1"),
    "max_train_examples": (lambda v: v >= 1, "at least 1 (leave it unset for all)"),
    "multitask_cap": (lambda v: v >= 1, "at least 1 (leave it unset for no cap)"),
}
# The flag each field is set by (the long spelling's short alias where there is one).
_FLAGS = {
    "learning_rate": "lr", "num_train_epochs": "epochs",
    "per_device_train_batch_size": "batch-size", "gradient_accumulation_steps": "grad-accum",
    "max_seq_length": "max-length",
}  # fmt: skip


def phase_flag(name: str, prefix: str = "") -> str:
    """The command-line flag of phase field ``name`` (``prefix`` "intermediate-" or "")."""
    if name == "multitask_cap":
        return "--multitask-cap"
    return f"--{prefix}{_FLAGS.get(name, name.replace('_', '-'))}"


def check_phase_settings(settings: PhaseSettings, prefix: str = "") -> PhaseSettings:
    """Raise, naming the flag and value, when a field is out of its range (or not finite)."""
    for name, (ok, must) in _RULES.items():
        value = getattr(settings, name)
        if value is None:
            continue
        if not math.isfinite(float(value)) or not ok(value):
            raise TrainUserError(f"{phase_flag(name, prefix)} {value}: {name} must be {must}")
    return settings


def check_run_number(value: object, flag: str, minimum: int | None = 1) -> int:
    """A run-level integer setting (``--save-steps`` ...) from a flag or YAML, checked."""
    try:
        number = int(str(value))
    except ValueError:
        raise TrainUserError(f"{flag} {value!r}: not an integer") from None
    if minimum is not None and number < minimum:
        raise TrainUserError(f"{flag} {number}: must be at least {minimum}")
    return number


def phase_settings(
    default_preset: str, chosen: str | None, *sections: tuple[dict, str], prefix: str = ""
) -> PhaseSettings:
    """Preset (the task's, or ``chosen``), then each (overrides, where) section in order;
    the result is range-checked (``prefix``: the phase's flag prefix, for error messages)."""
    settings = preset(chosen or default_preset)
    for values, where in sections:
        settings = apply_phase_overrides(settings, values, where)
    return check_phase_settings(settings, prefix)


def path_or_none(value: object) -> Path | None:
    """A path from a flag / YAML value, None when unset."""
    return Path(str(value)).expanduser() if value not in (None, "") else None
