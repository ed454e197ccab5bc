"""Script-aware TextAttack transformations, one per attack family.

All are ``textattack.transformations.WordSwap`` subclasses (or ``Transformation`` for the
sentence-level distractor), so the same object serves TextAttack's ``Attack`` (adaptive and
source-model builds) and the static builder. Randomness comes from ``self.rng``, which the
caller reseeds per example (``reseed``): output never depends on Python's global ``random``.
"""

from __future__ import annotations

import functools
import random
import unicodedata
from collections import Counter
from collections.abc import Iterable

import regex

from adversarial import lexicon
from adversarial.segment import graphemes, script_of
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


_HAN_CHAR = regex.compile(r"^\p{Script=Han}$")
# A Thai/Lao vowel written before its consonant (Logical_Order_Exception) must be followed by one.
_ORPHAN_PREPOSED = regex.compile(r"\p{Logical_Order_Exception}(?!\p{Lo})")
_INDEPENDENT_VOWEL = regex.compile(r"^\p{Indic_Syllabic_Category=Vowel_Independent}$")


def _common_han(ch: str) -> bool:
    """Whether ``ch`` is one of GB 2312's 3,755 level-1 characters (the common characters of
    simplified Chinese, lead bytes 0xB0-0xD7): a typo produces a character readers know."""
    try:
        encoded = ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(encoded) == 2 and 0xB0 <= encoded[0] <= 0xD7


@functools.cache
def _han_homophones() -> dict[str, tuple[str, ...]]:
    """Common Han character -> other common characters with the same toned pinyin.

    The dominant Chinese typo is a homophone picked from the input method's list (Pinyin IME),
    so a substitution uses a character read exactly like the original (first reading in
    ``pypinyin``'s table), among GB 2312's level-1 characters.
    """
    from pypinyin.pinyin_dict import pinyin_dict

    common = {
        chr(code): readings.split(",")[0]
        for code, readings in pinyin_dict.items()
        if _common_han(chr(code))
    }
    by_reading: dict[str, list[str]] = {}
    for ch, reading in sorted(common.items()):
        by_reading.setdefault(reading, []).append(ch)
    return {ch: tuple(c for c in by_reading[r] if c != ch) for ch, r in common.items()}


def _inner_vowels(clusters: list[str]) -> int:
    """Independent vowels after the first cluster (Brahmic scripts write them word-initially)."""
    return sum(bool(_INDEPENDENT_VOWEL.match(c[0])) for c in clusters[1:])


def han_homophones(ch: str) -> tuple[str, ...]:
    """Common characters pronounced exactly like the Han character ``ch`` (may be empty)."""
    return _han_homophones().get(ch, ())


class CharacterNoise(SeededWordSwap):
    """DeepWordBug's four character edits (Gao et al. 2018) on grapheme clusters.

    TextAttack's ``WordSwapNeighboringCharacterSwap`` & co. cut code points, which splits a
    Devanagari conjunct or leaves a Thai vowel sign without its consonant; here the unit is the
    extended grapheme cluster, inserted letters come from the language's own alphabet
    (:func:`adversarial.lexicon.alphabet`) and a Hangul syllable is edited at the jamo level.
    Orthography is kept: an independent vowel (Devanagari अ, Bengali অ ...) is only ever
    placed at the start of a word, and a Han character is only ever replaced by a common
    homophone (:func:`han_homophones`); Han characters are not swapped, deleted or inserted
    (each is a morpheme: that changes the word, not its spelling).
    One random edit per operation, like TextAttack's ``random_one=True``.
    """

    OPERATIONS = ("swap", "substitute", "delete", "insert")
    # A searched Han word offers at most this many homophone typos (a deterministic sample).
    MAX_HAN_OPTIONS = 24

    def __init__(
        self,
        lang: str,
        seed: int = 0,
        operations: Iterable[str] = OPERATIONS,
        all_homophones: bool = False,
    ):
        super().__init__(lang, seed)
        self.operations = tuple(operations)
        # Searches (adaptive, --source-model) see every common homophone at every Han position,
        # like TextAttack's random_one=False: one random homophone per Han word leaves a greedy
        # search almost nothing to choose from (0.6 candidates per zh word against 4 per de word).
        # Static sets keep one random edit per operation.
        self.all_homophones = all_homophones

    def _letter_for(self, cluster: str, word_initial: bool) -> str | None:
        letters = lexicon.alphabet(self.lang).get(lexicon.script_of(cluster[0]))
        if not letters:
            letters = tuple(sorted({c for c in cluster if unicodedata.category(c)[0] == "L"}))
        options = [
            c for c in letters if c != cluster and (word_initial or not _INDEPENDENT_VOWEL.match(c))
        ]
        return self.rng.choice(options) if options else None

    def candidates(self, word: str) -> list[str]:
        clusters = graphemes(word)
        n = len(clusters)
        han = [bool(_HAN_CHAR.match(c)) for c in clusters]
        free = [i for i in range(n) if not han[i]]  # clusters the spelling edits may touch
        out = []
        if self.all_homophones and "substitute" in self.operations and self.lang != "ja":
            options = [
                "".join(clusters[:i] + [h] + clusters[i + 1 :])
                for i in range(n)
                if han[i]
                for h in han_homophones(clusters[i])
            ]
            if len(options) > self.MAX_HAN_OPTIONS:
                options = sorted(self.rng.sample(options, self.MAX_HAN_OPTIONS), key=options.index)
            out.extend(options)
        for op in self.operations:
            if op == "swap":
                pairs = [i for i in range(n - 1) if not han[i] and not han[i + 1]]
                if pairs:
                    i = self.rng.choice(pairs)
                    if clusters[i] != clusters[i + 1]:
                        c = clusters[:i] + [clusters[i + 1], clusters[i]] + clusters[i + 2 :]
                        out.append("".join(c))
            elif op == "substitute":
                i = self.rng.randrange(n)
                if han[i]:
                    options = han_homophones(clusters[i]) if self.lang != "ja" else ()
                    new = self.rng.choice(options) if options else None
                elif _is_hangul(clusters[i]):
                    new = _hangul_variant(clusters[i], self.rng)
                else:
                    # The base letter changes; its vowel signs and marks stay (รู -> ปู, not ป).
                    base = self._letter_for(clusters[i], word_initial=i == 0)
                    new = base + clusters[i][1:] if base else None
                if new:
                    out.append("".join(clusters[:i] + [new] + clusters[i + 1 :]))
            elif op == "delete" and n >= 2 and free:
                i = self.rng.choice(free)
                out.append("".join(clusters[:i] + clusters[i + 1 :]))
            elif op == "insert":
                i = self.rng.randrange(n + 1)
                neighbour = clusters[min(i, n - 1)]
                if not _HAN_CHAR.match(neighbour):
                    new = self._letter_for(neighbour, word_initial=i == 0)
                    if new:
                        out.append("".join(clusters[:i] + [new] + clusters[i:]))
        # An edit next to a word-initial vowel can still move it inside (insert before it,
        # swap it): such candidates go; so do candidates of one grapheme ("ครู" -> "รู",
        # another word) and Thai/Lao preposed vowels (เ แ โ ใ ไ) left without a consonant.
        inner = _inner_vowels(clusters)
        return [
            c
            for c in out
            if _inner_vowels(graphemes(c)) <= inner
            and len(graphemes(c)) >= 2
            and not _ORPHAN_PREPOSED.search(c)
        ]


class VisualNoise(SeededWordSwap):
    """Visual and Unicode noise: confusable homoglyphs, diacritic stripping, zero-width space.

    TextAttack's ``WordSwapHomoglyphSwap`` lacks its data file in the wheel and only knows Latin;
    homoglyphs here come from the Unicode confusables table (:func:`lexicon.homoglyphs`: the
    word's own script, Latin/Cyrillic/Greek among themselves), only Inherited-script accents
    are stripped (:func:`lexicon.strip_diacritics`), and the invisible character goes between
    grapheme clusters, never inside one. Zero-width edits are kept a minority of each text's
    edits by the builder and by :class:`adversarial.constraints.MaxZeroWidthShare`.
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
                stripped = lexicon.strip_diacritics(word)
                if stripped != word:
                    out.append(stripped)
            elif op == "zero_width":
                spots = lexicon.cluster_boundaries(word)
                if spots:
                    i = self.rng.choice(spots)
                    out.append(word[:i] + ZERO_WIDTH + word[i:])
        return out

    @staticmethod
    def operation_of(original: str, perturbed: str) -> str:
        """Which operation turned ``original`` into ``perturbed``: ``zero_width``,
        ``strip_diacritics`` or ``homoglyph``."""
        if perturbed.replace(ZERO_WIDTH, "") == original:
            return "zero_width"
        if perturbed == lexicon.strip_diacritics(original):
            return "strip_diacritics"
        return "homoglyph"


def _recover_case(word: str, reference: str) -> str:
    if reference.isupper() and len(reference) > 1:
        return word.upper()
    if reference[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


class DictionarySwap(SeededWordSwap):
    """Code-switching (PolyGloss-style, Tan & Joty 2021): a word becomes its dictionary translation.

    ``dictionary`` maps a lower-cased source word to its translations (MUSE format, one
    ``source target`` pair per line); case is carried over from the replaced word. Words are
    looked up in NFC: Hindi text and dictionaries write a nukta letter both as one code point
    (U+095C "ड़") and as letter plus nukta (U+0921 U+093C), which NFC makes one form.
    """

    def __init__(self, lang: str, dictionary: dict[str, tuple[str, ...]], seed: int = 0):
        super().__init__(lang, seed)
        # Keyed in NFC; entries that only differed in normalisation are merged. Entries of
        # several words ("ich bin" -> "i am") are phrases: the static builder swaps them
        # whole (phrase-level code-mixing); a single word never matches them.
        self.dictionary: dict[str, tuple[str, ...]] = {}
        for source, targets in dictionary.items():
            key = " ".join(_lookup_key(w) for w in source.split())
            merged = self.dictionary.get(key, ()) + tuple(targets)
            self.dictionary[key] = tuple(dict.fromkeys(merged))
        self.phrases = {k: v for k, v in self.dictionary.items() if " " in k}

    def candidates(self, word: str) -> list[str]:
        return [_recover_case(t, word) for t in self.dictionary.get(_lookup_key(word), ())]


def lookup_key(word: str) -> str:
    """How a dictionary is keyed: lower case, NFC."""
    return unicodedata.normalize("NFC", word.lower())


_lookup_key = lookup_key


# Scripts written without spaces between words. There SentencePiece's "▁" only marks a preceding
# space (XLM-R tokenises "他说，妈妈" as "▁", "他说", ",", "妈妈"), so a piece without it is as
# much a word as one with it; the word segmenter decides (a candidate must be one whole word).
# Elsewhere a piece without "▁" is a fragment of a longer word ("Haus" in "Rathaus").
_UNSPACED_SCRIPTS = frozenset({"HAN", "JAPANESE", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN"})
_KANJI_KANA = frozenset({"HAN", "HIRAGANA", "KATAKANA"})
# Characters that belong to every script (Common: "ー", "ʼ"; Inherited: combining accents,
# Arabic harakat): they never decide a word's script.
_ANY_SCRIPT = regex.compile(r"[\p{Script=Common}\p{Script=Inherited}]")
_EAST_ASIAN = (
    ("HAN", regex.compile(r"\p{Script=Han}")),
    ("HIRAGANA", regex.compile(r"\p{Script=Hiragana}")),
    ("KATAKANA", regex.compile(r"\p{Script=Katakana}")),
    ("HANGUL", regex.compile(r"\p{Script=Hangul}")),
)


@functools.cache
def _char_script(ch: str) -> str:
    for name, pattern in _EAST_ASIAN:  # their Unicode names do not start with the script name
        if pattern.match(ch):
            return name
    return script_of(ch)


@functools.lru_cache(maxsize=1 << 18)  # a vocabulary's worth: each candidate is checked often
def word_scripts(word: str, lang: str) -> frozenset[str]:
    """The scripts of the letters and script-specific marks of ``word`` (upper-case names).

    Japanese writes one word in kanji and kana alike ("食べる"), so for ``lang == "ja"`` Han,
    Hiragana and Katakana count as one script, JAPANESE (ISO 15924 ``Jpan``).
    """
    scripts = {
        _char_script(ch)
        for ch in word
        if unicodedata.category(ch)[0] in "LM" and not _ANY_SCRIPT.match(ch)
    }
    if lang == "ja" and scripts & _KANJI_KANA:
        scripts = (scripts - _KANJI_KANA) | {"JAPANESE"}
    return frozenset(scripts)


@functools.cache
def language_script(lang: str) -> frozenset[str]:
    """The main script of ``lang``: the commonest among the letters of its stopwords (or none)."""
    counts = Counter(s for w in lexicon.stopwords(lang) for s in word_scripts(w, lang))
    return frozenset(s for s, _ in counts.most_common(1))


def keep_mlm_candidate(word: str, word_initial: bool, original: str | None, lang: str) -> bool:
    """Whether vocabulary entry ``word`` may replace ``original`` in a text of language ``lang``.

    ``word_initial``: the entry starts a word (SentencePiece "▁", or WordPiece without "##").
    The candidate must be one whole word of ``lang`` (:func:`adversarial.segment.words`), start
    with a base character rather than a combining mark, have letters only in the script(s) of
    ``original`` (of the language when ``original`` is not known; a word without letters, like a
    number, is never replaced), and be word-initial unless it is written in a script without
    spaces (see ``_UNSPACED_SCRIPTS``).
    """
    if not word or unicodedata.category(word[0])[0] == "M":
        return False
    scripts = word_scripts(word, lang)
    if original is not None:
        reference = word_scripts(original, lang)  # empty for a number: nothing replaces it
    else:
        reference = language_script(lang) or scripts  # no stopword list: no script to keep
    if not scripts or not scripts <= reference:
        return False
    if not word_initial and not scripts <= _UNSPACED_SCRIPTS:
        return False
    return segment_words(word, lang) == [word]


class MultilingualMaskedLM(WordSwapMaskedLM):
    """BAE-style masked-LM swap (Garg & Ramakrishnan 2020) that works for XLM-R and any script.

    TextAttack's version only accepts BERT-like model types, pads every batch to 512 tokens and
    keeps only ``[a-zA-Z]`` candidates; this subclass replaces the candidate step: dynamic padding,
    and a candidate must be a whole word of the language in the replaced word's script
    (:func:`keep_mlm_candidate`).
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
        from adversarial.mlm import load_masked_lm

        lm, tokenizer = load_masked_lm(model)  # refuses a checkpoint without an MLM head
        super().__init__(
            method="bae",
            masked_language_model=lm,
            tokenizer=tokenizer,
            max_candidates=max_candidates,
            min_confidence=min_confidence,
            batch_size=batch_size,
            max_length=256,
        )
        self.lang = lang
        self.rng = random.Random(seed)
        self._vocab_words = self._word_vocabulary()

    def reseed(self, seed: int) -> None:
        """Restart the random stream (kept for a uniform interface; the MLM is deterministic)."""
        self.rng = random.Random(seed)

    def _word_vocabulary(self) -> dict[int, tuple[str, bool]]:
        """Token id -> (text without word marker, whether the token starts a word)."""
        tok = self._lm_tokenizer
        special = set(tok.all_special_ids)
        vocab = tok.get_vocab()
        # SentencePiece vocabularies (XLM-R, mT5 ...) mark word starts with "▁"; WordPiece
        # vocabularies (mBERT) mark continuations with "##" instead.
        sentencepiece = any(token.startswith("▁") for token in vocab)
        out = {}
        for token, idx in vocab.items():
            if idx in special:
                continue
            if sentencepiece:
                initial = token.startswith("▁")
                word = token[1:] if initial else token
            else:
                initial = not token.startswith("##")
                word = token if initial else token[2:]
            if word and any(unicodedata.category(c)[0] == "L" for c in word):
                out[idx] = (word, initial)
        return out

    def _encode_text(self, text):
        encoding = self._lm_tokenizer(
            text, max_length=self.max_length, truncation=True, padding=True, return_tensors="pt"
        )
        return encoding.to(self._language_model.device)

    def fill_masks(
        self, masked_texts: list[str], originals: list[str] | None = None
    ) -> list[list[str]]:
        """For each text holding one mask token, the candidate words for the mask, best first.

        ``originals[k]`` is the word that the mask of ``masked_texts[k]`` replaced: candidates
        keep its script. Without it they keep the language's main script.
        """
        import torch

        if originals is not None and len(originals) != len(masked_texts):
            raise ValueError("fill_masks: one original word per masked text")
        mask_id = self._lm_tokenizer.mask_token_id
        out: list[list[str]] = []
        for start in range(0, len(masked_texts), self.batch_size):
            inputs = self._encode_text(masked_texts[start : start + self.batch_size])
            rows = inputs["input_ids"].tolist()
            positions = [ids.index(mask_id) if mask_id in ids else None for ids in rows]
            with torch.no_grad():
                logits = self.mask_logits(inputs, [p or 0 for p in positions])
            for row, pos in enumerate(positions):
                if pos is None:  # truncated away
                    out.append([])
                    continue
                original = originals[start + row] if originals is not None else None
                probs = torch.softmax(logits[row].float(), dim=0)
                top = torch.topk(probs, min(len(probs), self.max_candidates * 20))
                words: list[str] = []
                for p, idx in zip(top.values.tolist(), top.indices.tolist(), strict=True):
                    if p < self.min_confidence or len(words) >= self.max_candidates:
                        break
                    entry = self._vocab_words.get(idx)
                    if entry and entry[0] not in words:
                        if keep_mlm_candidate(entry[0], entry[1], original, self.lang):
                            words.append(entry[0])
                out.append(words)
        return out

    def mask_logits(self, inputs, positions: list[int]):
        """Vocabulary logits at one position per row of ``inputs``, shape (rows, vocabulary).

        The vocabulary projection (250k entries for XLM-R) costs as much as the encoder when it
        is applied to every token; BERT- and RoBERTa-style heads (``cls``, ``lm_head``) are
        applied here to the masked positions only, with identical results. Other models get
        the full forward pass.
        """
        import torch

        model = self._language_model
        head = getattr(model, "lm_head", None) or getattr(model, "cls", None)
        index = torch.arange(len(positions), device=inputs["input_ids"].device)
        at = torch.tensor(positions, device=index.device)
        if head is None or not isinstance(head, torch.nn.Module):
            return model(**inputs).logits[index, at]
        hidden = model.base_model(**inputs)[0]
        return head(hidden[index, at])

    def _bae_replacement_words(self, current_text, indices_to_modify):
        mask = self._lm_tokenizer.mask_token
        masked = [current_text.replace_word_at_index(i, mask).text for i in indices_to_modify]
        return self.fill_masks(masked, [current_text.words[i] for i in indices_to_modify])

    def _get_transformations(self, current_text, indices_to_modify):
        indices = list(indices_to_modify)
        replacements = self._bae_replacement_words(current_text, indices)
        out = []
        for i, words in zip(indices, replacements, strict=True):
            for word in words:
                if word != current_text.words[i]:
                    out.append(current_text.replace_word_at_index(i, word))
        return out
