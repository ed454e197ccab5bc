"""``xtreme-adv study export``: the files a study's answer is published with (a results folder in a
repository, a paper's supplement): the report and its figure, the leaderboard's tables, the plan,
every cell's command, outcome and time, and the adaptive attacks' reports. Checkpoints, sets and
raw lm-eval outputs stay in the study folder (large, and named by the files copied here)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from studies.errors import StudyError
from studies.plan import cells_in
from studies.report_tables import adaptive_reports
from studies.runner import State, atomic_write

REPORT_FILES = ("report.md", "report.png", "study.json")
SITE_FILES = ("leaderboard.json", "summary.md", "rows.csv", "comparisons.csv", "study.html")


def cells_record(out: Path) -> dict:
    """Every planned cell with its state (status, seconds, command, reason) in plan order."""
    plan = json.loads((out / "study.json").read_text(encoding="utf-8"))
    states = State(out)
    cells = {}
    for cell in cells_in(plan):
        state = states.read(cell)
        keep = {k: state[k] for k in ("status", "seconds", "reason", "code") if k in state}
        cells[cell.id] = {"kind": cell.kind, **keep, "argv": state.get("argv", cell.argv)}
    return {"study": plan["name"], "fingerprint": plan["fingerprint"], "cells": cells}


def export(out: Path, to: Path) -> list[Path]:
    """Copy the study's published files from ``out`` into ``to``; returns the files written."""
    out, to = Path(out), Path(to)
    if not (out / "report.md").is_file():
        raise StudyError(f"--out {out}: no report.md yet (run the study to its report cell)")
    if to.resolve() == out.resolve() or out.resolve() in to.resolve().parents:
        raise StudyError(f"--to {to}: inside the study folder {out}")
    written = []

    def copy(src: Path, rel: str) -> None:
        dst = to / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)
        written.append(dst)

    for name in REPORT_FILES:
        if (out / name).is_file():
            copy(out / name, name)
    for name in SITE_FILES:
        if (out / "site" / name).is_file():
            copy(out / "site" / name, name)
    shutil.rmtree(to / "adaptive", ignore_errors=True)  # an earlier export's, perhaps stale
    for path in adaptive_reports(out):
        copy(path, str(path.relative_to(out)))
    record = json.dumps(cells_record(out), indent=1) + "\n"  # cells in plan order
    atomic_write(to / "cells.json", record)
    written.append(to / "cells.json")
    return written
