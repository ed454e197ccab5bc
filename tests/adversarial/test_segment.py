"""Word segmentation for every script family XTREME has."""

from __future__ import annotations

import pytest

from adversarial.segment import graphemes, word_spans, words
from adversarial.textattack_compat import AttackedText, language, textattack

CASES = [
    ("th", "ผมรักภาษาไทยมากครับ", ["ผม", "รัก", "ภาษาไทย", "มาก", "ครับ"]),
    (
        "ja",
        "私は日本語を勉強しています。",
        ["私", "は", "日本語", "を", "勉強", "し", "て", "い", "ます"],
    ),
    ("zh", "我爱北京天安门。", ["我", "爱", "北京", "天安门"]),
    ("hi", "हिन्दी भाषा बहुत सुंदर है।", ["हिन्दी", "भाषा", "बहुत", "सुंदर", "है"]),
    ("ar", "ذهب الولد إلى المدرسة.", ["ذهب", "الولد", "إلى", "المدرسة"]),
    ("he", "שלום, עולם!", ["שלום", "עולם"]),
    ("ko", "나는 학교에 갑니다.", ["나는", "학교에", "갑니다"]),
    ("fa", "می\u200cخواهم بروم", ["می\u200cخواهم", "بروم"]),
    ("de", "Die Stadt (l'eau) e-mail, 2020!", ["Die", "Stadt", "l'eau", "e-mail", "2020"]),
]


@pytest.mark.parametrize(("lang", "text", "expected"), CASES)
def test_words_and_spans(lang, text, expected):
    assert words(text, lang) == expected
    assert [text[s:e] for s, e in word_spans(text, lang)] == expected


def test_textattack_uses_the_language_segmenter_only_inside_the_context():
    text = "हिन्दी भाषा"
    # TextAttack's own splitter drops the virama and vowel signs (the reason for the wrapper).
    assert AttackedText(text).words != ["हिन्दी", "भाषा"]
    with language("hi"):
        assert AttackedText(text).words == ["हिन्दी", "भाषा"]
        swapped = AttackedText(text).replace_word_at_index(1, "बोली")
        assert swapped.text == "हिन्दी बोली"
    with language("th"):
        assert textattack.shared.utils.words_from_text("ผมรักภาษาไทย") == ["ผม", "รัก", "ภาษาไทย"]


def test_graphemes_keep_marks_with_their_base():
    clusters = graphemes("हिन्दी")
    assert "".join(clusters) == "हिन्दी"
    assert all(c[0] not in "\u093f\u094d\u0940" for c in clusters)  # no cluster starts with a mark
