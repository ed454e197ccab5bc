"""Reading untrusted JSON / JSONL: size caps, no NaN or Infinity, errors that name the file."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from leaderboards.errors import LeaderboardError

# One lm-eval results file with 100 subtasks is ~250 KB; samples files grow with the test set.
MAX_RESULTS_BYTES = 64 * 1024 * 1024
# The largest XTREME test set logs ~40 MB of samples (MLQA-en, long contexts); 256 MiB leaves
# room while refusing a decompression bomb before a byte of it is parsed.
MAX_SAMPLES_BYTES = 256 * 1024 * 1024


def loads(text: str | bytes, origin: str) -> Any:
    """Parse JSON text; errors name ``origin``.

    NaN/Infinity parse (lm-eval writes them, e.g. a stderr of NaN); every number this package
    uses goes through :func:`finite`, which names the field that holds a non-finite value.
    """
    try:
        return json.loads(text)
    except RecursionError:  # hostile nesting ([[[[...) would otherwise escape as a traceback
        raise LeaderboardError(f"{origin}: JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise LeaderboardError(f"{origin}: not valid JSON ({err})") from None


def read_bytes(path: Path, limit: int) -> bytes:
    """Read a file of at most ``limit`` bytes."""
    try:
        size = os.path.getsize(path)
    except OSError as err:
        raise LeaderboardError(f"{path}: cannot read ({err.strerror})") from None
    if size > limit:
        raise LeaderboardError(f"{path}: {size} bytes is over the limit of {limit} bytes")
    with open(path, "rb") as fh:
        return fh.read(min(limit, size) + 1)


def load_json(path: Path, limit: int = MAX_RESULTS_BYTES) -> Any:
    """Load one JSON file under a size cap."""
    return loads(read_bytes(path, limit), str(path))


_DECODER = json.JSONDecoder()


def iter_lines(path: Path, limit: int) -> Iterator[bytes]:
    """The lines of a file, read lazily; a file over ``limit`` bytes is refused unread."""
    try:
        size = os.path.getsize(path)
    except OSError as err:
        raise LeaderboardError(f"{path}: cannot read ({err.strerror})") from None
    if size > limit:
        raise LeaderboardError(f"{path}: {size} bytes is over the limit of {limit} bytes")
    return _lines_of(path)


def _lines_of(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        yield from fh


def iter_jsonl_lines(lines: Iterable[bytes], origin: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank JSONL line, decoded one line at a time."""
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise LeaderboardError(f"{origin} line {number}: not UTF-8 ({err})") from None
        if not line.strip():
            continue
        try:
            obj = _DECODER.decode(line.strip())
        except RecursionError:
            raise LeaderboardError(f"{origin} line {number}: JSON nested too deeply") from None
        except ValueError as err:
            raise LeaderboardError(f"{origin} line {number}: not valid JSON ({err})") from None
        if not isinstance(obj, dict):
            raise LeaderboardError(f"{origin} line {number}: expected a JSON object")
        yield number, obj


def finite(value: Any, origin: str, field: str) -> float:
    """Return ``value`` as a finite float, or raise naming ``origin`` and ``field``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LeaderboardError(f"{origin}: {field} is {value!r}, expected a finite number")
    return float(value)


def dumps(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no NaN) for files this package writes.

    Compact on purpose: without ``indent`` the json module uses its C encoder, 10x faster on
    a 1,000-model leaderboard. Pretty-print with ``python -m json.tool`` when reading by eye.
    """
    return json.dumps(
        obj, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    )


def dump_stream(obj: dict, fh: TextIO) -> None:
    """Write ``dumps(obj)`` and a newline to ``fh``, one list element at a time.

    The same bytes as :func:`dumps` (sorted keys, compact separators), without building the
    whole text: a 200-model leaderboard.json is ~100 MB.
    """
    fh.write("{")
    for k, key in enumerate(sorted(obj)):
        fh.write(("," if k else "") + dumps(key) + ":")
        value = obj[key]
        if isinstance(value, list):
            fh.write("[")
            for i, item in enumerate(value):
                fh.write(("," if i else "") + dumps(item))
            fh.write("]")
        else:
            fh.write(dumps(value))
    fh.write("}\n")
