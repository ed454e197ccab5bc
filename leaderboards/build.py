"""``leaderboard build``: read results, compute the board, write the site atomically."""

from __future__ import annotations

import contextlib
import functools
import gc
import io
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from leaderboards.compute import Board, build_board
from leaderboards.errors import LeaderboardError
from leaderboards.jsonio import dump_stream
from leaderboards.report import COMPARISON_FIELDS, ROW_FIELDS, markdown, write_csv
from leaderboards.results import ModelRun, merge_runs, read_inputs
from leaderboards.site import render_site
from leaderboards.stats import DEFAULT_BOOTSTRAP, DEFAULT_SEED
from leaderboards.validity import load_validity

SITE_MARKER = "leaderboard.json"


@dataclass
class Built:
    """What ``build`` produced."""

    board: Board
    out: Path
    summary: str


Content = str | Callable[[TextIO], None]


def render_files(board: Board) -> dict[str, Content]:
    """Every file of the site: small ones as text, large ones (model pages, the JSON and the
    CSVs) as writers called while the site is written, so a 200-model site is never held in
    memory at once. Nothing reaches ``--out`` unless every file was written."""
    files: dict[str, Content] = dict(render_site(board))
    files[SITE_MARKER] = functools.partial(dump_stream, board.to_json())
    files["rows.csv"] = functools.partial(write_csv, board.rows, ROW_FIELDS)
    files["comparisons.csv"] = functools.partial(write_csv, board.comparisons, COMPARISON_FIELDS)
    files["summary.md"] = markdown(board)
    return files


def render_text(content: Content) -> str:
    """A file's text (tests and callers that want it in memory)."""
    if isinstance(content, str):
        return content
    buf = io.StringIO()
    content(buf)
    return buf.getvalue()


SITE_LIST = ".xtreme-adv-site"  # the files a build wrote, one per line (its own name last)
BUILDING_MARK = ".xtreme-adv-building"


def _checkpoint(step: str) -> None:
    """A point where a kill may land; tests replace it to kill the process there."""


def _site_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()}


def _is_our_site(folder: Path) -> bool:
    """A folder a build wrote: its file list names every file it holds, and nothing else."""
    listing = folder / SITE_LIST
    if not listing.is_file() or listing.is_symlink():
        return False
    listed = set(listing.read_text(encoding="utf-8").splitlines())
    return _site_files(folder) <= listed | {SITE_LIST}


def _check_out(out: Path) -> None:
    if not out.exists() and not out.is_symlink():
        return
    if out.is_symlink() or not out.is_dir():
        raise LeaderboardError(f"{out}: exists and is not a folder; refusing to replace it")
    if not any(out.iterdir()):
        return
    if not (out / SITE_LIST).is_file():
        raise LeaderboardError(
            f"{out}: exists and is not a leaderboard site; refusing to replace it"
        )
    listed = set((out / SITE_LIST).read_text(encoding="utf-8").splitlines())
    extra = sorted(_site_files(out) - listed - {SITE_LIST})
    if extra:
        raise LeaderboardError(
            f"{out}: holds {extra[0]}, which no build wrote; refusing to replace the folder "
            "(move the file or choose another --out)"
        )


def recover(out: Path) -> None:
    """Finish or undo what a killed build left: its temporary and previous-site folders.

    A kill between the two renames leaves no ``out`` but the previous site aside: it is put
    back. Only folders with this build's names and marks are touched.
    """
    tmp, old = _aside(out)
    if (
        tmp.is_dir()
        and not tmp.is_symlink()
        and ((tmp / BUILDING_MARK).is_file() or _is_our_site(tmp))
    ):
        shutil.rmtree(tmp)
    if old.is_dir() and not old.is_symlink() and _is_our_site(old):
        if out.exists():
            shutil.rmtree(old)
        else:
            os.rename(old, out)


def _aside(out: Path) -> tuple[Path, Path]:
    return out.parent / f".{out.name}.building", out.parent / f".{out.name}.previous"


def write_tree_atomic(out: Path, files: dict[str, Content]) -> None:
    """Write ``files`` under ``out`` so that ``out`` is either the old site or the whole new one.

    The tree is written into ``.<out>.building`` beside it and renamed into place; a previous
    site is renamed to ``.<out>.previous`` first and removed last. A kill at any moment leaves
    at most those two folders, which the next build removes or restores (:func:`recover`), so
    running the same command again gives the same bytes and no stray files. A folder holding
    any file no build wrote is never replaced. The site is world-readable (0755 / 0644).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    recover(out)
    _check_out(out)
    tmp, old = _aside(out)
    if tmp.exists() or old.exists():
        raise LeaderboardError(f"{tmp if tmp.exists() else old}: in the way; remove it")
    _checkpoint("start")
    try:
        tmp.mkdir()
        os.chmod(tmp, 0o755)
        (tmp / BUILDING_MARK).write_bytes(b"")
        for rel, content in sorted(files.items()):
            path = tmp / rel
            if not path.parent.is_dir():
                path.parent.mkdir(parents=True)
                os.chmod(path.parent, 0o755)
            with open(path, "w", encoding="utf-8", newline="") as fh:
                if isinstance(content, str):
                    fh.write(content)
                else:
                    content(fh)
            os.chmod(path, 0o644)
            _checkpoint(f"wrote {rel}")
        listing = tmp / SITE_LIST
        listing.write_text("".join(f"{rel}\n" for rel in sorted(files)), encoding="utf-8")
        os.chmod(listing, 0o644)
        (tmp / BUILDING_MARK).unlink()
        _checkpoint("listed")
        if out.exists():
            os.rename(out, old)
            _checkpoint("moved previous aside")
        os.rename(tmp, out)
        _checkpoint("renamed")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not out.exists():
            os.rename(old, out)
        raise
    if old.exists():
        shutil.rmtree(old)
    _checkpoint("done")


def build(
    inputs: list[Path],
    out: Path,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    with_samples: bool = True,
    extra_runs: list[ModelRun] | None = None,
    validity: list[Path] | None = None,
    validated_only: bool = False,
) -> Built:
    """Build the leaderboard site for lm-eval output folders ``inputs`` into ``out``.

    ``validity``: ``validity.json`` files (or folders holding them) of judged sets; with
    ``validated_only`` every score is computed on the documents judged valid.
    """
    with _gc_paused():
        judged = load_validity(validity) if validity else None
        runs = read_inputs(inputs, with_samples) if inputs else {}
        if extra_runs:
            runs = merge_runs([*runs.values(), *extra_runs])
        board = build_board(runs, n_boot, seed, judged, validated_only)
        files = render_files(board)
        write_tree_atomic(out, files)
    return Built(board, Path(out), render_text(files["summary.md"]))


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
