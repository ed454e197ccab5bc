"""Sentence embeddings cached on disk by content hash, so a retrieval run embeds each side once.

BUCC zh-en embeds 22,213 sentences (85 minutes on two shared CPU cores): a run killed halfway,
or the same sentences scored again (another protocol, a second threshold split), reuses what is
done. The texts are embedded in chunks; each chunk is one ``.npy`` file named by the SHA-256 of
the model identity and the chunk's texts, written atomically, so an interrupted run resumes at
the first missing chunk. ``$XTREME_ADV_EMBED_CACHE`` names the folder (``off`` disables it;
default ``$XTREME_ADV_CACHE/embeddings``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

CHUNK = 2048
ENV = "XTREME_ADV_EMBED_CACHE"


def default_root() -> Path | None:
    """The cache folder, or ``None`` when ``$XTREME_ADV_EMBED_CACHE`` is ``off``."""
    value = os.environ.get(ENV)
    if value == "off":
        return None
    if value:
        return Path(value).expanduser()
    base = Path(os.environ.get("XTREME_ADV_CACHE", "~/.cache/xtreme-adv")).expanduser()
    return base / "embeddings"


def chunk_key(model_key: str, texts: Sequence[str]) -> str:
    """SHA-256 of the model identity and the texts (length-prefixed, so joins cannot collide)."""
    digest = hashlib.sha256(model_key.encode("utf-8"))
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def cached_embeddings(
    texts: Sequence[str],
    compute: Callable[[Sequence[str]], np.ndarray],
    model_key: str | None,
    root: Path | None = None,
    chunk: int = CHUNK,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Embeddings of ``texts`` [n, dim]: cached chunks are read, missing ones computed and saved.

    ``model_key`` identifies everything the vectors depend on (weights, layer, prefix, length);
    ``None`` turns the cache off. ``progress(n)`` is called with the size of each chunk read
    from the cache (``compute`` reports its own progress).
    """
    root = root if root is not None else default_root()
    parts = []
    for start in range(0, len(texts), chunk):
        part = list(texts[start : start + chunk])
        path = None
        if root is not None and model_key is not None:
            key = chunk_key(model_key, part)
            path = root / key[:2] / f"{key}.npy"
            if path.is_file():
                try:
                    vectors = np.load(path)
                    if vectors.shape[0] == len(part):
                        parts.append(vectors)
                        if progress:
                            progress(len(part))
                        continue
                except (OSError, ValueError):
                    pass  # unreadable (e.g. truncated by a crash): computed again below
        vectors = np.asarray(compute(part), dtype=np.float32)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with tmp.open("wb") as handle:
                np.save(handle, vectors)
            os.replace(tmp, path)
        parts.append(vectors)
    if not parts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(parts, axis=0)


__all__ = ["CHUNK", "ENV", "cached_embeddings", "chunk_key", "default_root"]
