"""Context tables of the study report: how each recipe trained and scored clean, and what the
adaptive attacks did (TextAttack's metrics). A comparison of drops is read against them: a
phase whose loss stays at the uniform guess trained nothing, and a model at chance cannot drop.

Every number is copied or averaged from files: the leaderboard's ``models`` block (each
checkpoint's provenance card, with its phases' training metrics) and ``rows`` (clean scores),
and the adaptive cells' reports ``DIR/adaptive/<model>/<attack>/<lang>.json``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from statistics import mean

# Classes or answer choices of each task a phase can train (its dataset's definition): a uniform
# guess has loss ln k. Tasks without one (QA spans, tagging, retrieval) are left out.
CHOICES = {
    "xnli": 3, "mnli": 3, "anli": 3, "pawsx": 2, "qqp": 2, "xcopa": 2,
    "cosmosqa": 4, "socialiqa": 3, "hellaswag": 4, "commonsenseqa": 5,
}  # fmt: skip

ADAPTIVE_METRICS = (
    ("original_accuracy", "accuracy before"),
    ("accuracy_under_attack", "accuracy under attack"),
    ("attack_success_rate", "success rate"),
    ("avg_num_queries", "queries per example"),
    ("avg_word_perturbed_perc", "% words perturbed"),
)


def recipe_label(model: dict) -> str:
    """``direct`` or the intermediate tasks joined with ``+`` in name order (as the
    leaderboard's comparison names them): a model's recipe in the report."""
    tasks = sorted(model.get("intermediate_tasks") or [])
    return "+".join(tasks) if tasks else "direct"


def _group_key(model: dict) -> tuple[str, str]:
    return (str(model.get("target_task")), recipe_label(model))


def _loss(values: list[float]) -> str:
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{mean(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def _phase_loss(model: dict, phase: str) -> float | None:
    for record in (model.get("provenance") or {}).get("phases", []):
        if record.get("name") == phase:
            return (record.get("metrics") or {}).get("last_logged_loss")
    return None


def uniform_loss(model: dict, phase: str) -> float | None:
    """The loss of a uniform guess over the phase's tasks: ln k, averaged over a multi-task
    phase's tasks weighted by their training examples (None if a task has no classes)."""
    for record in (model.get("provenance") or {}).get("phases", []):
        if record.get("name") != phase:
            continue
        tasks = record.get("tasks") or []
        if not tasks or any(t.get("name") not in CHOICES for t in tasks):
            return None
        weights = [t.get("n_examples") or 0 for t in tasks]
        if sum(weights) == 0:
            weights = [1] * len(tasks)
        logs = [math.log(CHOICES[t["name"]]) for t in tasks]
        return sum(w * v for w, v in zip(weights, logs, strict=True)) / sum(weights)
    return None


def training_lines(board: dict) -> list[str]:
    """Markdown: per target and recipe, the seeds, each phase's training loss over its last
    logging window (mean over seeds, range) and the clean score (mean over static-attack rows'
    languages, then seeds)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for model in board.get("models", []):
        groups.setdefault(_group_key(model), []).append(model)
    if not groups:
        return []
    clean: dict[str, dict[tuple[str, str], float]] = {}
    for row in board.get("rows", []):
        if row.get("attack_kind", "static") == "static" and row.get("clean") is not None:
            clean.setdefault(row["model"], {})[(row["task"], row["lang"])] = row["clean"]
    lines = [
        "## Training and clean scores",
        "",
        "Training loss over each phase's last logging window (mean over seeds, range; with one "
        "epoch every batch is scored before the model learns from it, so the intermediate loss "
        "is a held-out estimate), the clean score, x100 (mean over languages, then seeds), "
        "from the leaderboard's `models` and `rows`, and the loss of a uniform guess over each "
        "phase's classes or choices (ln k; a multi-task phase: weighted by its tasks' "
        "examples): a phase whose loss stays there learned nothing.",
        "",
        "| target | recipe | seeds | intermediate loss | target loss | clean score | "
        "uniform guess (intermediate, target) |",
        "|---|---|---|---|---|---|---|",
    ]
    for (target, recipe), models in sorted(groups.items()):
        seeds = sorted(m.get("seed") for m in models if m.get("seed") is not None)
        inter = [v for m in models if (v := _phase_loss(m, "intermediate")) is not None]
        tgt = [v for m in models if (v := _phase_loss(m, "target")) is not None]
        scores = [mean(clean[m["model"]].values()) for m in models if clean.get(m["model"])]
        score = "n/a" if not scores else f"{100 * mean(scores):.1f}"
        guess = [uniform_loss(models[0], phase) for phase in ("intermediate", "target")]
        guess_text = ", ".join("n/a" if g is None else f"{g:.3f}" for g in guess)
        lines.append(
            f"| {target} | {recipe} | {','.join(map(str, seeds))} | {_loss(inter)} | "
            f"{_loss(tgt)} | {score} | {guess_text} |"
        )
    return lines + [""]


# A set that changes fewer of the scored documents than this measures little of the attack.
LOW_COVERAGE = 0.5


def coverage_lines(board: dict) -> list[str]:
    """Markdown: the (task, language, attack) sets that changed under half of the scored
    documents (the share from the rows' ``perturbed_rate``; range over models): their drop is
    near zero because the attack found little to change (no homoglyph for a script, words too
    short), not because a model resisted it."""
    shares: dict[tuple[str, str, str], list[float]] = {}
    for row in board.get("rows", []):
        if row.get("perturbed_rate") is not None and row.get("attack_kind", "static") == "static":
            key = (row["task"], row["lang"], row["attack"])
            shares.setdefault(key, []).append(row["perturbed_rate"])
    low = {k: v for k, v in sorted(shares.items()) if max(v) < LOW_COVERAGE}
    if not low:
        return []
    lines = [
        "## Sets that change few documents",
        "",
        f"Static sets that changed under {100 * LOW_COVERAGE:.0f}% of the scored documents "
        "(every model's row): their drops say that the attack found little to change, not that "
        "a model resisted it. Share of scored documents changed, x100 (range over models):",
        "",
        "| task | lang | attack | changed |",
        "|---|---|---|---|",
    ]
    for (task, lang, attack), values in low.items():
        lo, hi = min(values), max(values)
        span = f"{100 * lo:.1f}" + ("" if lo == hi else f"-{100 * hi:.1f}")
        lines.append(f"| {task} | {lang} | {attack} | {span} |")
    return lines + [""]


def adaptive_reports(out: Path) -> list[Path]:
    """The adaptive cells' reports, ``DIR/adaptive/<model>/<attack>/<lang>.json``."""
    return sorted(p for p in (Path(out) / "adaptive").glob("*/*/*.json") if p.is_file())


def adaptive_lines(out: Path, board: dict) -> list[str]:
    """Markdown: per target, recipe and attack, TextAttack's metrics of the adaptive attacks
    (means over seeds and languages of each set's report; a metric TextAttack leaves undefined
    for a set is left out of the mean)."""
    models = {m["model"]: m for m in board.get("models", [])}
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for path in adaptive_reports(out):
        model = models.get(path.parent.parent.name)
        if model is None:
            continue  # a checkpoint the leaderboard never scored: not part of the answer
        report = json.loads(path.read_text(encoding="utf-8"))
        groups.setdefault((*_group_key(model), path.parent.name), []).append(report)
    if not groups:
        return []
    header = " | ".join(label for _, label in ADAPTIVE_METRICS)
    lines = [
        "## Adaptive attacks",
        "",
        "TextAttack's metrics of the attacks each checkpoint faced (`xtreme-adv attack "
        "adaptive`, against itself): means over seeds and languages of the sets' reports "
        "(`adaptive/<model>/<attack>/<lang>.json`); accuracies and rates in %.",
        "",
        f"| target | recipe | attack | sets | examples | {header} |",
        "|---|---|---|---|---|" + "---|" * len(ADAPTIVE_METRICS),
    ]
    for (target, recipe, attack), reports in sorted(groups.items()):
        cells = []
        for key, _ in ADAPTIVE_METRICS:
            values = [r["metrics"][key] for r in reports if r["metrics"].get(key) is not None]
            cells.append("n/a" if not values else f"{mean(values):.1f}")
        n = sum(int(r["metrics"].get("n_examples") or 0) for r in reports)
        lines.append(
            f"| {target} | {recipe} | {attack} | {len(reports)} | {n} | {' | '.join(cells)} |"
        )
    return lines + [""]
