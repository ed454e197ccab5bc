"""The adaptive search's modification limit counts the static budget's units: original words.

Chinese Tatoeba sentences are a handful of jieba words, so the 25% limit allows one or two
edited words; a Han typo (a common homophone) often makes jieba split the word in two, which
TextAttack records as two modified words. Counted that way the search stopped after its first
edit, where the static set (one edit per original word) went on to a second.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from types import SimpleNamespace

import pytest

from adversarial import recipes
from adversarial.adaptive_sets import search_constraints
from adversarial.constraints import OriginalWordsModificationRate, original_words_changed
from adversarial.minimal import edit_units, text_with
from adversarial.textattack_compat import AttackedText, language, textattack
from adversarial.transfer import result_row

SENTENCE = "今天是６月１８号，也是Muiriel的生日！"  # Tatoeba zh, source 5


def _charnoise():
    family = recipes.get_family("charnoise")
    params = recipes.resolve_params(family, {"min_similarity": 0})
    return family, params, recipes.word_swap(family, "zh", params, 0)


def test_a_resegmented_han_typo_counts_as_one_original_word():
    _, _, transformation = _charnoise()
    rate = OriginalWordsModificationRate(0.25)
    with language("zh"):
        text = AttackedText(SENTENCE)
        n = len(text.words)
        assert math.floor(0.25 * n) == 2  # two of the eleven words may change
        i = text.words.index("生日")
        once = text.replace_word_at_index(i, "甥日")  # the homophone typo charnoise proposes
        assert once.words[i : i + 2] == ["甥", "日"]  # jieba splits it
        # TextAttack's record: two modified words and one word more than the original.
        assert once.attack_attrs["modified_indices"] == {i, i + 1}
        assert len(once.words) == n + 1
        # One original word changed: a second may still change.
        assert rate(once, transformation) == set(range(n + 1))
        twice = once.replace_word_at_index(once.words.index("今天"), "巾天")
        assert rate(twice, transformation) == set()  # two original words: the limit
        # A text of three words allows none (floor(0.75) = 0), as in the static builder.
        assert rate(AttackedText("我們試試看！"), transformation) == set()


def test_a_minimal_transfer_text_counts_original_words():
    """The transfer sets' reduction rebuilds its texts from the original
    (:func:`adversarial.minimal.text_with`); they must carry where each original word went, or
    the limit and the set's ``adv_ratio`` count the re-split typo twice (as they did)."""
    _, _, transformation = _charnoise()
    rate = OriginalWordsModificationRate(0.25)
    with language("zh"):
        original = AttackedText(OrderedDict(sentence=SENTENCE))
        n = len(original.words)
        i = original.words.index("生日")
        greedy = original.replace_word_at_index(i, "甥日")
        rebuilt = text_with(original, edit_units(original, greedy, "zh"), transformation)
        assert rebuilt.text == greedy.text and rebuilt.words[i : i + 2] == ["甥", "日"]
        assert rebuilt.attack_attrs["modified_indices"] == {i, i + 1}
        assert rebuilt.attack_attrs["original_index_map"].tolist() == [
            *range(i + 1), *range(i + 2, n + 1)
        ]  # fmt: skip
        assert original_words_changed(rebuilt) == 1
        assert rate(rebuilt, transformation) == set(range(n + 1))  # a second edit may follow
        # The row of a transfer set reports one perturbed word of the eleven.
        result = SimpleNamespace(
            original_result=SimpleNamespace(attacked_text=original),
            perturbed_result=SimpleNamespace(attacked_text=rebuilt),
        )  # only the attributes result_row reads (a real result needs a goal function)
        doc = {"id": "5", "sentence": SENTENCE}
        assert result_row(doc, "tatoeba", "zh", result, None)["adv_ratio"] == round(1 / n, 6)
        # A deleted original word is a changed one too.
        shorter = original.delete_word_at_index(0)
        rebuilt = text_with(original, edit_units(original, shorter, "zh"))
        assert rebuilt.attack_attrs["original_index_map"].tolist()[:2] == [-1, 0]
        assert original_words_changed(rebuilt) == 1


def test_every_search_counts_the_limit_in_original_words():
    """``build_attack`` serves the adaptive searches, the --source-model transfer sets and the
    benchmarks: each must count the limit as the static budget does. (The transfer sets once
    kept TextAttack's count of current words, so a Chinese search stopped after one edit.)"""
    family, params, _ = _charnoise()

    class Wrapper(textattack.models.wrappers.ModelWrapper):
        model = None

        def __call__(self, inputs):
            raise AssertionError("no model call while assembling the attack")

    recipe = recipes.build_attack(family, "zh", params, Wrapper(), 10, seed=0)
    MaxRate = textattack.constraints.pre_transformation.MaxModificationRate
    limits = [c for c in search_constraints(recipe) if isinstance(c, MaxRate)]
    assert len(limits) == 1 and isinstance(limits[0], OriginalWordsModificationRate)
    assert limits[0].max_rate == float(params["max_ratio"])
    assert search_constraints(recipe)[: len(recipe.pre_transformation_constraints)] == list(
        recipe.pre_transformation_constraints
    )


@pytest.mark.shared_data
def test_adaptive_search_applies_the_static_sets_calibrated_floor(
    small_classifier, xtreme_data_dir
):
    """Static sets apply max(min_similarity, the 0.99 quantile of unrelated pairs); the
    adaptive search of the same parameters must be held to that floor, not to 0.7."""
    from adversarial.adaptive_sets import AdaptiveAttack, AdaptiveRequest
    from adversarial.build import BuildRequest
    from adversarial.similarity import EmbeddingSimilarityFloor

    params = {"similarity_model": "embedded:2"}  # the 2-layer encoder: seconds
    static = BuildRequest("xnli", "de", "charnoise", params, seed=0,
                          data_dir=str(xtreme_data_dir), limit=4)  # fmt: skip
    static_floor = static.config(static.load())["validity_setup"]["similarity_floor"]
    adaptive = AdaptiveRequest(str(small_classifier), "xnli", "de", "charnoise", params,
                               seed=0, query_budget=10, data_dir=str(xtreme_data_dir),
                               limit=4)  # fmt: skip
    loaded = adaptive.load()
    recorded = adaptive.config(loaded)["validity_setup"]["similarity_floor"]
    assert recorded == static_floor and recorded["calibrated"]
    assert recorded["floor"] > 0.7  # unrelated German premises are closer than 0.7 under E5
    runner = AdaptiveAttack(adaptive, loaded)
    floors = [c for c in runner.constraints if isinstance(c, EmbeddingSimilarityFloor)]
    assert [c.floor for c in floors] == [recorded["floor"]]
