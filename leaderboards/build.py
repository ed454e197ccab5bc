"""``leaderboard build``: read results, compute the board, write the site atomically."""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from leaderboards.compute import Board, build_board
from leaderboards.errors import LeaderboardError
from leaderboards.jsonio import dumps
from leaderboards.report import COMPARISON_FIELDS, ROW_FIELDS, markdown, to_csv
from leaderboards.results import ModelRun, merge_runs, read_inputs
from leaderboards.site import render_site
from leaderboards.stats import DEFAULT_BOOTSTRAP, DEFAULT_SEED

SITE_MARKER = "leaderboard.json"


@dataclass
class Built:
    """What ``build`` produced."""

    board: Board
    out: Path
    summary: str


def render_files(board: Board) -> dict[str, str]:
    """Every file of the site, in memory (so nothing is written unless all of it rendered)."""
    files = render_site(board)
    files[SITE_MARKER] = dumps(board.to_json()) + "\n"
    files["rows.csv"] = to_csv(board.rows, ROW_FIELDS)
    files["comparisons.csv"] = to_csv(board.comparisons, COMPARISON_FIELDS)
    files["summary.md"] = markdown(board)
    return files


def write_tree_atomic(out: Path, files: dict[str, str]) -> None:
    """Write ``files`` under ``out`` so that ``out`` is either the old site or the whole new one.

    The tree is written into a temporary sibling folder and renamed into place; a previous site
    is renamed aside first and removed last. A folder that is not a previous site is refused.
    """
    out = Path(out)
    if out.exists() and not (
        out.is_dir() and ((out / SITE_MARKER).is_file() or not any(out.iterdir()))
    ):
        raise LeaderboardError(
            f"{out}: exists and is not a leaderboard site; refusing to replace it"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    old = None
    try:
        for rel, text in files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.rename(out, old)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not out.exists():
            os.rename(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build(
    inputs: list[Path],
    out: Path,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    with_samples: bool = True,
    extra_runs: list[ModelRun] | None = None,
) -> Built:
    """Build the leaderboard site for lm-eval output folders ``inputs`` into ``out``."""
    with _gc_paused():
        runs = read_inputs(inputs, with_samples) if inputs else {}
        if extra_runs:
            runs = merge_runs([*runs.values(), *extra_runs])
        board = build_board(runs, n_boot, seed)
        files = render_files(board)
        write_tree_atomic(out, files)
    return Built(board, Path(out), files["summary.md"])


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    # A build allocates millions of small, acyclic dicts; the cyclic collector would rescan
    # them all again and again (a third of the time at 1,000 folders) and frees nothing.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
