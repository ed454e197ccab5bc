"""CharacterEditSimilarity tells a typo from a swap to an unrelated real word, in four scripts.

On real XNLI sentences (German: Latin, Russian: Cyrillic, Hindi: Devanagari, Chinese: Han) a
content word is (a) edited by the charnoise and visual transformations themselves, which must
pass, and (b) replaced by a real word of the same language drawn at random from other XNLI
sentences (a planted random real-word swap), which must be rejected.
"""

from __future__ import annotations

import random

import pytest

from adversarial import lexicon
from adversarial.constraints import (
    CharacterEditSimilarity,
    char_similarity,
    is_typo,
    protection_reason,
)
from adversarial.engine import Perturber
from adversarial.recipes import build_attack, get_family, resolve_params
from adversarial.segment import graphemes
from adversarial.textattack_compat import AttackedText, language, textattack
from adversarial.transformations import CharacterNoise, VisualNoise
from harness_tasks.data import load_eval_split
from harness_tasks.errors import XtremeAdvError

LANGS = ("de", "ru", "hi", "zh")
N_SENTENCES = 12


class PlantedSwap(textattack.transformations.WordSwap):
    """A word swap to one given real word (what a random real-word substitution does)."""

    def __init__(self, word: str):
        super().__init__()
        self.word = word

    def _get_replacement_words(self, word):
        return [self.word]


def _content_words(text: str, lang: str) -> list[str]:
    stop = lexicon.stopwords(lang)
    with language(lang):
        words = AttackedText(text).words
    return [
        w
        for w in words
        if len(graphemes(w)) >= 2
        and w.lower() not in stop
        and protection_reason(w, lang) is None
        and any(ch.isalpha() for ch in w)
    ]


def _sentences(data_dir, lang: str) -> tuple[list[str], list[str]]:
    docs = load_eval_split("xnli", lang, data_dir=str(data_dir)).dataset.to_list()
    premises = list(dict.fromkeys(d["premise"] for d in docs))
    pool = sorted({w for p in premises[200:400] for w in _content_words(p, lang)})
    return premises[:N_SENTENCES], pool


@pytest.mark.shared_data
@pytest.mark.parametrize("lang", LANGS)
def test_typos_pass_and_planted_real_word_swaps_are_rejected(xtreme_data_dir, lang):
    constraint = CharacterEditSimilarity(get_family("charnoise").params["min_char_similarity"])
    sentences, pool = _sentences(xtreme_data_dir, lang)
    rng = random.Random(lang)
    n_typos = n_swaps = 0
    for k, text in enumerate(sentences):
        with language(lang):
            reference = AttackedText(text)
            words = _content_words(text, lang)
            if not words:
                continue
            index = reference.words.index(max(words, key=len))
            typos = CharacterNoise(lang, seed=k)(reference, indices_to_modify=[index])
            if lang != "zh":  # Han has no homoglyphs of its own script
                typos += VisualNoise(lang, seed=k)(reference, indices_to_modify=[index])
            other = rng.choice([w for w in pool if w != reference.words[index]])
            swapped = PlantedSwap(other)(reference, indices_to_modify=[index])
            assert constraint.call_many(typos, reference) == typos, [t.text for t in typos]
            assert constraint.call_many(swapped, reference) == [], (reference.words[index], other)
        n_typos += len(typos)
        n_swaps += len(swapped)
    assert n_typos >= N_SENTENCES // 2 and n_swaps >= N_SENTENCES // 2  # not vacuous


def test_char_similarity_reads_visual_edits_as_the_same_word():
    assert char_similarity("Mutter", "Мuttеr") == 1.0  # Cyrillic М and е
    assert char_similarity("Mädchen", "Madchen") == 1.0  # accent stripped
    assert char_similarity("дома", "до\u200bма") == 1.0  # zero-width space
    assert char_similarity("Mutter", "Mtuter") == pytest.approx(5 / 6)  # one transposition
    assert char_similarity("Mutter", "Vater") == 0.5  # three edits: not a typo
    assert not is_typo("Mutter", "Vater", 0.75) and is_typo("Haus", "Hasu", 0.75)


@pytest.mark.shared_data
@pytest.mark.parametrize("lang", ("de", "ru", "hi"))
def test_static_builder_never_takes_an_offered_unrelated_word(xtreme_data_dir, lang):
    sentences, pool = _sentences(xtreme_data_dir, lang)
    docs = [
        {"id": str(k), "premise": s, "hypothesis": s, "label": 0} for k, s in enumerate(sentences)
    ]
    planted = sorted(pool, key=len)[len(pool) // 2]

    def offered(perturber: Perturber) -> list[str]:
        real = perturber.transformation._get_replacement_words
        perturber.transformation._get_replacement_words = lambda w: [planted, *real(w)]
        plans = [perturber.plan(d, k) for k, d in enumerate(docs)]
        return [str(r) for p in plans for fp in p.fields for _, _, r in fp.edits]

    params = resolve_params(get_family("charnoise"), {"min_similarity": 0})
    kept = offered(Perturber("xnli", lang, "charnoise", params, 0))
    assert kept and planted not in kept
    # Without the constraint the planted word is taken: the constraint is what refuses it.
    loose = resolve_params(get_family("charnoise"), {"min_similarity": 0, "min_char_similarity": 0})
    assert planted in offered(Perturber("xnli", lang, "charnoise", loose, 0))


def test_search_recipes_carry_the_constraint():
    params = resolve_params(get_family("charnoise"), {"min_similarity": 0})

    class Model(textattack.models.wrappers.ModelWrapper):
        model = None

        def __call__(self, texts):
            return [[0.5, 0.5] for _ in texts]

    attack = build_attack(get_family("charnoise"), "de", params, Model(), query_budget=10)
    assert any(isinstance(c, CharacterEditSimilarity) for c in attack.constraints)
    loose = resolve_params(get_family("charnoise"), {"min_similarity": 0, "min_char_similarity": 0})
    attack = build_attack(get_family("charnoise"), "de", loose, Model(), query_budget=10)
    assert not any(isinstance(c, CharacterEditSimilarity) for c in attack.constraints)


def test_min_char_similarity_out_of_range_is_a_user_error():
    with pytest.raises(XtremeAdvError, match=r"charnoise: min_char_similarity=2.0 not in \[0, 1\]"):
        resolve_params(get_family("charnoise"), {"min_char_similarity": "2"})
    with pytest.raises(XtremeAdvError, match="unknown parameter 'min_char_similarity'"):
        resolve_params(get_family("mlmswap"), {"min_char_similarity": "0.5"})
