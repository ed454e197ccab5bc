"""Per-language word lists and character tables from packaged sources.

* stopwords: ``stopwordsiso`` (Stopwords ISO, covers all XNLI and PAWS-X languages), except
  where a packaged list under ``adversarial/data/stopwords/<lang>.txt`` replaces it (Urdu:
  stopwordsiso's list is mis-encoded, "اضتعوبل"; urduhack's list is used); the manifest records
  each list's source (:func:`stopword_source`);
* negations: ``adversarial/data/negations.json`` (:func:`negations`), never edited;
* homoglyphs: the Unicode confusables table shipped by ``confusable_homoglyphs``, restricted to
  the character's own script (and Latin/Cyrillic/Greek among themselves), plus the Arabic-script
  letter variants of ``adversarial/data/homoglyphs.json`` that the table lacks;
* alphabets for character noise: the letters that occur in the language's stopwords, i.e. its
  most frequent letters, per script (so Hindi noise inserts Devanagari, Chinese noise common Han
  characters), without any hand-written alphabet.
"""

from __future__ import annotations

import functools
import hashlib
import json
import unicodedata
from pathlib import Path

import regex

from adversarial.segment import graphemes

DATA = Path(__file__).with_name("data")

# Tatoeba/XTREME codes that stopwordsiso files under another ISO 639-1 code.
_STOPWORD_ALIASES = {"jv": "id", "zsm": "ms", "nb": "no"}

# Marks that may be stripped: those of the Inherited script (U+0300 combining accents, Arabic
# harakat U+064B-U+0655). Marks of a specific script (Thai, Lao, Khmer, Myanmar and Indic vowel
# signs, tone marks, virama, nukta; Hebrew points) are letters of that script: never stripped.
_STRIPPABLE = regex.compile(r"\p{Script=Inherited}")
# Scripts whose letters are drawn alike in common fonts, so homoglyphs may cross between them.
_COMMON_FONT_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK"})


def _packaged_list(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@functools.cache
def stopwords(lang: str) -> frozenset[str]:
    """Stopwords of ``lang`` (lower case): the packaged list if there is one, else stopwordsiso."""
    packaged = DATA / "stopwords" / f"{lang}.txt"
    if packaged.is_file():
        return frozenset(w.lower() for w in _packaged_list(packaged))
    import stopwordsiso

    code = _STOPWORD_ALIASES.get(lang, lang)
    if not stopwordsiso.has_lang(code):
        return frozenset()
    return frozenset(w.lower() for w in stopwordsiso.stopwords(code))


def stopword_source(lang: str) -> dict:
    """Where the stopword list of ``lang`` comes from, with the SHA-256 of its sorted words."""
    words = "\n".join(sorted(stopwords(lang))).encode("utf-8")
    packaged = DATA / "stopwords" / f"{lang}.txt"
    if packaged.is_file():
        header = [line[1:].strip() for line in packaged.read_text(encoding="utf-8").splitlines()]
        origin = " ".join(h for h in header[:2] if h)
    else:
        code = _STOPWORD_ALIASES.get(lang, lang)
        origin = f"stopwordsiso ({code})" if stopwords(lang) else "none"
    return {
        "source": origin,
        "n": len(stopwords(lang)),
        "sha256": hashlib.sha256(words).hexdigest(),
    }


@functools.cache
def _negation_table() -> dict:
    return json.loads((DATA / "negations.json").read_text(encoding="utf-8"))


def negations(lang: str) -> dict[str, tuple[str, ...]]:
    """Negation words of ``lang``: ``words`` (exact), ``contains``, ``prefixes``, ``suffixes``."""
    entry = _negation_table().get(lang, {})
    return {k: tuple(entry.get(k, ())) for k in ("words", "contains", "prefixes", "suffixes")}


def negation_source(lang: str) -> dict:
    """Provenance of the negation list of ``lang`` for the manifest."""
    entry = negations(lang)
    digest = hashlib.sha256(json.dumps(entry, sort_keys=True).encode("utf-8")).hexdigest()
    n = sum(len(v) for v in entry.values())
    origin = "adversarial/data/negations.json" if n else "none (language not covered)"
    return {"source": origin, "n": n, "sha256": digest}


def is_negation(word: str, lang: str) -> bool:
    """Whether ``word`` is (or, in the languages that glue it on, carries) a negation."""
    entry = negations(lang)
    low = unicodedata.normalize("NFC", word.lower())
    return (
        low in entry["words"]
        or any(c in low for c in entry["contains"])
        or any(low.startswith(p) for p in entry["prefixes"])
        or any(low.endswith(x) for x in entry["suffixes"])
    )


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
def _extra_homoglyphs() -> dict[str, tuple[str, ...]]:
    table = json.loads((DATA / "homoglyphs.json").read_text(encoding="utf-8"))
    out: dict[str, set[str]] = {}
    for group in table["groups"]:
        for ch in group:
            out.setdefault(ch, set()).update(c for c in group if c != ch)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def _same_font_family(a: str, b: str) -> bool:
    sa, sb = script_of(a), script_of(b)
    if sb in _COMMON_FONT_SCRIPTS:
        # Latin up to Extended-B and IPA, Greek, Cyrillic (U+0000-U+052F): what common fonts
        # cover; Latin Extended-D/E letters ("ꭒ", "ꬲ") show as boxes in most of them.
        return ord(b) < 0x0530 and (sa == sb or sa in _COMMON_FONT_SCRIPTS)
    return sa == sb


@functools.cache
def homoglyphs(ch: str) -> tuple[str, ...]:
    """Letters that look like ``ch``, that NFKC does not fold back, in a script a font draws alike.

    A homoglyph must come from ``ch``'s own script, or from Latin/Cyrillic/Greek when ``ch`` is
    one of those (fonts draw them from one design); never from Lisu, Shavian, Deseret, Warang
    Citi, Cherokee & co., which a reader's font shows as boxes or not at all. Fullwidth and
    mathematical variants are dropped: tokenizers normalise them to ``ch`` again.
    """
    out = set(_extra_homoglyphs().get(ch, ()))
    for entry in _confusables_table().get(ch, []):
        c = entry["c"]
        if len(c) != 1 or not unicodedata.category(c).startswith("L"):
            continue
        if unicodedata.normalize("NFKC", c) == unicodedata.normalize("NFKC", ch):
            continue
        if c == ch or not _same_font_family(ch, c):
            continue
        out.add(c)
    return tuple(sorted(out))


def strip_diacritics(word: str) -> str:
    """Remove decorative combining marks (Latin/Greek/Cyrillic accents, Arabic harakat).

    Only marks of the Inherited script go; Thai, Lao, Khmer, Myanmar and Indic vowel signs and
    tone marks, virama and nukta are letters of their script and stay (รู้ stays รู้).
    """
    decomposed = unicodedata.normalize("NFD", word)
    kept = [
        ch for ch in decomposed if unicodedata.category(ch) != "Mn" or not _STRIPPABLE.match(ch)
    ]
    if len(kept) == len(decomposed):
        return word  # nothing stripped: never a mere normalisation change (ड़ U+095C stays)
    return unicodedata.normalize("NFC", "".join(kept))


def cluster_boundaries(word: str) -> list[int]:
    """Character offsets strictly inside ``word`` that fall between grapheme clusters."""
    offsets, pos = [], 0
    for cluster in graphemes(word)[:-1]:
        pos += len(cluster)
        offsets.append(pos)
    return offsets
