"""Resampling units shared by the languages of a parallel task, for averages over languages.

XNLI, PAWS-X, XQuAD, MLQA and XCOPA are translations: a document and its translations share a
parallel key (its id without the ``<lang>-`` prefix; QA question ids and XCOPA's ``idx`` are
shared as they are; docs/contracts.md section 8). Outcomes on translations are correlated (an
example a model gets wrong in German it tends to get wrong in French), so these languages are
not independent strata: resampling each language on its own leaves the covariances out of the
variance of an average over languages, and that average's interval comes out too narrow.

An average over the languages of such a task is therefore resampled by parallel unit, once for
all its languages: a unit is a parallel key (QA: the connected set of context paragraphs that
hold parallel questions, so a paragraph stays whole as in each row's own interval), and each
language's statistic is its ratio of sums over the units it holds (units it lacks weigh
nothing in it). This is the cluster bootstrap with the translated item as the cluster
(Davison and Hinkley 1997, sec. 3.8). Other tasks (Tatoeba, BUCC, PAN-X, UD-POS, TyDiQA) hold
different documents per language and stay independent strata.
"""

from __future__ import annotations

import functools

import numpy as np

from leaderboards.holdout import parallel_key
from leaderboards.units import Scores

# Task families whose languages are translations of the same items: the parallel hold-out's
# families (contracts.md section 8) and XCOPA (COPA's items; nothing here trains on them).
PARALLEL_TASKS = frozenset({"xnli", "pawsx", "xquad", "mlqa", "xcopa"})


def is_parallel(task: str) -> bool:
    """Whether ``task``'s languages hold translations of the same documents."""
    return task in PARALLEL_TASKS


class _Components:
    """Union-find over hashable nodes (paragraphs and the parallel keys that link them)."""

    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def find(self, node: object) -> object:
        root = self.parent.setdefault(node, node)
        while root != self.parent[root]:
            root = self.parent[root]
        while node != root:  # path compression
            following = self.parent[node]
            self.parent[node] = root
            node = following
        return root

    def union(self, a: object, b: object) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def shared_units(
    by_lang: dict[str, Scores], splits: dict[str, str | None] | None = None
) -> tuple[dict[str, np.ndarray], int]:
    """Per language, the code (0..n-1) of each document's parallel unit, and n.

    Translations pair within one split (``splits``: per language, the split scored; a
    language scored on test and another on dev hold different items under the same keys).

    A unit is a parallel key, or for documents resampled by context paragraph (``cluster``)
    the paragraphs of every language joined through the parallel questions they hold.
    Codes follow the first appearance in language order, so they do not depend on hashing.
    Every model and attack of a task holds the same documents: the codes are computed once.
    """
    splits = splits or {}
    key = tuple(
        (lang, splits.get(lang), s.ids,
         None if s.cluster is None else np.asarray(s.cluster, np.int64).tobytes())
        for lang, s in sorted(by_lang.items())
    )  # fmt: skip
    return _units(key)


@functools.lru_cache(maxsize=256)
def _units(key: tuple) -> tuple[dict[str, np.ndarray], int]:
    comps = _Components()
    nodes: dict[str, list[object]] = {}
    for lang, split, ids, cluster in key:
        keys = [("key", split, parallel_key(doc_id, lang)) for doc_id in ids]
        if cluster is None:
            nodes[lang] = keys
            for node in keys:
                comps.find(node)
            continue
        clusters = np.frombuffer(cluster, dtype=np.int64)
        paragraphs = [("paragraph", lang, int(c)) for c in clusters]
        for node, paragraph in zip(keys, paragraphs, strict=True):
            comps.union(node, paragraph)
        nodes[lang] = paragraphs
    codes: dict[object, int] = {}
    out = {}
    for lang, _, _, _ in key:
        roots = [comps.find(node) for node in nodes[lang]]
        out[lang] = np.fromiter(
            (codes.setdefault(root, len(codes)) for root in roots), np.int64, len(roots)
        )
        out[lang].flags.writeable = False  # shared by every caller of the cache
    return out, len(codes)
