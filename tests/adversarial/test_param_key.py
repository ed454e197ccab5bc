"""An attack's parameters name one build whatever their spelling: ``0`` and ``0.0`` are one key."""

from __future__ import annotations

import json
from pathlib import Path

from adversarial.build import BuildRequest, canonical_params, config_key


def _key(xtreme_data_dir: Path, **params: object) -> tuple[str, dict]:
    request = BuildRequest(
        "xnli", "de", "charnoise", params, data_dir=str(xtreme_data_dir), limit=2
    )
    config = request.config(request.load())
    return config_key(config), config


def test_int_and_float_spellings_share_one_config_key(xtreme_data_dir: Path) -> None:
    # floor_quantile 0 turns the calibration off; min_similarity 0 loads no encoder.
    as_int, config = _key(xtreme_data_dir, floor_quantile=0, min_similarity=0, max_ratio=1)
    as_float, _ = _key(xtreme_data_dir, floor_quantile=0.0, min_similarity=0.0, max_ratio=1.0)
    as_text, _ = _key(xtreme_data_dir, floor_quantile="0", min_similarity="0.0", max_ratio="1")
    assert as_int == as_float == as_text
    # The recorded configuration spells them as the family declares them (floats here).
    assert json.dumps(config["params"]["floor_quantile"]) == "0.0"
    other, _ = _key(xtreme_data_dir, floor_quantile=0, min_similarity=0, max_ratio=0.5)
    assert other != as_int  # a real change of setting still changes the key


def test_declared_ints_stay_ints() -> None:
    params = canonical_params("mlmswap", {"max_candidates": 20.0, "min_confidence": 0, "mlm": "x"})
    assert params == {"max_candidates": 20, "min_confidence": 0.0, "mlm": "x"}
    assert isinstance(params["max_candidates"], int)
    assert isinstance(params["min_confidence"], float)
    # A configuration whose params come unnormalised (e.g. an adaptive set's) hashes the same.
    base = {"attack": "mlmswap", "source": {"path": "/a", "sha256": "s"}}
    one = config_key({**base, "params": {"max_candidates": 20, "min_confidence": 0}})
    two = config_key({**base, "params": {"max_candidates": 20.0, "min_confidence": 0.0}})
    assert one == two
