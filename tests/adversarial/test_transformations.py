"""Script-aware transformations and the packaged lexicons behind them."""

from __future__ import annotations

import unicodedata

import pytest

from adversarial import lexicon
from adversarial.dictionaries import load_dictionary, parse_muse
from adversarial.segment import graphemes
from adversarial.transformations import ZERO_WIDTH, CharacterNoise, DictionarySwap, VisualNoise
from harness_tasks.errors import XtremeAdvError


def _starts_with_mark(text: str) -> bool:
    return bool(text) and unicodedata.category(text[0]).startswith("M")


def test_character_noise_on_devanagari_keeps_clusters_and_script():
    noise = CharacterNoise("hi", seed=1)
    devanagari = set(lexicon.alphabet("hi")["DEVANAGARI"])
    for seed in range(20):
        noise.reseed(seed)
        for cand in noise._get_replacement_words("प्रधानमंत्री"):
            assert cand != "प्रधानमंत्री"
            assert not _starts_with_mark(cand)
            assert all(lexicon.script_of(c) == "DEVANAGARI" for c in cand)
            # Only whole clusters move: every cluster of the result is a cluster of the word,
            # or starts with a letter of the Hindi alphabet (inserted, or substituted keeping
            # the cluster's vowel signs).
            original = set(graphemes("प्रधानमंत्री"))
            assert all(c in original or c[0] in devanagari for c in graphemes(cand))


def test_character_noise_is_reproducible_and_seed_dependent():
    a, b = CharacterNoise("de", seed=0), CharacterNoise("de", seed=0)
    assert a._get_replacement_words("Bundesregierung") == b._get_replacement_words(
        "Bundesregierung"
    )
    outs = set()
    for seed in range(10):
        a.reseed(seed)
        outs.add(tuple(a._get_replacement_words("Bundesregierung")))
    assert len(outs) > 5


def test_hangul_substitution_changes_one_jamo():
    noise = CharacterNoise("ko", seed=3, operations=["substitute"])
    for seed in range(10):
        noise.reseed(seed)
        (cand,) = noise._get_replacement_words("학교")
        assert len(cand) == 2 and all(0xAC00 <= ord(c) <= 0xD7A3 for c in cand)
        diff = [(x, y) for x, y in zip("학교", cand, strict=True) if x != y]
        assert len(diff) == 1
        old, new = (ord(c) - 0xAC00 for c in diff[0])
        # Same lead and tail consonant, another vowel.
        assert old // 588 == new // 588 and old % 28 == new % 28 and old != new


def test_visual_noise_families():
    homo = VisualNoise("ru", operations=["homoglyph"])
    (cand,) = homo._get_replacement_words("правительство")
    changed = [(x, y) for x, y in zip("правительство", cand, strict=True) if x != y]
    assert len(changed) == 1 and lexicon.script_of(changed[0][1]) != "CYRILLIC"
    # The homoglyph survives NFKC (what XLM-R's tokenizer applies).
    assert unicodedata.normalize("NFKC", cand) != "правительство"
    strip = VisualNoise("vi", operations=["strip_diacritics"])
    assert strip._get_replacement_words("Tiếng Việt") == ["Tieng Viet"]
    assert lexicon.strip_diacritics("café") == "cafe"
    assert lexicon.strip_diacritics("हिन्दी") == "हिन्दी"  # vowel signs and virama are letters
    zw = VisualNoise("hi", operations=["zero_width"])
    (cand,) = zw._get_replacement_words("हिन्दी")
    left, right = cand.split(ZERO_WIDTH)
    assert left + right == "हिन्दी" and left in ("हि",) and not _starts_with_mark(right)


def test_stopwords_and_alphabets_come_from_stopwordsiso():
    assert "und" in lexicon.stopwords("de") and "के" in lexicon.stopwords("hi")
    assert "的" in lexicon.stopwords("zh")
    assert set(lexicon.alphabet("ar")) == {"ARABIC"}


def test_muse_dictionary_and_code_switching(tmp_path):
    path = tmp_path / "de-en.txt"
    path.write_text("haus house\nhaus home\nstadt city\nstadt\ttown\n", encoding="utf-8")
    table = load_dictionary(str(tmp_path), "de")
    assert table == {"haus": ("house", "home"), "stadt": ("city", "town")}
    swap = DictionarySwap("de", table)
    assert swap._get_replacement_words("Haus") == ["House", "Home"]
    assert swap._get_replacement_words("Baum") == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("haus house extra\n", "line 1: expected 'source target'"),
        ("\n\n", "no 'source target' pairs"),
    ],
)
def test_bad_muse_file_is_a_user_error(content, message):
    with pytest.raises(XtremeAdvError, match=message):
        parse_muse(content.splitlines(), "de-en.txt")
