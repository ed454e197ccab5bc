"""Run a study's cells: what is done is not redone, a failed cell is reported and the others
go on, a stopped study picks up where it stopped.

Every cell runs ``xtreme-adv <command>`` in a subprocess (its output goes to
``DIR/logs/<cell>.log``; ``--verbose`` streams it) and writes into a temporary folder or file
that is renamed into place when the command succeeded, so a kill never leaves a half output that
looks finished. The cell's state file (``DIR/state/<cell>.json``) is written last, atomically.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tqdm.auto import tqdm

from studies.plan import KINDS, Cell

RUNNING = ".running"


@functools.cache
def code_commit() -> str | None:
    """The git commit of the checkout the cells' ``xtreme-adv`` runs from (``-dirty`` when
    tracked files differ from it); None outside a git checkout. A study resumed across
    commits records, per cell, the code that produced it."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=40"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


def xtreme_adv_command() -> list[str]:
    """The ``xtreme-adv`` executable of this environment."""
    exe = Path(sys.executable).with_name("xtreme-adv")
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("xtreme-adv")
    if not found:
        raise FileNotFoundError("xtreme-adv is not installed in this environment")
    return [found]


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` through a temporary file (named with this process id) and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-{os.getpid()}-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(folder: Path) -> None:
    """Remove ``.*.tmp-<pid>-*`` files and folders of processes that are gone (this host)."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if not entry.name.startswith(".") or ".tmp-" not in entry.name:
            continue
        try:
            pid = int(entry.name.split(".tmp-", 1)[1].split("-", 1)[0])
        except ValueError:
            pid = -1
        if pid > 0 and _alive(pid):
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def inputs_of(cell: Cell, out: Path) -> list[str] | None:
    """What a leaderboard or report is built from (result folders; the board's hash): when it
    changes (more models evaluated, shards merged) the cell runs again."""
    if cell.kind == "leaderboard":
        folder = Path(out) / "results"
        return sorted(p.name for p in folder.glob("*") if p.is_dir() and not p.name.startswith("."))
    if cell.kind == "report":
        board = Path(out) / "site" / "leaderboard.json"
        if board.is_file():
            import hashlib

            return [hashlib.sha256(board.read_bytes()).hexdigest()]
        return []
    return None


class State:
    """Cell states under ``DIR/state``: done, failed (with reason) or running (pid, host)."""

    def __init__(self, out: Path):
        self.folder = Path(out) / "state"

    def read(self, cell: Cell) -> dict:
        """The cell's state: ``{"status": ...}``; ``left`` when nothing is recorded."""
        path = self.folder / cell.state_name
        running = self.folder / (cell.state_name + RUNNING)
        if running.is_file():
            try:
                info = json.loads(running.read_text(encoding="utf-8"))
            except ValueError:
                info = {}
            here = info.get("host") == socket.gethostname()
            if not here or _alive(int(info.get("pid", -1))):
                return {"status": "running", **info}
        if path.is_file():
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                pass
        return {"status": "left"}

    def done(self, cell: Cell) -> bool:
        """Finished, its output in place and (leaderboard, report) built from today's inputs."""
        state = self.read(cell)
        if state.get("status") != "done" or not cell.output.exists():
            return False
        return state.get("inputs") == inputs_of(cell, self.folder.parent)

    def start(self, cell: Cell) -> None:
        """Mark the cell as running in this process."""
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        atomic_write(self.folder / (cell.state_name + RUNNING), json.dumps(info))

    def finish(self, cell: Cell, status: str, **extra) -> None:
        """Record the outcome and clear the running mark."""
        record = {"status": status, "cell": cell.id, "kind": cell.kind, **extra}
        atomic_write(self.folder / cell.state_name, json.dumps(record, indent=1, sort_keys=True))
        (self.folder / (cell.state_name + RUNNING)).unlink(missing_ok=True)


def _reason(log: Path, code: int) -> str:
    """The failed command's one-line error (its last ``error:`` line), else its exit code."""
    try:
        lines = [
            ln.strip() for ln in log.read_text(encoding="utf-8", errors="replace").splitlines()
        ]
    except OSError:
        lines = []
    errors = [ln for ln in lines if "error:" in ln or "Error" in ln]
    text = errors[-1] if errors else (next((ln for ln in reversed(lines) if ln), ""))
    return (text or f"exit code {code}")[:400]


class Runner:
    """Runs cells for one study folder."""

    def __init__(self, out: Path, env: dict[str, str], verbose: bool = False, progress=True):
        self.out = Path(out)
        self.env = env
        self.verbose = verbose
        self.progress = progress
        self.state = State(self.out)

    # -- one cell ----------------------------------------------------------------------------
    def run_cell(self, cell: Cell, report_fn=None) -> tuple[str, str | None]:
        """Run one cell unless done; returns (status, reason)."""
        if self.state.done(cell):
            return "done", None
        if cell.skip:
            self.state.finish(cell, "skipped", reason=cell.skip)
            return "skipped", cell.skip
        self.state.start(cell)
        started = time.time()
        try:
            if cell.kind == "report":
                report_fn(self.out)
                code, reason = 0, None
            else:
                code, reason = self._run_command(cell)
        except Exception as err:  # a cell that fails is reported; the others go on
            code, reason = 1, f"{type(err).__name__}: {err}".splitlines()[0][:400]
        seconds = round(time.time() - started, 1)
        if code == 0:
            inputs = inputs_of(cell, self.out)
            self.state.finish(cell, "done", seconds=seconds, argv=cell.argv, inputs=inputs,
                              code=code_commit())  # fmt: skip
            return "done", None
        self.state.finish(cell, "failed", reason=reason, seconds=seconds, argv=cell.argv,
                          code=code_commit())  # fmt: skip
        return "failed", reason

    def _run_command(self, cell: Cell) -> tuple[int, str | None]:
        argv = list(cell.argv or [])
        if cell.argv is None:  # a base model given as a folder or Hub id: nothing to build
            return 0, None
        final = cell.output
        tmp = None
        if cell.kind in ("eval", "leaderboard", "adaptive", "model"):
            final.parent.mkdir(parents=True, exist_ok=True)
            remove_stale(final.parent)
            tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}-d")
            if cell.kind == "adaptive":
                argv[argv.index("--json-dir") + 1] = str(tmp)
            elif cell.kind == "eval":
                argv += ["--output_path", str(tmp)]
            elif cell.kind == "model":
                argv[2] = str(tmp)
            else:
                argv[argv.index("--out") + 1] = str(tmp)
                argv += sorted(
                    str(p)
                    for p in (self.out / "results").glob("*")
                    if p.is_dir() and not p.name.startswith(".")
                )
        log = self.out / "logs" / (cell.state_name[: -len(".json")] + ".log")
        log.parent.mkdir(parents=True, exist_ok=True)
        cmd = xtreme_adv_command() + argv
        with open(log, "w", encoding="utf-8") as handle:
            handle.write("$ xtreme-adv " + " ".join(argv) + "\n")
            handle.flush()
            if self.verbose:
                print("$ xtreme-adv " + " ".join(argv), flush=True)
                proc = subprocess.run(cmd, env=self.env)
            else:
                proc = subprocess.run(cmd, env=self.env, stdout=handle, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(
                    missing_ok=True
                )
            return proc.returncode, _reason(log, proc.returncode) if not self.verbose else (
                f"exit code {proc.returncode} (see the output above)"
            )
        if tmp is not None:
            if final.exists():
                shutil.rmtree(final) if final.is_dir() else final.unlink()
            os.replace(tmp, final)
        return 0, None

    # -- many cells --------------------------------------------------------------------------
    def run(self, cells: list[Cell], report_fn=None, stop_before: set[str] | None = None) -> dict:
        """Run ``cells`` in order, kind by kind (one progress bar per kind); a cell whose
        dependency failed or was skipped is skipped with that reason."""
        outcome: dict[str, tuple[str, str | None]] = {}
        by_id = {c.id: c for c in cells}
        for kind in KINDS:
            mine = [c for c in cells if c.kind == kind]
            if not mine:
                continue
            bar = tqdm(
                total=len(mine),
                desc=f"{kind:<11}",
                unit="cell",
                disable=not self.progress,
                leave=True,
                file=sys.stderr,
            )
            for cell in mine:
                if stop_before and cell.id in stop_before:
                    bar.close()
                    return outcome
                blocked = [
                    d for d in cell.deps if d in by_id and outcome.get(d, ("done",))[0] != "done"
                ]
                if cell.kind == "leaderboard" and len(blocked) < len(cell.deps):
                    blocked = []  # a board of what was evaluated; what was not is reported
                if cell.kind == "leaderboard" and not blocked and not inputs_of(cell, self.out):
                    blocked = [d for d in cell.deps if d in by_id] or ["eval"]
                    outcome.setdefault(blocked[0], ("missing", "nothing was evaluated"))
                if blocked and not self.state.done(cell):
                    status, why = outcome[blocked[0]]
                    reason = f"needs {blocked[0]} ({status}: {why})"
                    self.state.finish(cell, "skipped", reason=reason)
                    outcome[cell.id] = ("skipped", reason)
                else:
                    outcome[cell.id] = self.run_cell(cell, report_fn)
                bar.update(1)
            bar.close()
        return outcome


def run_cells_job(out: str, cells: list[Cell], env: dict[str, str]) -> dict:
    """One launcher job (submitit): run ``cells`` in ``out``; returns their outcomes."""
    return Runner(Path(out), env, progress=False).run(cells)
