"""The embedded multilingual-e5-small retrieves Tatoeba translations through lm-eval."""

from __future__ import annotations

import pytest

from harness_tasks.api import simple_evaluate

pytestmark = pytest.mark.slow


def test_tatoeba_de_accuracy_with_the_embedded_model(
    embedded_model_dir, xtreme_data_dir, monkeypatch
):
    """Nearest-neighbour accuracy German -> English (XTREME's direction) is at least 0.95."""
    monkeypatch.setenv("XTREME_DATA_DIR", str(xtreme_data_dir))
    monkeypatch.setenv("XTREME_ADV_ONLY_TASKS", "1")
    out = simple_evaluate(
        model="xtreme-encoder",
        model_args=f"pretrained={embedded_model_dir}",
        tasks=["xtreme_tatoeba_de"],
        device="cpu",
        batch_size=64,
    )
    acc = out["results"]["xtreme_tatoeba_de"]["acc,none"]
    assert acc >= 0.95
    assert out["config"]["xtreme_adv_model"]["retrieval_prefix"] == "query: "
