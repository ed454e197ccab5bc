"""Bilingual dictionaries in MUSE format for code-switching.

MUSE (Conneau et al. 2018) ships one file per pair, ``<src>-<tgt>.txt``, one ``source target``
pair per line separated by a space or a tab, a source word repeated for each translation. A
line with a tab may pair phrases (``ich bin<TAB>i am``): phrase-level code-mixing. The
``dictionary`` parameter is a file, a folder holding ``<lang>-<tgt>.txt`` files (the file for
the language being attacked is picked), a path containing ``{lang}``, or ``hub:<dataset id>``
(a Hub dataset with ``source``/``target`` columns, or MUSE text lines, read with ``datasets``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from harness_tasks.errors import XtremeAdvError


def parse_muse(lines, origin: str) -> dict[str, tuple[str, ...]]:
    """Parse MUSE lines into lower-cased source word -> translations (in file order)."""
    table: dict[str, list[str]] = {}
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        # A tab separates a phrase pair ("ich bin<TAB>i am"); otherwise any whitespace.
        parts = [p.strip() for p in line.split("\t")] if "\t" in line else line.split()
        if len(parts) != 2 or not all(parts):
            raise XtremeAdvError(
                f"{origin}: line {number}: expected 'source target' (MUSE format), got {line!r}"
            )
        src, tgt = parts
        if src.lower() != tgt.lower():
            table.setdefault(src.lower(), [])
            if tgt not in table[src.lower()]:
                table[src.lower()].append(tgt)
    if not table:
        raise XtremeAdvError(f"{origin}: no 'source target' pairs (MUSE format expected)")
    return {k: tuple(v) for k, v in table.items()}


def _file_for(path: Path, lang: str) -> Path:
    if "{lang}" in str(path):
        path = Path(str(path).format(lang=lang))
    if path.is_dir():
        matches = sorted(path.glob(f"{lang}-*.txt"))
        if not matches:
            raise XtremeAdvError(
                f"dictionary folder {path}: no MUSE file {lang}-<target>.txt for language {lang}"
            )
        return matches[0]
    if not path.is_file():
        raise XtremeAdvError(f"dictionary {path}: no such file")
    return path


@functools.cache
def load_dictionary(spec: str, lang: str) -> dict[str, tuple[str, ...]]:
    """Load the dictionary named by ``spec`` for source language ``lang``."""
    if spec.startswith("hub:"):
        return _from_hub(spec[4:], lang)
    path = _file_for(Path(spec).expanduser(), lang)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise XtremeAdvError(f"dictionary {path}: not UTF-8 text ({err.reason})") from None
    return parse_muse(text.splitlines(), str(path))


def _from_hub(dataset_id: str, lang: str) -> dict[str, tuple[str, ...]]:
    import datasets

    name = dataset_id.format(lang=lang)
    try:
        data = datasets.load_dataset(name, split="train")
    except Exception as err:  # noqa: BLE001 - any Hub failure is reported as bad input
        raise XtremeAdvError(f"dictionary hub:{name}: cannot load ({type(err).__name__})") from None
    if {"source", "target"} <= set(data.column_names):
        lines = [f"{s} {t}" for s, t in zip(data["source"], data["target"], strict=True)]
    elif "text" in data.column_names:
        lines = list(data["text"])
    else:
        raise XtremeAdvError(
            f"dictionary hub:{name}: needs columns source/target or text, has {data.column_names}"
        )
    return parse_muse(lines, f"hub:{name}")


def dictionary_identity(spec: str, lang: str) -> dict:
    """The dictionary used for ``lang``: its spec and the SHA-256 of its parsed entries."""
    table = load_dictionary(spec, lang)
    canonical = json.dumps(table, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return {
        "spec": spec,
        "entries": len(table),
        "sha256": hashlib.sha256(canonical).hexdigest(),
    }
