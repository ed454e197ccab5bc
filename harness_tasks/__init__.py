"""Clean XTREME tasks for lm-evaluation-harness and the `xtreme-encoder` model adapter."""

from pathlib import Path

__version__ = "0.1.0"


def tasks_path() -> Path:
    """Return the folder of task YAMLs to pass to lm-eval's ``--include_path``."""
    return Path(__file__).resolve().parent / "tasks"
