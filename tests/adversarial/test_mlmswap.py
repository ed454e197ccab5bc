"""Family ``mlmswap`` offline from a local MLM folder: script-faithful, whole-word candidates.

The model is a tiny randomly initialised ``XLMRobertaForMaskedLM`` with the real XLM-R
tokenizer, so its proposals are close to random draws from the 250k-piece vocabulary: exactly
what exercises the candidate filter (a trained XLM-R mostly proposes sensible words anyway).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import regex

from adversarial.segment import words as segment_words
from adversarial.transformations import keep_mlm_candidate, word_scripts
from tests.harness.tiny_models import build_tiny

from .test_build import _build, _check_set, _rows

# Scripts checked with the regex package's own Script property, independently of the
# name-based script labels the code under test uses. A letter in none of them fails the test.
SCRIPTS = (
    "Latin",
    "Cyrillic",
    "Greek",
    "Arabic",
    "Devanagari",
    "Han",
    "Hiragana",
    "Katakana",
    "Hangul",
    "Thai",
    "Hebrew",
    "Ethiopic",
    "Armenian",
    "Georgian",
    "Bengali",
    "Tamil",
    "Telugu",
)
_SCRIPT_RE = {name: regex.compile(rf"\p{{Script={name}}}") for name in SCRIPTS}
_ANY_SCRIPT = regex.compile(r"[\p{Script=Common}\p{Script=Inherited}]")
_MARK_OR_LETTER = regex.compile(r"[\p{L}\p{M}]")

# XNLI languages in six scripts: Latin, Cyrillic, Arabic, Devanagari, Han, Greek.
LANGS = ["de", "ru", "ar", "hi", "zh", "el"]
LIMIT = 12


def _scripts(word: str) -> set[str]:
    """Unicode Script values of the letters and script-specific marks of ``word``."""
    out = set()
    for ch in word:
        if not _MARK_OR_LETTER.match(ch) or _ANY_SCRIPT.match(ch):
            continue
        found = [name for name, pattern in _SCRIPT_RE.items() if pattern.match(ch)]
        assert found, f"letter {ch!r} (U+{ord(ch):04X}) in none of the known scripts"
        out.update(found)
    return out


@pytest.fixture(scope="module")
def tiny_mlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded, randomly initialised XLMRobertaForMaskedLM (hidden 32, 2 layers) in a folder."""
    return build_tiny(tmp_path_factory.mktemp("tiny-mlm"), "mlm", xlmr=True)


@pytest.fixture(scope="module")
def vocab(tiny_mlm: Path) -> set[str]:
    """The tokenizer's vocabulary (SentencePiece pieces, "▁" marking a word start)."""
    from transformers import AutoTokenizer

    return set(AutoTokenizer.from_pretrained(tiny_mlm).get_vocab())


# --------------------------------------------------------------------------- the filter itself
@pytest.mark.parametrize(
    ("lang", "original", "kept", "dropped"),
    [
        # Hindi: Devanagari whole words only; Latin, Han, Ethiopic and a bare vowel sign go.
        ("hi", "माँ", ["घर", "पिता", "संग्रहालय"], ["house", "家", "ቤት", "ि", "Дом"]),
        # A Latin word in Hindi text (romanised Hindi occurs in XNLI) keeps Latin candidates.
        ("hi", "ghar", ["maa", "Washington"], ["घर", "家"]),
        ("de", "Mutter", ["Vater", "Schule", "Größe"], ["мать", "μητέρα", "母", "أم"]),
        ("ru", "мама", ["папа", "школа", "ёлка"], ["mama", "μαμά", "ماما"]),
        ("el", "σπίτι", ["σχολείο", "Ουάσινγκτον"], ["spiti", "дом", "بيت"]),
        ("ar", "المدينة", ["البيت", "واشنطن"], ["city", "शहर", "город"]),
        ("zh", "妈妈", ["爸爸", "学校"], ["mama", "ママ", "엄마"]),
        # Japanese: kanji and kana are one writing system.
        ("ja", "学校", ["がっこう", "カメラ", "先生"], ["school", "학교"]),
        ("ko", "학교", ["집", "어머니"], ["学校", "school"]),
    ],
)
def test_candidates_keep_the_script_of_the_replaced_word(lang, original, kept, dropped):
    for word in kept:
        assert keep_mlm_candidate(word, True, original, lang), word
    for word in dropped:
        assert not keep_mlm_candidate(word, True, original, lang), word


def test_mid_word_fragments_are_refused_in_spaced_scripts():
    # Pieces without "▁" continue a word: "haus" of "Rathaus", "ाना" of "खाना".
    assert keep_mlm_candidate("Haus", True, "Mutter", "de")
    assert not keep_mlm_candidate("haus", False, "Mutter", "de")
    assert not keep_mlm_candidate("ого", False, "мама", "ru")
    assert not keep_mlm_candidate("ाना", False, "माँ", "hi")
    assert not keep_mlm_candidate("ाना", True, "माँ", "hi")  # a combining mark first
    assert not keep_mlm_candidate("ية", False, "المدينة", "ar")
    assert not keep_mlm_candidate("ματα", False, "σπίτι", "el")
    # Not one word of the language: punctuation attached, or two words.
    assert not keep_mlm_candidate("Haus.", True, "Mutter", "de")
    assert not keep_mlm_candidate("Haus-", True, "Mutter", "de")


def test_unspaced_scripts_take_pieces_without_the_word_marker():
    # "▁" only marks a preceding space there: XLM-R writes "他说，妈妈" as ▁ 他说 , 妈妈.
    assert keep_mlm_candidate("妈妈", False, "学校", "zh")
    assert keep_mlm_candidate("ครับ", False, "ดี", "th")
    assert keep_mlm_candidate("カメラ", False, "学校", "ja")
    # ... but a piece must still be a whole word, not a cluster cut in half.
    assert not keep_mlm_candidate("ัส", False, "ดี", "th")
    # A Latin piece without the marker inside Chinese text is still a fragment.
    assert not keep_mlm_candidate("ing", False, "iPhone", "zh")


def test_unknown_original_falls_back_to_the_language_script():
    assert keep_mlm_candidate("घर", True, None, "hi")
    assert not keep_mlm_candidate("house", True, None, "hi")
    assert not keep_mlm_candidate("city", True, None, "ru")
    assert word_scripts("食べる", "ja") == {"JAPANESE"}
    assert word_scripts("O2", "hi") == {"LATIN"} and word_scripts("2020", "hi") == frozenset()
    # A number has no letters: no word may replace it.
    assert not keep_mlm_candidate("दो", True, "2", "hi")


def test_fill_masks_filters_random_proposals(tiny_mlm, vocab):
    from adversarial.transformations import MultilingualMaskedLM

    mlm = MultilingualMaskedLM("hi", str(tiny_mlm), max_candidates=50, min_confidence=0.0)
    mask = mlm._lm_tokenizer.mask_token
    texts = [f"और उसने कहा, {mask}, मैं घर आया हूं।", f"Uski {mask} ne bataya ki wo ghar"]
    originals = ["माँ", "maa"]
    filled = mlm.fill_masks(texts, originals)
    # Unfiltered, a random MLM's top 1000 pieces are mostly other scripts and fragments.
    assert all(filled), filled
    for words, original in zip(filled, originals, strict=True):
        assert len(words) == len(set(words)) <= 50
        for word in words:
            assert _scripts(word) and _scripts(word) <= _scripts(original), (original, word)
            assert "▁" + word in vocab, word
            assert segment_words(word, "hi") == [word]
    # Without the original word the language's script is kept.
    (fallback,) = mlm.fill_masks(texts[1:])
    assert fallback and all(_scripts(w) == {"Devanagari"} for w in fallback)


def test_mask_logits_equal_the_full_forward_pass(tiny_mlm):
    import torch

    from adversarial.transformations import MultilingualMaskedLM

    mlm = MultilingualMaskedLM("de", str(tiny_mlm))
    mask = mlm._lm_tokenizer.mask_token
    inputs = mlm._encode_text([f"und er hat {mask}, Mama", f"{mask} ich bin daheim, sagte er."])
    positions = [ids.index(mlm._lm_tokenizer.mask_token_id) for ids in inputs["input_ids"].tolist()]
    with torch.no_grad():
        full = mlm._language_model(**inputs).logits
        fast = mlm.mask_logits(inputs, positions)
    expected = torch.stack([full[row, pos] for row, pos in enumerate(positions)])
    torch.testing.assert_close(fast, expected)


# ------------------------------------------------------------------------ sets on real data
def test_mlmswap_sets_across_scripts(out_root, xtreme_data_dir, tiny_mlm, vocab):
    params = {
        "mlm": str(tiny_mlm),
        "min_similarity": 0,
        "min_confidence": 0,  # a random MLM spreads its mass over 250k pieces
    }
    for lang in LANGS:
        folder = _build(out_root, xtreme_data_dir, "xnli", lang, "mlmswap", params, limit=LIMIT)
        manifest = _check_set(folder, xtreme_data_dir, "xnli", lang, limit=LIMIT)
        assert manifest["task_name"] == f"xtreme_adv_xnli_mlmswap_{lang}"
        v = manifest["validity"]
        assert v["stopword_edits"] == 0 and v["max_ratio_observed"] <= 0.25
        n_edits = 0
        for row in _rows(folder):
            for edit in json.loads(row["adv_edits"]):
                original, new = edit["original"], edit["perturbed"]
                n_edits += 1
                assert new != original
                # (a) the replacement is written in the replaced word's script;
                assert _scripts(new) and _scripts(new) <= _scripts(original), (lang, edit)
                # (b) and it is a whole word: a word-initial piece where words are spaced.
                if lang == "zh":
                    assert new in vocab or "▁" + new in vocab
                else:
                    assert "▁" + new in vocab, (lang, edit)
                assert segment_words(new, lang) == [new], (lang, edit)
        assert n_edits > 0, lang
