"""Bitext mining for BUCC as XTREME's ``third_party/utils_retrieve.py`` (from LASER) does it.

XTREME runs ``mine_bitext(mode="mine", retrieval="max", margin="ratio", neighborhood=4)``: the
k nearest neighbours of each sentence in the other language (faiss ``IndexFlatIP``), the ratio
margin of each of those candidates, the best candidate of each sentence in both directions,
then a greedy pass over all candidates, best first, using every sentence once. Duplicate
sentences are embedded once (``text_load_unify``) and ``bucc_eval`` drops pairs whose sentence
occurs more than once in its file (``read_sent2id``).

faiss is not a dependency here: its exact inner-product search is a matrix product and a top-k,
computed in row chunks so memory stays bounded (``chunk`` rows times the other side's size).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

NEIGHBOURS = 4  # LASER's / XTREME's neighbourhood for the ratio margin
CHUNK = 256  # rows per block: 256 x 13,589 similarities (float32 + int64 top-k work) ~ 40 MB


def knn(x: np.ndarray, y: np.ndarray, k: int, chunk: int = CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of each row of ``x`` among the rows of ``y`` by inner product:
    (similarities [n, k], indices [n, k]), best first (faiss ``IndexFlatIP.search``)."""
    k = min(k, y.shape[0])
    sims = np.zeros((x.shape[0], k), dtype=np.float32)
    inds = np.zeros((x.shape[0], k), dtype=np.int64)
    for start in range(0, x.shape[0], chunk):
        block = x[start : start + chunk] @ y.T
        top = np.argpartition(-block, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(block, top, axis=1)
        order = np.argsort(-vals, axis=1, kind="stable")
        sims[start : start + chunk] = np.take_along_axis(vals, order, axis=1)
        inds[start : start + chunk] = np.take_along_axis(top, order, axis=1)
    return sims, inds


def mine(
    x: np.ndarray, y: np.ndarray, k: int = NEIGHBOURS, chunk: int = CHUNK
) -> list[tuple[int, int, float]]:
    """Ratio-margin mining with ``retrieval="max"``: [(x row, y row, margin score)], best first.

    ``x`` and ``y`` are L2-normalised embeddings of unique sentences. As in ``mine_bitext``,
    only pairs scoring above its default threshold 0 are returned.
    """
    if x.shape[0] == 0 or y.shape[0] == 0:
        return []
    x2y_sim, x2y_ind = knn(x, y, k, chunk)
    y2x_sim, y2x_ind = knn(y, x, k, chunk)
    x2y_mean = x2y_sim.mean(axis=1)
    y2x_mean = y2x_sim.mean(axis=1)
    # score_candidates: margin(cos, (fwd_mean + bwd_mean) / 2) for each of the k candidates
    fwd_scores = x2y_sim / ((x2y_mean[:, None] + y2x_mean[x2y_ind]) / 2)
    bwd_scores = y2x_sim / ((y2x_mean[:, None] + x2y_mean[y2x_ind]) / 2)
    fwd_best = x2y_ind[np.arange(x.shape[0]), fwd_scores.argmax(axis=1)]
    bwd_best = y2x_ind[np.arange(y.shape[0]), bwd_scores.argmax(axis=1)]
    indices = np.stack(
        (
            np.concatenate((np.arange(x.shape[0]), bwd_best)),
            np.concatenate((fwd_best, np.arange(y.shape[0]))),
        ),
        axis=1,
    )
    scores = np.concatenate((fwd_scores.max(axis=1), bwd_scores.max(axis=1)))
    seen_src: set[int] = set()
    seen_trg: set[int] = set()
    pairs = []
    for i in np.argsort(-scores):
        src, trg = int(indices[i, 0]), int(indices[i, 1])
        if src in seen_src or trg in seen_trg:
            continue
        seen_src.add(src)
        seen_trg.add(trg)
        if scores[i] > 0:
            pairs.append((src, trg, float(scores[i])))
    return pairs


def unify(texts: Sequence[str]) -> tuple[list[int], list[str]]:
    """(unique index of each text, unique texts in first-seen order), as ``text_load_unify``."""
    first: dict[str, int] = {}
    inds = [first.setdefault(t, len(first)) for t in texts]
    return inds, list(first)


def repeated(texts: Sequence[str]) -> set[str]:
    """Stripped texts occurring more than once: ``bucc_eval`` can give them no id."""
    counts = Counter(t.strip() for t in texts)
    return {t for t, n in counts.items() if n > 1}


def mine_documents(
    src_texts: Sequence[str],
    trg_texts: Sequence[str],
    embed,
    k: int = NEIGHBOURS,
    chunk: int = CHUNK,
) -> dict[int, tuple[int, float]]:
    """Mine BUCC pairs between two lists of sentences as XTREME does, end to end.

    ``embed(texts)`` returns L2-normalised embeddings. Returns source position -> (target
    position, margin score) for every mined pair that ``bucc_eval`` would keep.
    """
    src_inds, src_unique = unify(src_texts)
    trg_inds, trg_unique = unify(trg_texts)
    x = embed(src_unique)
    y = embed(trg_unique)
    src_pos = {u: n for n, u in enumerate(src_inds)}  # unique -> a position (unique if kept)
    trg_pos = {u: n for n, u in enumerate(trg_inds)}
    bad_src, bad_trg = repeated(src_texts), repeated(trg_texts)
    out: dict[int, tuple[int, float]] = {}
    for i, j, score in mine(x, y, k, chunk):
        if src_unique[i].strip() in bad_src or trg_unique[j].strip() in bad_trg:
            continue
        out[src_pos[i]] = (trg_pos[j], score)
    return out


__all__ = ["CHUNK", "NEIGHBOURS", "knn", "mine", "mine_documents", "repeated", "unify"]
