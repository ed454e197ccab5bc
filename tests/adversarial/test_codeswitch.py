"""Family ``codeswitch`` with small real MUSE dictionaries, in six languages and six scripts.

Each dictionary holds correct English translations of content words that occur in the first
XNLI dev documents of its language (MUSE lists lower-case forms, one ``source target`` pair per
line, a source repeated for each translation).
"""

from __future__ import annotations

import json
import unicodedata

import pytest

from adversarial.transformations import DictionarySwap

from .test_build import _build, _check_set, _rows

LIMIT = 48

# XNLI languages in six scripts: Latin, Cyrillic, Greek, Arabic, Devanagari, Han.
MUSE = {
    "de": """mama mom
mama mother
schwester sister
sohn son
familie family
flugzeuge airplanes
flugzeuge aircraft
instrumente instruments
stadt city
stadt town
geschichte story
geschichte history
oma grandma
verloren lost
herd stove
regler regulator
""",
    "ru": """мама mom
мама mother
сестра sister
бабушка grandmother
историю story
историю history
муж husband
самолетов aircraft
самолетов planes
регулятор regulator
знал knew
решили decided
компании company
штат state
""",
    "el": """μαμά mom
μαμά mother
σπίτι house
σπίτι home
οικογένεια family
αδελφή sister
γιαγιά grandmother
αεροσκάφη aircraft
όργανα instruments
δουλειά job
δουλειά work
μέρος place
ρυθμιστή regulator
""",
    "ar": """ماما mom
مكان place
العائلة family
المدينة city
القصة story
الطائرة plane
الطائرة aircraft
ابن son
شخص person
منظم regulator
""",
    # "उड़ान" is written here with the one-code-point nukta letter U+095C while the XNLI text
    # writes U+0921 U+093C; "जुड़ा" the other way round: the lookup must not depend on it.
    "hi": """माँ mother
माँ mom
परिवार family
दादी grandmother
बहन sister
विमान aircraft
विमान plane
काम work
जगह place
समय time
जीवन life
मालिक owner
व्यक्ति person
स्थान place
नियामक regulator
\u0909\u095c\u093e\u0928 flight
\u091c\u0941\u0921\u093c\u093e connected
""",
    "zh": """妈妈 mom
妈妈 mother
飞机 airplane
飞机 plane
公司 company
工作 work
工作 job
父亲 father
姐姐 sister
问题 problem
问题 question
地方 place
奶奶 grandma
仪器 instrument
财产 property
""",
}


def _table(lang: str) -> dict[str, set[str]]:
    """Lower-cased NFC source word -> its translations, straight from the MUSE text above."""
    table: dict[str, set[str]] = {}
    for line in MUSE[lang].splitlines():
        src, tgt = line.split()
        table.setdefault(unicodedata.normalize("NFC", src), set()).add(tgt)
    return table


@pytest.fixture
def muse_dir(tmp_path):
    """A folder of MUSE files ``<lang>-en.txt``."""
    for lang, text in MUSE.items():
        (tmp_path / f"{lang}-en.txt").write_text(text, encoding="utf-8")
    return tmp_path


def test_lookup_ignores_the_nukta_encoding():
    table = {"\u0909\u095c\u093e\u0928": ("flight",), "\u091c\u0941\u0921\u093c\u093e": ("joined",)}
    swap = DictionarySwap("hi", table)
    assert swap._get_replacement_words("\u0909\u0921\u093c\u093e\u0928") == ["flight"]
    assert swap._get_replacement_words("\u0909\u095c\u093e\u0928") == ["flight"]
    assert swap._get_replacement_words("\u091c\u0941\u095c\u093e") == ["joined"]
    # Case still comes from the replaced word; scripts without case are left alone.
    greek = DictionarySwap("el", {"μαμά": ("mom",)})
    assert greek._get_replacement_words("Μαμά") == ["Mom"]
    assert DictionarySwap("zh", {"妈妈": ("mom",)})._get_replacement_words("妈妈") == ["mom"]


def test_codeswitch_sets_across_scripts(out_root, xtreme_data_dir, muse_dir):
    params = {"dictionary": str(muse_dir), "min_similarity": 0}
    for lang in MUSE:
        folder = _build(out_root, xtreme_data_dir, "xnli", lang, "codeswitch", params, limit=LIMIT)
        manifest = _check_set(folder, xtreme_data_dir, "xnli", lang, limit=LIMIT)
        assert manifest["task_name"] == f"xtreme_adv_xnli_codeswitch_{lang}"
        v = manifest["validity"]
        assert v["stopword_edits"] == 0 and v["max_ratio_observed"] <= 0.25
        table = _table(lang)
        perturbed = []
        for row in _rows(folder):
            for edit in json.loads(row["adv_edits"]):
                key = unicodedata.normalize("NFC", edit["original"].lower())
                assert edit["perturbed"].lower() in table[key], (lang, edit)
                perturbed.append(edit["perturbed"])
        assert perturbed, lang
        if lang == "hi":  # both nukta encodings of the text were found (seed 0 picks them)
            assert {"flight", "connected"} <= set(perturbed)
