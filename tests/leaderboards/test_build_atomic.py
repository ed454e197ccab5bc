"""The site folder: atomic, kill-safe, never deleting what it did not write, world-readable."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from leaderboards import build as build_module
from leaderboards.cli import main
from leaderboards.synthetic import seed_set, write_results_folder


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small")
    plan = [("xnli", ["de"], ["charnoise"])]
    for m in seed_set("direct", [1], 0.8, 0.7) + seed_set("intermediate", [1], 0.8, 0.8):
        write_results_folder(out, m, plan, n_docs=30)
    return out


def _args(results: Path, out: Path) -> list[str]:
    return ["build", str(results), "--out", str(out), "--bootstrap", "50"]


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_site_is_world_readable_whatever_the_umask(small, tmp_path, capsys):
    old = os.umask(0o077)
    try:
        assert main(_args(small, tmp_path / "site")) == 0
    finally:
        os.umask(old)
    capsys.readouterr()
    for path in [tmp_path / "site", *(tmp_path / "site").rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), path


def test_out_never_deletes_files_it_did_not_write(small, tmp_path, capsys):
    site = tmp_path / "site"
    assert main(_args(small, site)) == 0
    (site / "notes.txt").write_text("mine")
    assert main(_args(small, site)) == 2
    err = capsys.readouterr().err
    assert "notes.txt, which no build wrote" in err and err.count("\n") == 1
    assert (site / "notes.txt").read_text() == "mine"
    other = tmp_path / "docs"
    other.mkdir()
    (other / "leaderboard.json").write_text("{}")  # looks like a site, was not built here
    assert main(_args(small, other)) == 2
    assert (other / "leaderboard.json").read_text() == "{}"


def _steps(small: Path, tmp_path: Path) -> list[str]:
    seen: list[str] = []
    original = build_module._checkpoint
    build_module._checkpoint = seen.append
    try:
        assert main(_args(small, tmp_path / "probe")) == 0
        assert main(_args(small, tmp_path / "probe")) == 0  # the second replaces a site
    finally:
        build_module._checkpoint = original
    second = seen[len(seen) // 2 :]
    wrote = [s for s in second if s.startswith("wrote ")]
    # one kill per state the folders can be left in: a half-written temporary folder, a
    # complete one, no site (the previous one aside), the new site with the previous aside
    return [wrote[0], "listed", "moved previous aside", "renamed"]


_KILL = """
import os, sys
import leaderboards.build as b
target = sys.argv[1]
def checkpoint(step):
    if step == target:
        os._exit(9)
b._checkpoint = checkpoint
from leaderboards.cli import main
main(sys.argv[2:])
"""


@pytest.mark.slow
def test_a_kill_at_any_step_then_the_same_command_gives_the_same_bytes(small, tmp_path, capsys):
    reference = tmp_path / "ref"
    assert main(_args(small, reference)) == 0
    capsys.readouterr()
    expected = _tree(reference)
    steps = _steps(small, tmp_path / "probe")
    assert len(steps) == 4
    for step in steps:
        root = tmp_path / f"kill-{steps.index(step)}"
        root.mkdir()
        site = root / "site"
        assert main(_args(small, site)) == 0  # a previous site to replace
        capsys.readouterr()
        proc = subprocess.run(
            [sys.executable, "-c", _KILL, step, *_args(small, site)],
            capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
        )  # fmt: skip
        assert proc.returncode == 9, (step, proc.stderr[-500:])
        assert main(_args(small, site)) == 0, step
        capsys.readouterr()
        assert _tree(site) == expected, step
        assert sorted(p.name for p in root.iterdir()) == ["site"], step


def test_streamed_json_is_byte_identical_to_one_dumps(small, tmp_path, capsys):
    from leaderboards.compute import build_board
    from leaderboards.jsonio import dumps
    from leaderboards.results import read_inputs

    assert main(_args(small, tmp_path / "site")) == 0
    capsys.readouterr()
    board = build_board(read_inputs([small]), n_boot=50, seed=0)
    expected = dumps(board.to_json()) + "\n"
    assert (tmp_path / "site" / "leaderboard.json").read_text(encoding="utf-8") == expected
