"""Run ``xtreme-adv train`` and SIGKILL the process half-way through writing one file.

Usage: ``python -m tests.trainers.killpoint WHERE -- TRAIN_ARGS...`` where ``WHERE`` is
``<folder name>/<file name>`` (e.g. ``checkpoint-6/optimizer.pt``): when Trainer writes that
file, the first half of its real bytes reaches the disk and the process then kills itself with
SIGKILL, as a power cut or ``kill -9`` during a checkpoint write would. Used by the kill tests
and the kill campaign; not part of the package.
"""

from __future__ import annotations

import io
import os
import signal
import sys
import tempfile
from pathlib import Path


def _die_half_written(path: str, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data[: len(data) // 2])
        handle.flush()
        os.fsync(handle.fileno())
    os.kill(os.getpid(), signal.SIGKILL)


def _matches(where: str, path: object) -> bool:
    p = Path(str(path))
    return f"{p.parent.name}/{p.name}" == where


def install(where: str) -> None:
    """Patch the writers Trainer uses (torch.save, safetensors save_file) to die at ``where``."""
    import safetensors.torch
    import torch
    import transformers.modeling_utils
    import transformers.trainer

    real_torch_save = torch.save
    real_save_file = safetensors.torch.save_file

    def torch_save(obj, f, *args, **kwargs):
        if isinstance(f, (str, os.PathLike)) and _matches(where, f):
            buffer = io.BytesIO()
            real_torch_save(obj, buffer, *args, **kwargs)
            _die_half_written(str(f), buffer.getvalue())
        return real_torch_save(obj, f, *args, **kwargs)

    def save_file(tensors, filename, *args, **kwargs):
        if _matches(where, filename):
            with tempfile.TemporaryDirectory() as tmp:
                real_save_file(tensors, f"{tmp}/w", *args, **kwargs)
                data = Path(f"{tmp}/w").read_bytes()
            _die_half_written(str(filename), data)
        return real_save_file(tensors, filename, *args, **kwargs)

    torch.save = torch_save
    transformers.trainer.torch.save = torch_save
    safetensors.torch.save_file = save_file
    transformers.modeling_utils.safe_save_file = save_file


def main(argv: list[str]) -> int:
    """``WHERE -- TRAIN_ARGS...``: install the kill point, then run ``xtreme-adv train``."""
    where, sep, *train_args = argv
    assert sep == "--", "usage: killpoint WHERE -- TRAIN_ARGS..."
    install(where)
    from trainers.cli import main as train

    return train(train_args)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
