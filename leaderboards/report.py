"""Plain-text outputs of a board: Markdown summary and CSV tables."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from typing import TextIO

from leaderboards.compute import Board

ROW_FIELDS = (
    "model task lang attack metric clean adv drop pdr flip_rate perturbed_rate n_perturbed "
    "n_clean n_adv n_paired n_units "
    "clean_ci adv_ci drop_ci drop_p pdr_ci interval_method clean_reported adv_reported "
    "clean_stderr adv_stderr version task_hash_clean task_hash_adv "
    "validity n_judged valid_rate valid_ci label_changed_rate unreadable_rate "
    "validated_only n_valid clean_valid adv_valid drop_valid clean_valid_ci adv_valid_ci "
    "drop_valid_ci"
).split()
COMPARISON_FIELDS = (
    "comparison task lang attack metric drop_intermediate drop_direct diff ci_examples ci_seeds "
    "n_paired n_units seeds p test p_adjusted significant intermediate_models direct_models"
).split()


def pct(x: float | None) -> str:
    """A [0, 1] value as XTREME prints it (times 100, one decimal); '-' when missing."""
    return "-" if x is None else f"{100 * x:.1f}"


def pct_ci(ci: list[float] | None) -> str:
    """An interval as '[lo, hi]' times 100."""
    return "-" if ci is None else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def md_cell(text: object) -> str:
    """Text safe inside a Markdown table cell (pipes and line breaks escaped)."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def model_summary(board: Board) -> list[dict]:
    """Per model: the XTREME averages (languages, then tasks) averaged over attacks."""
    alls_by_model: dict[str, list[dict]] = defaultdict(list)
    for a in board.averages:
        if a["level"] == "all":
            alls_by_model[a["model"]].append(a)
    out = []
    for info in board.models:
        model_id = info["model"]
        alls = alls_by_model[model_id]
        clean = sum(a["clean"] for a in alls) / len(alls)
        adv = sum(a["adv"] for a in alls) / len(alls)
        out.append(
            {
                "model": model_id,
                "recipe": info["recipe"] or "-",
                "seed": info["seed"],
                "clean": clean,
                "adv": adv,
                "drop": clean - adv,
                "pdr": None if clean == 0 else 1 - adv / clean,
                "n_tasks": max(a["n_tasks"] for a in alls),
                "n_attacks": len(alls),
            }
        )
    return out


def markdown(board: Board, max_models: int = 50) -> str:
    """The Markdown summary: model averages and intermediate-vs-direct differences."""
    lines = [
        "## Robustness under attack (XTREME-style averages: over languages, then tasks; x100)",
        "",
        *_validated_only_note(board),
        "| model | recipe | seed | clean | adversarial | drop | PDR | tasks | attacks |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    summary = sorted(model_summary(board), key=lambda s: (-s["adv"], s["model"]))
    for s in summary[:max_models]:
        seed = "-" if s["seed"] is None else md_cell(s["seed"])
        lines.append(
            f"| {md_cell(s['model'])} | {md_cell(s['recipe'])} | {seed} | "
            f"{pct(s['clean'])} | {pct(s['adv'])} | {pct(s['drop'])} | {pct(s['pdr'])} | "
            f"{s['n_tasks']} | {s['n_attacks']} |"
        )
    if len(summary) > max_models:
        lines.append(f"| ... {len(summary) - max_models} more models in rows.csv | | | | | | | | |")
    if board.comparison_averages:
        lines += [
            "",
            "## Intermediate-task training vs direct fine-tuning: drop difference "
            "(intermediate - direct, x100; negative = more robust)",
            "",
            "| comparison | task | attack | langs | drop inter. | drop direct | diff | "
            "95% CI examples | p | 95% CI seeds | langs significant (BH 5%) |",
            "|---|---|---|---:|---:|---:|---:|---|---:|---|---:|",
        ]
        for c in board.comparison_averages:
            lines.append(
                f"| {md_cell(c['comparison'])} | {c['task']} | {c['attack']} | {c['n_langs']} | "
                f"{pct(c['drop_intermediate'])} | {pct(c['drop_direct'])} | {pct(c['diff'])} | "
                f"{pct_ci(c['ci_examples'])} | "
                f"{'n/a' if c.get('p') is None else format(c['p'], '.2g')} | "
                f"{pct_ci(c['ci_seeds'])} | "
                f"{'n/a' if c['n_significant'] is None else c['n_significant']} |"
            )
    lines += validity_lines(board)
    return "\n".join(lines) + "\n"


def _validated_only_note(board: Board) -> list[str]:
    if not board.settings.get("validated_only"):
        return []
    excluded = board.settings.get("excluded") or []
    return [
        "Validated only: every score is computed on the documents human judges found valid "
        f"(rows.csv `n_valid`); {len(excluded)} row(s) without such documents are left out "
        "(leaderboard.json `settings.excluded`, with the reason).",
        "",
    ]


def validity_lines(board: Board) -> list[str]:
    """Human validity of the judged attack sets (x100, Wilson 95% intervals)."""
    if not board.validity:
        return []
    lines = [
        "",
        "## Human validity of the adversarial sets (x100, Wilson 95% interval)",
        "",
        "| task | attack | lang | judged | valid | label changed | unreadable | used |",
        "|---|---|---|---:|---|---|---|---|",
    ]
    for v in board.validity:
        cells = [
            f"{pct(v[j]['rate'])} {pct_ci(v[j]['ci'])}"
            for j in ("valid", "label_changed", "unreadable")
        ]
        lines.append(
            f"| {md_cell(v['task'])} | {md_cell(v['attack'])} | {md_cell(v['lang'])} | "
            f"{v['n_judged']} | {' | '.join(cells)} | {'yes' if v['used'] else 'no row'} |"
        )
    return lines


def _safe(v: object) -> object:
    # Untrusted names must not become spreadsheet formulas (CSV injection); numbers stay as-is.
    if not isinstance(v, str):
        return v
    lead = v[:1]
    # a bare CR or LF would start a new spreadsheet row whose first cell is unguarded
    v = v.replace("\r", " ").replace("\n", " ")
    if lead in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(v)  # the whole cell: "-5 =cmd|..." is a formula, "-0.5" is a number
        except ValueError:
            return "'" + v
    return v


def _is_interval(name: str) -> bool:
    return name.endswith("_ci") or name.startswith("ci_")


def _flat(record: dict, fields: list[str]) -> list[str]:
    out = []
    for f in fields:
        v = record.get(f)
        if _is_interval(f):  # one column per bound: a spreadsheet can sort and plot them
            out += ["", ""] if v is None else [str(v[0]), str(v[1])]
            continue
        if isinstance(v, float | int):  # most cells: no list joining, no formula guard
            out.append(str(v))
            continue
        if isinstance(v, list):
            v = " ".join(str(_safe(x)) for x in v)
        v = _safe(v)
        out.append("" if v is None else str(v))
    return out


def write_csv(records: list[dict], fields: list[str], fh: TextIO) -> None:
    """CSV with a header; intervals as ``<name>_low`` / ``<name>_high``, missing values empty."""
    writer = csv.writer(fh, lineterminator="\n")
    header = []
    for f in fields:
        header += [f"{f}_low", f"{f}_high"] if _is_interval(f) else [f]
    writer.writerow(header)
    for record in records:
        writer.writerow(_flat(record, fields))


def to_csv(records: list[dict], fields: list[str]) -> str:
    """:func:`write_csv` into a string."""
    buf = io.StringIO()
    write_csv(records, fields, buf)
    return buf.getvalue()
