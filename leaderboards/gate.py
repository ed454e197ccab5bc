"""``leaderboard check``: compare fresh results with a baseline leaderboard.json (CI gate)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from leaderboards import stats
from leaderboards.compute import ALPHA, SCHEMA, Board, Combination, align, unit_codes
from leaderboards.errors import LeaderboardError
from leaderboards.jsonio import finite, load_json
from leaderboards.names import parse_task
from leaderboards.report import md_cell, pct, pct_ci
from leaderboards.results import ModelRun, TaskResult, merge_runs, read_inputs
from leaderboards.units import Side

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


def read_any(paths: list[Path], with_samples: bool = True) -> dict[str, ModelRun]:
    """Runs from lm-eval output folders, results files and submission archives, merged."""
    from leaderboards.submission import check_submission

    runs: list[ModelRun] = []
    for path in paths:
        path = Path(path)
        if path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
            runs.extend(check_submission(path).runs.values())
        else:
            runs.extend(read_inputs([path], with_samples).values())
    return merge_runs(runs)


def _run_map(base: dict[str, ModelRun], cur: dict[str, ModelRun], path: Path) -> dict[str, str]:
    shared = set(base) & set(cur)
    if shared:
        return {m: m for m in shared}
    if len(base) == 1 and len(cur) == 1:
        return {next(iter(base)): next(iter(cur))}
    raise LeaderboardError(
        f"{path}: no model of the baseline ({', '.join(sorted(base)) or 'none'}) "
        "is among the results"
    )


# measure -> (sign: +1 when larger is better, coefficients on (clean, adv) of current - baseline)
_PAIRED = {"clean": (1, (1.0, 0.0)), "adv": (1, (0.0, 1.0)), "drop": (-1, (1.0, -1.0))}


def _paired_test(
    cur: tuple[TaskResult, TaskResult], base: tuple[TaskResult, TaskResult], n_boot: int, seed: int
) -> dict[str, stats.BCa] | None:
    """Per measure: current - baseline on the documents both runs scored (one resampling)."""
    results = [*cur, *base]
    if any(r.samples is None for r in results) or len({r.samples.kind for r in results}) != 1:
        return None
    aligned = align([r.samples for r in results])
    if aligned is None:
        return None
    units, n_units = unit_codes(aligned[0])
    sides = [Side.of(a, units, n_units) for a in aligned]
    rng = stats.row_rng(seed, f"gate|{cur[1].name.name}")
    idx = stats.bootstrap_indices(rng, n_units, n_boot)
    out = {}
    for measure, (_, (wc, wa)) in _PAIRED.items():
        coefs = [wc, wa, -wc, -wa]
        keep = [(s, c) for s, c in zip(sides, coefs, strict=True) if c != 0.0]
        comb = Combination([s for s, _ in keep], [c for _, c in keep])
        out[measure] = comb.bca(idx)[0]
    return out


def find_paired_regressions(
    base: dict[str, ModelRun],
    cur: dict[str, ModelRun],
    tolerance: float,
    path: Path,
    n_boot: int,
    seed: int,
) -> tuple[list[Regression], int]:
    """Regressions of ``cur`` against the baseline's own results, document by document.

    Each row and measure is a paired test of current - baseline on the documents both runs
    scored (BCa bootstrap, the p-value inverting its interval); Benjamini-Hochberg runs over
    all tests of the check. A row regresses when it got worse by more than ``tolerance`` AND
    the adjusted p-value is below 0.05, so a fresh evaluation of the same model passes while
    a real loss on one language fails. Rows without samples on both sides fall back to the
    tolerance-and-interval rule of :func:`find_regressions`. Returns (regressions, rows).
    """
    mapping = _run_map(base, cur, path)
    found: list[Regression] = []
    tests: list[tuple[Regression, float]] = []
    n_rows = 0
    for base_id in sorted(base):
        brun = base[base_id]
        crun = cur.get(mapping.get(base_id, base_id))
        for name in sorted(brun.tasks):
            parsed = parse_task(name)
            if parsed is None or parsed.attack is None:
                continue
            n_rows += 1
            where = (mapping.get(base_id, base_id), parsed.task, parsed.lang, parsed.attack)
            bpair = (brun.tasks.get(parsed.clean.name), brun.tasks[name])
            cpair = (crun.tasks.get(parsed.clean.name), crun.tasks.get(name)) if crun else None
            if bpair[0] is None:
                continue
            if cpair is None or cpair[0] is None or cpair[1] is None:
                found.append(
                    Regression(*where, "all", None, None, None, "missing from the results")
                )
                continue
            paired = _paired_test(cpair, bpair, n_boot, seed)
            values = {
                "clean": (bpair[0].value, cpair[0].value),
                "adv": (bpair[1].value, cpair[1].value),
                "drop": (bpair[0].value - bpair[1].value, cpair[0].value - cpair[1].value),
            }
            for measure, (sign, _) in _PAIRED.items():
                b, c = values[measure]
                if paired is None:
                    if sign * (b - c) > tolerance:
                        reason = f"worse by {100 * sign * (b - c):.1f} > {100 * tolerance:.1f}"
                        found.append(Regression(*where, measure, b, c, None, reason))
                    continue
                test = paired[measure]
                change = test.estimate  # current - baseline on the shared documents
                reg = Regression(
                    *where, measure, b, c, None,
                    f"worse by {100 * -sign * change:.1f} > {100 * tolerance:.1f} on "
                    f"{len(cpair[1].samples.ids) if cpair[1].samples else 0} paired documents; "
                    f"change 95% CI [{100 * test.interval[0]:.1f}, {100 * test.interval[1]:.1f}]",
                )  # fmt: skip
                if -sign * change > tolerance:
                    tests.append((reg, test.p))
                else:
                    tests.append((None, test.p))  # counted in the FDR family, not a regression
    if tests:
        adjusted = stats.benjamini_hochberg([p for _, p in tests])
        for (reg, _), p in zip(tests, adjusted, strict=True):
            if reg is not None and p < ALPHA:
                reg.reason += f"; BH-adjusted p {p:.2g}"
                found.append(reg)
    return found, n_rows
