"""CCG supertagging from a local CCGbank (LDC2005T13), the tenth X-STILTs intermediate task.

CCGbank is licensed, so it is only read from a folder the user has. Its ``data/AUTO/<section>/
wsj_*.auto`` files hold, per sentence, an ``ID=...`` line and a tree whose leaves read
``(<L category modified_POS original_POS word predicate_argument_category>)``; the task tags each
word with its category (supertag). Training sections are 02-21, as is standard.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from datasets import Dataset

from trainers.data.readers import from_generator
from trainers.errors import TrainUserError
from trainers.hashing import sha256_files

_LEAF = re.compile(r"\(<L (\S+) \S+ \S+ (\S+) \S+>\s*\)")
TRAIN_SECTIONS = tuple(f"{s:02d}" for s in range(2, 22))


def auto_files(root: Path) -> list[Path]:
    """The training-section AUTO files under a CCGbank folder; a clear error when there are none."""
    root = Path(root)
    if not root.is_dir():
        raise TrainUserError(f"--ccgbank {root}: no such folder")
    candidates = [root / "data" / "AUTO", root / "AUTO", root]
    for auto in candidates:
        files = sorted(f for s in TRAIN_SECTIONS for f in (auto / s).glob("*.auto"))
        if files:
            return files
    raise TrainUserError(
        f"--ccgbank {root}: not a CCGbank folder (expected data/AUTO/<02-21>/wsj_*.auto files)"
    )


def _sentences(paths: list[str], content_sha256: str) -> Iterator[dict]:
    # content_sha256 only keys the datasets cache on the files' bytes.
    del content_sha256
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
        if not any(line.startswith("ID=") for line in lines):
            raise TrainUserError(f"{path}: not a CCGbank AUTO file (no 'ID=' lines)")
        for line in lines:
            if line.startswith("ID=") or not line.strip():
                continue
            leaves = _LEAF.findall(line)
            if not leaves:
                raise TrainUserError(f"{path}: tree without '(<L ...>)' leaves: {line[:60]!r}")
            yield {"tokens": [w for _, w in leaves], "tag_names": [c for c, _ in leaves]}


def read_ccgbank(root: Path) -> tuple[Dataset, tuple[str, ...], list[Path]]:
    """(dataset with tokens/tags, supertag names sorted, files read) from a CCGbank folder."""
    files = auto_files(root)
    # A list of paths is sharded by datasets (each shard reads some files): that is intended.
    ds = from_generator(
        _sentences, {"paths": [str(f) for f in files], "content_sha256": sha256_files(files)}
    )
    names = tuple(sorted({tag for row in ds["tag_names"] for tag in row}))
    index = {name: i for i, name in enumerate(names)}
    ds = ds.map(
        lambda ex: {"tags": [index[t] for t in ex["tag_names"]]}, remove_columns=["tag_names"]
    )
    return ds, names, files
