"""Evaluate fine-tuned encoder checkpoints through lm-eval (model name ``xtreme-encoder``)."""

from __future__ import annotations

from pathlib import Path


def load_encoder(path: str | Path, device: str = "cpu", batch_size: int = 32, **kwargs):
    """Load a transformers encoder folder as an :class:`EncoderCheckpoint`."""
    from harness_tasks.adapter.checkpoint import EncoderCheckpoint

    return EncoderCheckpoint(path, device=device, batch_size=batch_size, **kwargs)
