"""Language- and script-aware word segmentation, returning character spans.

TextAttack's ``words_from_text`` drops combining marks (Devanagari and Thai words fall apart) and
segments neither Thai nor Japanese. Here a "word" is a maximal run of letters, combining marks,
digits and the joiners ZWJ/ZWNJ (so Indic conjuncts and Persian half-spaces stay whole), split
further where the script writes no spaces:

* Thai: ``pythainlp`` (``newmm``, dictionary maximal matching; wheel 22 MB, no dependencies);
* Japanese (kana present, or ``lang == "ja"``): ``tinysegmenter`` (pure Python, 20 kB);
* Chinese Han: ``jieba`` (already a TextAttack dependency);
* Lao, Khmer, Myanmar, Tibetan: no packaged segmenter on PyPI that is light; we keep
  space-delimited runs (their text does put spaces between phrases).

Hangul, Arabic, Hebrew and every spaced script need no more than the run rule; right-to-left text
is segmented in logical (memory) order, which is all the perturbations ever see.
"""

from __future__ import annotations

import functools
import unicodedata

import regex

# A word: letters, marks, digits, ZWNJ/ZWJ, with inner apostrophes or hyphens ("l'eau", "e-mail").
_WORD = regex.compile(r"[\p{L}\p{M}\p{N}\u200c\u200d]+(?:['’\-][\p{L}\p{M}\p{N}\u200c\u200d]+)*")
_THAI = regex.compile(r"\p{Thai}")
_KANA = regex.compile(r"[\p{Hiragana}\p{Katakana}ー]")
_HAN = regex.compile(r"\p{Han}")
# Pieces of a mixed run that need their own segmenter: Thai, CJK (Han+kana), everything else.
_PIECES = regex.compile(
    r"\p{Thai}+|[\p{Han}\p{Hiragana}\p{Katakana}ー]+|[^\p{Thai}\p{Han}\p{Hiragana}\p{Katakana}ー]+"
)

Span = tuple[int, int]


@functools.cache
def _thai_tokenizer():
    from pythainlp.tokenize import word_tokenize

    return functools.partial(word_tokenize, engine="newmm", keep_whitespace=False)


@functools.cache
def _japanese_tokenizer():
    import tinysegmenter

    return tinysegmenter.TinySegmenter().tokenize


@functools.cache
def _chinese_tokenizer():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return lambda text: list(jieba.cut(text, cut_all=False))


def _locate(tokens: list[str], text: str, offset: int) -> list[Span]:
    """Turn a segmenter's token strings back into spans of ``text`` (shifted by ``offset``)."""
    spans, pos = [], 0
    for token in tokens:
        start = text.find(token, pos)
        if start < 0 or not token.strip():
            continue
        spans.append((offset + start, offset + start + len(token)))
        pos = start + len(token)
    return spans


def _split_piece(piece: str, offset: int, lang: str) -> list[Span]:
    if _THAI.match(piece):
        return _locate(_thai_tokenizer()(piece), piece, offset)
    if _HAN.match(piece) or _KANA.match(piece):
        if lang == "ja" or _KANA.search(piece):
            return _locate(_japanese_tokenizer()(piece), piece, offset)
        return _locate(_chinese_tokenizer()(piece), piece, offset)
    return [(offset, offset + len(piece))]


def word_spans(text: str, lang: str) -> list[Span]:
    """Return the ``(start, end)`` character spans of the words of ``text`` in language ``lang``."""
    spans: list[Span] = []
    for match in _WORD.finditer(text):
        run = match.group()
        if not (_THAI.search(run) or _HAN.search(run) or _KANA.search(run)):
            spans.append(match.span())
            continue
        for piece in _PIECES.finditer(run):
            spans.extend(_split_piece(piece.group(), match.start() + piece.start(), lang))
    return [span for span in spans if _has_word_char(text[span[0] : span[1]])]


def _has_word_char(token: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LN" for ch in token)


def words(text: str, lang: str) -> list[str]:
    """Return the words of ``text`` (see :func:`word_spans`)."""
    return [text[start:end] for start, end in word_spans(text, lang)]


def graphemes(word: str) -> list[str]:
    """Split ``word`` into extended grapheme clusters (a base letter with its marks)."""
    return regex.findall(r"\X", word)


def script_of(ch: str) -> str:
    """Return a coarse script name for a character ("LATIN", "DEVANAGARI", "CJK", ...)."""
    name = unicodedata.name(ch, "")
    if not name:
        return "UNKNOWN"
    first = name.split()[0]
    if first in {"CJK", "HIRAGANA", "KATAKANA"}:
        return first
    return first
