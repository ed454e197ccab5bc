"""A TextAttack model wrapper with dynamic padding, length-sorted batches and a logits cache.

TextAttack's ``HuggingFaceModelWrapper`` pads every batch to ``model_max_length`` (512 for
XLM-R); this wrapper pads to the longest input of each batch, sorts inputs by length so batches
are homogeneous, and remembers the logits of every input it has seen (an adversarial search asks
for the same text again across steps and across examples sharing a sentence).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from adversarial.textattack_compat import textattack

ModelWrapper = textattack.models.wrappers.ModelWrapper


class DynamicPaddingWrapper(ModelWrapper):
    """Wraps a transformers sequence classifier for TextAttack (strings or sentence pairs)."""

    def __init__(
        self, model, tokenizer, batch_size: int = 64, max_length: int = 512, cache_size: int = 2**16
    ):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_length = max_length
        self.cache: OrderedDict = OrderedDict()
        self.cache_size = cache_size
        self.forward_inputs = 0  # inputs actually run through the model (cache misses)

    @classmethod
    def from_pretrained(cls, path: str | Path, **kwargs) -> DynamicPaddingWrapper:
        """Load a ``*ForSequenceClassification`` checkpoint folder."""
        from transformers import AutoModelForSequenceClassification

        from harness_tasks.embedded.tokenizer import load_tokenizer

        model = AutoModelForSequenceClassification.from_pretrained(str(path))
        return cls(model, load_tokenizer(str(path)), **kwargs)

    def _forward(self, inputs: list) -> np.ndarray:
        import torch

        order = sorted(range(len(inputs)), key=lambda i: len(str(inputs[i])))
        out = [None] * len(inputs)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = [inputs[i] for i in idx]
            if isinstance(batch[0], tuple):
                enc = self.tokenizer(
                    [b[0] for b in batch],
                    [b[1] for b in batch],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
            else:
                enc = self.tokenizer(
                    batch,
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
            with torch.inference_mode():
                logits = self.model(**enc).logits.float().numpy()
            for k, i in enumerate(idx):
                out[i] = logits[k]
        self.forward_inputs += len(inputs)
        return np.stack(out)

    def __call__(self, text_input_list: list) -> np.ndarray:
        """Logits ``[n, n_labels]`` for strings or ``(a, b)`` pairs, cached per input."""
        keys = [tuple(x) if isinstance(x, (list, tuple)) else x for x in text_input_list]
        missing = list(dict.fromkeys(k for k in keys if k not in self.cache))
        if missing:
            for key, row in zip(missing, self._forward(missing), strict=True):
                self.cache[key] = row
                if len(self.cache) > self.cache_size:
                    self.cache.popitem(last=False)
        return np.stack([self.cache[k] for k in keys])

    def get_grad(self, text_input):
        """Not supported: the searches used here query outputs only."""
        raise NotImplementedError("gradient-based searches are not supported")
