"""Human validation of built sets: a sheet for bilingual annotators, and validity rates back.

``export`` samples N attacked examples per (task, family, language) from the sets under an
output root (seeded), and writes ``validation.csv`` (one row per example, the judgment column
empty) and ``validation.html`` (a static page: original and perturbed text side by side, the
edited spans highlighted). ``import`` reads the filled CSV (judgment ``valid``,
``label_changed`` or ``unreadable``; empty rows are not judged yet) and writes, into each set's
manifest, the share of each judgment with its 95% Wilson interval (scipy's ``binomtest``), as
AdvGLUE did by hand for English (Wang et al. 2021).

Every import also writes ``validity.json`` beside the set's ``data.parquet``: the per-example
judgments keyed by the instance id the set and lm-eval's samples use (a perturbed document keeps
its clean ``id``, so the judgments pair with ``doc.id`` of both the clean and the adversarial
samples), the rates, and the ``data_sha256`` of the set judged (docs/contracts.md section 9).
The leaderboard reads it (``leaderboard build --validity``) to show the rates beside each attack
and the accuracy on the documents judged valid.

The automatic pre-screen (``prescreen`` and ``prescreen_reason`` columns; flagged rows are
highlighted in the page) flags what a reader should look at first (``adversarial.prescreen``):
an edited or introduced negation or number, chrF below what typos at the same places give, a
similarity under or near the calibrated floor, the whole edit budget spent, and with
``--prescreen MODEL`` a reference classifier (not the victim) that changes its prediction.
"""

from __future__ import annotations

import csv
import html
import io
import json
import random
from pathlib import Path

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
    "prescreen_reason",
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


def sample_rows(folder: Path, n: int, seed: int, reference=None) -> list[dict]:
    """``n`` attacked examples of one set (seeded by set name), one sheet row per edited field,
    each pre-screened (``adversarial.prescreen``; with ``reference``, a back-check too)."""
    from adversarial.prescreen import CLASSIFICATION, Prescreen

    name = "/".join(folder.parts[-3:])
    rows = [r for r in _rows(folder) if r["adv_status"] == "attacked"]
    rng = random.Random(f"{seed}|{name}")
    chosen = sorted(rng.sample(range(len(rows)), min(n, len(rows))))
    screen = Prescreen.for_set(folder, rows)
    task = folder.parts[-3]
    if reference is not None and task in CLASSIFICATION:
        reference.check_not_victim(screen.manifest, name)
        screen.predictions = reference.predict(task, [rows[k] for k in chosen])
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
            flags = screen.flags(row, field, original, perturbed, mine)
            out.append(
                {
                    "set": name,
                    "id": row["id"],
                    "field": field,
                    "original": original,
                    "perturbed": perturbed,
                    "edits": json.dumps(mine, ensure_ascii=False, sort_keys=True),
                    "label": str(row.get("label", "")),
                    "prescreen": ",".join(dict.fromkeys(f for f, _ in flags)),
                    "prescreen_reason": "; ".join(reason for _, reason in flags),
                    "judgment": "",
                    "note": "",
                }
            )
    return out


def likely_invalid(row: dict) -> bool:
    """Whether a sheet row has a flag of ``prescreen.LIKELY_INVALID`` (not only hints such as
    ``full_budget`` or ``near_floor``)."""
    from adversarial.prescreen import LIKELY_INVALID

    return any(flag in LIKELY_INVALID for flag in row["prescreen"].split(","))


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
        flagged = " class=flag" if likely_invalid(row) else ""
        body.append(
            f"<tr{flagged}><td>{k + 1}</td><td>{html.escape(row['set'])}<br>"
            f"{html.escape(row['id'])} ({html.escape(row['field'])})</td><td dir=auto>{before}"
            f"</td><td dir=auto>{after}</td><td>{html.escape(row['prescreen'])}<br>"
            f"<small>{html.escape(row.get('prescreen_reason', ''))}</small></td></tr>"
        )
    return (
        "<!doctype html><meta charset=utf-8><title>xtreme-adv validation sheet</title>"
        "<style>td{vertical-align:top;border-bottom:1px solid #ccc;padding:4px}"
        "mark{background:#fd6}tr.flag{background:#fde2e2}</style>"
        "<p>Judge each row in validation.csv (column judgment): valid, label_changed or "
        "unreadable. Row numbers match the CSV. Rows the automatic pre-screen finds likely "
        "invalid are shaded, with the reason: read them first; a flag is not a judgment "
        "(full_budget and near_floor are hints, not shaded).</p>"
        "<table><tr><th>#</th><th>set / id</th><th>original</th><th>perturbed</th>"
        "<th>pre-screen</th></tr>" + "".join(body) + "</table>\n"
    )


def export(
    root: Path, sheet_dir: Path, n: int, seed: int = 0, prescreen_model=None, **filters
) -> tuple[Path, int, int]:
    """Write ``validation.csv`` and ``validation.html`` into ``sheet_dir``; return the CSV's
    path, its number of rows and how many of them the pre-screen finds likely invalid.

    ``prescreen_model``: a classifier checkpoint that was not the attack's victim; the
    pre-screen then also flags XNLI / PAWS-X examples whose prediction it changes.
    """
    from adversarial.build import atomic_write_text
    from adversarial.prescreen import ReferenceClassifier

    if n < 1:
        raise XtremeAdvError(f"--n {n}: must be at least 1")
    sets = find_sets(root, **filters)
    if not sets:
        raise XtremeAdvError(f"no built sets under {root} match; run `xtreme-adv attack build`")
    reference = ReferenceClassifier(prescreen_model) if prescreen_model else None
    rows = [r for folder in sets for r in sample_rows(folder, n, seed, reference)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    sheet_dir = Path(sheet_dir)
    atomic_write_text(sheet_dir / "validation.html", render_html(rows))
    atomic_write_text(sheet_dir / "validation.csv", buffer.getvalue())
    return sheet_dir / "validation.csv", len(rows), sum(likely_invalid(r) for r in rows)


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


VALIDITY_FILE = "validity.json"
VALIDITY_SCHEMA = "xtreme-adv/validity/1"


def _field_text(row: dict, field: str) -> str:
    value = row.get(field, "")
    return " ".join(value) if isinstance(value, list) else str(value)


def _check_against_set(sheet: Path, name: str, folder: Path, per_row: list[dict]) -> None:
    """Every judged id is a document of the set, and the perturbed text judged is the one the
    set holds now (a set rebuilt since the export would pair judgments with other texts)."""
    rows = {str(r["id"]): r for r in _rows(folder)}
    for line, row in per_row:
        doc = rows.get(row["id"])
        if doc is None:
            raise XtremeAdvError(f"{sheet}: line {line}: id {row['id']!r} is not in set {name}")
        field = row.get("field") or ""
        if field and "perturbed" in row and _field_text(doc, field) != row["perturbed"]:
            raise XtremeAdvError(
                f"{sheet}: line {line}: {name} {row['id']} field {field!r} is not the text the "
                "set holds now (rebuilt since the export?); export a new sheet"
            )


def _judged_rows(sheet: Path) -> dict[str, list[tuple[int, dict]]]:
    reader = csv.DictReader(io.StringIO(Path(sheet).read_text(encoding="utf-8")))
    out: dict[str, list[tuple[int, dict]]] = {}
    for line, row in enumerate(reader, start=2):
        if (row.get("judgment") or "").strip():
            out.setdefault(row["set"], []).append((line, row))
    return out


def validity_record(name: str, manifest: dict, sheet: Path, per_id: dict[str, str]) -> dict:
    """The ``validity.json`` of one set: judgments by document id, rates, the set's hash."""
    import hashlib

    task, attack, lang = name.split("/")
    return {
        "schema": VALIDITY_SCHEMA,
        "set": name,
        "task": task,
        "attack": attack,
        "lang": lang,
        "data_sha256": manifest["data"]["sha256"],
        "sheet": Path(sheet).name,
        "sheet_sha256": hashlib.sha256(Path(sheet).read_bytes()).hexdigest(),
        "judgments": dict(sorted(per_id.items())),
        "rates": rates(per_id),
    }


def import_judgments(sheet: Path, root: Path) -> list[tuple[str, dict]]:
    """Write validity rates into the manifest of every set the sheet judges, and the
    per-example judgments into ``validity.json`` beside it (replacing an earlier import)."""
    from adversarial.build import atomic_write_text

    judged = read_judgments(sheet)
    if not judged:
        raise XtremeAdvError(f"{sheet}: no row has a judgment yet")
    rows_by_set = _judged_rows(sheet)
    updates = []
    for name, per_id in sorted(judged.items()):
        folder = Path(root) / name
        path = folder / "manifest.json"
        if len(name.split("/")) != 3 or not path.is_file():
            raise XtremeAdvError(f"{sheet}: set {name} is not under {root}")
        _check_against_set(sheet, name, folder, rows_by_set[name])
        manifest = json.loads(path.read_text(encoding="utf-8"))
        updates.append((folder, manifest, name, validity_record(name, manifest, sheet, per_id)))
    out = []
    for folder, manifest, name, record in updates:  # all checked before anything is written
        result = record["rates"]
        text = json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        atomic_write_text(folder / VALIDITY_FILE, text)
        manifest["human_validity"] = {
            "sheet": Path(sheet).name,
            "judgments_file": VALIDITY_FILE,
            **result,
        }
        text = json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False)
        atomic_write_text(folder / "manifest.json", text)
        out.append((name, result))
    return out
