"""``leaderboard check``: compare fresh results with a baseline leaderboard.json (CI gate)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from leaderboards.compute import SCHEMA, Board
from leaderboards.errors import LeaderboardError
from leaderboards.jsonio import finite, load_json
from leaderboards.report import md_cell, pct, pct_ci

DEFAULT_TOLERANCE = 0.01
# measure -> (sign: +1 when larger is better, interval field of the current row)
MEASURES = {"clean": (1, "clean_ci"), "adv": (1, "adv_ci"), "drop": (-1, "drop_ci")}


@dataclass
class Regression:
    """One measure of one row that got worse (or a row that disappeared)."""

    model: str
    task: str
    lang: str
    attack: str
    measure: str
    baseline: float | None
    current: float | None
    interval: list[float] | None
    reason: str


def load_baseline(path: Path) -> dict:
    """Load and check a leaderboard.json written by ``leaderboard build``."""
    data = load_json(Path(path))
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise LeaderboardError(f"{path}: schema is not {SCHEMA!r}; pass a leaderboard.json")
    if not isinstance(data.get("rows"), list):
        raise LeaderboardError(f"{path}: rows is not a list")
    for i, row in enumerate(data["rows"]):
        if not isinstance(row, dict):
            raise LeaderboardError(f"{path}: rows[{i}] is not an object")
        for key in ("model", "task", "lang", "attack"):
            if not isinstance(row.get(key), str):
                raise LeaderboardError(f"{path}: rows[{i}].{key} is {row.get(key)!r}")
        for key in MEASURES:
            finite(row.get(key), str(path), f"rows[{i}].{key}")
    return data


def _model_map(baseline: dict, current: Board, path: Path) -> dict[str, str]:
    base_models = {r["model"] for r in baseline["rows"]}
    cur_models = {m["model"] for m in current.models}
    shared = base_models & cur_models
    if shared:
        return {m: m for m in shared}
    if len(base_models) == 1 and len(cur_models) == 1:
        # One model on each side (e.g. a fresh checkpoint vs its stored baseline): compare them.
        return {next(iter(base_models)): next(iter(cur_models))}
    raise LeaderboardError(
        f"{path}: no model of the baseline ({', '.join(sorted(base_models)) or 'none'}) "
        "is among the results"
    )


def find_regressions(
    baseline: dict, current: Board, tolerance: float, path: Path
) -> list[Regression]:
    """Every baseline row whose score fell, or whose drop rose, by more than ``tolerance``.

    When the current row has a paired bootstrap interval, the baseline value must also lie
    outside it on the worse side, so noise inside the interval never fails the gate.
    """
    mapping = _model_map(baseline, current, path)
    rows = {(r["model"], r["task"], r["lang"], r["attack"]): r for r in current.rows}
    found = []
    for base in baseline["rows"]:
        # A baseline model absent from the results (once another one matched) regressed whole.
        cur_model = mapping.get(base["model"], base["model"])
        cur = rows.get((cur_model, base["task"], base["lang"], base["attack"]))
        where = (cur_model, base["task"], base["lang"], base["attack"])
        if cur is None:
            found.append(Regression(*where, "all", None, None, None, "missing from the results"))
            continue
        for measure, (sign, ci_key) in MEASURES.items():
            b, c = float(base[measure]), float(cur[measure])
            worse_by = sign * (b - c)
            if worse_by <= tolerance:
                continue
            ci = cur.get(ci_key)
            if ci is not None:
                outside = b > ci[1] if sign > 0 else b < ci[0]
                if not outside:
                    continue
            reason = f"worse by {100 * worse_by:.1f} > {100 * tolerance:.1f}"
            if ci is not None:
                reason += "; baseline outside 95% CI"
            found.append(Regression(*where, measure, b, c, ci, reason))
    return found


def regression_table(found: list[Regression]) -> str:
    """Markdown table of regressions (values x100)."""
    lines = [
        "| model | task | lang | attack | measure | baseline | current | current 95% CI | why |",
        "|---|---|---|---|---|---:|---:|---|---|",
    ]
    for r in found:
        lines.append(
            f"| {md_cell(r.model)} | {r.task} | {r.lang} | {r.attack} | {r.measure} | "
            f"{pct(r.baseline)} | {pct(r.current)} | {pct_ci(r.interval)} | {r.reason} |"
        )
    return "\n".join(lines) + "\n"
