"""The static HTML site: no server, no external resources, every string escaped.

Charts are inline SVG written here (a heatmap and a bar chart with whiskers are a few dozen
elements; a plotting library would add files or a CDN). The one inline script sorts tables; a
Content-Security-Policy allows exactly that script and style by hash, so even a string that
escaped escaping could not run.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections import defaultdict

from leaderboards.compute import Board
from leaderboards.report import model_summary, pct, pct_ci

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
Array.prototype.forEach.call(document.querySelectorAll('table.sortable'),function(t){
Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,i){
th.addEventListener('click',function(){sortBy(t,i,th.getAttribute('data-dir')==='desc'?'asc':'desc');});});
var d=t.getAttribute('data-default-sort');if(d){var p=d.split(':');
Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,i){
if(th.getAttribute('data-key')===p[0])sortBy(t,i,p[1]);});}});
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
    """A sortable table; columns are (key, label, 'num'|'text'); cells are pre-rendered <td>."""
    head = "".join(
        f'<th data-key="{k}" data-type="{t}"{" class=t" if t == "text" else ""}>{esc(label)}</th>'
        for k, label, t in columns
    )
    body = "".join(f"<tr>{''.join(cells)}</tr>" for cells in rows)
    return (
        f'<table id="{table_id}" class="sortable" data-default-sort="{default}">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _color(value: float | None, vmax: float) -> str:
    # White for no drop, deeper red for larger drops, blue for gains under attack.
    if value is None:
        return "#dddddd"
    t = max(-1.0, min(1.0, value / vmax if vmax > 0 else 0.0))
    if t >= 0:
        g = int(255 - 190 * t)
        return f"#ff{g:02x}{g:02x}"
    g = int(255 + 190 * t)
    return f"#{g:02x}{g:02x}ff"


def heatmap(rows: list[dict], title: str) -> str:
    """SVG heatmap of the mean relative drop (PDR) by language (rows) and attack (columns)."""
    cells: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows:
        if r["pdr"] is not None:
            cells[(r["lang"], r["attack"])].append(r["pdr"])
    if not cells:
        return "<p class=note>No relative drops to show.</p>"
    langs = sorted({k[0] for k in cells})
    attacks = sorted({k[1] for k in cells})
    means = {k: sum(v) / len(v) for k, v in cells.items()}
    vmax = max(abs(v) for v in means.values()) or 1.0
    cw, ch, left, top = 86, 22, 48, 40
    width, height = left + cw * len(attacks) + 10, top + ch * len(langs) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" width="{width}" '
        f'height="{height}" role="img" aria-label="{esc(title)}">'
    ]
    for j, attack in enumerate(attacks):
        x = left + j * cw + cw / 2
        parts.append(
            f'<text x="{x}" y="{top - 8}" font-size="12" text-anchor="middle">{esc(attack)}</text>'
        )
    for i, lang in enumerate(langs):
        y = top + i * ch
        parts.append(
            f'<text x="{left - 6}" y="{y + 15}" font-size="12" text-anchor="end">{esc(lang)}</text>'
        )
        for j, attack in enumerate(attacks):
            v = means.get((lang, attack))
            x = left + j * cw
            fill = _color(v, vmax)
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cw - 2}" height="{ch - 2}" fill="{fill}">'
                f"<title>{esc(lang)} / {esc(attack)}: PDR {esc(pct(v))}%</title></rect>"
                f'<text x="{x + cw / 2 - 1}" y="{y + 15}" font-size="11" text-anchor="middle">'
                f"{esc(pct(v))}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(averages: list[dict]) -> str:
    """SVG bars of (intermediate - direct) drop differences with 95% interval whiskers."""
    if not averages:
        return (
            "<p class=note>No intermediate/direct pairs (same base model, target task, seed).</p>"
        )
    bars = []
    for a in averages:
        ci = a["ci_examples"] or a["ci_seeds"]
        bars.append((f"{a['comparison']} | {a['task']} | {a['attack']}", a["diff"], ci))
    extent = max(max(abs(v), *(abs(c) for c in (ci or [0.0]))) for _, v, ci in bars) or 0.01
    bw, gap, height, left, top, label_h = 26, 10, 220, 60, 20, 150
    width = left + (bw + gap) * len(bars) + 20
    mid = top + height / 2

    def y(v: float) -> float:
        return mid - v / extent * (height / 2)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="bars" width="{width}" '
        f'height="{top + height + label_h}" role="img" aria-label="drop differences">',
        f'<line x1="{left}" x2="{width - 10}" y1="{mid}" y2="{mid}" stroke="#333"/>',
        f'<text x="{left - 6}" y="{top + 4}" font-size="11" text-anchor="end">'
        f"{esc(pct(extent))}</text>",
        f'<text x="{left - 6}" y="{top + height}" font-size="11" text-anchor="end">'
        f"{esc(pct(-extent))}</text>",
        f'<text x="{left - 6}" y="{mid + 4}" font-size="11" text-anchor="end">0</text>',
        f'<text x="14" y="{mid}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 14 {mid})">drop difference x100</text>',
    ]
    for k, (label, value, ci) in enumerate(bars):
        x = left + k * (bw + gap) + gap / 2
        y0, y1 = sorted((y(0.0), y(value)))
        color = "#3a7bd5" if value <= 0 else "#d5563a"
        tip = f"{label}: {pct(value)} (95% CI {pct_ci(ci)})"
        parts.append(
            f'<rect x="{x}" y="{y0}" width="{bw}" height="{max(y1 - y0, 0.5)}" fill="{color}">'
            f"<title>{esc(tip)}</title></rect>"
        )
        if ci is not None:
            cx = x + bw / 2
            parts.append(
                f'<line class="whisker" x1="{cx}" x2="{cx}" y1="{y(ci[0])}" y2="{y(ci[1])}" '
                f'stroke="#111" stroke-width="1.5"/>'
                f'<line x1="{cx - 6}" x2="{cx + 6}" y1="{y(ci[0])}" y2="{y(ci[0])}" stroke="#111"/>'
                f'<line x1="{cx - 6}" x2="{cx + 6}" y1="{y(ci[1])}" y2="{y(ci[1])}" stroke="#111"/>'
            )
        lx, ly = x + bw / 2, top + height + 8
        short = label.split(" | ", 1)[1]
        parts.append(
            f'<text x="{lx}" y="{ly}" font-size="10" transform="rotate(60 {lx} {ly})">'
            f"{esc(short)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def index_page(board: Board) -> str:
    """The leaderboard: model averages table, heatmap, recipe comparison chart."""
    summary = model_summary(board)
    columns = [
        ("model", "model", "text"), ("recipe", "recipe", "text"), ("seed", "seed", "num"),
        ("clean", "clean", "num"), ("adv", "adversarial", "num"), ("drop", "drop", "num"),
        ("pdr", "PDR", "num"), ("n_tasks", "tasks", "num"), ("n_attacks", "attacks", "num"),
    ]  # fmt: skip
    rows = []
    for s in summary:
        link = f'<a href="models/{esc(model_slug(s["model"]))}">{esc(s["model"])}</a>'
        seed = "" if s["seed"] is None else str(s["seed"])
        rows.append(
            [
                f'<td class=t data-v="{esc(s["model"])}">{link}</td>',
                f"<td class=t>{esc(s['recipe'])}</td>",
                f'<td data-v="{esc(seed)}">{esc(seed)}</td>',
                _num(s["clean"]), _num(s["adv"]), _num(s["drop"]), _num(s["pdr"]),
                f'<td data-v="{s["n_tasks"]}">{s["n_tasks"]}</td>',
                f'<td data-v="{s["n_attacks"]}">{s["n_attacks"]}</td>',
            ]
        )  # fmt: skip
    cmp_rows = []
    for c in board.comparison_averages:
        cmp_rows.append(
            [
                f"<td class=t>{esc(c['comparison'])}</td>",
                f"<td class=t>{esc(c['task'])}</td>",
                f"<td class=t>{esc(c['attack'])}</td>",
                f'<td data-v="{c["n_langs"]}">{c["n_langs"]}</td>',
                _num(c["drop_intermediate"]),
                _num(c["drop_direct"]),
                _num(c["diff"]),
                f"<td>{esc(pct_ci(c['ci_examples']))}</td>",
                f"<td>{esc(pct_ci(c['ci_seeds']))}</td>",
                # n/a: no test ran (no per-sample files), never "0 significant"
                f'<td data-v="{"" if c["n_significant"] is None else c["n_significant"]}">'
                f"{'n/a' if c['n_significant'] is None else c['n_significant']}</td>",
            ]
        )
    cmp_cols = [
        ("comparison", "comparison", "text"), ("task", "task", "text"),
        ("attack", "attack", "text"),
        ("n_langs", "langs", "num"), ("drop_intermediate", "drop inter.", "num"),
        ("drop_direct", "drop direct", "num"), ("diff", "difference", "num"),
        ("ci_examples", "95% CI examples", "text"), ("ci_seeds", "95% CI seeds", "text"),
        ("n_significant", "langs significant (BH 5%)", "num"),
    ]  # fmt: skip
    body = (
        "<h1>xtreme-adv robustness leaderboard</h1>"
        "<p class=note>Scores x100. Averages as XTREME: over languages, then over tasks; "
        "then over attacks. Drop = clean - adversarial; PDR = 1 - adversarial / clean "
        '(PromptBench). Data: <a href="leaderboard.json">leaderboard.json</a>, '
        '<a href="rows.csv">rows.csv</a>, <a href="comparisons.csv">comparisons.csv</a>.</p>'
        + table("models", columns, rows, "adv:desc")
        + "<h2>Relative drop (PDR, %) by language and attack, mean over models and tasks</h2>"
        + heatmap(board.rows, "mean PDR by language and attack")
        + "<h2>Intermediate-task training vs direct fine-tuning</h2>"
        "<p class=note>Bars: drop of the intermediate-trained model minus drop of its direct "
        "baseline (same base model, target task and seeds), averaged over languages; below zero "
        "= intermediate training made the model more robust. Whiskers: 95% paired bootstrap "
        "interval over examples (or over seeds when no per-sample files exist).</p>"
        + bar_chart([a for a in board.comparison_averages if a.get("level") == "task"])
        + (table("comparisons", cmp_cols, cmp_rows, "diff:asc") if cmp_rows else "")
    )
    return page("xtreme-adv robustness leaderboard", body)


def model_page(info: dict, rows: list[dict]) -> str:
    """One model: provenance card, its task/language/attack rows, its own heatmap."""
    model_id = info["model"]
    columns = [
        ("task", "task", "text"), ("lang", "lang", "text"), ("attack", "attack", "text"),
        ("metric", "metric", "text"), ("clean", "clean", "num"), ("adv", "adversarial", "num"),
        ("drop", "drop", "num"), ("drop_ci", "drop 95% CI", "text"), ("pdr", "PDR", "num"),
        ("flip_rate", "flip rate", "num"), ("n_paired", "paired docs", "num"),
    ]  # fmt: skip
    cells = []
    for r in rows:
        n = "" if r["n_paired"] is None else str(r["n_paired"])
        cells.append(
            [
                f"<td class=t>{esc(r['task'])}</td>", f"<td class=t>{esc(r['lang'])}</td>",
                f"<td class=t>{esc(r['attack'])}</td>", f"<td class=t>{esc(r['metric'])}</td>",
                _num(r["clean"]), _num(r["adv"]), _num(r["drop"]),
                f"<td>{esc(pct_ci(r['drop_ci']))}</td>", _num(r["pdr"]), _num(r["flip_rate"]),
                f'<td data-v="{n}">{n}</td>',
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
        ("weights sha256", card.get("weights_sha256") if card else None),
        ("results files", ", ".join(info["sources"])),
    ]
    fact_rows = "".join(
        f"<tr><th class=t>{esc(k)}</th><td class=t>{esc('-' if v is None else v)}</td></tr>"
        for k, v in facts
    )
    prov = (
        f"<pre>{esc(json.dumps(card, indent=2, sort_keys=True, ensure_ascii=False))}</pre>"
        if card
        else "<p class=note>No provenance card was found for this model.</p>"
    )
    body = (
        f"<h1>{esc(model_id)}</h1><table class=facts>{fact_rows}</table>"
        "<h2>Scores by task, language and attack (x100)</h2>"
        + table("rows", columns, cells, "drop:desc")
        + "<h2>Relative drop (PDR, %) by language and attack, mean over tasks</h2>"
        + heatmap(rows, f"PDR of {model_id}")
        + "<h2>Provenance card</h2>"
        + prov
    )
    return page(f"{model_id} - xtreme-adv leaderboard", body, root="../")


def render_site(board: Board) -> dict[str, str]:
    """Every HTML page of the site, keyed by relative path."""
    files = {"index.html": index_page(board)}
    by_model: dict[str, list[dict]] = defaultdict(list)
    for row in board.rows:
        by_model[row["model"]].append(row)
    for info in board.models:
        files[f"models/{model_slug(info['model'])}"] = model_page(info, by_model[info["model"]])
    return files
