"""Load a tokenizer folder without transformers 4.57.3-4.57.x's spurious Mistral warning.

Those versions warn "incorrect regex pattern ... Mistral" for every local tokenizer whose
``config.json`` was written by a transformers newer than 4.57.2, whatever its model type (the
check meant for Mistral checkpoints falls through for them). Passing ``fix_mistral_regex=False``
explicitly is transformers' own way to say no regex fix is wanted: the warning is skipped and
the tokenizer is exactly what loading without the flag gives (a test compares token ids).
"""

from __future__ import annotations

from pathlib import Path


def _affected() -> bool:
    """Whether the installed transformers has the misfiring check (4.57.x, before 5.0)."""
    import transformers
    from packaging.version import Version

    return Version("4.57.0") <= Version(transformers.__version__) < Version("5.0.0")


def load_tokenizer(path: str | Path, **kwargs):
    """``AutoTokenizer.from_pretrained(path)`` without the spurious Mistral regex warning."""
    from transformers import AutoTokenizer

    if _affected():
        kwargs.setdefault("fix_mistral_regex", False)
    return AutoTokenizer.from_pretrained(path, **kwargs)


__all__ = ["load_tokenizer"]
