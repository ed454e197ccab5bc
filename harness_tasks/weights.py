"""The identity of a checkpoint folder's weights (no heavy imports: used by every package)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def weight_files(folder: Path) -> list[Path]:
    """The weight files of a transformers folder: safetensors (shards included), else torch's."""
    folder = Path(folder)
    return sorted(folder.glob("*.safetensors")) or sorted(folder.glob("pytorch_model*.bin"))


# Hashes computed in this process, by (file, inode, size, mtime) of every weight file: one process
# attacking a checkpoint in eleven languages, or scoring it on its own sets, reads its
# weights (470 MB for e5-small) once; a rewritten or replaced file is another key.
_MEMO: dict[tuple, str] = {}


def weights_sha256(folder: Path) -> str | None:
    """SHA-256 over the bytes of the folder's weight files in name order; None without any.
    A single-file checkpoint's value is that file's SHA-256 (the cards' ``weights_sha256``)."""
    files = weight_files(folder)
    if not files:
        return None
    stamps = []
    for file in files:
        stat = file.stat()
        stamps.append((str(file.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns))
    key = tuple(stamps)
    if key not in _MEMO:
        digest = hashlib.sha256()
        for file in files:
            with file.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        _MEMO[key] = digest.hexdigest()
    return _MEMO[key]


def adaptive_attack_name(family: str, weights_sha256: str) -> str:
    """Attack part of an adaptive set's name: ``adaptive-<family>-<first 10 hex of weights>``,
    so sets built against different checkpoints never share a folder or task name."""
    return f"adaptive-{family}-{weights_sha256[:10]}"
