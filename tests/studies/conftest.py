"""Fixtures for the study tests: a tiny study file on the 2-layer embedded model."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml


def tiny_study(folder: Path, base: Path, data_root: Path, **changes) -> Path:
    """A tiny study (one target, one language, a handful of documents) written into ``folder``."""
    raw = {
        "name": "tiny",
        "base_models": [{"name": "e5s2", "path": str(base)}],
        "recipes": ["direct", {"name": "anli", "intermediate": ["anli"]}],
        "targets": ["xnli"],
        "seeds": [1],
        "attacks": ["charnoise"],
        "languages": ["de"],
        "data": {
            "xtreme_dir": str(data_root / "xtreme"),
            "intermediate_dir": str(data_root / "intermediate"),
        },
        "limits": {"train_examples": 32, "intermediate_examples": 32, "eval_docs": 12},
        "attack_params": {"charnoise": {"min_similarity": 0}},
        "training": {
            "target_args": ["--epochs", "1", "--batch-size", "16", "--max-length", "64"],
            "intermediate_args": [
                "--intermediate-epochs",
                "1",
                "--intermediate-batch-size",
                "16",
                "--intermediate-max-length",
                "64",
            ],
        },
    }
    raw.update(changes)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def study_file(tmp_path, shared_data, embedded_model_dir_small) -> Path:
    """The tiny study on the shared data slices."""
    return tiny_study(tmp_path / "spec", embedded_model_dir_small, shared_data)
