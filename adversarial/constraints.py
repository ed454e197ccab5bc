"""Validity constraints as TextAttack constraint parts, shared by static and search-based builds.

* :class:`ProtectedWords` (a ``PreTransformationConstraint``): negations
  (:func:`adversarial.lexicon.is_negation`), numbers and one-grapheme words are never modified.
  TextAttack has stopword and length constraints but nothing that knows negation in 40
  languages, and its ``MinWordLength`` counts code points, not grapheme clusters.
* :class:`MaxZeroWidthShare` (a ``Constraint``): invisible zero-width insertions stay a
  minority of a text's edits, so the visual family is mostly something a reader can see.
* :class:`CharacterEditSimilarity` (a ``Constraint``): every changed word reads as a
  misspelling of the original (:func:`is_typo`), so a typo passes and a swap to an unrelated
  real word does not. Sentence-embedding cosines cannot tell the two apart (one word of a
  sentence moves the vector little either way); TextAttack's ``LevenshteinEditDistance``
  counts edits over the whole text and its ``chrF`` scores the whole text, neither per word.
* :class:`OriginalWordsModificationRate` (a ``PreTransformationConstraint``): the modification
  limit in the static budget's units, original words (TextAttack's counts current indices, so
  a word a segmenter re-splits after an edit counts twice).
"""

from __future__ import annotations

import difflib
import math
import unicodedata

from nltk.metrics.distance import edit_distance

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


def _skeleton(word: str, reference: str) -> str:
    """``word`` as a reader sees it next to ``reference``: zero-width spaces dropped, strippable
    diacritics stripped, and homoglyphs of ``reference`` 's characters read as those."""
    word = lexicon.strip_diacritics(word.replace(ZERO_WIDTH, ""))
    seen = {}
    for ch in lexicon.strip_diacritics(reference.replace(ZERO_WIDTH, "")):
        for glyph in lexicon.homoglyphs(ch):
            seen.setdefault(glyph, ch)
    return "".join(seen.get(ch, ch) for ch in word)


def char_edit_distance(original: str, perturbed: str) -> tuple[int, int]:
    """``(d, n)``: the optimal-string-alignment edit distance (a swap of two neighbours is one
    edit) between the two words' grapheme clusters after :func:`_skeleton` (so a homoglyph, a
    stripped accent or a zero-width space costs nothing), and the longer length."""
    a = graphemes(_skeleton(original, original))
    b = graphemes(_skeleton(perturbed, original))
    return edit_distance(a, b, transpositions=True), max(len(a), len(b))


def char_similarity(original: str, perturbed: str) -> float:
    """How much of ``original`` survives in ``perturbed`` as a reader sees it: ``1 - d / n``
    (:func:`char_edit_distance`). A one-edit typo of a word of ``n`` graphemes keeps
    ``1 - 1/n``; an unrelated word close to 0."""
    d, n = char_edit_distance(original, perturbed)
    return 1.0 - d / n if n else 1.0


def is_typo(original: str, perturbed: str, min_similarity: float) -> bool:
    """Whether ``perturbed`` reads as a misspelling of ``original``: one grapheme edit at most
    (what a charnoise edit is, in a word of any length), or more edits that keep at least
    ``min_similarity`` of it (:func:`char_similarity`)."""
    d, n = char_edit_distance(original, perturbed)
    return d <= 1 or (n > 0 and 1.0 - d / n >= min_similarity - 1e-9)


def changed_words(original: list[str], perturbed: list[str]) -> list[tuple[str, str]]:
    """Pairs ``(original word, perturbed word)`` that differ between two word lists: aligned
    word by word where a run keeps its length, joined where it does not (a zero-width space
    splits a word in two)."""
    pairs = []
    matcher = difflib.SequenceMatcher(None, original, perturbed, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if i2 - i1 == j2 - j1:
            pairs.extend(zip(original[i1:i2], perturbed[j1:j2], strict=True))
        else:
            pairs.append(("".join(original[i1:i2]), "".join(perturbed[j1:j2])))
    return pairs


class CharacterEditSimilarity(textattack.constraints.Constraint):
    """Every changed word reads as a misspelling of the original (:func:`is_typo`: one grapheme
    edit, or ``min_similarity`` of its characters kept): typos and visual edits pass, a swap to
    an unrelated real word ("Mutter" -> "Vater", "дом" -> "кот") does not. A real word one
    edit away ("Haus" -> "Maus", Han "中国" -> "中心") passes: no character measure can tell it
    from a typo."""

    def __init__(self, min_similarity: float):
        super().__init__(compare_against_original=True)
        self.min_similarity = min_similarity

    def _check_constraint(self, transformed_text, reference_text):
        pairs = changed_words(reference_text.words, transformed_text.words)
        return all(is_typo(a, b, self.min_similarity) for a, b in pairs)

    def extra_repr_keys(self):
        """Keys shown in TextAttack's printout of the attack."""
        return ["min_similarity"]


class OriginalWordsModificationRate(textattack.constraints.pre_transformation.MaxModificationRate):
    """At most floor(``max_rate`` x the original text's words) of the original's words change.

    The units of the static builder's budget (:meth:`adversarial.engine.Perturber._budget`:
    floor(ratio x segmented words), one edit per original word). TextAttack's
    ``MaxModificationRate`` counts the *current* text's modified indices and words instead;
    where a segmenter re-splits an edited word (jieba: 生日 -> 甥日 = 甥|日; a zero-width
    space) TextAttack records an insertion, so one edited word counts twice and the text grows
    by a word. For Chinese, with limits of one or two words per Tatoeba sentence, that ended
    searches after their first edit.
    """

    def __init__(self, max_rate: float):
        super().__init__(max_rate, min_threshold=0)

    def _get_modifiable_indices(self, current_text):
        n_original = len(current_text.attack_attrs["original_index_map"])
        limit = math.floor(n_original * self.max_rate + 1e-9)
        if original_words_changed(current_text) >= limit:
            return set()
        return set(range(len(current_text.words)))


def original_words_changed(text) -> int:
    """How many words of the original text the search's ``text`` has changed or deleted
    (TextAttack's ``original_index_map``: original word -> current index, -1 if deleted)."""
    index_map = text.attack_attrs["original_index_map"].tolist()
    modified = text.attack_attrs["modified_indices"]
    return sum(1 for j in index_map if j < 0 or j in modified)
