"""Prompt words of the LM route (XNLI, PAWS-X, XCOPA), per language.

They are lm-eval 0.4.13's own (``lm_eval/tasks/xnli/utils.py``, ``paws-x/_generate_config.py``,
``xcopa/utils.py``; the XGLM paper's templates), so an ``hf`` model is prompted as lm-eval's
built-in tasks prompt it, except where a word is wrong in its language. Each correction is
listed in ``CORRECTIONS`` with the upstream value and the upstream files that carry it; a test
checks the table against the installed lm-eval, so an upstream fix shows up as a test failure.

How the words were checked: each is the ordinary dictionary word for the English template word
("right", "Yes", "Also"/"So", "No"; "because", "therefore"), by the standard spelling of the
language, checked by hand (no online dictionary was reachable from the machine it was written
on; a native speaker's review is welcome).
Quechua's XCOPA connectors (``imataq``, ``chaymi``) could not be checked and are kept as
upstream has them.
"""

from __future__ import annotations

# (question word, entailment, neutral, contradiction)
XNLI: dict[str, tuple[str, str, str, str]] = {
    "ar": ("صحيح", "نعم", "لذا", "لا"),
    "bg": ("правилно", "да", "така", "не"),
    "de": ("richtig", "Ja", "Auch", "Nein"),
    "el": ("σωστός", "Ναι", "Έτσι", "Όχι"),
    "en": ("right", "Yes", "Also", "No"),
    "es": ("correcto", "Sí", "Así que", "No"),
    "fr": ("correct", "Oui", "Aussi", "Non"),
    "hi": ("सही", "हाँ", "इसलिए", "नहीं"),
    "ru": ("правильно", "Да", "Так", "Нет"),
    "sw": ("sahihi", "Ndiyo", "Hivyo", "Hapana"),
    "th": ("ถูกต้อง", "ใช่", "ดังนั้น", "ไม่"),
    "tr": ("doğru", "Evet", "Böylece", "Hayır"),
    "ur": ("صحیح", "جی ہاں", "اس لئے", "نہیں"),
    "vi": ("đúng", "Vâng", "Vì vậy", "Không"),
    "zh": ("正确", "是的", "所以", "不是的"),
}

# (question word, no, yes): choice 0 is "not a paraphrase"
PAWSX: dict[str, tuple[str, str, str]] = {
    "de": ("richtig", "Nein", "Ja"),
    "en": ("right", "No", "Yes"),
    "es": ("verdad", "No", "Sí"),
    "fr": ("n'est-ce pas", "Non", "Oui"),
    "ja": ("ですね", "いいえ", "はい"),
    "ko": ("맞죠", "아니요", "예"),
    "zh": ("对吧", "不是", "是"),
}

# (cause connector, effect connector)
XCOPA: dict[str, tuple[str, str]] = {
    "et": ("sest", "seetõttu"),
    "ht": ("paske", "donk sa"),
    "id": ("karena", "maka"),
    "it": ("perché", "quindi"),
    "qu": ("imataq", "chaymi"),
    "sw": ("kwa sababu", "kwa hiyo"),
    "ta": ("காரணமாக", "எனவே"),
    "th": ("เพราะ", "ดังนั้น"),
    "tr": ("çünkü", "bu yüzden"),
    "vi": ("bởi vì", "vì vậy"),
    "zh": ("因为", "所以"),
}

# (task, lang, field, upstream value, ours, why, upstream files carrying the upstream value)
CORRECTIONS: list[tuple[str, str, str, str, str, str, tuple[str, ...]]] = [
    ("xnli", "ar", "CONTRADICTION_LABEL", "رقم", "لا", '"رقم" means "number"; "no" is "لا"',
     ("lm_eval/tasks/xnli/utils.py", "lm_eval/tasks/xnli/xnli_ar.yaml")),
    ("xnli", "el", "ENTAILMENT_LABEL", "Ναί", "Ναι", "monotonic Greek writes Ναι, no accent",
     ("lm_eval/tasks/xnli/utils.py", "lm_eval/tasks/xnli/xnli_el.yaml")),
    ("xnli", "el", "CONTRADICTION_LABEL", "όχι", "Όχι", "capitalised as the other answers",
     ("lm_eval/tasks/xnli/utils.py", "lm_eval/tasks/xnli/xnli_el.yaml")),
    ("xnli", "es", "NEUTRAL_LABEL", "Asi que", "Así que", "missing accent",
     ("lm_eval/tasks/xnli/utils.py", "lm_eval/tasks/xnli/xnli_es.yaml")),
    ("pawsx", "fr", "NO", "No", "Non", '"no" in French is "Non" (paws_fr.yaml itself has Non)',
     ("lm_eval/tasks/paws-x/_generate_config.py",)),
    ("xcopa", "ht", "cause", "poukisa", "paske", '"poukisa" means "why"; "because" is "paske"',
     ("lm_eval/tasks/xcopa/utils.py",)),
]  # fmt: skip

# lm-eval's doc_to_text for XCOPA and COPA drops the premise's last character ("Drop the
# period") even where there is none (Thai and many Tamil premises): also in
# lm_eval/tasks/super_glue/copa/utils.py and lm_eval/tasks/copal_id/utils.py. Only a final
# sentence mark is dropped here.
FINAL_MARKS = ".。!?！？।"

__all__ = ["CORRECTIONS", "FINAL_MARKS", "PAWSX", "XCOPA", "XNLI"]
