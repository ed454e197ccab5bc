"""Sentence-embedding similarity for the validity floor, and a TextAttack constraint around it.

The encoder is any transformers encoder folder (default: the embedded multilingual-e5-small);
sentence vectors are mean-pooled last hidden states, L2-normalised, with E5's ``query: `` prefix
(what E5 recommends for symmetric similarity). Written here rather than taken from
sentence-transformers (not a dependency) in ~30 lines; batches are padded dynamically.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from adversarial import batched_search
from adversarial.textattack_compat import textattack

Constraint = textattack.constraints.Constraint
MAX_LENGTH = 512


class SentenceEncoder:
    """Mean-pooled, L2-normalised sentence embeddings from a transformers encoder folder."""

    def __init__(self, model_dir: str | Path, batch_size: int = 32, prefix: str = "query: "):
        import torch
        from transformers import AutoModel

        from harness_tasks.embedded.tokenizer import load_tokenizer

        self.model_dir = str(model_dir)
        self.tokenizer = load_tokenizer(self.model_dir)
        self.model = AutoModel.from_pretrained(self.model_dir).eval()
        self.batch_size = batch_size
        self.prefix = prefix
        self._torch = torch
        self._cache: dict[str, np.ndarray] = {}  # a search re-embeds its reference every step
        self._store_key: str | None = None

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return an ``[n, dim]`` float32 array of unit vectors, in the order of ``texts``."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            # Inside a lockstep search (adversarial.batched_search): one call for every job.
            batched_search.need(self, missing)
            missing = [t for t in missing if t not in self._cache]
        if missing:
            for text, vec in zip(missing, self._embed(missing), strict=True):
                self._cache[text] = vec
            if len(self._cache) > 2**16:
                self._cache.clear()
                return self._embed(texts)
        return np.stack([self._cache[t] for t in texts])

    def fill(self, texts: list[str]) -> None:
        """Embed and cache ``texts`` (the lockstep scheduler's shared call)."""
        self.embed(texts)

    def embed_stored(self, texts: list[str]) -> np.ndarray:
        """``embed`` through the on-disk embedding cache (``harness_tasks.adapter.embed_cache``):
        the calibration sample of a split is the same for every checkpoint attacked on it, and
        embedding it again took a third of an adaptive cell (23 of 72 s on two busy cores)."""
        from harness_tasks.adapter.embed_cache import cached_embeddings

        return cached_embeddings(texts, self._embed, self.store_key())

    def store_key(self) -> str | None:
        """Identity of the vectors (weights, prefix, length, pooling); None without weights."""
        if self._store_key is None:
            from harness_tasks.weights import weights_sha256

            weights = weights_sha256(Path(self.model_dir))
            if weights is None:
                return None
            settings = {
                "weights": weights,
                "prefix": self.prefix,
                "max_length": MAX_LENGTH,
                "pooling": "mean/l2/similarity",
            }
            self._store_key = json.dumps(settings, sort_keys=True)
        return self._store_key

    def clear_cache(self) -> None:
        """Forget cached vectors (the builder does so per chunk so batches never span chunks)."""
        self._cache.clear()

    def _embed(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths batch well
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = self.tokenizer(
                [self.prefix + texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=MAX_LENGTH,
                return_tensors="pt",
            )
            with torch.inference_mode():
                hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[idx] = pooled.float().numpy()
        return out

    def similarity(self, pairs: list[tuple[str, str]], stored: bool = False) -> np.ndarray:
        """Cosine similarity of each ``(a, b)`` pair, rounded to 6 decimals for stable output;
        ``stored``: embeddings through the on-disk cache (fixed samples, e.g. calibration)."""
        if not pairs:
            return np.zeros(0, dtype=np.float64)
        embed = self.embed_stored if stored else self.embed
        a = embed([p[0] for p in pairs])
        b = embed([p[1] for p in pairs])
        return np.round((a * b).sum(-1).astype(np.float64), 6)


@functools.cache
def load_encoder(model: str) -> SentenceEncoder:
    """The similarity encoder for ``model``: a folder, or ``embedded`` / ``embedded:<layers>``."""
    if model == "embedded" or model.startswith("embedded:"):
        from harness_tasks.embedded import default_model_dir

        layers = int(model.split(":", 1)[1]) if ":" in model else None
        return SentenceEncoder(default_model_dir(layers=layers))
    return SentenceEncoder(model)


class EmbeddingSimilarityFloor(Constraint):
    """Reject a perturbed text whose embedding cosine to the original falls below ``floor``.

    TextAttack's ``UniversalSentenceEncoder`` needs TF Hub and its ``BLEU``/``chrF`` take integer
    thresholds; this constraint uses any local transformers encoder and batches all candidates
    of one step into one forward pass.
    """

    def __init__(self, encoder: SentenceEncoder, floor: float):
        super().__init__(compare_against_original=True)
        self.encoder = encoder
        self.floor = floor

    def _check_constraint_many(self, transformed_texts, reference_text):
        sims = self.encoder.similarity([(reference_text.text, t.text) for t in transformed_texts])
        return [t for t, s in zip(transformed_texts, sims, strict=True) if s >= self.floor]

    def _check_constraint(self, transformed_text, reference_text):
        return bool(self._check_constraint_many([transformed_text], reference_text))

    def extra_repr_keys(self):
        """Keys shown in TextAttack's printout of the attack."""
        return ["floor"]
