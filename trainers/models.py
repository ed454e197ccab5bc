"""Base models: resolve ``--model`` to a folder, hash its weights, check heads, freeze layers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from torch import nn
from transformers import AutoConfig, PretrainedConfig

from trainers.checkpoints import safetensors_ok, torch_file_ok
from trainers.errors import TrainUserError
from trainers.hashing import sha256_files
from trainers.heads import HEADS
from trainers.tasks import TaskSpec

_WEIGHT_GLOBS = ("*.safetensors", "*.bin")


@dataclass(frozen=True)
class BaseModel:
    """A resolved base model: the name the user gave, its local folder and weights hash."""

    name: str
    path: Path
    sha256: str
    config: PretrainedConfig
    short_name: str  # for default model ids: "e5s" (embedded) or the id's last component


def embedded_model_path() -> str:
    """The folder of the project's embedded offline model, from ``xtreme-adv model path``."""
    exe = shutil.which("xtreme-adv") or str(Path(sys.executable).with_name("xtreme-adv"))
    try:
        done = subprocess.run(
            [exe, "model", "path"], capture_output=True, text=True, timeout=600, check=False
        )
    except OSError as err:
        raise TrainUserError(
            f"no --model given and `xtreme-adv model path` failed: {err}"
        ) from None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or not Path(lines[-1]).is_dir():
        why = (done.stderr.strip().splitlines() or ["no folder printed"])[-1]
        raise TrainUserError(
            f"no --model given and `xtreme-adv model path` gave no model folder ({why}); "
            "pass --model HUB_ID_OR_FOLDER"
        )
    return lines[-1].strip()


def _download(name: str) -> Path:
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.txt", "*.model", "sentencepiece*", "tokenizer*"]
    try:
        path = Path(snapshot_download(name, allow_patterns=[*patterns, "*.safetensors"]))
        if not any(path.glob("*.safetensors")):  # older repos only ship PyTorch pickles
            path = Path(snapshot_download(name, allow_patterns=[*patterns, "*.bin"]))
    except Exception as err:  # noqa: BLE001 - any Hub failure is reported as one line
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise TrainUserError(
            f"--model {name}: not a local folder, and the Hub download failed ({first[:160]})"
        ) from None
    return path


def resolve_base_model(name: str | None) -> BaseModel:
    """``--model`` (Hub id, folder, or None for the embedded model) as a local, hashed model."""
    embedded = name is None
    name = name or embedded_model_path()
    path = Path(name) if Path(name).is_dir() else _download(name)
    weights = [
        p for pattern in _WEIGHT_GLOBS for p in path.glob(pattern) if not p.name.startswith(".")
    ]
    weights = [p for p in weights if p.suffix == ".safetensors"] or weights
    if not weights:
        raise TrainUserError(f"--model {name}: no weights (*.safetensors or *.bin) in {path}")
    for file in weights:
        if file.suffix == ".safetensors":
            intact = safetensors_ok(file)
        else:  # zip-format torch pickles are checked; legacy (pre-1.6) pickles cannot be
            with open(file, "rb") as handle:
                intact = handle.read(2) != b"PK" or torch_file_ok(file)
        if not intact:
            raise TrainUserError(f"--model {name}: {file} is truncated or corrupt")
    try:
        config = AutoConfig.from_pretrained(path)
    except (OSError, ValueError, KeyError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise TrainUserError(f"--model {name}: {path}/config.json: {first[:200]}") from None
    short = "e5s" if embedded else name.rstrip("/").split("/")[-1].lower()
    return BaseModel(name, path, sha256_files(weights), config, short)


def base_card_settings(base: BaseModel) -> tuple[str, int]:
    """(text_prefix, retrieval_layer) of the base model, from its ``provenance.json``
    (a trained checkpoint's top-level fields, or the embedded model's ``conversion``);
    ("", -1) when it has no card. Carried into every card trained from it."""
    card = base.path / "provenance.json"
    if not card.is_file():
        return "", -1
    try:
        data = json.loads(card.read_text(encoding="utf-8"))
        conversion = data.get("conversion") or {}
        prefix = data.get("text_prefix", conversion.get("text_prefix")) or ""
        layer = int(data.get("retrieval_layer", conversion.get("retrieval_layer", -1)))
    except (OSError, ValueError, TypeError, AttributeError) as err:
        raise TrainUserError(f"--model {base.name}: {card}: unreadable card ({err})") from None
    return str(prefix), layer


def check_head(base: BaseModel, head: str, why: str) -> None:
    """Raise when the base model's architecture has no transformers class for ``head``."""
    mapping = HEADS[head].mapping
    if base.config.model_type not in mapping:
        raise TrainUserError(
            f"--model {base.name}: model_type {base.config.model_type!r} (config.json) has no "
            f"{HEADS[head].auto_class.__name__} head in transformers, needed for {why}"
        )


def check_head_size(base: BaseModel, task: TaskSpec) -> None:
    """Raise when the base checkpoint already has ``task``'s kind of head but with another
    number of labels (transformers would fail loading it half-way into the run)."""
    architectures = getattr(base.config, "architectures", None) or []
    auto = HEADS[task.head].auto_class.__name__.removeprefix("AutoModel")  # e.g. "ForTokenC..."
    has_head = any(a.endswith(auto) for a in architectures) and auto
    if not has_head or not task.labels or base.config.num_labels == len(task.labels):
        return
    raise TrainUserError(
        f"--model {base.name}: {base.path / 'config.json'} has a {base.config.num_labels}-label "
        f"{architectures[0]} head; target {task.name} needs {len(task.labels)} labels "
        f"({', '.join(task.labels)}): start from an encoder or a {task.name} checkpoint"
    )


def freeze_embeddings(model: nn.Module) -> int:
    """Freeze the embedding layer (word, position, type, layer norm); returns parameters frozen.

    The word embeddings are a large share of a multilingual encoder (XLM-R Base: 192M of 278M);
    freezing them saves optimizer memory and time on small machines.
    """
    base = getattr(model, "base_model", model)
    module = getattr(base, "embeddings", None) or model.get_input_embeddings()
    frozen = 0
    for param in module.parameters():
        if param.requires_grad:
            param.requires_grad_(False)
            frozen += param.numel()
    return frozen


def cpu_only() -> bool:
    """True when training must run on CPU (no CUDA device visible)."""
    import torch

    return not torch.cuda.is_available() or os.environ.get("CUDA_VISIBLE_DEVICES") == ""
