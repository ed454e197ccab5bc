"""Per-document scores as resampling units, for every metric of docs/contracts.md section 2.

Each task's samples file becomes a :class:`Scores`: per-document numerators and denominators
whose ratio of sums is the task's metric, so that one formula re-scores the file and one
resampling of documents gives a bootstrap replicate of any metric:

- ``mean``: xnli, pawsx, xcopa, tatoeba (``acc``), QA (per-question ``f1``): value / 1;
- ``ratio``: udpos (token accuracy, a ratio estimator over sentences): correct / tokens;
- ``f1``: panx (entity-span F1, seqeval's CoNLL spans): 2 x true positive spans /
  (predicted + gold spans);
- ``bucc``: F1 at the best threshold, as XTREME, recomputed per replicate from each source
  sentence's (gold, mined, score).

QA documents are questions; several share a context paragraph, so QA is resampled by
paragraph (``cluster``). Nothing here imports ``harness_tasks``: the per-line formats are
those its ``process_results`` hooks log (contracts.md section 6).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from leaderboards import stats

KIND_OF_TASK = {"udpos": "ratio", "panx": "f1", "bucc": "bucc"}
QA_TASKS = ("xquad", "mlqa", "tydiqa")
_IDS: dict[tuple[str, ...], tuple[str, ...]] = {}


def shared_ids(ids: list[str]) -> tuple[str, ...]:
    """One tuple object per distinct id list: every model and attack of a task shares it.

    At 200 models x 400 tasks this keeps one copy of each document id list instead of 80,000.
    """
    key = tuple(ids)
    return _IDS.setdefault(key, key)


def cluster_of(doc: dict) -> int:
    """A stable 63-bit key of a QA document's context paragraph (its resampling unit)."""
    text = doc.get("context")
    raw = (text if isinstance(text, str) else "").encode("utf-8")
    return int.from_bytes(hashlib.sha256(raw).digest()[:8], "little") >> 1


def _tokens(value: object) -> tuple[list[str], list[str]] | None:
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, list) and all(isinstance(t, str) for t in v) for v in value)
        and len(value[0]) == len(value[1])
    ):
        return list(value[0]), list(value[1])
    return None


_ENDS = {("B", "B"), ("B", "S"), ("B", "O"), ("I", "B"), ("I", "S"), ("I", "O")}
_STARTS = {("E", "E"), ("E", "I"), ("S", "E"), ("S", "I"), ("O", "E"), ("O", "I")}


def conll_spans(tags: list[str]) -> list[tuple[str, int, int]]:
    """(type, first, last) of every entity, as ``seqeval.metrics.sequence_labeling.
    get_entities`` finds them (its default, prefix mode; the CoNLL chunking XTREME scores).

    Ported rather than imported: importing seqeval imports scikit-learn, ~100 MB of memory that
    the leaderboard's 500 MB budget at 200 models cannot spare. A test checks it against
    seqeval on random and ill-formed tag sequences.
    """
    prev_tag, prev_type, begin = "O", "", 0
    chunks = []
    for i, chunk in enumerate([*tags, "O"]):
        tag = chunk[0] if chunk else "O"
        type_ = chunk[1:].split("-", maxsplit=1)[-1] or "_"
        end = (
            prev_tag in ("E", "S")
            or (prev_tag, tag) in _ENDS
            or (prev_tag not in ("O", ".") and prev_type != type_)
        )
        if end:
            chunks.append((prev_type, begin, i - 1))
        start = (
            tag in ("B", "S")
            or (prev_tag, tag) in _STARTS
            or (tag not in ("O", ".") and prev_type != type_)
        )
        if start:
            begin = i
        prev_tag, prev_type = tag, type_
    return chunks


def unit_value(kind: str, value: object) -> tuple[float, float] | tuple[str, str, float] | None:
    """(numerator, denominator) of one logged per-sample value, or BUCC's (gold, mined, score).

    None when the value has the wrong shape for the kind (the caller names file and line).
    """
    if kind == "mean":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (float(value), 1.0) if math.isfinite(value) else None
        return None
    if kind in ("ratio", "f1"):
        pair = _tokens(value)
        if pair is None:
            return None
        gold, pred = pair
        if kind == "ratio":
            return float(sum(g == p for g, p in zip(gold, pred, strict=True))), float(len(gold))
        g = set(conll_spans(gold))
        p = set(conll_spans(pred))
        return 2.0 * len(g & p), float(len(g) + len(p))
    if isinstance(value, list | tuple) and len(value) in (3, 5):  # bucc
        # (gold, mined, score) or harness_tasks' (gold, mined, score, protocol, threshold)
        gold, mined, score = value[:3]
        if isinstance(gold, str) and isinstance(mined, str):
            if isinstance(score, int | float) and not isinstance(score, bool):
                return gold, mined, float(score)
            if score is None or score == "-Infinity":
                return gold, mined, -math.inf
    return None


@dataclass
class Scores:
    """Per-document units of one task (documents in file order, scored ones only)."""

    kind: str
    ids: tuple[str, ...]
    num: np.ndarray  # float64 (uint8 for 0/1 values); bucc: 1.0 where mined target is gold
    den: np.ndarray | None  # None: all ones (kind "mean"); bucc: 1.0 where a gold target exists
    score: np.ndarray | None = None  # bucc: mining score (-inf: nothing mined)
    cluster: np.ndarray | None = None  # QA: context key per document
    rule: str = "rank"  # bucc: "rank" (xtreme-adv) or "xtreme" (ties at the threshold kept)
    threshold: float | None = None  # bucc, rule "xtreme": the threshold chosen on dev
    perturbed: np.ndarray | None = None  # adversarial sets: 1 where the set changed the document

    @property
    def binary(self) -> bool:
        """Every document scores 0 or 1 (accuracy): Wilson/Newcombe intervals and flips apply."""
        return self.kind == "mean" and bool(np.all((self.num == 0.0) | (self.num == 1.0)))

    @property
    def values(self) -> np.ndarray:
        """Per-document values of a ``mean`` task."""
        return self.num

    def index(self) -> dict[str, int]:
        """Map doc id -> position."""
        return {doc_id: i for i, doc_id in enumerate(self.ids)}

    def take(self, positions: np.ndarray) -> Scores:
        """These scores restricted to (and ordered as) ``positions``."""
        return Scores(
            self.kind,
            tuple(self.ids[i] for i in positions),
            self.num[positions],
            None if self.den is None else self.den[positions],
            None if self.score is None else self.score[positions],
            None if self.cluster is None else self.cluster[positions],
            self.rule,
            self.threshold,
            None if self.perturbed is None else self.perturbed[positions],
        )

    def value(self) -> float:
        """The task's metric over all documents (what lm-eval's aggregation gives)."""
        return float(Side.of(self).point())


@dataclass
class Side:
    """One statistic over resampling units: ratio of sums, or BUCC's best-threshold F1."""

    kind: str
    num: np.ndarray
    den: np.ndarray
    score: np.ndarray | None = None
    unit_den: bool = False  # every denominator is 1 (documents of a mean, not clusters)
    rule: str = "rank"
    threshold: float | None = None

    @staticmethod
    def of(scores: Scores, units: np.ndarray | None = None, n_units: int = 0) -> Side:
        """The side of ``scores`` with documents summed into ``units`` (cluster codes 0..n-1)."""
        num = np.asarray(scores.num, dtype=np.float64)  # 0/1 values are stored as uint8
        den = np.ones_like(num) if scores.den is None else scores.den
        if scores.kind == "bucc":
            return Side("bucc", num, den, scores.score, rule=scores.rule,
                        threshold=scores.threshold)  # fmt: skip
        if units is None:
            return Side(scores.kind, num, den, unit_den=scores.den is None)
        return Side(
            scores.kind,
            np.bincount(units, weights=num, minlength=n_units),
            np.bincount(units, weights=den, minlength=n_units),
        )

    @property
    def size(self) -> int:
        """Number of resampling units."""
        return int(self.num.size)

    def point(self) -> float:
        """The statistic on the units as they are."""
        if self.kind == "bucc":
            return float(self._bucc(np.ones((1, self.size)))[0])
        return stats.ratio(self.num, self.den)

    def replicates(self, idx: np.ndarray) -> np.ndarray:
        """The statistic on each resample (rows of unit positions)."""
        if self.kind == "mean" and self.unit_den:  # a plain mean: no denominators to gather
            return self.num[idx].mean(axis=1)
        if self.kind == "bucc":
            n_boot, n = idx.shape[0], self.size
            flat = (idx + (np.arange(n_boot) * n)[:, None]).ravel()
            counts = np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n)
            return self._bucc(counts.astype(np.float64))
        return stats.ratio_replicates(self.num, self.den, idx)

    def jackknife(self) -> np.ndarray | None:
        """Leave-one-unit-out values (None for BUCC: its BCa uses no acceleration)."""
        if self.kind == "bucc":
            return None
        return stats.ratio_jackknife(self.num, self.den)

    def _xtreme(self, w: np.ndarray) -> float:
        """XTREME's rule (``bucc_optimize`` then ``bucc_extract``), units weighted by ``w``: the
        threshold is the dev one when given, else the midpoint between the best-F1 cut's score
        and the next mined score; then every pair scoring at least the threshold is kept."""
        assert self.score is not None
        gold = float(w @ self.den)
        mined = np.isfinite(self.score) & (w > 0)
        if gold == 0 or not mined.any():
            return 0.0
        order = np.flatnonzero(mined)[np.argsort(-self.score[mined], kind="stable")]
        scores, weights, hits = self.score[order], w[order], (w * self.num)[order]
        threshold = self.threshold
        if threshold is None:
            cum_hits, cum_rank = np.cumsum(hits), np.cumsum(weights)
            f1 = np.where(cum_hits > 0, 2 * cum_hits / (cum_rank + gold), 0.0)
            best = int(np.argmax(f1))  # the first maximum, as the strict ">" of the loop
            if f1[best] <= 0:
                threshold = 0.0
            else:
                following = scores[best + 1] if best + 1 < scores.size else scores[best]
                threshold = (scores[best] + following) / 2
        keep = scores >= threshold
        correct = float(hits[keep].sum())
        return 2 * correct / (float(weights[keep].sum()) + gold) if correct else 0.0

    def _bucc(self, counts: np.ndarray) -> np.ndarray:
        """Best-threshold F1 (XTREME's ``bucc_optimize``) with each unit weighted by counts.

        F1 at a cut-off after rank r with h correct pairs is 2h / (r + G); a unit drawn twice
        moves both together, and F1 only rises on a correct pair and falls on a wrong one, so
        the maximum over weighted cut-offs equals that over the expanded list.
        """
        assert self.score is not None
        if self.rule == "xtreme":
            return np.array([self._xtreme(w) for w in counts])
        gold_total = counts @ self.den
        mined = np.isfinite(self.score)
        order = np.argsort(-self.score[mined], kind="stable")
        pos = np.flatnonzero(mined)[order]
        w = counts[:, pos]
        hits = np.cumsum(w * self.num[pos], axis=1)
        rank = np.cumsum(w, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            f1 = np.where(hits > 0, 2 * hits / (rank + gold_total[:, None]), 0.0)
        best = f1.max(axis=1) if f1.shape[1] else np.zeros(counts.shape[0])
        return np.where(gold_total > 0, best, 0.0)


def bucc_units(items: list[tuple[str, str, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(correct, has_gold, score) arrays of BUCC source documents."""
    correct = np.array([float(bool(m) and g == m) for g, m, _ in items], dtype=np.float64)
    has_gold = np.array([float(bool(g)) for g, _, _ in items], dtype=np.float64)
    score = np.array([s if m else -math.inf for _, m, s in items], dtype=np.float64)
    return correct, has_gold, score
