"""Human validation of built sets: a sheet for bilingual annotators, and validity rates back.

``export`` samples N attacked examples per (task, family, language) from the sets under an
output root (seeded), and writes ``validation.csv`` (one row per example, the judgment column
empty) and ``validation.html`` (a static page: original and perturbed text side by side, the
edited spans highlighted). ``import`` reads the filled CSV (judgment ``valid``,
``label_changed`` or ``unreadable``; empty rows are not judged yet) and writes, into each set's
manifest, the share of each judgment with its 95% Wilson interval (scipy's ``binomtest``), as
AdvGLUE did by hand for English (Wang et al. 2021).

The automatic pre-screen (``prescreen`` column) flags what a reader should look at first: an
edit of a protected word (negation, number, one grapheme), a field whose similarity is within
0.02 of the floor, or an example that spent the whole edit budget.
"""

from __future__ import annotations

import csv
import html
import io
import json
import random
from pathlib import Path

from adversarial.constraints import protection_reason
from harness_tasks.errors import XtremeAdvError

JUDGMENTS = ("valid", "label_changed", "unreadable")
COLUMNS = (
    "set",
    "id",
    "field",
    "original",
    "perturbed",
    "edits",
    "label",
    "prescreen",
    "judgment",
    "note",
)


def find_sets(root: Path, task=None, attack=None, langs=None) -> list[Path]:
    """Built set folders under ``root`` (``<task>/<attack>/<lang>`` with a manifest), sorted."""
    out = []
    for manifest in sorted(Path(root).glob("*/*/*/manifest.json")):
        folder = manifest.parent
        t, a, lang = folder.parts[-3:]
        if t.startswith(".") or (task and t != task) or (attack and a != attack):
            continue
        if langs and lang not in langs:
            continue
        out.append(folder)
    return out


def _rows(folder: Path) -> list[dict]:
    import datasets

    return datasets.Dataset.from_parquet(str(folder / "data.parquet")).to_list()


def _prescreen(row: dict, edits: list[dict], manifest: dict) -> str:
    flags = []
    lang = manifest["lang"]
    if any(protection_reason(e["original"], lang) for e in edits if e["original"]):
        flags.append("protected_word_edited")
    floor = manifest["validity"].get("similarity_floor") or 0
    sim = row.get("adv_similarity")
    if sim is not None and floor > 0 and sim < floor + 0.02:
        flags.append("near_floor")
    limit = manifest["attack"]["params"].get("max_ratio", 1.0)
    if row.get("adv_ratio", 0) >= float(limit) - 1e-9 and float(limit) < 1:
        flags.append("full_budget")
    return ",".join(flags)


def sample_rows(folder: Path, n: int, seed: int) -> list[dict]:
    """``n`` attacked examples of one set (seeded by set name), one sheet row per edited field."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    name = "/".join(folder.parts[-3:])
    rows = [r for r in _rows(folder) if r["adv_status"] == "attacked"]
    rng = random.Random(f"{seed}|{name}")
    chosen = sorted(rng.sample(range(len(rows)), min(n, len(rows))))
    out = []
    for k in chosen:
        row = rows[k]
        edits = json.loads(row["adv_edits"])
        originals = json.loads(row["adv_original"])
        for field in sorted({e["field"] for e in edits}):
            mine = [e for e in edits if e["field"] == field]
            original, perturbed = originals.get(field, ""), row[field]
            if isinstance(original, list):
                original, perturbed = " ".join(original), " ".join(perturbed)
            out.append(
                {
                    "set": name,
                    "id": row["id"],
                    "field": field,
                    "original": original,
                    "perturbed": perturbed,
                    "edits": json.dumps(mine, ensure_ascii=False, sort_keys=True),
                    "label": str(row.get("label", "")),
                    "prescreen": _prescreen(row, mine, manifest),
                    "judgment": "",
                    "note": "",
                }
            )
    return out


def _highlight(text: str, spans: list[tuple[int, int]]) -> str:
    pieces, pos = [], 0
    for start, end in sorted(spans):
        pieces.append(html.escape(text[pos:start]))
        shown = text[start:end].replace("\u200b", "\u2423")  # make a zero-width space visible
        pieces.append(f"<mark>{html.escape(shown) or '&#9251;'}</mark>")
        pos = end
    pieces.append(html.escape(text[pos:]))
    return "".join(pieces)


def render_html(rows: list[dict]) -> str:
    """A static page: one table row per sheet row, original and perturbed side by side."""
    body = []
    for k, row in enumerate(rows):
        edits = json.loads(row["edits"])
        if row["field"] == "tokens":
            before, after = html.escape(row["original"]), html.escape(row["perturbed"])
        else:
            before = _highlight(row["original"], [(e["start"], e["end"]) for e in edits])
            after = _highlight(
                row["perturbed"],
                [(e["new_start"], e["new_start"] + len(e["perturbed"])) for e in edits],
            )
        body.append(
            f"<tr><td>{k + 1}</td><td>{html.escape(row['set'])}<br>{html.escape(row['id'])} "
            f"({html.escape(row['field'])})</td><td dir=auto>{before}</td>"
            f"<td dir=auto>{after}</td><td>{html.escape(row['prescreen'])}</td></tr>"
        )
    return (
        "<!doctype html><meta charset=utf-8><title>xtreme-adv validation sheet</title>"
        "<style>td{vertical-align:top;border-bottom:1px solid #ccc;padding:4px}"
        "mark{background:#fd6}</style>"
        "<p>Judge each row in validation.csv (column judgment): valid, label_changed or "
        "unreadable. Row numbers match the CSV.</p>"
        "<table><tr><th>#</th><th>set / id</th><th>original</th><th>perturbed</th>"
        "<th>pre-screen</th></tr>" + "".join(body) + "</table>\n"
    )


def export(root: Path, sheet_dir: Path, n: int, seed: int = 0, **filters) -> tuple[Path, int]:
    """Write ``validation.csv`` and ``validation.html`` into ``sheet_dir``; return CSV, rows."""
    from adversarial.build import atomic_write_text

    if n < 1:
        raise XtremeAdvError(f"--n {n}: must be at least 1")
    sets = find_sets(root, **filters)
    if not sets:
        raise XtremeAdvError(f"no built sets under {root} match; run `xtreme-adv attack build`")
    rows = [r for folder in sets for r in sample_rows(folder, n, seed)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    sheet_dir = Path(sheet_dir)
    atomic_write_text(sheet_dir / "validation.html", render_html(rows))
    atomic_write_text(sheet_dir / "validation.csv", buffer.getvalue())
    return sheet_dir / "validation.csv", len(rows)


def read_judgments(sheet: Path) -> dict[str, dict[str, str]]:
    """Set name -> example id -> its worst judgment (an example judged on several fields is
    invalid if any field is); a user error names the row and value of a bad judgment."""
    try:
        text = Path(sheet).read_text(encoding="utf-8")
    except OSError as err:
        raise XtremeAdvError(f"{sheet}: cannot read ({err.strerror})") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = {"set", "id", "judgment"} - set(reader.fieldnames or [])
    if missing:
        raise XtremeAdvError(f"{sheet}: missing column(s) {', '.join(sorted(missing))}")
    order = {"valid": 0, "unreadable": 1, "label_changed": 2}
    out: dict[str, dict[str, str]] = {}
    for line, row in enumerate(reader, start=2):
        judgment = (row["judgment"] or "").strip().lower()
        if not judgment:
            continue
        if judgment not in JUDGMENTS:
            raise XtremeAdvError(
                f"{sheet}: line {line}: judgment {row['judgment']!r}; use {', '.join(JUDGMENTS)}"
            )
        per_set = out.setdefault(row["set"], {})
        old = per_set.get(row["id"])
        if old is None or order[judgment] > order[old]:
            per_set[row["id"]] = judgment
    return out


def rates(judgments: dict[str, str]) -> dict:
    """Share of each judgment with a 95% Wilson interval (``scipy.stats.binomtest``)."""
    from scipy.stats import binomtest

    n = len(judgments)
    out: dict = {"n_judged": n}
    for name in JUDGMENTS:
        k = sum(j == name for j in judgments.values())
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        out[name] = {
            "count": k,
            "rate": round(k / n, 6),
            "ci95": [round(float(ci.low), 6), round(float(ci.high), 6)],
        }
    return out


def import_judgments(sheet: Path, root: Path) -> list[tuple[str, dict]]:
    """Write validity rates into the manifest of every set the sheet judges."""
    from adversarial.build import atomic_write_text

    judged = read_judgments(sheet)
    if not judged:
        raise XtremeAdvError(f"{sheet}: no row has a judgment yet")
    updates = []
    for name, per_id in sorted(judged.items()):
        folder = Path(root) / name
        path = folder / "manifest.json"
        if not path.is_file():
            raise XtremeAdvError(f"{sheet}: set {name} is not under {root}")
        updates.append((path, name, rates(per_id)))
    out = []
    for path, name, result in updates:  # all checked before anything is written
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["human_validity"] = {"sheet": Path(sheet).name, **result}
        text = json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False)
        atomic_write_text(path, text)
        out.append((name, result))
    return out
