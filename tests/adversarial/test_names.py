"""German entityswap swaps names, not the capitalised common nouns PAN-X's link tags also mark.

The reference is independent of the rule under test: Universal Dependencies' German treebanks
(GSD test, PUD, in the shared data), where annotators tagged every token NOUN or PROPN. A swap
whose single capitalised word UD tags only NOUN (never PROPN) took a common noun.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from adversarial import names
from adversarial.engine import Perturber, build_gazetteer, plausible_name
from adversarial.recipes import get_family, resolve_params, resources
from harness_tasks.data import load_eval_split

N_DOCS = 300
# "Ungarn" is Hungary (PAN-X: LOC) and the plural of "Ungar"; UD GSD tags its tokens NOUN.
UD_AMBIGUOUS = {"Ungarn"}


def _ud_german_tags(shared: str) -> dict[str, Counter]:
    tags: dict[str, Counter] = defaultdict(Counter)
    with open(f"{shared}/udpos/test-de.tsv", encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 2:
                tags[parts[0]][parts[1]] += 1
    with open(f"{shared}/udpos-conllu/de_pud-ud-test.conllu", encoding="utf-8") as handle:
        for line in handle:
            parts = line.split("\t")
            if len(parts) > 4 and parts[0].isdigit():
                tags[parts[1]][parts[3]] += 1
    return tags


@pytest.mark.shared_data
def test_german_entityswap_on_panx_swaps_no_common_noun(xtreme_data_dir):
    ud = _ud_german_tags(str(xtreme_data_dir))

    def common_noun(surface: str) -> bool:
        capitalised = [w for w in surface.split() if w[:1].isupper()]
        if len(capitalised) != 1 or capitalised[0] in UD_AMBIGUOUS:
            return False
        return ud[capitalised[0]]["NOUN"] > 0 and ud[capitalised[0]]["PROPN"] == 0

    docs = load_eval_split("panx", "de", data_dir=str(xtreme_data_dir)).dataset.to_list()
    params = resolve_params(get_family("entityswap"), {})
    perturber = Perturber("panx", "de", "entityswap", params, 0,
                          gazetteer=build_gazetteer(docs, "panx"))  # fmt: skip
    swaps, nouns = 0, []
    for i, doc in enumerate(docs[:N_DOCS]):
        for fp in perturber.plan(doc, i).fields:
            for start, end, new in fp.edits:
                swaps += 1
                for surface in (" ".join(fp.original[start:end]), " ".join(new)):
                    if common_noun(surface):
                        nouns.append(surface)
    # Before the name check, these sentences had swaps of "Stadtmitte", "Präsident",
    # "Hauptstadt", "Universität", "Papst" and others, both taken and inserted.
    assert nouns == []
    assert swaps >= N_DOCS // 2  # still a name to swap in most sentences


def test_german_name_evidence_on_real_panx_entities():
    # Spans tagged in PAN-X de train: common nouns and adjective phrases...
    common = ["Stadtmitte", "Stadtrechte", "Abonnements", "Blatthornkäfer", "Kaiser",
              "Patrimonialherrschaften", "DDR-Teams", "Freiwillige Feuerwehr",
              "Amerikanische Zitterpappel", "amerikanische Militärverwaltung"]  # fmt: skip
    for surface in common:
        assert not names.is_named_entity(surface, "de"), surface
        assert not plausible_name(surface, "de"), surface
    # ...and names: persons, places, organisations, acronyms, unknown foreign names.
    named = ["Gerhard Richter", "Regierungsbezirk Danzig", "Belgien", "Krakau", "Polen",
             "Zeugen Jehovas", "SPD", "Zuccalmaglio", "Sokotra", "Borussia Dortmund"]  # fmt: skip
    for surface in named:
        assert names.is_named_entity(surface, "de"), surface
    # Languages that capitalise names only are left to capitalisation.
    assert names.is_named_entity("Stadtmitte", "fr") and plausible_name("Lyon", "fr")


def test_name_evidence_is_recorded_for_german_only():
    params = resolve_params(get_family("entityswap"), {})
    evidence = resources(get_family("entityswap"), "de", params)["name_evidence"]
    assert evidence["package"].startswith("german-nouns") and len(evidence["sha256"]) == 64
    assert "name_evidence" not in resources(get_family("entityswap"), "fr", params)
    assert "name_evidence" not in resources(get_family("charnoise"), "de", params)
