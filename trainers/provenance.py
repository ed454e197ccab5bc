"""The provenance card (docs/contracts.md s.5) and the model card rendered from it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import metadata

SCHEMA = "xtreme-adv/provenance/1"


def library_versions() -> dict:
    """Versions of the libraries a checkpoint depends on."""
    versions = {}
    for key, dist in [
        ("xtreme_adv", "xtreme-adv"),
        ("torch", "torch"),
        ("transformers", "transformers"),
        ("datasets", "datasets"),
        ("accelerate", "accelerate"),
    ]:
        try:
            versions[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[key] = None
    return versions


def build_card(
    *,
    model_id: str,
    recipe: str,
    base_name: str,
    base_sha256: str,
    intermediate_tasks: list[str],
    target_task: str,
    seed: int,
    phases: list[dict],
    weights_sha256: str,
) -> dict:
    """A provenance card with the contract's fields, in the contract's order."""
    return {
        "schema": SCHEMA,
        "model_id": model_id,
        "recipe": recipe,
        "base_model": {"name": base_name, "sha256": base_sha256},
        "intermediate_tasks": intermediate_tasks,
        "target_task": target_task,
        "seed": seed,
        "phases": phases,
        "weights_sha256": weights_sha256,
        "versions": library_versions(),
        "created": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render_model_card(card: dict) -> str:
    """README.md for the checkpoint folder: a readable summary plus the card itself."""
    lines = [
        "---",
        "library_name: transformers",
        "tags: [xtreme-adv, xtreme, " + card["target_task"] + "]",
        "---",
        "",
        f"# {card['model_id']}",
        "",
        f"Recipe **{card['recipe']}**: base model `{card['base_model']['name']}` "
        f"(weights sha256 `{card['base_model']['sha256'][:16]}...`)"
        + (
            f", intermediate task(s) {', '.join(card['intermediate_tasks'])}"
            if card["intermediate_tasks"]
            else ""
        )
        + f", target task `{card['target_task']}`, seed {card['seed']}.",
        "",
        "Written by `xtreme-adv train`. Evaluate with "
        "`xtreme-adv eval run --model xtreme-encoder --model_args pretrained=<this folder> ...`.",
        "",
    ]
    for phase in card["phases"]:
        lines += [f"## Phase: {phase['name']}", "", "| task | examples | source | sha256 |",
                  "|---|---|---|---|"]  # fmt: skip
        for task in phase["tasks"]:
            lines.append(
                f"| {task['name']} | {task['n_examples']} | {task['source']} | "
                f"`{task['sha256'][:16]}` |"
            )
        lines += ["", "Hyper-parameters: " + ", ".join(
            f"{k}={_fmt(v)}" for k, v in phase["hyperparameters"].items() if v is not None
        ), ""]  # fmt: skip
        if phase["metrics"]:
            lines += ["Training metrics: " + ", ".join(
                f"{k}={_fmt(v)}" for k, v in phase["metrics"].items()
            ), ""]  # fmt: skip
    lines += [
        f"Final weights sha256: `{card['weights_sha256']}`",
        "",
        "## Provenance card",
        "",
        "```json",
        json.dumps(card, indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)
