"""SHA-256 of files and file sets, for provenance cards."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of one file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_files(paths: Iterable[str | Path]) -> str:
    """Hex SHA-256 of a set of files: one file's own hash, else a hash over (name, hash) pairs.

    Names are the base names so the hash does not depend on where the data folder lives.
    """
    paths = sorted(Path(p) for p in paths)
    if len(paths) == 1:
        return sha256_file(paths[0])
    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{path.name}\t{sha256_file(path)}\n".encode())
    return digest.hexdigest()
