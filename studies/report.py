"""The study's answer: ``DIR/report.md``, ``DIR/report.png`` and a page of the leaderboard site
(``DIR/site/study.html``), all read from the leaderboard's ``leaderboard.json`` (the difference
of drops, intermediate minus direct, averaged over seeds, with its paired interval over
documents and the Benjamini-Hochberg adjusted p-value, per task x language x attack) and from
the cells' state files (what was skipped or failed, and why). No number is typed in: each one is
copied from the file named beside it.
"""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path

from studies.plan import KINDS
from studies.report_plot import plot_means, plot_rows
from studies.report_tables import adaptive_lines, adaptive_reports, coverage_lines, training_lines
from studies.runner import atomic_write

PLOT = "report.png"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:+.1f}"


def _ci(ci) -> str:
    return "n/a" if not ci else f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"


def comparisons(board: dict) -> list[dict]:
    """The per task x language x attack comparisons, in a stable order."""
    return sorted(
        board.get("comparisons", []),
        key=lambda c: (c["comparison"], c["task"], c["lang"], c["attack"]),
    )


# Above this many (task, language, attack) rows the plot shows the means over languages (one
# line per comparison, task and attack) and the per-language rows stay in the table.
MAX_PLOT_ROWS = 40


def language_means(board: dict) -> list[dict]:
    """The leaderboard's comparison averages over languages (``level: task``), stable order."""
    return sorted(
        (a for a in board.get("comparison_averages", []) if a.get("level") == "task"),
        key=lambda a: (a["comparison"], a["task"], a["attack"]),
    )


def _states(out: Path, study: dict) -> list[dict]:
    """The state of every cell of the plan (a cell an earlier plan had is not reported)."""
    planned = {c["id"] for c in study.get("cells", [])}
    folder = out / "state"
    states = []
    for path in sorted(folder.glob("*.json")):
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if not planned or state.get("cell") in planned:
            states.append(state)
    return states


def write_report(out: Path) -> Path:
    """Write ``report.md``, ``report.png`` and ``site/study.html`` for the study in ``out``."""
    out = Path(out)
    board_path = out / "site" / "leaderboard.json"
    board = json.loads(board_path.read_text(encoding="utf-8"))
    study = json.loads((out / "study.json").read_text(encoding="utf-8"))
    rows = comparisons(board)
    states = _states(out, study)
    lines = [f"# Study `{study['name']}`", ""]
    lines += [
        "Does English intermediate-task training change robustness? Each row is the difference "
        "of drops under attack, `drop(intermediate) - drop(direct)` with `drop = clean - "
        "adversarial` (points, x100; negative: the intermediate-trained model loses less), the "
        "mean over seeds, its 95% paired interval over documents, and the p-value adjusted "
        "(Benjamini-Hochberg) over each task's languages x attacks. The interval over seeds "
        "(Student t over the seeds' differences; two or more seeds) says how much the answer "
        "moves with training randomness, which the documents' interval leaves out.",
        "",
    ]
    if rows:
        means = language_means(board)
        lines += [f"![difference of drops]({PLOT})", ""]
        if len(rows) > MAX_PLOT_ROWS:
            lines += [
                f"(The plot shows the means over languages; the {len(rows)} rows per language "
                "are in the table below.)",
                "",
            ]
        if means:
            lines += [
                "Means over languages (per comparison, task and attack; interval and p-value "
                "from paired resamplings of the documents, one shared by the languages of a "
                "translated task (XNLI, PAWS-X, XQuAD, MLQA, XCOPA), independent per language "
                "otherwise; not adjusted):",
                "",
                "| comparison | task | attack | languages | drop intermediate | drop direct | "
                "diff | 95% CI | 95% CI (seeds) | p | significant languages |",
                "|---|---|---|---|---|---|---|---|---|---|---|",
            ]
            for a in means:
                p = "n/a" if a.get("p") is None else f"{a['p']:.3g}"
                sig = "n/a" if not a.get("n_tested") else f"{a['n_significant']}/{a['n_tested']}"
                lines.append(
                    f"| {a['comparison']} | {a['task']} | {a['attack']} | {a['n_langs']} | "
                    f"{_pct(a['drop_intermediate'])} | {_pct(a['drop_direct'])} | "
                    f"{_pct(a['diff'])} | {_ci(a.get('ci_examples'))} | "
                    f"{_ci(a.get('ci_seeds'))} | {p} | {sig} |"
                )
            lines += ["", "Per language:", ""]
        lines += [
            "| comparison | task | lang | attack | seeds | drop intermediate | drop direct | "
            "diff | 95% CI (documents) | 95% CI (seeds) | p adjusted | significant |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for c in rows:
            p_adj = "n/a" if c.get("p_adjusted") is None else f"{c['p_adjusted']:.3g}"
            sig = {True: "yes", False: "no", None: "not tested"}[c.get("significant")]
            lines.append(
                f"| {c['comparison']} | {c['task']} | {c['lang']} | {c['attack']} | "
                f"{','.join(map(str, c.get('seeds', [])))} | {_pct(c['drop_intermediate'])} | "
                f"{_pct(c['drop_direct'])} | {_pct(c['diff'])} | {_ci(c.get('ci_examples'))} | "
                f"{_ci(c.get('ci_seeds'))} | {p_adj} | {sig} |"
            )
        n_sig = sum(1 for c in rows if c.get("significant"))
        lower = sum(1 for c in rows if c["diff"] < 0)
        lines += [
            "",
            f"**Answer on this study's data**: in {lower} of {len(rows)} (task, language, "
            f"attack) cells the intermediate-trained models lost less than the direct ones; "
            f"{n_sig} of {len(rows)} differences are significant after adjustment.",
            "",
        ]
        if means:
            tested = [a for a in means if a.get("p") is not None]
            lines[-1:] = [
                f"Over languages: in {sum(1 for a in means if a['diff'] < 0)} of {len(means)} "
                "(comparison, task, attack) means the intermediate-trained models lost less; "
                f"{sum(1 for a in tested if a['p'] < 0.05)} of {len(tested)} tested means have "
                "p < 0.05 (not adjusted).",
                "",
            ]
        if len(rows) > MAX_PLOT_ROWS and means:
            plot_means(means, board.get("models", []), out / PLOT)
        else:
            plot_rows(rows, out / PLOT)
    else:
        lines += [
            "**No intermediate/direct comparison could be made**: the leaderboard pairs an "
            "intermediate model with a direct one of the same base, target and seed, and none "
            "was evaluated here (see what was skipped below).",
            "",
        ]
        (out / PLOT).unlink(missing_ok=True)
    lines += training_lines(board)
    lines += coverage_lines(board)
    lines += adaptive_lines(out, board)
    lines += ["## Skipped or failed", ""]
    bad = [s for s in states if s.get("status") in ("skipped", "failed")]
    if bad:
        lines += [f"- `{s['cell']}`: {s['status']}: {s.get('reason')}" for s in bad]
    else:
        lines.append("- nothing: every planned cell ran.")
    lines += [
        f"- `{attack}` on `{task}`: not planned, the attack does not apply to the task"
        for task, attack in study.get("not_applicable", [])
    ]
    lines += ["", "## Time per step", "", "| step | cells run | seconds |", "|---|---|---|"]
    spent: dict[str, list[float]] = {}
    for state in states:
        if state.get("status") == "done" and "seconds" in state:
            spent.setdefault(state["kind"], []).append(float(state["seconds"]))
    for kind, secs in sorted(spent.items(), key=lambda kv: KINDS.index(kv[0])):
        lines.append(f"| {kind} | {len(secs)} | {sum(secs):.0f} |")
    lines += ["", "(wall-clock seconds of each cell's command, from `state/<cell>.json`)"]
    lines += ["", "## Provenance", ""]
    lines += [
        f"- every number above: `{board_path.relative_to(out)}` (sha256 `{_sha(board_path)}`), "
        "fields `comparisons` (`diff`, `ci_examples`, `ci_seeds`, `p_adjusted`, `significant`, "
        "`drop_intermediate`, `drop_direct`) and `comparison_averages` (`level: task`), built "
        "by `xtreme-adv leaderboard build` from:",
    ]
    for path in sorted((out / "results").rglob("results_*.json")):
        lines.append(f"  - `{path.relative_to(out)}` (sha256 `{_sha(path)[:16]}`)")
    n_adaptive = len(adaptive_reports(out))
    if n_adaptive:
        lines.append(
            f"- adaptive attacks: `adaptive/<model>/<attack>/<lang>.json` ({n_adaptive} reports, "
            "each with its set's folder, checkpoint hash and settings)."
        )
    lines.append(
        f"- the study: `study.json` (plan fingerprint `{study['fingerprint']}`"
        + (f", planned by `{study['command']}`" if study.get("command") else "")
        + "); "
        "the command of every cell: `state/<cell>.json` (`argv`), its output `logs/`."
    )
    codes: dict[str, int] = {}
    for state in states:
        if state.get("status") == "done":
            key = state.get("code") or "not recorded"
            codes[key] = codes.get(key, 0) + 1
    if codes:
        lines.append(
            "- the code each cell ran (git commit, from `state/<cell>.json`, `code`): "
            + "; ".join(f"`{c}` ({n} cells)" for c, n in sorted(codes.items()))
        )
    lines.append(f"- settings of the statistics: `{json.dumps(board.get('settings', {}))}`")
    text = "\n".join(lines) + "\n"
    atomic_write(out / "report.md", text)
    _site_page(out, study, rows, bad)
    return out / "report.md"


def _site_page(out: Path, study: dict, rows: list[dict], bad: list[dict]) -> None:
    """``site/study.html``: the same table and plot, linked from nowhere else (static)."""
    site = out / "site"
    body = [
        f"<h1>Study {html.escape(study['name'])}</h1>",
        "<p>Difference of drops, intermediate minus direct (points), mean over seeds, 95% "
        "paired interval over documents, BH-adjusted p. Data: "
        '<a href="leaderboard.json">leaderboard.json</a>.</p>',
    ]
    if rows:
        if (out / PLOT).is_file():
            (site / PLOT).write_bytes((out / PLOT).read_bytes())
            body.append(f'<img src="{PLOT}" alt="difference of drops per task, language, attack">')
        body.append(
            "<table><tr><th>comparison</th><th>task</th><th>lang</th><th>attack</th>"
            "<th>diff</th><th>95% CI</th><th>p adj.</th></tr>"
        )
        for c in rows:
            p_adj = "n/a" if c.get("p_adjusted") is None else f"{c['p_adjusted']:.3g}"
            cells = [
                c["comparison"],
                c["task"],
                c["lang"],
                c["attack"],
                _pct(c["diff"]),
                _ci(c.get("ci_examples")),
                p_adj,
            ]
            body.append(
                "<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in cells) + "</tr>"
            )
        body.append("</table>")
    else:
        body.append("<p>No intermediate/direct comparison in this study.</p>")
    if bad:
        body.append("<h2>Skipped or failed</h2><ul>")
        body += [
            f"<li>{html.escape(s['cell'])}: {html.escape(str(s.get('reason')))}</li>" for s in bad
        ]
        body.append("</ul>")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Study</title></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
    atomic_write(site / "study.html", page)
