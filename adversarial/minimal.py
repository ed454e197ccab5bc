"""Minimal perturbations for sets transferred from a source model.

:class:`MinimalGreedyWordSwapWIR` is TextAttack's ``GreedyWordSwapWIR`` followed by a
reduction: once the greedy search flips the source model with ``k`` word edits, the fewest of
those edits that still flip it (and still pass every constraint of the attack) are kept. With
``k <= max_exact`` every subset is tried, smallest first (the minimum over the search's
edits); beyond that each edit is dropped in turn while the flip holds (no single edit can then
be removed). TextAttack has no such reduction step (its greedy searches stop at the first
success, which is not minimal: an early, important word may become unnecessary once later
words are changed), so it is written here as a ``SearchMethod`` over TextAttack's own
``get_goal_results`` and ``filter_transformations``; its model queries count in the result.
"""

from __future__ import annotations

import difflib
import itertools
from collections import OrderedDict

import numpy as np

from adversarial.engine import apply_char_edits
from adversarial.segment import word_spans
from adversarial.textattack_compat import AttackedText, textattack

GreedyWordSwapWIR = textattack.search_methods.GreedyWordSwapWIR
SUCCEEDED = textattack.goal_function_results.GoalFunctionResultStatus.SUCCEEDED
# Up to 7 edits every subset is tried (at most 2**7 - 2 = 126 extra queries per example).
MAX_EXACT = 7


def word_edits(a: str, b: str, lang: str) -> list[dict]:
    """Word-level edits turning ``a`` into ``b``: difflib over the two word sequences, each
    changed run of words reported with its character spans in ``a`` and ``b``; a run that
    replaces ``n`` words by ``n`` words is reported word by word (one edit per word)."""
    sa, sb = word_spans(a, lang), word_spans(b, lang)
    wa, wb = [a[s:e] for s, e in sa], [b[s:e] for s, e in sb]
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if tag == "replace" and i2 - i1 == j2 - j1:
            runs = [(i1 + k, i1 + k + 1, j1 + k, j1 + k + 1) for k in range(i2 - i1)]
        else:
            runs = [(i1, i2, j1, j2)]
        for r1, r2, q1, q2 in runs:
            start = sa[r1][0] if r1 < len(sa) else len(a)
            end = sa[r2 - 1][1] if r2 > r1 else start
            new_start = sb[q1][0] if q1 < len(sb) else len(b)
            new_end = sb[q2 - 1][1] if q2 > q1 else new_start
            out.append(
                {
                    "start": start,
                    "end": end,
                    "original": a[start:end],
                    "perturbed": b[new_start:new_end],
                    "new_start": new_start,
                }
            )
    return out


def edit_units(original, perturbed, lang: str) -> list[tuple[str, int, int, str]]:
    """The word edits between two ``AttackedText`` s as ``(field, start, end, replacement)``."""
    units = []
    for name, text in original._text_input.items():
        new = perturbed._text_input[name]
        if new != text:
            units.extend(
                (name, e["start"], e["end"], e["perturbed"]) for e in word_edits(text, new, lang)
            )
    return units


def text_with(original, units: list[tuple[str, int, int, str]], transformation=None):
    """``original`` with only ``units`` applied, its ``modified_indices`` the words that differ
    from the original, its ``original_index_map`` where each original word went (-1: deleted)
    and ``last_transformation`` the one that made them (what TextAttack's constraints read:
    :class:`adversarial.constraints.OriginalWordsModificationRate` counts original words
    through the map, so a word a typo re-splits in two counts once)."""
    fields = OrderedDict()
    for name, text in original._text_input.items():
        mine = [(s, e, r) for f, s, e, r in units if f == name]
        fields[name] = apply_char_edits(text, mine)[0] if mine else text
    out = AttackedText(fields)
    matcher = difflib.SequenceMatcher(None, original.words, out.words, autojunk=False)
    modified: set[int] = set()
    moved = np.full(len(original.words), -1)  # original's word i -> out's word
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            modified.update(range(j1, j2))
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            moved[i1:i2] = np.arange(j1, j2)
        elif tag == "replace":  # re-split or merged words: each goes to the run's first word
            moved[i1:i2] = j1
    # Composed with the original's own map, in case it is already a perturbed text.
    base = np.asarray(original.attack_attrs["original_index_map"])
    out.attack_attrs["original_index_map"] = np.where(base >= 0, moved[base.clip(min=0)], -1)
    out.attack_attrs["modified_indices"] = modified
    out.attack_attrs["newly_modified_indices"] = set(modified)
    out.attack_attrs["last_transformation"] = transformation
    return out


class MinimalGreedyWordSwapWIR(GreedyWordSwapWIR):
    """``GreedyWordSwapWIR`` whose successful result keeps the fewest of its edits that still
    reach the goal under the attack's constraints.

    After each search ``last`` holds ``{"search_edits": k, "minimal": method}``: the edits the
    greedy search made and how they were reduced (``exact``: the smallest subset, found by
    trying all; ``one_minimal``: no single edit can be dropped; ``""``: not reduced).
    """

    def __init__(self, lang: str, wir_method: str = "delete", max_exact: int = MAX_EXACT):
        super().__init__(wir_method=wir_method)
        self.lang = lang
        self.max_exact = max_exact
        self.last: dict | None = None
        self._transformation = None

    def perform_search(self, initial_result):
        """Greedy search, then the reduction of a successful result."""
        result = super().perform_search(initial_result)
        original = initial_result.attacked_text
        units = edit_units(original, result.attacked_text, self.lang)
        self._transformation = result.attacked_text.attack_attrs.get("last_transformation")
        self.last = {"search_edits": len(units), "minimal": ""}
        if result.goal_status != SUCCEEDED or not units:
            return result
        if len(units) <= self.max_exact:
            self.last["minimal"] = "exact"
            return self._exact(original, units) or result
        self.last["minimal"] = "one_minimal"
        return self._one_minimal(original, units, result)

    def _evaluate(self, original, subsets: list[list]) -> list:
        """Goal results of the texts of ``subsets`` that pass the constraints (``None`` where a
        text is filtered out), in the order of ``subsets``."""
        texts = [text_with(original, s, self._transformation) for s in subsets]
        kept = self.filter_transformations(texts, original, original_text=original)
        allowed = {t.text for t in kept}
        todo = [t for t in texts if t.text in allowed]
        results, _ = self.get_goal_results(todo) if todo else ([], False)
        by_text = {r.attacked_text.text: r for r in results}
        return [by_text.get(t.text) for t in texts]

    def _exact(self, original, units: list):
        """The successful subset of ``units`` with the fewest edits (then the highest score,
        then the first in ``itertools.combinations`` order); None if only all of them work."""
        for size in range(1, len(units)):
            subsets = [list(c) for c in itertools.combinations(units, size)]
            results = self._evaluate(original, subsets)
            wins = [r for r in results if r is not None and r.goal_status == SUCCEEDED]
            if wins:
                return max(wins, key=lambda r: r.score)  # max keeps the first of equals
        return None

    def _one_minimal(self, original, units: list, result):
        """Drop edits one at a time (last in the text first) while the goal holds."""
        current = list(units)
        for unit in reversed(units):
            trial = [u for u in current if u != unit]
            (found,) = self._evaluate(original, [trial])
            if found is not None and found.goal_status == SUCCEEDED:
                current, result = trial, found
        return result

    def extra_repr_keys(self):
        """Keys shown in TextAttack's printout of the attack."""
        return ["wir_method", "lang", "max_exact"]
