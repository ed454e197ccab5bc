"""Whether a capitalised span is a named entity, in languages that capitalise every noun.

German writes every noun with a capital letter, so capitalisation is no evidence of a name,
and PAN-X's automatic (Wikipedia-link) tags mark common nouns too ("Stadtmitte" LOC,
"Stadtrechte" ORG, "Abonnements" PER). In such a language a span counts as a name when one of its
capitalised words is evidence of a name: an acronym ("SPD", "FIFA"); a word German
Wiktionary's noun list (the ``german-nouns`` package, CC BY-SA 4.0, every inflected form)
knows as a proper noun (toponym, first name, surname, other proper name, street name); or a
word unknown there that is not shaped like an inflected adjective and whose head (the part
after the last hyphen; else any final part of 5 letters or more) is no common noun. So
"Gerhard Richter", "Regierungsbezirk Danzig", "Zuccalmaglio" are names; "Stadtmitte",
"Patrimonialherrschaften", "DDR-Teams", "Freiwillige Feuerwehr" are not.

A word that is also a common noun's lemma ("Kaiser", "Richter", "Altstadt") is not taken on
its own: the swap must be a name for sure; one that is only an inflected form of a common noun
as well ("Polen", plural of Pole) is. TextAttack and the packaged NER-free tools offer no German
common/proper-noun lexicon, hence this module.
"""

from __future__ import annotations

import csv
import functools
import hashlib
from importlib import metadata

import regex

# Languages whose nouns are all capitalised, with the lexicon that tells names apart.
NOUN_CAPITALISING = frozenset({"de"})
PROPER_POS = frozenset({"Toponym", "Vorname", "Nachname", "Eigenname", "Straßenname"})
# Parts of speech that say nothing either way (an abbreviation may be a name or not).
NEUTRAL_POS = frozenset({"Abkürzung", "Buchstabe", "Symbol", "Affix", "Suffix"})
MIN_HEAD = 5  # shortest common noun taken as the head of an unknown compound
_CAPITALISED = regex.compile(r"^\p{Lu}")
# Inflected German adjectives, capitalised inside names ("Freiwillige Feuerwehr",
# "Amerikanische Zitterpappel"): such a word alone is no evidence of a name.
_ADJECTIVE = regex.compile(r"(?:isch|lich|ig|al|iv|bar|sam|haft|los)(?:e|en|er|es|em)$")


@functools.cache
def _german_readings() -> dict[str, tuple[bool, bool, bool]]:
    """Every capitalised form in German Wiktionary's noun list -> (common noun lemma, common
    noun inflected form, proper noun) readings."""
    from german_nouns.config import CSV_FILE_PATH

    readings: dict[str, list[bool]] = {}
    with open(CSV_FILE_PATH, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        pos_col = header.index("pos")
        form_cols = [i for i, name in enumerate(header) if i > pos_col and "genus" not in name]
        for row in reader:
            pos = set(row[pos_col].split(","))
            proper = bool(pos & PROPER_POS)
            common = not proper and bool(pos - NEUTRAL_POS)
            if not (proper or common):
                continue
            lemma = row[0]
            for form in {lemma, *(row[i] for i in form_cols if i < len(row))}:
                if form and _CAPITALISED.match(form):
                    entry = readings.setdefault(form, [False, False, False])
                    entry[0] |= common and form == lemma
                    entry[1] |= common and form != lemma
                    entry[2] |= proper
    return {form: tuple(flags) for form, flags in readings.items()}


@functools.cache
def _common_heads() -> frozenset[str]:
    """Lower-cased forms of MIN_HEAD+ letters that are only ever common nouns."""
    return frozenset(
        form.lower()
        for form, (lemma, inflected, proper) in _german_readings().items()
        if (lemma or inflected) and not proper and len(form) >= MIN_HEAD
    )


def word_reading(word: str, lang: str) -> str:
    """``proper``, ``common``, ``both`` or ``unknown``: what the lexicon of ``lang`` says.

    A proper noun that is also an inflected form of a common noun ("Polen", "Schweden": plurals
    of Pole, Schwede) reads as ``proper``; one that is also a common noun's lemma ("Kaiser",
    "Altstadt", "Leine") as ``both``.
    """
    if lang != "de":
        return "unknown"
    lemma, inflected, proper = _german_readings().get(word, (False, False, False))
    if proper:
        return "both" if lemma else "proper"
    return "common" if lemma or inflected else "unknown"


def _compound_is_common(word: str) -> bool:
    """Whether an unknown word's head is a common noun ("Patrimonialherrschaften": herrschaften)."""
    low = word.lower()
    if "-" in low:
        head = low.rsplit("-", 1)[1]
        return word_reading(head[:1].upper() + head[1:], "de") in ("common", "both")
    heads = _common_heads()
    return any(low[k:] in heads for k in range(1, len(low) - MIN_HEAD + 1))


def word_is_name(word: str, lang: str = "de") -> bool:
    """Whether one capitalised word is evidence of a name: an acronym, a word the lexicon knows
    as a proper noun (and not as a common noun's lemma), or an unknown word that is neither a
    compound of a common noun nor shaped like an inflected adjective ("Freiwillige")."""
    word = word.strip(".,;:!?")
    if len(word) >= 2 and word.isupper():
        return True  # an acronym (SPD, FIFA): German common nouns are not written in capitals
    reading = word_reading(word, lang)
    if reading != "unknown":
        return reading == "proper"
    return not _ADJECTIVE.search(word) and not _compound_is_common(word)


def is_named_entity(surface: str, lang: str) -> bool:
    """Whether ``surface`` (a candidate entity) reads as a name in ``lang``: one of its
    capitalised words is evidence of a name (:func:`word_is_name`). Always True in a language
    that does not capitalise its common nouns (there capitalisation is the evidence,
    :func:`adversarial.engine.plausible_name`)."""
    if lang not in NOUN_CAPITALISING:
        return True
    words = [w for w in regex.split(r"\s+", surface.strip()) if w]
    return any(word_is_name(w, lang) for w in words if _CAPITALISED.match(w))


def name_evidence_source(lang: str) -> dict | None:
    """Where the name evidence of ``lang`` comes from (for the manifest); None if not needed."""
    if lang not in NOUN_CAPITALISING:
        return None
    from german_nouns.config import CSV_FILE_PATH

    digest = hashlib.sha256(CSV_FILE_PATH.read_bytes()).hexdigest()
    return {
        "package": f"german-nouns {metadata.version('german-nouns')}",
        "file": "german_nouns/nouns.csv (German Wiktionary nouns, CC BY-SA 4.0)",
        "sha256": digest,
        "rule": "2+ capitalised words, or one word known only as a proper noun, or an unknown "
        "word whose head is no common noun",
    }
