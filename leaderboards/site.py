"""The static HTML site: no server, no external resources, every string escaped.

Charts are inline SVG written here (a heatmap and a bar chart with whiskers are a few dozen
elements; a plotting library would add files or a CDN). The one inline script sorts tables; a
Content-Security-Policy allows exactly that script and style by hash, so even a string that
escaped escaping could not run.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import re
from collections import defaultdict
from collections.abc import Callable
from typing import TextIO

from leaderboards import stats
from leaderboards.compute import Board, local_path_tail
from leaderboards.report import model_summary, pct, pct_ci
from leaderboards.validity import NOT_VALIDATED

CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#1b1b1b;background:#fff}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
td.t,th.t{text-align:left}
th{background:#eef2f7;cursor:pointer;user-select:none}
th[data-dir=asc]::after{content:" \\25B2"}th[data-dir=desc]::after{content:" \\25BC"}
tr:nth-child(even) td{background:#fafafa}
pre{background:#f4f4f4;padding:8px;overflow:auto;font-size:12px}
.note{color:#555;font-size:13px;max-width:60em}
svg text{font-family:system-ui,sans-serif}
.filters{margin:8px 0;font-size:13px}.filters label{margin-right:12px}
.filters input,.filters select{font-size:13px}
section.cmp{border-top:2px solid #dde3ea;margin-top:1.4em}
details{margin:6px 0}code{font-size:12px;background:#f4f4f4;padding:1px 3px}
.sig{font-weight:bold}
"""

# Sorts every table.sortable by a header click; on load applies data-default-sort and marks
# the body ready (the browser tests wait for that mark).
JS = """
(function(){
function key(td,num){var v=td.getAttribute('data-v');if(num){var x=parseFloat(v);
return isNaN(x)?-Infinity:x;}return (v===null?td.textContent:v).toLowerCase();}
function sortBy(table,col,dir){var th=table.tHead.rows[0].cells[col];
var num=th.getAttribute('data-type')==='num';var body=table.tBodies[0];
var rows=Array.prototype.slice.call(body.rows);
rows.sort(function(a,b){var x=key(a.cells[col],num),y=key(b.cells[col],num);
var r=x<y?-1:x>y?1:0;return dir==='asc'?r:-r;});
rows.forEach(function(r){body.appendChild(r);});
Array.prototype.forEach.call(table.tHead.rows[0].cells,function(c){c.removeAttribute('data-dir');});
th.setAttribute('data-dir',dir);table.setAttribute('data-sorted',th.getAttribute('data-key')+':'+dir);}
function filter(t){var fs=document.querySelectorAll('[data-filter-for="'+t.id+'"]');var shown=0;
var rows=t.tBodies[0].rows;Array.prototype.forEach.call(rows,function(r){var ok=true;
Array.prototype.forEach.call(fs,function(f){var v=f.value.toLowerCase();if(!v)return;
var c=f.getAttribute('data-col');
if(c==='*'){if(r.textContent.toLowerCase().indexOf(v)<0)ok=false;return;}
var cell=r.querySelector('[data-c="'+c+'"]');
if(!cell||cell.textContent.toLowerCase()!==v)ok=false;});
r.hidden=!ok;if(ok)shown++;});var n=document.getElementById(t.id+'-count');
if(n)n.textContent=shown+' of '+rows.length+' rows shown';t.setAttribute('data-shown',shown);}
Array.prototype.forEach.call(document.querySelectorAll('table.sortable'),function(t){
Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,i){
th.addEventListener('click',function(){sortBy(t,i,th.getAttribute('data-dir')==='desc'?'asc':'desc');});});
var d=t.getAttribute('data-default-sort');if(d){var p=d.split(':');
Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,i){
if(th.getAttribute('data-key')===p[0])sortBy(t,i,p[1]);});}
Array.prototype.forEach.call(document.querySelectorAll('[data-filter-for="'+t.id+'"]'),function(f){
f.addEventListener('input',function(){filter(t);});f.addEventListener('change',function(){filter(t);});});
filter(t);});
var q=new URLSearchParams(location.search).get('q');var box=document.getElementById('model-search');
if(q&&box){box.value=q;box.dispatchEvent(new Event('input'));}
document.body.setAttribute('data-ready','1');})();
"""


def esc(text: object) -> str:
    """HTML-escape any value (quotes included, so it is safe inside attributes too)."""
    return html.escape(str(text), quote=True)


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


CSP = (
    f"default-src 'none'; style-src '{_csp_hash(CSS)}'; script-src '{_csp_hash(JS)}'; "
    "base-uri 'none'; form-action 'none'"
)


def page(title: str, body: str, root: str = "") -> str:
    """A complete HTML page with the inline style and script."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f'<body><p><a href="{root}index.html">Leaderboard</a></p>{body}'
        f"<script>{JS}</script></body></html>\n"
    )


def model_slug(model_id: str) -> str:
    """A file name for a model page: safe characters plus a hash, so ids never become paths."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", model_id)[:60].strip("._") or "model"
    return f"{safe}-{hashlib.sha256(model_id.encode('utf-8')).hexdigest()[:10]}.html"


def _num(value: float | None) -> str:
    # data-v carries the exact value for sorting; the text shows it x100.
    v = "" if value is None else repr(float(value))
    return f'<td data-v="{v}">{esc(pct(value))}</td>'


def table(
    table_id: str, columns: list[tuple[str, str, str]], rows: list[list[str]], default: str
) -> str:
    """A sortable, filterable table; columns are (key, label, 'num'|'text'); cells are <td>."""
    head = "".join(
        f'<th data-key="{k}" data-type="{t}"{" class=t" if t == "text" else ""}>{esc(label)}</th>'
        for k, label, t in columns
    )
    body = "".join(
        "<tr>"
        + "".join(
            c.replace("<td", f'<td data-c="{k}"', 1)
            for (k, _, _), c in zip(columns, r, strict=True)
        )
        + "</tr>"
        for r in rows
    )
    return (
        f'<p class=note id="{table_id}-count"></p>'
        f'<table id="{table_id}" class="sortable" data-default-sort="{default}">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def filters(table_id: str, selects: dict[str, list[str]], search: str | None = None) -> str:
    """Select boxes (exact match on a column) and a search box for one table."""
    parts = ['<div class="filters">']
    if search is not None:
        parts.append(
            f'<label>search <input id="{esc(search)}" type="search" data-filter-for="{table_id}" '
            'data-col="*" placeholder="model, recipe, hash..."></label>'
        )
    for col, values in selects.items():
        options = "".join(f"<option>{esc(v)}</option>" for v in sorted(set(values)) if v)
        parts.append(
            f'<label>{esc(col.replace("_", " "))} <select data-filter-for="{table_id}" '
            f'data-col="{esc(col)}"><option value="">all</option>{options}</select></label>'
        )
    return "".join(parts) + "</div>"


def _text(value: object, key: str | None = None) -> str:
    shown = "-" if value is None else str(value)
    return f'<td class=t data-v="{esc(shown)}">{esc(shown)}</td>'


def _color(value: float | None, vmax: float) -> str:
    # White for 0, deeper red for larger values (bigger drop), blue for negative ones.
    if value is None:
        return "#dddddd"
    t = max(-1.0, min(1.0, value / vmax if vmax > 0 else 0.0))
    if t >= 0:
        g = int(255 - 190 * t)
        return f"#ff{g:02x}{g:02x}"
    g = int(255 + 190 * t)
    return f"#{g:02x}{g:02x}ff"


def _legend(x: float, y: float, vmax: float, label: str) -> str:
    """A colour bar from -vmax (blue) through 0 (white) to +vmax (red), with its label."""
    steps, w = 21, 8
    parts = [f'<g class="legend"><text x="{x}" y="{y - 4}" font-size="11">{esc(label)}</text>']
    for k in range(steps):
        v = -vmax + 2 * vmax * k / (steps - 1)
        parts.append(
            f'<rect x="{x + k * w}" y="{y}" width="{w}" height="10" fill="{_color(v, vmax)}"/>'
        )
    for v, dx, anchor in ((-vmax, 0, "start"), (0.0, steps * w / 2, "middle"),
                          (vmax, steps * w, "end")):  # fmt: skip
        parts.append(
            f'<text x="{x + dx}" y="{y + 22}" font-size="10" text-anchor="{anchor}">'
            f"{esc(pct(v))}</text>"
        )
    return "".join(parts) + "</g>"


def grid(
    values: dict[tuple[str, str], float | None],
    title: str,
    ylabel: str,
    xlabel: str,
    legend: str,
    marks: dict[tuple[str, str], str] | None = None,
) -> str:
    """SVG heatmap: rows (y, e.g. languages) x columns (x, e.g. attacks), labelled axes, legend."""
    if not values:
        return "<p class=note>Nothing to show.</p>"
    ys = sorted({k[0] for k in values})
    xs = sorted({k[1] for k in values})
    finite = [abs(v) for v in values.values() if v is not None]
    vmax = max(finite) if finite and max(finite) > 0 else 0.01
    cw, ch, left, top = 96, 22, 70, 46
    width = max(left + cw * len(xs) + 20, left + 340)  # room for the legend's label
    height = top + ch * len(ys) + 56
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" width="{width}" '
        f'height="{height}" role="img" aria-label="{esc(title)}">',
        f'<text x="{left + cw * len(xs) / 2}" y="12" font-size="12" text-anchor="middle" '
        f'font-weight="bold">{esc(xlabel)}</text>',
        f'<text x="14" y="{top + ch * len(ys) / 2}" font-size="12" text-anchor="middle" '
        f'font-weight="bold" transform="rotate(-90 14 {top + ch * len(ys) / 2})">'
        f"{esc(ylabel)}</text>",
    ]
    for j, x_name in enumerate(xs):
        x = left + j * cw + cw / 2
        parts.append(
            f'<text x="{x}" y="{top - 8}" font-size="12" text-anchor="middle">{esc(x_name)}</text>'
        )
    for i, y_name in enumerate(ys):
        y = top + i * ch
        parts.append(
            f'<text x="{left - 6}" y="{y + 15}" font-size="12" text-anchor="end">'
            f"{esc(y_name)}</text>"
        )
        for j, x_name in enumerate(xs):
            v = values.get((y_name, x_name))
            x = left + j * cw
            mark = (marks or {}).get((y_name, x_name), "")
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cw - 2}" height="{ch - 2}" '
                f'fill="{_color(v, vmax)}"><title>{esc(y_name)} / {esc(x_name)}: '
                f"{esc(pct(v))}{esc(mark)}</title></rect>"
                f'<text x="{x + cw / 2 - 1}" y="{y + 15}" font-size="11" text-anchor="middle">'
                f"{esc(pct(v))}{esc(mark)}</text>"
            )
    parts.append(_legend(left, top + ch * len(ys) + 20, vmax, legend))
    parts.append("</svg>")
    return "".join(parts)


def heatmap(rows: list[dict], title: str) -> str:
    """Mean relative drop (PDR) by language and attack over ``rows``."""
    cells: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows:
        if r["pdr"] is not None:
            cells[(r["lang"], r["attack"])].append(r["pdr"])
    if not cells:
        return "<p class=note>No relative drops to show.</p>"
    means = {k: sum(v) / len(v) for k, v in cells.items()}
    return grid(means, title, "language", "attack", "PDR x100 (red: larger drop)")


def forest(items: list[dict], title: str) -> str:
    """Horizontal interval plot of differences of drops: one line per task x attack.

    Height grows with the number of lines and width is fixed, so hundreds of comparisons
    stay readable (the page scrolls down, never sideways).
    """
    if not items:
        return "<p class=note>Nothing to compare.</p>"
    lines = []
    for a in items:
        ci = a["ci_examples"] or a["ci_seeds"]
        label = f"{a['task']} / {a['attack']}" + (" (all tasks)" if a["task"] == "all" else "")
        lines.append((label, a["diff"], ci, a.get("p")))
    extent = max(max(abs(v), *(abs(c) for c in (ci or [0.0]))) for _, v, ci, _ in lines) or 0.01
    left, plot_w, top, row_h = 210, 440, 30, 18
    height = top + row_h * len(lines) + 60
    mid = left + plot_w / 2

    def x(v: float) -> float:
        return mid + v / extent * (plot_w / 2)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="forest" width="{left + plot_w + 60}" '
        f'height="{height}" role="img" aria-label="{esc(title)}">',
        f'<line x1="{mid}" x2="{mid}" y1="{top - 6}" y2="{top + row_h * len(lines)}" '
        'stroke="#333"/>',
    ]
    for k, (label, value, ci, p) in enumerate(lines):
        y = top + k * row_h + row_h / 2
        significant = p is not None and p < 0.05
        color = "#3a7bd5" if value <= 0 else "#d5563a"
        parts.append(
            f'<text x="{left - 8}" y="{y + 4}" font-size="11" text-anchor="end">{esc(label)}</text>'
        )
        if ci is not None:
            parts.append(
                f'<line class="whisker" x1="{x(ci[0])}" x2="{x(ci[1])}" y1="{y}" y2="{y}" '
                f'stroke="{color}" stroke-width="2"/>'
            )
        tip = f"{label}: {pct(value)} (95% CI {pct_ci(ci)}, p {_p(p)})"
        fill = color if significant else "#ffffff"
        parts.append(
            f'<circle cx="{x(value)}" cy="{y}" r="4" fill="{fill}" stroke="{color}" '
            f'stroke-width="2"><title>{esc(tip)}</title></circle>'
        )
    axis_y = top + row_h * len(lines) + 14
    for v, anchor in ((-extent, "start"), (0.0, "middle"), (extent, "end")):
        parts.append(
            f'<text x="{x(v)}" y="{axis_y}" font-size="10" text-anchor="{anchor}">'
            f"{esc(pct(v))}</text>"
        )
    parts.append(
        f'<text x="{mid}" y="{axis_y + 16}" font-size="12" text-anchor="middle" '
        'font-weight="bold">difference of drops, intermediate - direct (x100)</text>'
        f'<text x="{mid}" y="{axis_y + 31}" font-size="11" text-anchor="middle">'
        "left of 0: intermediate more robust; right: less robust</text>"
        f'<text x="{left}" y="14" font-size="11">filled dot: p &lt; 0.05 (average: '
        "percentile bootstrap); hollow: not; line: 95% interval</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _p(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.2g}"


def strip_path(value: object) -> object:
    """Absolute local paths (and home-relative ones) reduced to their last part, recursively:
    no page shows where files lay on the machine that built it."""
    if isinstance(value, str):
        tail = local_path_tail(value)
        return value if tail is None else "…/" + tail
    if isinstance(value, dict):
        return {k: strip_path(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_path(v) for v in value]
    return value


def seed_groups(board: Board) -> list[dict]:
    """Models grouped by recipe (same base, target task, recipe, intermediate tasks): the mean
    over seeds of the XTREME averages, with a Student-t interval over seeds."""
    summary = {s["model"]: s for s in model_summary(board)}
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for info in board.models:
        base = (info["base_model"] or {}).get("name") or "-"
        key = (base, info["target_task"] or "-", info["recipe"] or "-",
               "+".join(info["intermediate_tasks"] or []) or "-")  # fmt: skip
        groups[key].append(summary[info["model"]])
    out = []
    for (base, target, recipe, inter), members in sorted(groups.items()):
        item = {"base": base, "target": target, "recipe": recipe, "intermediate": inter,
                "n_seeds": len(members)}  # fmt: skip
        for measure in ("clean", "adv", "drop"):
            values = [m[measure] for m in members]
            item[measure] = sum(values) / len(values)
            item[f"{measure}_ci"] = stats.seed_interval(values)
        out.append(item)
    return out


def index_page(board: Board) -> str:
    """The leaderboard: models (search, filters), recipes over seeds, comparison families."""
    summary = model_summary(board)
    info_by = {m["model"]: m for m in board.models}
    columns = [
        ("model", "model", "text"), ("recipe", "recipe", "text"), ("seed", "seed", "num"),
        ("clean", "clean", "num"), ("adv", "adversarial", "num"), ("drop", "drop", "num"),
        ("pdr", "PDR", "num"), ("n_tasks", "tasks", "num"), ("n_attacks", "attacks", "num"),
        ("base", "base model", "text"), ("weights", "checkpoint sha256", "text"),
        ("links", "provenance", "text"),
    ]  # fmt: skip
    rows = []
    for s in summary:
        info = info_by[s["model"]]
        href = f"models/{esc(model_slug(s['model']))}"
        link = f'<a href="{href}">{esc(s["model"])}</a>'
        seed = "" if s["seed"] is None else str(s["seed"])
        weights = (info.get("weights_sha256") or "-")[:12]
        base = (info["base_model"] or {}).get("name") or "-"
        rows.append(
            [
                f'<td class=t data-v="{esc(s["model"])}">{link}</td>',
                _text(s["recipe"]),
                f'<td data-v="{esc(seed)}">{esc(seed)}</td>',
                _num(s["clean"]), _num(s["adv"]), _num(s["drop"]), _num(s["pdr"]),
                f'<td data-v="{s["n_tasks"]}">{s["n_tasks"]}</td>',
                f'<td data-v="{s["n_attacks"]}">{s["n_attacks"]}</td>',
                _text(strip_path(base)),
                f'<td class=t data-v="{esc(weights)}"><code>{esc(weights)}</code></td>',
                f'<td class=t><a href="{href}#provenance">card</a> · '
                f'<a href="{href}#commands">lm-eval command</a></td>',
            ]
        )  # fmt: skip
    model_filters = filters(
        "models",
        {"recipe": [s["recipe"] for s in summary],
         "base": [str(strip_path((m["base_model"] or {}).get("name") or "-"))
                  for m in board.models]},
        search="model-search",
    )  # fmt: skip
    recipe_rows = []
    for g in seed_groups(board):
        recipe_rows.append(
            [_text(g["base"]), _text(g["target"]), _text(g["recipe"]), _text(g["intermediate"]),
             f'<td data-v="{g["n_seeds"]}">{g["n_seeds"]}</td>',
             _num(g["clean"]), f"<td>{esc(pct_ci(g['clean_ci']))}</td>",
             _num(g["adv"]), f"<td>{esc(pct_ci(g['adv_ci']))}</td>",
             _num(g["drop"]), f"<td>{esc(pct_ci(g['drop_ci']))}</td>"]
        )  # fmt: skip
    recipe_cols = [
        ("base", "base model", "text"), ("target", "target task", "text"),
        ("recipe", "recipe", "text"), ("intermediate", "intermediate tasks", "text"),
        ("n_seeds", "seeds", "num"), ("clean", "clean (mean)", "num"),
        ("clean_ci", "95% CI seeds", "text"), ("adv", "adversarial (mean)", "num"),
        ("adv_ci", "95% CI seeds", "text"), ("drop", "drop (mean)", "num"),
        ("drop_ci", "95% CI seeds", "text"),
    ]  # fmt: skip
    body = (
        "<h1>xtreme-adv robustness leaderboard</h1>"
        "<p class=note>Scores x100. Averages as XTREME: over languages, then over tasks; "
        "then over attacks. Drop = clean - adversarial; PDR = 1 - adversarial / clean "
        '(PromptBench). Data: <a href="leaderboard.json">leaderboard.json</a>, '
        '<a href="rows.csv">rows.csv</a>, <a href="comparisons.csv">comparisons.csv</a>. '
        "Sections: <a href=#models-h>models</a> · <a href=#recipes-h>recipes over seeds</a> · "
        "<a href=#cmp-h>intermediate vs direct</a> · <a href=#pdr-h>PDR by language</a>.</p>"
        '<h2 id="models-h">Models</h2>'
        + model_filters
        + table("models", columns, rows, "adv:desc")
        + '<h2 id="recipes-h">Recipes: seeds grouped (mean and Student-t 95% interval over '
        "seeds)</h2>"
        + table("recipes", recipe_cols, recipe_rows, "adv:desc")
        + '<h2 id="cmp-h">Intermediate-task training vs direct fine-tuning</h2>'
        "<p class=note>Each family compares intermediate-trained models with their direct "
        "baselines (same base model, target task and seeds). Difference of drops = drop of the "
        "intermediate model - drop of the direct one; below zero: intermediate training made "
        "the model more robust. Intervals and p-values come from one paired bootstrap of the "
        "documents (BCa; the p-value inverts the interval, so they always agree); adjusted p: "
        "Benjamini-Hochberg over the languages x attacks of a task.</p>"
        + comparison_sections(board)
        + '<h2 id="pdr-h">Relative drop (PDR, %) by language and attack, mean over all models '
        "and tasks</h2>"
        + heatmap(board.rows, "mean PDR by language and attack")
        + validity_section(board)
    )
    return page("xtreme-adv robustness leaderboard", body)


def comparison_sections(board: Board) -> str:
    """One section per comparison family: forest plot, heatmap per task, the full table."""
    if not board.comparisons:
        return (
            "<p class=note>No intermediate/direct pairs (same base model, target task, seed).</p>"
        )
    by_cmp: dict[str, list[dict]] = defaultdict(list)
    for c in board.comparisons:
        by_cmp[c["comparison"]].append(c)
    avgs: dict[str, list[dict]] = defaultdict(list)
    for a in board.comparison_averages:
        avgs[a["comparison"]].append(a)
    out = []
    for k, (cid, items) in enumerate(sorted(by_cmp.items())):
        tid = f"cmp{k}"
        heat = []
        for task in sorted({i["task"] for i in items}):
            cells = {(i["lang"], i["attack"]): i["diff"] for i in items if i["task"] == task}
            marks = {
                (i["lang"], i["attack"]): "*"
                for i in items
                if i["task"] == task and i["significant"]
            }
            heat.append(
                f"<h4>{esc(task)}: difference of drops by language and attack "
                "(* significant after BH)</h4>"
                + grid(cells, f"{cid} {task}", "language", "attack",
                       "difference of drops x100 (blue: intermediate more robust)", marks)
            )  # fmt: skip
        cols = [
            ("task", "task", "text"), ("lang", "language", "text"), ("attack", "attack", "text"),
            ("attack_kind", "set", "text"), ("drop_intermediate", "drop inter.", "num"),
            ("drop_direct", "drop direct", "num"), ("diff", "difference", "num"),
            ("ci", "95% CI (documents)", "text"), ("ci_seeds", "95% CI (seeds)", "text"),
            ("p", "p", "num"), ("p_adjusted", "adjusted p (BH)", "num"),
            ("n_paired", "documents", "num"),
        ]  # fmt: skip
        rows = []
        for i in items:
            sig = " class=sig" if i["significant"] else ""
            rows.append(
                [_text(i["task"]), _text(i["lang"]), _text(i["attack"]),
                 _text(i.get("attack_kind")), _num(i["drop_intermediate"]),
                 _num(i["drop_direct"]), _num(i["diff"]),
                 f"<td{sig}>{esc(pct_ci(i['ci_examples']))}</td>",
                 f"<td>{esc(pct_ci(i['ci_seeds']))}</td>",
                 f'<td data-v="{"" if i["p"] is None else i["p"]}">{esc(_p(i["p"]))}</td>',
                 f'<td data-v="{"" if i["p_adjusted"] is None else i["p_adjusted"]}"{sig}>'
                 f"{esc(_p(i['p_adjusted']))}</td>",
                 f'<td data-v="{i["n_paired"] or ""}">{i["n_paired"] or "n/a"}</td>']
            )  # fmt: skip
        first = items[0]
        out.append(
            f'<section class="cmp" id="{tid}"><h3>{esc(strip_path(cid))}</h3>'
            f"<p class=note>seeds {esc(', '.join(map(str, first['seeds'])))}; intermediate: "
            f"{esc(', '.join(first['intermediate_models']))}; direct: "
            f"{esc(', '.join(first['direct_models']))}</p>"
            + forest(avgs[cid], f"{cid}: averages over languages")
            + "<details open><summary>heatmaps by task</summary>" + "".join(heat) + "</details>"
            + filters(tid, {"task": [i["task"] for i in items],
                            "lang": [i["lang"] for i in items],
                            "attack": [i["attack"] for i in items]})
            + table(tid, cols, rows, "diff:asc")
            + "</section>"
        )  # fmt: skip
    return "".join(out)


def lm_eval_command(info: dict, tasks: list[str]) -> str:
    """The ``xtreme-adv eval run`` command that produces these results (paths shortened)."""
    args = strip_path(info.get("model_args") or {})
    if isinstance(args, dict):
        args = ",".join(f"{k}={v}" for k, v in sorted(args.items()))
    return (
        f"xtreme-adv eval run --model {info.get('model_name_short') or 'xtreme-encoder'} "
        f"--model_args {args} --tasks {','.join(tasks)} --output_path results --log_samples"
    )


def validity_cells(row: dict) -> list[str]:
    """The set's human validity rate and the scores on documents judged valid, or why not."""
    if row.get("validity") != "judged":
        note = esc(row.get("validity") or NOT_VALIDATED)
        return [f'<td class=t data-v="">{note}</td>', '<td data-v="">-</td>',
                '<td data-v="">-</td>']  # fmt: skip
    rate = row["valid_rate"]
    judged = (
        f'<td data-v="{rate}">{pct(rate)} {esc(pct_ci(row["valid_ci"]))} n={row["n_judged"]}</td>'
    )
    if row.get("n_valid") is None:
        reason = esc(row.get("validated_only") or "-")
        return [judged, f'<td data-v="">{reason}</td>', f'<td data-v="">{reason}</td>']
    drop = row["drop_valid"]
    return [
        judged,
        _num(row["adv_valid"]),
        f'<td data-v="{drop}">{pct(drop)} {esc(pct_ci(row["drop_valid_ci"]))} '
        f"n={row['n_valid']}</td>",
    ]


def validity_section(board: Board) -> str:
    """Index section: each judged set's human validity rates (Wilson 95% intervals)."""
    if not board.validity:
        return ""
    cols = [
        ("task", "task", "text"), ("attack", "attack", "text"), ("lang", "lang", "text"),
        ("n_judged", "judged", "num"), ("valid", "valid", "num"),
        ("label_changed", "label changed", "num"), ("unreadable", "unreadable", "num"),
        ("used", "used by a row", "text"),
    ]  # fmt: skip
    rows = []
    for v in board.validity:
        cells = [_text(v["task"]), _text(v["attack"]), _text(v["lang"]),
                 f'<td data-v="{v["n_judged"]}">{v["n_judged"]}</td>']  # fmt: skip
        for j in ("valid", "label_changed", "unreadable"):
            rate = v[j]["rate"]
            cells.append(f'<td data-v="{rate}">{pct(rate)} {esc(pct_ci(v[j]["ci"]))}</td>')
        cells.append(_text("yes" if v["used"] else "no row"))
        rows.append(cells)
    only = board.settings.get("validated_only")
    note = (
        "Validated only: every score on this site is computed on the documents judged valid; "
        f"{len(board.settings.get('excluded') or [])} row(s) without them are left out "
        "(leaderboard.json settings.excluded)."
        if only
        else "Model pages show each row's validity and its scores on the documents judged "
        "valid beside the full scores."
    )
    return (
        '<h2 id="validity-h">Human validity of the adversarial sets (x100, Wilson 95% '
        f"interval)</h2><p class=note>{esc(note)}</p>" + table("validity", cols, rows, "valid:asc")
    )


def model_page(info: dict, rows: list[dict]) -> str:
    """One model: facts, rows (filterable, with their sets), heatmap, commands, the card."""
    model_id = info["model"]
    columns = [
        ("task", "task", "text"), ("lang", "lang", "text"), ("attack", "attack", "text"),
        ("valid_rate", "valid (human, 95% CI, n judged)", "num"),
        ("metric", "metric", "text"), ("clean", "clean", "num"), ("adv", "adversarial", "num"),
        ("drop", "drop", "num"), ("drop_ci", "drop 95% CI", "text"), ("pdr", "PDR", "num"),
        ("flip_rate", "flip rate", "num"), ("n_paired", "paired docs", "num"),
        ("attack_kind", "set", "text"), ("set_sha", "attack set sha256", "text"),
        ("adv_valid", "adversarial on valid docs", "num"),
        ("drop_valid", "drop on valid docs (95% CI, n)", "num"),
    ]  # fmt: skip
    cells = []
    for r in rows:
        n = "" if r["n_paired"] is None else str(r["n_paired"])
        set_sha = ((r.get("attack_set") or {}).get("data_sha256") or "-")[:12]
        judged, *on_valid = validity_cells(r)
        cells.append(
            [
                _text(r["task"]), _text(r["lang"]), _text(r["attack"]), judged, _text(r["metric"]),
                _num(r["clean"]), _num(r["adv"]), _num(r["drop"]),
                f"<td>{esc(pct_ci(r['drop_ci']))}</td>", _num(r["pdr"]), _num(r["flip_rate"]),
                f'<td data-v="{n}">{n}</td>', _text(r.get("attack_kind")),
                f'<td class=t data-v="{esc(set_sha)}"><code>{esc(set_sha)}</code></td>',
                *on_valid,
            ]
        )  # fmt: skip
    card = info["provenance"]
    facts = [
        ("recipe", info["recipe"]),
        ("base model", (info["base_model"] or {}).get("name") if info["base_model"] else None),
        ("base sha256", (info["base_model"] or {}).get("sha256") if info["base_model"] else None),
        ("target task", info["target_task"]),
        ("intermediate tasks", ", ".join(info["intermediate_tasks"] or []) or None),
        ("seed", info["seed"]),
        ("checkpoint (weights) sha256", info.get("weights_sha256")),
        ("results files", ", ".join(str(strip_path(s)) for s in info["sources"])),
    ]
    fact_rows = "".join(
        f"<tr><th class=t>{esc(k)}</th><td class=t>{esc('-' if v is None else strip_path(v))}"
        "</td></tr>"
        for k, v in facts
    )
    prov = (
        "<pre>"
        + esc(json.dumps(strip_path(card), indent=2, sort_keys=True, ensure_ascii=False))
        + "</pre>"
        if card
        else "<p class=note>No provenance card was found for this model.</p>"
    )
    tasks = sorted({f"xtreme_{r['task']}_{r['lang']}" for r in rows} | {
        f"xtreme_adv_{r['task']}_{r['attack']}_{r['lang']}" for r in rows})  # fmt: skip
    sets = "".join(
        f"<li><code>xtreme_adv_{esc(r['task'])}_{esc(r['attack'])}_{esc(r['lang'])}</code>: "
        f"{esc(json.dumps(strip_path(r.get('attack_set') or {}), sort_keys=True))}</li>"
        for r in rows
    )
    body = (
        f"<h1>{esc(model_id)}</h1><table class=facts>{fact_rows}</table>"
        "<h2>Scores by task, language and attack (x100)</h2>"
        + filters(
            "rows",
            {
                "task": [r["task"] for r in rows],
                "lang": [r["lang"] for r in rows],
                "attack": [r["attack"] for r in rows],
            },
        )  # fmt: skip
        + table("rows", columns, cells, "drop:desc")
        + "<h2>Relative drop (PDR, %) by language and attack, mean over tasks</h2>"
        + heatmap(rows, f"PDR of {model_id}")
        + '<h2 id="commands">lm-eval command</h2>'
        f"<pre>{esc(lm_eval_command(info, tasks))}</pre>"
        "<details><summary>attack sets (manifest records: data hash, attack, parameters, "
        f"seed)</summary><ul>{sets}</ul></details>"
        '<h2 id="provenance">Provenance card</h2>' + prov
    )
    return page(f"{model_id} - xtreme-adv leaderboard", body, root="../")


def _write_model_page(info: dict, rows: list[dict], fh: TextIO) -> None:
    fh.write(model_page(info, rows))


def render_site(board: Board) -> dict[str, str | Callable[[TextIO], None]]:
    """Every HTML page of the site, keyed by relative path; model pages are rendered when
    written (one at a time), the index at once."""
    files: dict[str, str | Callable[[TextIO], None]] = {"index.html": index_page(board)}
    by_model: dict[str, list[dict]] = defaultdict(list)
    for row in board.rows:
        by_model[row["model"]].append(row)
    for info in board.models:
        files[f"models/{model_slug(info['model'])}"] = functools.partial(
            _write_model_page, info, by_model[info["model"]]
        )
    return files
