"""The provenance card (docs/contracts.md s.5) and the model card rendered from it."""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

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
    tokenizer_sha256: str | None = None,
    text_prefix: str = "",
    retrieval_layer: int = -1,
    scoring_exclusions: list[dict] | None = None,
    run: dict | None = None,
) -> dict:
    """A provenance card with the contract's fields, in the contract's order, then what a
    reviewer needs to rerun and compare: tokenizer hash, the base model's ``text_prefix`` and
    ``retrieval_layer`` (carried over so a checkpoint is scored as its base is), the parallel
    hold-out (``scoring_exclusions``, docs/contracts.md section 8) and the run's environment."""
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
        "tokenizer_sha256": tokenizer_sha256,
        "text_prefix": text_prefix,
        "retrieval_layer": retrieval_layer,
        "scoring_exclusions": list(scoring_exclusions or []),
        "run": dict(run or {}),
        "versions": library_versions(),
        "created": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }


def code_version() -> dict:
    """The code that ran: package version, and the git commit with a dirty flag when the
    package runs from a git checkout (tracked files changed = dirty)."""
    info: dict = {"xtreme_adv": library_versions()["xtreme_adv"]}
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return info
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout.strip()  # fmt: skip
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return info
    return dict(info, git_commit=commit, git_dirty=bool(status.strip()))


def run_environment(
    command: list[str] | None, precision: str, world_size: int, wall_time_s: float
) -> dict:
    """The ``run`` section of the card: command line, code, Python, device, precision, time."""
    import torch

    if torch.cuda.is_available() and os.environ.get("CUDA_VISIBLE_DEVICES") != "":
        device = f"cuda ({torch.cuda.get_device_name(0)})"
    else:
        device = f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)"
    return {
        "command": shlex.join(command) if command else None,
        "code": code_version(),
        "python": platform.python_version(),
        "device": device,
        "precision": precision,
        "world_size": world_size,
        "wall_time_s": round(wall_time_s, 1),
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
    for entry in card.get("scoring_exclusions") or []:
        lines += [
            f"**Parallel hold-out** ({entry['rule']}): trained on half {entry['trained_half']} "
            f"of the parallel keys of `{entry['trained_on']}`; score {entry['eval_task']} on "
            f"half {entry['scored_half']} only (`xtreme-adv eval run` does so from this card).",
            "",
        ]
    if card.get("text_prefix"):
        lines += [f"Text prefix (from the base model): `{card['text_prefix']}`", ""]
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
