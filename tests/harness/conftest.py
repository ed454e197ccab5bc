"""Fixtures for harness_tasks tests: tiny checkpoints per head and lm-eval runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness_tasks.families import FAMILIES
from tests.harness.tiny_models import build_tiny


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Tiny random checkpoints: xnli/pawsx classifiers, pos/ner taggers, QA, MC, and a base."""
    root = tmp_path_factory.mktemp("tiny")
    return {
        "xnli": build_tiny(root / "xnli", "classification", list(FAMILIES["xnli"].labels)),
        "pawsx": build_tiny(root / "pawsx", "classification", list(FAMILIES["pawsx"].labels)),
        "udpos": build_tiny(root / "udpos", "tagging", list(FAMILIES["udpos"].labels)),
        "panx": build_tiny(root / "panx", "tagging", list(FAMILIES["panx"].labels)),
        "qa": build_tiny(root / "qa", "qa"),
        "xcopa": build_tiny(root / "xcopa", "multiple_choice"),
        "wrong_labels": build_tiny(root / "wrong", "classification", ["yes", "maybe", "no"]),
    }


def run_cli(args: list[str], env: dict | None = None, cwd: Path | None = None):
    """Run ``xtreme-adv ARGS`` in a subprocess; returns the CompletedProcess."""
    full_env = {**os.environ, "XTREME_ADV_ONLY_TASKS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "harness_tasks.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=600,
    )


def read_run(output: Path) -> tuple[dict, dict[str, list[dict]]]:
    """The results JSON of an lm-eval run and its samples per task."""
    results_file = next(output.rglob("results_*.json"))
    results = json.loads(results_file.read_text())
    samples = {}
    for task in results["results"]:
        path = next(output.rglob(f"samples_{task}_*.jsonl"))
        samples[task] = [json.loads(line) for line in path.read_text().splitlines()]
    return results, samples
