"""Fixtures for the adversarial tests: a cache of their own, output roots, a small classifier."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def small_classifier(tmp_path_factory, embedded_model_dir_small) -> Path:
    """A 3-label XNLI classifier on the 2-layer embedded encoder (seeded, untrained head).

    Quality does not matter to the tests that use it: they check that searches, transfer and
    metrics behave as TextAttack defines them on a real multilingual encoder.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    out = tmp_path_factory.mktemp("clf")
    labels = ["entailment", "neutral", "contradiction"]
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        embedded_model_dir_small,
        num_labels=3,
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )
    # An untrained head with the usual 0.02 init gives near-constant logits; std 1 makes the
    # decisions depend on the input, so attacks can succeed and fail.
    torch.nn.init.normal_(model.classifier.weight, std=1.0)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(embedded_model_dir_small).save_pretrained(out)
    return out


@pytest.fixture
def out_root(tmp_path) -> Path:
    """An empty output root for built sets."""
    return tmp_path / "adv"


def read_manifest(folder: Path) -> dict:
    """The manifest of a built set folder."""
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
