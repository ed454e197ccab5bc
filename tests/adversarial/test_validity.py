"""Constraints that constrain (issue 9): each test reads the perturbed output, in six scripts.

Real XNLI / XQuAD / Tatoeba slices where the project has them (zh, ar, hi, ru, de, en); Thai and
Urdu sentences are written here (no Thai or Urdu slice is shared), realistic news-style text.
"""

from __future__ import annotations

import time
import unicodedata

import pytest
import regex
from pypinyin import Style, pinyin

from adversarial import lexicon
from adversarial.constraints import (
    ZERO_WIDTH,
    MaxZeroWidthShare,
    ProtectedWords,
    is_zero_width_edit,
    protection_reason,
)
from adversarial.engine import Perturber, split_sentences
from adversarial.recipes import get_family, resolve_params
from adversarial.segment import graphemes, word_spans, words
from adversarial.transformations import CharacterNoise, VisualNoise
from harness_tasks.data import load_eval_split
from harness_tasks.errors import XtremeAdvError

NEGATIONS = {
    "zh": ["没", "没有", "不", "未"],
    "ar": ["ليس", "لا", "لم", "لن"],
    "ur": ["نہیں", "نہ"],
    "sw": ["si", "hakuna"],
    "th": ["ไม่"],
    "hi": ["नहीं", "nahi"],  # XNLI-hi holds romanised Hindi lines too
    "ru": ["не", "нет"],
    "de": ["nicht", "kein"],
}
THAI = [
    "ครูไม่ได้มาโรงเรียนเมื่อวานนี้เพราะฝนตกหนักมาก",
    "รัฐบาลประกาศว่าจะไม่ขึ้นราคาน้ำมันในเดือนหน้า",
    "นักเรียนรู้สึกดีใจที่ได้ไปเที่ยวทะเลกับครอบครัว",
]
URDU = [
    "میں نے کل وہ کتاب نہیں پڑھی تھی جو استاد نے دی تھی",
    "حکومت نے کہا کہ پٹرول کی قیمت میں اضافہ نہیں کیا جائے گا",
    "بچوں کو اسکول جانا پسند ہے لیکن آج بارش ہو رہی تھی",
]
URDU_FUNCTION_WORDS = ["نے", "تھا", "تھی", "میں", "کو", "نہیں", "کی", "کہ", "ہے"]


def _params(attack: str, **extra) -> dict:
    return resolve_params(get_family(attack), {"min_similarity": 0, **extra})


def _xnli(data_dir, lang: str, n: int) -> list[dict]:
    return load_eval_split("xnli", lang, data_dir=str(data_dir)).dataset.to_list()[:n]


def _edits(perturber: Perturber, docs: list[dict]) -> list[tuple[str, str, str, str]]:
    """(field original text, perturbed text, edited word, replacement) of every planned edit."""
    out = []
    for index, doc in enumerate(docs):
        for fp in perturber.plan(doc, index).fields:
            for start, end, repl in fp.edits:
                word = (
                    fp.original[start:end] if isinstance(fp.original, str) else fp.original[start]
                )
                out.append((fp.original, fp.name, word, repl))
    return out


def _docs(texts: list[str]) -> list[dict]:
    return [{"id": f"t{i}", "premise": t, "hypothesis": t, "label": 0} for i, t in enumerate(texts)]


# ------------------------------------------------------------------ protected words
@pytest.mark.parametrize("lang", ["zh", "ar", "hi", "ru", "de"])
@pytest.mark.parametrize("attack", ["charnoise", "visual"])
def test_negations_numbers_and_one_grapheme_words_are_never_edited(xtreme_data_dir, lang, attack):
    docs = _xnli(xtreme_data_dir, lang, 64)
    perturber = Perturber("xnli", lang, attack, _params(attack), seed=0)
    edits = _edits(perturber, docs)
    assert edits, "the family must still edit something"
    for _, _, word, _ in edits:
        assert protection_reason(word, lang) is None, word
        assert not any(ch.isdigit() for ch in word) and len(graphemes(word)) > 1, word
        assert word.lower() not in NEGATIONS[lang], word
    # The test data does hold negations: they were candidates and were left alone.
    text = " ".join(d["premise"] + " " + d["hypothesis"] for d in docs)
    assert any(neg in words(text, lang) for neg in NEGATIONS[lang])


@pytest.mark.parametrize(("lang", "texts"), [("th", THAI), ("ur", URDU)])
def test_thai_and_urdu_negations_and_function_words_survive_every_seed(lang, texts):
    for seed in range(12):
        perturber = Perturber("xnli", lang, "charnoise", _params("charnoise", max_ratio=1.0), seed)
        for _, _, word, _ in _edits(perturber, _docs(texts)):
            assert not lexicon.is_negation(word, lang), word
            assert word not in NEGATIONS[lang] and word not in URDU_FUNCTION_WORDS, word


def test_protected_words_constraint_in_a_textattack_search():
    from adversarial.textattack_compat import AttackedText, language

    with language("ru"):
        text = AttackedText("Он не пришёл в 2020 году, и нет никого в доме")
        allowed = ProtectedWords("ru")(text, None)
        kept = {text.words[i] for i in allowed}
    assert {"не", "нет", "2020", "в", "и"}.isdisjoint(kept)
    assert {"пришёл", "году", "доме"} <= kept


def test_urdu_stopwords_are_a_correct_list_with_its_source():
    stop = lexicon.stopwords("ur")
    assert set(URDU_FUNCTION_WORDS) <= stop
    assert "اضتعوبل" not in stop  # stopwordsiso's mis-encoded entry
    assert "urduhack" in lexicon.stopword_source("ur")["source"]
    assert lexicon.stopword_source("de")["source"] == "stopwordsiso (de)"


# ------------------------------------------------------------------ orthography
def test_thai_lao_khmer_myanmar_and_indic_marks_are_never_stripped():
    for word in ["รู้", "ครู", "น้ำ", "ไม่", "ເຂົ້າ", "ខ្មែរ", "မြန်မာ", "हिन्दी", "தமிழ்"]:
        assert lexicon.strip_diacritics(word) == word
    assert lexicon.strip_diacritics("Tiếng Việt") == "Tieng Viet"
    assert lexicon.strip_diacritics("كَتَبَ") == "كتب"  # harakat are optional in Arabic
    # Nothing to strip: the word comes back as it was, not re-normalised (an invisible edit).
    assert lexicon.strip_diacritics("\u091c\u0941\u095c\u093e") == "\u091c\u0941\u095c\u093e"
    noise = VisualNoise("th", seed=0)
    for text in THAI:
        for word in words(text, "th"):
            for seed in range(5):
                noise.reseed(seed)
                for cand in noise._get_replacement_words(word):
                    marks = [c for c in word if unicodedata.category(c) == "Mn"]
                    assert [c for c in cand if unicodedata.category(c) == "Mn"] == marks, cand


def test_no_independent_devanagari_vowel_inside_a_word(xtreme_data_dir):
    vowel = regex.compile(r"\p{Indic_Syllabic_Category=Vowel_Independent}")
    noise = CharacterNoise("hi", seed=0)
    text = " ".join(d["premise"] for d in _xnli(xtreme_data_dir, "hi", 40))
    checked = 0
    for word in {w for w in words(text, "hi") if regex.search(r"\p{Devanagari}", w)}:
        noise.reseed(len(word))
        for cand in noise._get_replacement_words(word):
            inner = [g for g in graphemes(cand)[1:] if vowel.match(g)]
            assert len(inner) <= len([g for g in graphemes(word)[1:] if vowel.match(g)]), cand
            checked += 1
    assert checked > 200


def test_han_substitutions_are_common_homophones(xtreme_data_dir):
    noise = CharacterNoise("zh", seed=0)
    text = " ".join(d["premise"] for d in _xnli(xtreme_data_dir, "zh", 40))
    checked = 0
    for word in {w for w in words(text, "zh") if regex.fullmatch(r"\p{Han}{2,}", w)}:
        for seed in range(3):
            noise.reseed(seed)
            for cand in noise._get_replacement_words(word):
                # Only substitutions: same length, one character differs, read the same.
                assert len(cand) == len(word), (word, cand)
                diff = [(a, b) for a, b in zip(word, cand, strict=True) if a != b]
                assert len(diff) == 1, (word, cand)
                old, new = diff[0]
                assert pinyin(old, style=Style.TONE3)[0][0] == pinyin(new, style=Style.TONE3)[0][0]
                assert 0xB0 <= new.encode("gb2312")[0] <= 0xD7  # GB 2312 level 1: common
                checked += 1
    assert checked > 50


# ------------------------------------------------------------------ visual
FORBIDDEN_SCRIPTS = ("LISU", "SHAVIAN", "DESERET", "WARANG", "CHEROKEE", "CANADIAN", "MATHEMATICAL")


@pytest.mark.parametrize("lang", ["hi", "ar", "zh", "ru", "de"])
def test_zero_width_edits_are_a_minority_and_homoglyphs_stay_in_script(xtreme_data_dir, lang):
    docs = _xnli(xtreme_data_dir, lang, 64)
    perturber = Perturber("xnli", lang, "visual", _params("visual", max_ratio=0.5), seed=0)
    n_zw = n_all = 0
    for index, doc in enumerate(docs):
        for fp in perturber.plan(doc, index).fields:
            zw = [is_zero_width_edit(fp.original[s:e], r) for s, e, r in fp.edits]
            # Every prefix (what the similarity floor may keep) holds the bound too.
            for k in range(1, len(zw) + 1):
                assert sum(zw[:k]) <= 0.34 * k + 1e-9
            n_zw, n_all = n_zw + sum(zw), n_all + len(zw)
            for (s, e, r), is_zw in zip(fp.edits, zw, strict=True):
                if is_zw:
                    continue
                changed = [b for a, b in zip(fp.original[s:e], r, strict=False) if a != b]
                for ch in changed:
                    assert not lexicon.script_of(ch).startswith(FORBIDDEN_SCRIPTS), (r, ch)
                    assert lexicon.script_of(ch) in (
                        {"LATIN", "CYRILLIC", "GREEK"}
                        if lexicon.script_of(fp.original[s]) in ("LATIN", "CYRILLIC", "GREEK")
                        else {lexicon.script_of(fp.original[s])}
                    ), (r, ch)
    assert n_zw * 2 < max(n_all, 1)


def test_zero_width_share_constraint_rejects_an_invisible_first_edit():
    from adversarial.textattack_compat import AttackedText

    constraint = MaxZeroWidthShare(0.34)
    original = AttackedText("правительство объявило новые меры")
    invisible = original.replace_word_at_index(0, "прави" + ZERO_WIDTH + "тельство")
    visible = original.replace_word_at_index(0, "прaвительство")  # Latin "a"
    # (TextAttack's search calls it with ``last_transformation`` set; the check itself:)
    assert not constraint._check_constraint(invisible, original)
    assert constraint._check_constraint(visible, original)
    both = visible.replace_word_at_index(2, "но" + ZERO_WIDTH + "вые")
    both = both.replace_word_at_index(3, "мерa")  # Latin "a"
    assert constraint._check_constraint(both, original)  # one invisible edit of three


# ------------------------------------------------------------------ distractor, entityswap
def test_sentence_splitter_knows_ordinals_abbreviations_and_thai_spaces():
    text = "Das geschah am 5. Mai, d.h. vor zwei Wochen. Danach kam Dr. Müller."
    assert split_sentences(text, "de") == [
        "Das geschah am 5. Mai, d.h. vor zwei Wochen.",
        "Danach kam Dr. Müller.",
    ]
    assert split_sentences("他来了。我们走吧！", "zh") == ["他来了。", "我们走吧！"]
    assert split_sentences(" ".join(THAI[:2]), "th") == THAI[:2]


def test_thai_distractor_is_not_glued_to_the_context():
    docs = [
        {"id": str(i), "context": t, "question": "ใคร", "answers": {"text": [], "answer_start": []}}
        for i, t in enumerate(THAI)
    ]
    perturber = Perturber(
        "xnli", "th", "distractor", _params("distractor"), seed=0, pool_docs=_docs(THAI * 2)
    )
    perturber.task = "xnli"
    plan = perturber.plan(_docs(THAI)[0], 0)
    (edit,) = plan.fields[0].edits
    assert edit[2].startswith(" ") and edit[2].strip() in THAI
    assert docs  # the QA layout is exercised by test_build's distractor tests


def _entityswap(lang: str, gazetteer: dict) -> Perturber:
    return Perturber("xquad", lang, "entityswap", _params("entityswap"), 0, gazetteer=gazetteer)


def _qa(context: str) -> dict:
    return {
        "id": "q",
        "context": context,
        "question": "?",
        "answers": {"text": [], "answer_start": []},
    }


def test_entityswap_swaps_whole_names_of_the_same_case_never_fragments():
    junk = (("it",), ("paris",), ("Cromwell", "(", "Neuseeland", ")"))
    gazetteer = {"LOC": (("England",), ("Boston",), ("Chicago",), *junk)}
    perturber = _entityswap("en", gazetteer)
    text = "The New England Patriots played in Boston last year."
    seen = set()
    for seed in range(20):
        perturber.seed = seed
        plan = perturber.plan(_qa(text), seed)
        for start, end, repl in plan.fields[0].edits:
            seen.add((text[start:end], repl))
    # "England" inside "New England Patriots" is a fragment; "it", "paris" and a Wikipedia
    # disambiguation title are not names.
    assert seen == {("Boston", "Chicago"), ("Boston", "England")}


def test_entityswap_in_russian_keeps_the_case_ending_or_skips():
    gazetteer = {"LOC": (("Лондоне",), ("Москве",), ("Париж",), ("Берлина",))}
    perturber = _entityswap("ru", gazetteer)
    text = "Выставка прошла в Лондоне прошлой осенью."
    out = set()
    for seed in range(20):
        perturber.seed = seed
        for _start, _end, repl in perturber.plan(_qa(text), seed).fields[0].edits:
            out.add(repl)
    assert out == {"Москве"}  # same locative ending "-е"


# ------------------------------------------------------------------ mlmswap refusals
def test_mlmswap_refuses_an_encoder_without_a_trained_mlm_head(embedded_model_dir_small):
    from adversarial.mlm import load_masked_lm

    with pytest.raises(XtremeAdvError, match="no trained masked-LM head"):
        load_masked_lm(str(embedded_model_dir_small))


def test_mlmswap_without_the_hub_fails_at_once_in_one_line(monkeypatch):
    from adversarial.mlm import resolve_mlm

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(XtremeAdvError) as err:
        resolve_mlm("someone/not-cached-mlm")
    assert time.monotonic() - start < 5
    assert "\n" not in str(err.value) and "offline" in str(err.value)


# ------------------------------------------------------------------ similarity floor
def test_floor_is_calibrated_on_unrelated_pairs_and_rejects_an_unrelated_rewrite(xtreme_data_dir):
    import numpy as np

    from adversarial.calibration import calibrate, field_texts, unrelated_pairs
    from adversarial.engine import FieldPlan, Plan
    from adversarial.floor import apply_similarity_floor
    from adversarial.similarity import load_encoder

    encoder = load_encoder("embedded:2")
    docs = _xnli(xtreme_data_dir, "ru", 200)
    params = resolve_params(get_family("charnoise"), {"similarity_model": "embedded:2"})
    cal = calibrate(encoder, docs, "xnli", "ru", params, seed=0)
    pairs = unrelated_pairs(field_texts(docs, "xnli", "ru"), 256, 0)
    assert all(a != b for a, b in pairs) and len(pairs) == cal["n_pairs"] == 256
    sims = encoder.similarity(pairs)
    # The floor is the 99th percentile of unrelated-pair similarity, far above 0.7: E5
    # compresses cosines, so the old fixed floor could not reject anything.
    assert cal["floor"] == cal["unrelated_quantile"] == pytest.approx(np.quantile(sims, 0.99))
    assert cal["floor"] > 0.8 > params["min_similarity"]
    assert np.mean(sims >= cal["floor"]) <= 0.02

    premise, other = docs[0]["premise"], docs[150]["premise"]
    longest = max(word_spans(premise, "ru"), key=lambda sp: sp[1] - sp[0])
    typo = premise[longest[0] : longest[1] - 2] + premise[longest[1] - 1 : longest[1]]
    garbage = Plan(doc={}, fields=[FieldPlan("premise", premise, [(0, len(premise), other)], 1, 1)])
    fine = Plan(doc={}, fields=[FieldPlan("premise", premise, [(*longest, typo)], 1, 1)])
    kept = apply_similarity_floor([garbage, fine], encoder, cal["floor"], "ru")
    assert kept[0] is None and garbage.fields[0].kept == 0  # rejected: skipped
    assert kept[1] >= cal["floor"] and fine.fields[0].kept == 1
    # With the old fixed floor the unrelated rewrite passed.
    garbage.fields[0].kept = 1
    assert apply_similarity_floor([garbage], encoder, 0.7, "ru")[0] is not None


def test_calibration_is_stored_on_disk_and_reused_with_the_same_numbers(
    tmp_path, monkeypatch, xtreme_data_dir, embedded_model_dir_small
):
    """Every checkpoint attacked on a split calibrates on the same sample: the second build
    reads its vectors from disk (no forward pass) and gets the floor of the first to the digit;
    another language or another encoder setting is another key, never a stale hit."""
    from adversarial.calibration import calibrate
    from adversarial.similarity import SentenceEncoder

    params = resolve_params(get_family("charnoise"), {"similarity_model": "embedded:2"})
    docs = _xnli(xtreme_data_dir, "ru", 200)
    monkeypatch.setenv("XTREME_ADV_EMBED_CACHE", "off")
    unstored = calibrate(SentenceEncoder(embedded_model_dir_small), docs, "xnli", "ru", params, 0)

    monkeypatch.setenv("XTREME_ADV_EMBED_CACHE", str(tmp_path))
    first = calibrate(SentenceEncoder(embedded_model_dir_small), docs, "xnli", "ru", params, 0)
    assert first == unstored and first["calibrated"]
    assert len(list(tmp_path.rglob("*.npy"))) == 2  # the pairs' two sides

    def no_forward(texts):
        raise AssertionError(f"embedded {len(texts)} texts again")

    again = SentenceEncoder(embedded_model_dir_small)
    monkeypatch.setattr(again, "_embed", no_forward)
    assert calibrate(again, docs, "xnli", "ru", params, 0) == first
    with pytest.raises(AssertionError, match="embedded"):
        calibrate(again, _xnli(xtreme_data_dir, "de", 200), "xnli", "de", params, 0)
    other = SentenceEncoder(embedded_model_dir_small, prefix="passage: ")
    assert other.store_key() != again.store_key()
    monkeypatch.setattr(other, "_embed", no_forward)
    with pytest.raises(AssertionError, match="embedded"):
        calibrate(other, docs, "xnli", "ru", params, 0)


def test_manifest_records_calibration_sources_and_edits_per_example(tmp_path, xtreme_data_dir):
    import json

    from adversarial.build import BuildRequest, build

    params = {"similarity_model": "embedded:2"}
    request = BuildRequest(
        "tatoeba", "de", "charnoise", params, data_dir=str(xtreme_data_dir), limit=32
    )
    folder = build(request, root=tmp_path, progress=False)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    setup, v = manifest["validity_setup"], manifest["validity"]
    assert setup["similarity_floor"]["calibrated"] and v["similarity_floor"] > 0.8
    assert v["similarity_floor"] == setup["similarity_floor"]["floor"]
    assert v["min_similarity_observed"] >= v["similarity_floor"]
    assert setup["resources"]["stopwords"]["source"] == "stopwordsiso (de)"
    assert setup["resources"]["negations"]["n"] > 5
    counts = {int(k): n for k, n in v["edits_per_example"].items()}
    assert sum(counts.values()) == v["n_scored"] == 32
    per_row = [len(ex["edits"]) for ex in manifest["examples"] if ex["reason"] != "target_side"]
    assert counts == {k: per_row.count(k) for k in set(per_row)}
    too_short = sum(ex["reason"] == "too_short" for ex in manifest["examples"])
    assert v["left_clean_too_short"] == too_short and v["left_clean"] == v["skipped"]
    assert v["protected_edits"] == {}


def test_dictionary_and_mlm_identity_enter_the_work_key(tmp_path, xtreme_data_dir):
    from adversarial.build import BuildRequest, config_key

    keys = []
    for content in ("haus house\n", "haus home\n"):
        folder = tmp_path / content.split()[1]
        folder.mkdir()
        (folder / "de-en.txt").write_text(content, encoding="utf-8")
        request = BuildRequest(
            "xnli",
            "de",
            "codeswitch",
            {"dictionary": str(folder / "de-en.txt"), "min_similarity": 0},
            data_dir=str(xtreme_data_dir),
            limit=4,
        )
        config = request.config(request.load())
        assert config["validity_setup"]["resources"]["dictionary"]["entries"] == 1
        keys.append(config_key(config))
    assert keys[0] != keys[1]


def test_thai_character_noise_keeps_vowel_signs_and_spelling():
    preposed = regex.compile(r"\p{Logical_Order_Exception}(?!\p{Lo})")
    every = CharacterNoise("th", seed=0)
    substitute = CharacterNoise("th", seed=0, operations=["substitute"])
    checked = 0
    for text in THAI:
        for word in words(text, "th"):
            if len(graphemes(word)) < 2 or lexicon.is_negation(word, "th"):
                continue
            for seed in range(6):
                every.reseed(seed)
                for cand in every._get_replacement_words(word):
                    assert len(graphemes(cand)) >= 2, (word, cand)  # "ครู" never becomes "รู"
                    assert not preposed.search(cand), (word, cand)  # no "ชอใ"
                    checked += 1
                substitute.reseed(seed)
                for cand in substitute._get_replacement_words(word):
                    marks = [c for c in cand if unicodedata.category(c) == "Mn"]
                    assert marks == [c for c in word if unicodedata.category(c) == "Mn"], cand
    assert checked > 50


def test_mlmswap_build_refuses_a_headless_checkpoint_before_writing(
    tmp_path, embedded_model_dir_small, xtreme_data_dir, capsys
):
    from adversarial.cli import main

    out = tmp_path / "adv"
    argv = ["build", "--task", "xnli", "--langs", "de", "--attack", "mlmswap", "--limit", "4"]
    argv += ["--param", f"mlm={embedded_model_dir_small}", "--out", str(out), "--no-progress"]
    argv += ["--data-dir", str(xtreme_data_dir)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no trained masked-LM head" in err
    assert not out.exists()
