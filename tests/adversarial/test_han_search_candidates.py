"""Searches see every Han homophone typo; static sets keep one random edit per word."""

from __future__ import annotations

from pypinyin import lazy_pinyin

from adversarial.transformations import CharacterNoise, han_homophones


def _one_homophone_apart(word: str, cand: str) -> bool:
    diff = [i for i, (a, b) in enumerate(zip(word, cand, strict=True)) if a != b]
    return len(diff) == 1 and cand[diff[0]] in han_homophones(word[diff[0]])


def test_search_candidates_cover_every_homophone_position_and_stay_homophones():
    word = "生日"  # two common characters, each with common homophones
    static = CharacterNoise("zh", seed=3)._get_replacement_words(word)
    search = CharacterNoise("zh", seed=3, all_homophones=True)._get_replacement_words(word)
    expected = sum(len(han_homophones(c)) for c in word)
    assert expected >= 2
    assert len(set(static)) <= 1  # one random homophone per word for static sets
    assert len(set(search)) == min(expected, CharacterNoise.MAX_HAN_OPTIONS)
    assert all(_one_homophone_apart(word, c) for c in search)
    # Same reading (pypinyin's phrase-aware reading, checked apart from the character table).
    assert all(lazy_pinyin(c) == lazy_pinyin(word) for c in search)
    # Deterministic for a seed, and the static candidates are unchanged by the search option.
    again = CharacterNoise("zh", seed=3, all_homophones=True)._get_replacement_words(word)
    assert search == again


def test_search_option_leaves_other_scripts_and_japanese_alone():
    for lang, word in (("de", "Mutter"), ("ru", "говорю"), ("ja", "日本")):
        plain = CharacterNoise(lang, seed=1)._get_replacement_words(word)
        searched = CharacterNoise(lang, seed=1, all_homophones=True)._get_replacement_words(word)
        assert plain == searched, lang
