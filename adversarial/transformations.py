"""Script-aware TextAttack transformations, one per attack family.

All are ``textattack.transformations.WordSwap`` subclasses (or ``Transformation`` for the
sentence-level distractor), so the same object serves TextAttack's ``Attack`` (adaptive and
source-model builds) and the static builder. Randomness comes from ``self.rng``, which the
caller reseeds per example (``reseed``): output never depends on Python's global ``random``.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterable

from adversarial import lexicon
from adversarial.segment import graphemes
from adversarial.segment import words as segment_words
from adversarial.textattack_compat import textattack

WordSwap = textattack.transformations.WordSwap
WordSwapMaskedLM = textattack.transformations.WordSwapMaskedLM

_HANGUL_BASE, _HANGUL_LAST = 0xAC00, 0xD7A3
ZERO_WIDTH = "\u200b"  # ZERO WIDTH SPACE: invisible, not a joiner (ZWJ/ZWNJ change shaping)


class SeededWordSwap(WordSwap):
    """A ``WordSwap`` whose random choices come from a reseedable ``random.Random``."""

    def __init__(self, lang: str, seed: int = 0):
        super().__init__(letters_to_insert=None)
        self.lang = lang
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Set the seed; a word's candidates are a pure function of (seed, word)."""
        self.seed = seed
        self.rng = random.Random(seed)

    def _get_replacement_words(self, word: str) -> list[str]:
        # Seeding per word makes the candidates independent of call order, so a TextAttack
        # search, its cache, and the static builder all see the same options for a word.
        self.rng = random.Random(f"{self.seed}|{word}")
        return [c for c in self.candidates(word) if c and c != word]

    def candidates(self, word: str) -> list[str]:
        """Replacement candidates for ``word`` (may include ``word`` itself, filtered later)."""
        raise NotImplementedError


def _hangul_variant(syllable: str, rng: random.Random) -> str:
    """Change the vowel (medial jamo) of a Hangul syllable: the typo unit of Korean is the jamo."""
    code = ord(syllable) - _HANGUL_BASE
    lead, rest = divmod(code, 21 * 28)
    vowel, tail = divmod(rest, 28)
    new_vowel = rng.choice([v for v in range(21) if v != vowel])
    return chr(_HANGUL_BASE + (lead * 21 + new_vowel) * 28 + tail)


def _is_hangul(cluster: str) -> bool:
    return len(cluster) == 1 and _HANGUL_BASE <= ord(cluster) <= _HANGUL_LAST


class CharacterNoise(SeededWordSwap):
    """DeepWordBug's four character edits (Gao et al. 2018) on grapheme clusters.

    TextAttack's ``WordSwapNeighboringCharacterSwap`` & co. cut code points, which splits a
    Devanagari conjunct or leaves a Thai vowel sign without its consonant; here the unit is the
    extended grapheme cluster, inserted letters come from the language's own alphabet
    (:func:`adversarial.lexicon.alphabet`) and a Hangul syllable is edited at the jamo level.
    One random edit per operation, like TextAttack's ``random_one=True``.
    """

    OPERATIONS = ("swap", "substitute", "delete", "insert")

    def __init__(self, lang: str, seed: int = 0, operations: Iterable[str] = OPERATIONS):
        super().__init__(lang, seed)
        self.operations = tuple(operations)

    def _letter_for(self, cluster: str) -> str | None:
        letters = lexicon.alphabet(self.lang).get(lexicon.script_of(cluster[0]))
        if not letters:
            letters = tuple(sorted({c for c in cluster if unicodedata.category(c)[0] == "L"}))
        options = [c for c in letters if c != cluster]
        return self.rng.choice(options) if options else None

    def candidates(self, word: str) -> list[str]:
        clusters = graphemes(word)
        n = len(clusters)
        out = []
        for op in self.operations:
            if op == "swap" and n >= 2:
                i = self.rng.randrange(n - 1)
                if clusters[i] != clusters[i + 1]:
                    c = clusters[:i] + [clusters[i + 1], clusters[i]] + clusters[i + 2 :]
                    out.append("".join(c))
            elif op == "substitute":
                i = self.rng.randrange(n)
                if _is_hangul(clusters[i]):
                    new = _hangul_variant(clusters[i], self.rng)
                else:
                    new = self._letter_for(clusters[i])
                if new:
                    out.append("".join(clusters[:i] + [new] + clusters[i + 1 :]))
            elif op == "delete" and n >= 2:
                i = self.rng.randrange(n)
                out.append("".join(clusters[:i] + clusters[i + 1 :]))
            elif op == "insert":
                i = self.rng.randrange(n + 1)
                new = self._letter_for(clusters[min(i, n - 1)])
                if new:
                    out.append("".join(clusters[:i] + [new] + clusters[i:]))
        return out


class VisualNoise(SeededWordSwap):
    """Visual and Unicode noise: confusable homoglyphs, diacritic stripping, zero-width space.

    TextAttack's ``WordSwapHomoglyphSwap`` lacks its data file in the wheel and only knows Latin;
    homoglyphs here come from the Unicode confusables table (:func:`lexicon.homoglyphs`), and the
    invisible character goes between grapheme clusters, never inside one.
    """

    OPERATIONS = ("homoglyph", "strip_diacritics", "zero_width")

    def __init__(self, lang: str, seed: int = 0, operations: Iterable[str] = OPERATIONS):
        super().__init__(lang, seed)
        self.operations = tuple(operations)

    def candidates(self, word: str) -> list[str]:
        out = []
        for op in self.operations:
            if op == "homoglyph":
                spots = [i for i, ch in enumerate(word) if lexicon.homoglyphs(ch)]
                if spots:
                    i = self.rng.choice(spots)
                    glyph = self.rng.choice(lexicon.homoglyphs(word[i]))
                    out.append(word[:i] + glyph + word[i + 1 :])
            elif op == "strip_diacritics":
                out.append(lexicon.strip_diacritics(word))
            elif op == "zero_width":
                spots = lexicon.cluster_boundaries(word)
                if spots:
                    i = self.rng.choice(spots)
                    out.append(word[:i] + ZERO_WIDTH + word[i:])
        return out


def _recover_case(word: str, reference: str) -> str:
    if reference.isupper() and len(reference) > 1:
        return word.upper()
    if reference[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


class DictionarySwap(SeededWordSwap):
    """Code-switching (PolyGloss-style, Tan & Joty 2021): a word becomes its dictionary translation.

    ``dictionary`` maps a lower-cased source word to its translations (MUSE format, one
    ``source target`` pair per line); case is carried over from the replaced word.
    """

    def __init__(self, lang: str, dictionary: dict[str, tuple[str, ...]], seed: int = 0):
        super().__init__(lang, seed)
        self.dictionary = dictionary

    def candidates(self, word: str) -> list[str]:
        return [_recover_case(t, word) for t in self.dictionary.get(word.lower(), ())]


class MultilingualMaskedLM(WordSwapMaskedLM):
    """BAE-style masked-LM swap (Garg & Ramakrishnan 2020) that works for XLM-R and any script.

    TextAttack's version only accepts BERT-like model types, pads every batch to 512 tokens and
    keeps only ``[a-zA-Z]`` candidates; this subclass replaces the candidate step: dynamic padding,
    SentencePiece or WordPiece word-start tokens, and a candidate must be one word of the same
    language (:func:`adversarial.segment.words`).
    """

    def __init__(
        self,
        lang: str,
        model: str,
        max_candidates: int = 20,
        min_confidence: float = 5e-4,
        batch_size: int = 16,
        seed: int = 0,
    ):
        super().__init__(
            method="bae",
            masked_language_model=model,
            max_candidates=max_candidates,
            min_confidence=min_confidence,
            batch_size=batch_size,
            max_length=256,
        )
        self.lang = lang
        self.rng = random.Random(seed)
        self._vocab_words = self._word_start_vocabulary()

    def reseed(self, seed: int) -> None:
        """Restart the random stream (kept for a uniform interface; the MLM is deterministic)."""
        self.rng = random.Random(seed)

    def _word_start_vocabulary(self) -> dict[int, str]:
        """Token id -> word, for vocabulary entries that are a whole word by themselves."""
        tok = self._lm_tokenizer
        special = set(tok.all_special_ids)
        out = {}
        for token, idx in tok.get_vocab().items():
            if idx in special:
                continue
            if token.startswith("▁"):  # SentencePiece word start (XLM-R, mT5 ...)
                word = token[1:]
            elif token.startswith("##"):  # WordPiece continuation: never a word by itself
                continue
            else:
                word = token
            if word and any(unicodedata.category(c)[0] == "L" for c in word):
                out[idx] = word
        return out

    def _encode_text(self, text):
        encoding = self._lm_tokenizer(
            text, max_length=self.max_length, truncation=True, padding=True, return_tensors="pt"
        )
        return encoding.to(self._language_model.device)

    def fill_masks(self, masked_texts: list[str]) -> list[list[str]]:
        """For each text holding one mask token, the candidate words for the mask, best first."""
        import torch

        out: list[list[str]] = []
        for start in range(0, len(masked_texts), self.batch_size):
            inputs = self._encode_text(masked_texts[start : start + self.batch_size])
            with torch.no_grad():
                logits = self._language_model(**inputs).logits
            for row, ids in enumerate(inputs["input_ids"].tolist()):
                if self._lm_tokenizer.mask_token_id not in ids:  # truncated away
                    out.append([])
                    continue
                pos = ids.index(self._lm_tokenizer.mask_token_id)
                probs = torch.softmax(logits[row, pos].float(), dim=0)
                top = torch.topk(probs, min(len(probs), self.max_candidates * 20))
                words = []
                for p, idx in zip(top.values.tolist(), top.indices.tolist(), strict=True):
                    if p < self.min_confidence or len(words) >= self.max_candidates:
                        break
                    word = self._vocab_words.get(idx)
                    if word and segment_words(word, self.lang) == [word]:
                        words.append(word)
                out.append(words)
        return out

    def _bae_replacement_words(self, current_text, indices_to_modify):
        mask = self._lm_tokenizer.mask_token
        masked = [current_text.replace_word_at_index(i, mask).text for i in indices_to_modify]
        return self.fill_masks(masked)

    def _get_transformations(self, current_text, indices_to_modify):
        indices = list(indices_to_modify)
        replacements = self._bae_replacement_words(current_text, indices)
        out = []
        for i, words in zip(indices, replacements, strict=True):
            for word in words:
                if word != current_text.words[i]:
                    out.append(current_text.replace_word_at_index(i, word))
        return out
