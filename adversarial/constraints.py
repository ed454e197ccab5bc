"""Validity constraints as TextAttack constraint parts, shared by static and search-based builds.

* :class:`ProtectedWords` (a ``PreTransformationConstraint``): negations
  (:func:`adversarial.lexicon.is_negation`), numbers and one-grapheme words are never modified.
  TextAttack has stopword and length constraints but nothing that knows negation in 40
  languages, and its ``MinWordLength`` counts code points, not grapheme clusters.
* :class:`MaxZeroWidthShare` (a ``Constraint``): invisible zero-width insertions stay a
  minority of a text's edits, so the visual family is mostly something a reader can see.
"""

from __future__ import annotations

import unicodedata

from adversarial import lexicon
from adversarial.segment import graphemes
from adversarial.textattack_compat import textattack

ZERO_WIDTH = "\u200b"


def protection_reason(word: str, lang: str) -> str | None:
    """Why ``word`` may never be edited (``negation``, ``number``, ``one_grapheme``), or None."""
    if any(unicodedata.category(ch)[0] == "N" for ch in word):
        return "number"
    if len(graphemes(word)) <= 1:
        return "one_grapheme"
    if lexicon.is_negation(word, lang):
        return "negation"
    return None


class ProtectedWords(textattack.constraints.PreTransformationConstraint):
    """Negations, numbers and one-grapheme words of ``lang`` are never modified."""

    def __init__(self, lang: str):
        self.lang = lang

    def _get_modifiable_indices(self, current_text):
        return {
            i
            for i, word in enumerate(current_text.words)
            if protection_reason(word, self.lang) is None
        }

    def extra_repr_keys(self):
        """Keys shown in TextAttack's printout of the attack."""
        return ["lang"]


def is_zero_width_edit(original: str, perturbed: str) -> bool:
    """Whether ``perturbed`` is ``original`` with only zero-width spaces inserted."""
    return perturbed != original and perturbed.replace(ZERO_WIDTH, "") == original


def zero_width_allowed(n_zero_width: int, n_edits: int, share: float) -> bool:
    """Whether one more zero-width edit keeps them at most ``share`` of ``n_edits + 1`` edits."""
    return n_zero_width + 1 <= share * (n_edits + 1) + 1e-9


class MaxZeroWidthShare(textattack.constraints.Constraint):
    """At most ``share`` of the modified words of a text may be zero-width insertions."""

    def __init__(self, share: float):
        super().__init__(compare_against_original=True)
        self.share = share

    def _check_constraint(self, transformed_text, reference_text):
        # Counted on the text: a zero-width space splits a word in TextAttack's word list, so
        # word indices do not line up; each zero-width edit inserts exactly one.
        modified = transformed_text.attack_attrs.get("modified_indices", set())
        n_zw = transformed_text.text.count(ZERO_WIDTH) - reference_text.text.count(ZERO_WIDTH)
        return n_zw <= self.share * max(len(modified), 1) + 1e-9

    def extra_repr_keys(self):
        """Keys shown in TextAttack's printout of the attack."""
        return ["share"]
