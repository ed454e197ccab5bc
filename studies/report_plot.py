"""The report's figure: differences of drops, intermediate minus direct, with their intervals.

A small study gets one line per (task, language, attack) comparison (``plot_rows``). A large
one gets small multiples of the means over languages (``plot_means``): one panel per task,
one row per base model and intermediate recipe, one colour per attack, so that 48 means
(4 recipes x 3 tasks x 4 attacks) fit in one figure whose labels leave room for the data.
"""

from __future__ import annotations

from pathlib import Path

from studies.report_tables import recipe_label

XLABEL = "drop(intermediate) - drop(direct), points (negative: intermediate more robust)"
SIGNIFICANT = "#b2182b"
PLAIN = "#4d4d4d"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})  # no version string: same bytes per run
    import matplotlib.pyplot as plt

    plt.close(fig)


def plot_rows(rows: list[dict], path: Path) -> None:
    """Dot-and-interval plot of the differences of drops (points x100), one line per
    comparison row (mean over seeds, paired interval over documents, BH-adjusted p marked)."""
    plt = _pyplot()
    several = len({c["comparison"] for c in rows}) > 1
    labels = [
        (f"{c['comparison']}  " if several else "") + f"{c['task']} {c['lang']} {c['attack']}"
        for c in rows
    ]
    height = max(2.5, 0.32 * len(rows) + 1.4)
    fig, ax = plt.subplots(figsize=(9.5, height), dpi=110)
    for y, c in enumerate(rows):
        color = SIGNIFICANT if c.get("significant") else PLAIN
        if c.get("ci_examples"):
            lo, hi = (100 * v for v in c["ci_examples"])
            ax.plot([lo, hi], [y, y], color=color, linewidth=2, solid_capstyle="butt")
        ax.plot([100 * c["diff"]], [y], "o", color=color, markersize=6)
    ax.axvline(0, color="#999999", linewidth=1, linestyle="--")
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    ax.set_xlabel(XLABEL)
    names = sorted({c["comparison"] for c in rows})
    what = "mean over seeds, 95% paired interval over documents"
    ax.set_title(("" if several else "; ".join(names) + "\n") + what, fontsize=9)
    ax.plot([], [], "o", color=SIGNIFICANT, label="BH-adjusted p < 0.05")
    ax.plot([], [], "o", color=PLAIN, label="not significant / not tested")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ax.grid(axis="x", color="#eeeeee")
    _save(fig, path)


def _row_label(mean: dict, models: dict[str, dict], several_bases: bool) -> str:
    """The recipe of a comparison's intermediate models (from their cards), with the base
    model's name when the study has several."""
    names = mean.get("intermediate_models") or []
    model = models.get(names[0]) if names else None
    recipe = recipe_label(model) if model else mean["comparison"].split(": ", 1)[-1]
    base = mean["comparison"].split("/", 1)[0]
    return f"{base}: {recipe}" if several_bases else recipe


def plot_means(means: list[dict], models: list[dict], path: Path) -> list[dict]:
    """Small multiples of the means over languages (points x100): a panel per task, a row per
    base and recipe, a colour per attack, filled where the unadjusted p < 0.05. Returns what
    was drawn, one dict per mean (panel, row label, attack, diff, interval), in drawing order."""
    plt = _pyplot()
    by_model = {m["model"]: m for m in models}
    tasks = list(dict.fromkeys(m["task"] for m in means))
    attacks = sorted({m["attack"] for m in means})
    several = len({m["comparison"].split("/", 1)[0] for m in means}) > 1
    rows = sorted({_row_label(m, by_model, several) for m in means})
    colors = plt.get_cmap("tab10").colors
    color = {a: colors[i % len(colors)] for i, a in enumerate(attacks)}
    step = 0.7 / max(1, len(attacks))
    offset = {a: (i - (len(attacks) - 1) / 2) * step for i, a in enumerate(attacks)}
    height = max(2.6, 0.55 * len(rows) * max(1, len(attacks)) ** 0.5 + 1.6)
    width = 5.0 + 3.4 * len(tasks)  # row labels and the legend beside the panels
    fig, axes = plt.subplots(
        1, len(tasks), figsize=(width, height), dpi=110, sharex=True, sharey=True
    )
    axes = [axes] if len(tasks) == 1 else list(axes)
    drawn = []
    for ax, task in zip(axes, tasks, strict=True):
        for m in (m for m in means if m["task"] == task):
            label = _row_label(m, by_model, several)
            y = rows.index(label) + offset[m["attack"]]
            diff = 100 * m["diff"]
            filled = m.get("p") is not None and m["p"] < 0.05
            if m.get("ci_examples"):
                lo, hi = (100 * v for v in m["ci_examples"])
                ax.plot([lo, hi], [y, y], color=color[m["attack"]], linewidth=1.6)
            face = color[m["attack"]] if filled else "white"
            ax.plot([diff], [y], "o", markersize=5.5, color=color[m["attack"]],
                    markerfacecolor=face)  # fmt: skip
            drawn.append({"task": task, "row": label, "attack": m["attack"], "diff": diff,
                          "ci": m.get("ci_examples")})  # fmt: skip
        ax.axvline(0, color="#999999", linewidth=1, linestyle="--")
        ax.set_title(task, fontsize=10)
        ax.grid(axis="x", color="#eeeeee")
        for y in range(1, len(rows)):
            ax.axhline(y - 0.5, color="#dddddd", linewidth=0.8)
    axes[0].set_yticks(range(len(rows)), rows)
    axes[0].set_ylim(len(rows) - 0.5, -0.5)
    for a in attacks:
        axes[-1].plot([], [], "o", color=color[a], label=a)
    axes[-1].plot([], [], "o", color=PLAIN, label="filled: p < 0.05 (not adjusted)")
    axes[-1].plot([], [], "o", color=PLAIN, markerfacecolor="white", label="open: p >= 0.05")
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    bases = sorted({m["comparison"].split("/", 1)[0] for m in means})
    fig.suptitle(
        f"{', '.join(bases)}: intermediate recipe vs direct\nmean over seeds and languages, "
        "95% interval (documents, languages stratified)",
        fontsize=9,
    )
    fig.supxlabel(XLABEL, fontsize=9)
    _save(fig, path)
    return drawn
