"""Which Trainer checkpoints a killed run may resume from.

transformers' ``get_last_checkpoint`` takes the newest ``checkpoint-N`` folder whatever is in it,
so a kill that lands while Trainer writes a checkpoint (config written, weights half written, no
``trainer_state.json`` yet) leaves a folder every later run fails on. Here a checkpoint is
*complete* when every file Trainer's resume reads is present and intact: ``trainer_state.json``
(parsable, its step matching the folder), the weights (safetensors: header and size agree;
torch pickles: zip CRCs), ``optimizer.pt``, ``scheduler.pt`` and the RNG state(s). Incomplete ones
are set aside (renamed ``incomplete-checkpoint-N``, out of Trainer's ``checkpoint-*`` globs) with
one log line; the newest complete one is resumed.

Hand-written because neither transformers nor accelerate validates a checkpoint folder before
``resume_from_checkpoint`` (they fail half-way through loading).
"""

from __future__ import annotations

import json
import logging
import re
import struct
import zipfile
from pathlib import Path

log = logging.getLogger("trainers")

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
ASIDE_PREFIX = "incomplete-"


def safetensors_ok(path: Path) -> bool:
    """True when ``path`` is a whole safetensors file: its header parses and the byte size is
    exactly 8 + header + the end of the last tensor (a truncated or padded file is not)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            raw = handle.read(8)
            if len(raw) != 8:
                return False
            (header_len,) = struct.unpack("<Q", raw)
            if header_len > size - 8:
                return False
            header = json.loads(handle.read(header_len))
        ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return False
    return size == 8 + header_len + max(ends, default=0)


def torch_file_ok(path: Path) -> bool:
    """True when ``path`` is a whole ``torch.save`` file (zip format, every member's CRC OK)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return False


def _weights_problem(folder: Path) -> str | None:
    single = folder / "model.safetensors"
    if single.is_file():
        return None if safetensors_ok(single) else f"{single.name} is truncated or corrupt"
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (OSError, ValueError, KeyError, AttributeError):
            return f"{index.name} is unreadable"
        bad = [s for s in sorted(shards) if not safetensors_ok(folder / s)]
        return f"weight shard(s) {', '.join(bad)} missing or truncated" if bad else None
    pickle = folder / "pytorch_model.bin"
    if pickle.is_file():
        return None if torch_file_ok(pickle) else f"{pickle.name} is truncated or corrupt"
    return "no weights file"


def checkpoint_problem(folder: Path, world_size: int = 1) -> str | None:
    """Why ``folder`` cannot be resumed from, or None when it is complete.

    ``world_size``: processes of the run (one RNG file each when above 1).
    """
    match = _CHECKPOINT.match(folder.name)
    state_file = folder / "trainer_state.json"
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
        step = int(state["global_step"])
    except (OSError, ValueError, KeyError, TypeError):
        return "trainer_state.json missing or unreadable"
    if match and step != int(match.group(1)):
        return f"trainer_state.json is at step {step}"
    problem = _weights_problem(folder)
    if problem:
        return problem
    rng = [f"rng_state_{i}.pth" for i in range(world_size)] if world_size > 1 else ["rng_state.pth"]
    for name in ["optimizer.pt", "scheduler.pt", *rng]:
        if not (folder / name).is_file():
            return f"{name} missing"
        if not torch_file_ok(folder / name):
            return f"{name} is truncated or corrupt"
    return None


def _step(path: Path) -> int:
    match = _CHECKPOINT.match(path.name)
    return int(match.group(1)) if match else -1


def set_aside_incomplete(output_dir: Path, world_size: int = 1) -> Path | None:
    """Check the ``checkpoint-N`` folders of ``output_dir`` newest first; rename every
    incomplete one newer than the newest complete one out of the way (one log line each).
    Returns the newest complete checkpoint, or None."""
    if not output_dir.is_dir():
        return None
    found = sorted(
        (p for p in output_dir.iterdir() if p.is_dir() and _CHECKPOINT.match(p.name)),
        key=_step,
        reverse=True,
    )
    for folder in found:
        problem = checkpoint_problem(folder, world_size)
        if problem is None:
            return folder
        aside = folder.with_name(ASIDE_PREFIX + folder.name)
        n = 1
        while aside.exists():
            n += 1
            aside = folder.with_name(f"{ASIDE_PREFIX}{n}-{folder.name}")
        folder.rename(aside)
        log.warning("set aside incomplete %s (%s): not resumed from", folder, problem)
    return None
