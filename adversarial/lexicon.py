"""Per-language word lists and character tables from packaged sources.

* stopwords: ``stopwordsiso`` (Stopwords ISO, covers all XNLI and PAWS-X languages);
* homoglyphs: the Unicode confusables table shipped by ``confusable_homoglyphs``;
* alphabets for character noise: the letters that occur in the language's stopwords, i.e. its
  most frequent letters, per script (so Hindi noise inserts Devanagari, Chinese noise common Han
  characters), without any hand-written alphabet.
"""

from __future__ import annotations

import functools
import json
import unicodedata
from pathlib import Path

from adversarial.segment import graphemes

# Tatoeba/XTREME codes that stopwordsiso files under another ISO 639-1 code.
_STOPWORD_ALIASES = {"jv": "id", "zsm": "ms", "nb": "no"}

# Combining classes that carry meaning rather than decoration: 0 (Indic vowel signs, Thai vowels),
# 7 (nukta) and 9 (virama). Stripping any other mark is "diacritic stripping".
_KEEP_CCC = {0, 7, 9}


@functools.cache
def stopwords(lang: str) -> frozenset[str]:
    """Stopwords of ``lang`` from stopwordsiso (lower case); empty when the package has none."""
    import stopwordsiso

    code = _STOPWORD_ALIASES.get(lang, lang)
    if not stopwordsiso.has_lang(code):
        return frozenset()
    return frozenset(w.lower() for w in stopwordsiso.stopwords(code))


def script_of(ch: str) -> str:
    """Coarse script of a character: the first word of its Unicode name (LATIN, DEVANAGARI...)."""
    name = unicodedata.name(ch, "")
    return name.split()[0] if name else "UNKNOWN"


@functools.cache
def alphabet(lang: str) -> dict[str, tuple[str, ...]]:
    """Letters of ``lang`` by script, taken from its stopword list (sorted, deterministic)."""
    by_script: dict[str, set[str]] = {}
    for word in stopwords(lang):
        for ch in word:
            if unicodedata.category(ch) in {"Ll", "Lo"}:
                by_script.setdefault(script_of(ch), set()).add(ch)
    return {script: tuple(sorted(chars)) for script, chars in by_script.items()}


@functools.cache
def _confusables_table() -> dict:
    import confusable_homoglyphs

    path = Path(confusable_homoglyphs.__file__).with_name("confusables.json")
    return json.loads(path.read_text(encoding="utf-8"))


@functools.cache
def homoglyphs(ch: str) -> tuple[str, ...]:
    """Single characters of another script that look like ``ch`` and that NFKC does not fold back.

    Fullwidth and mathematical variants are dropped: tokenizers normalise them to ``ch`` again.
    """
    out = []
    for entry in _confusables_table().get(ch, []):
        c = entry["c"]
        if len(c) != 1 or not unicodedata.category(c).startswith("L"):
            continue
        if unicodedata.normalize("NFKC", c) == unicodedata.normalize("NFKC", ch):
            continue
        if script_of(c) == script_of(ch):
            continue
        out.append(c)
    return tuple(sorted(set(out)))


def strip_diacritics(word: str) -> str:
    """Remove decorative combining marks (accents, harakat, tone marks); keep Indic vowel signs."""
    decomposed = unicodedata.normalize("NFD", word)
    kept = [
        ch
        for ch in decomposed
        if unicodedata.category(ch) != "Mn" or unicodedata.combining(ch) in _KEEP_CCC
    ]
    return unicodedata.normalize("NFC", "".join(kept))


def cluster_boundaries(word: str) -> list[int]:
    """Character offsets strictly inside ``word`` that fall between grapheme clusters."""
    offsets, pos = [], 0
    for cluster in graphemes(word)[:-1]:
        pos += len(cluster)
        offsets.append(pos)
    return offsets
