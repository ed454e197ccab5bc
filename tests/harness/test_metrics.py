"""Each metric against values worked out by hand on small cases."""

from __future__ import annotations

import json
import math

import pytest

from harness_tasks.metrics import qa, retrieval, tagging


def test_squad_normalisation_and_f1_by_hand():
    # "The Eiffel Tower!" -> "eiffel tower"; "Eiffel tower in Paris" -> "eiffel tower in paris"
    # common = 2 tokens; precision 2/2, recall 2/4 -> F1 = 2*1*0.5/1.5 = 2/3.
    s = qa.score("The Eiffel Tower!", ["Eiffel tower in Paris"], "squad")
    assert s["exact_match"] == 0.0
    assert s["f1"] == pytest.approx(2 / 3)
    # Best over several gold answers: the second is an exact match after normalisation.
    s = qa.score("an apple", ["pear", "Apple."], "squad")
    assert s == {"exact_match": 1.0, "f1": 1.0}


def test_mlqa_normalisation_is_language_aware():
    # German articles go in MLQA's normalisation but not in SQuAD's.
    assert qa.normalize_mlqa("Der Hund, die Katze", "de") == "hund katze"
    assert qa.normalize_squad("Der Hund, die Katze") == "der hund die katze"
    # Chinese is segmented character by character around Han characters; full-width
    # punctuation is Unicode punctuation and is dropped.
    assert qa.normalize_mlqa("北京，2008年", "zh") == "北 京 2008 年"
    # Prediction 北京 vs gold 北京市: tokens {北, 京} vs {北, 京, 市}: P = 1, R = 2/3, F1 = 0.8.
    assert qa.score("北京", ["北京市"], "mlqa", "zh")["f1"] == pytest.approx(0.8)
    # Arabic: the definite article ال is removed wherever it occurs.
    assert qa.normalize_mlqa("الكتاب", "ar") == "كتاب"


def test_process_results_hooks_use_the_right_normalisation():
    doc = {"answers": {"text": ["die Katze"], "answer_start": [0]}, "lang": "de"}
    assert qa.process_results_mlqa(doc, [" Katze"])["exact_match"] == 1.0
    assert qa.process_results_squad(doc, [" Katze"])["exact_match"] == 0.0


def test_token_accuracy_is_micro_averaged():
    # 2 of 3 right in sentence one, 1 of 1 in sentence two -> 3 / 4 (not the mean of 2/3 and 1).
    items = [(["NOUN", "VERB", "DET"], ["NOUN", "VERB", "NOUN"]), (["PUNCT"], ["PUNCT"])]
    assert tagging.token_accuracy(items) == pytest.approx(0.75)


def test_span_f1_by_hand():
    # Gold spans: PER(0-1), LOC(3). Predicted: PER(0) only, LOC(3).
    # PER(0) != PER(0-1); LOC matches: precision 1/2, recall 1/2, F1 = 0.5.
    gold = ["B-PER", "I-PER", "O", "B-LOC"]
    pred = ["B-PER", "O", "O", "B-LOC"]
    assert tagging.span_f1([(gold, pred)]) == pytest.approx(0.5)


def test_parse_tags_aligns_and_repairs():
    assert tagging.parse_tags("NOUN BOGUS", 3, ["NOUN", "X"], "X") == ["NOUN", "X", "X"]
    assert tagging.parse_tags("NOUN NOUN NOUN NOUN", 2, ["NOUN", "X"], "X") == ["NOUN", "NOUN"]


def _docs():
    return [
        {"id": "src-0", "sentence": "Guten Morgen", "side": "source", "gold": "tgt-0"},
        {"id": "src-1", "sentence": "Gute Nacht", "side": "source", "gold": "tgt-1"},
        {"id": "tgt-0", "sentence": "Good morning", "side": "target", "gold": ""},
        {"id": "tgt-1", "sentence": "Good night", "side": "target", "gold": ""},
    ]


def test_tatoeba_accuracy_counts_source_sentences_only():
    docs = _docs()
    answers = [
        json.dumps({"id": "tgt-0", "score": 0.9}),
        json.dumps({"id": "tgt-0", "score": 0.5}),
        "",
        "",
    ]
    items = [retrieval.process_results_tatoeba(d, [a])["acc"] for d, a in zip(docs, answers)]
    assert items == [1.0, 0.0, None, None]
    assert retrieval.mean_scored(items) == 0.5


def test_match_candidates_maps_free_text_to_the_closest_target():
    docs = _docs()
    resps = [["Good morning!"], ["good nite"], [""], [""]]
    out = retrieval.match_candidates(resps, docs)
    assert retrieval.parse_answer(out[0][0])[0] == "tgt-0"
    assert retrieval.parse_answer(out[1][0])[0] == "tgt-1"
    assert out[2] == [""]


def test_bucc_threshold_f1_by_hand():
    # Four source sentences have a gold pair. Mined pairs, best first: correct (0.9),
    # wrong (0.8), correct (0.7), a sentence without gold (0.6); one gold sentence mined nothing.
    # Cut after 1: P=1, R=1/4 -> 0.4; after 2: P=1/2, R=1/4 -> 1/3; after 3: P=2/3, R=2/4
    # -> 4/7 (best); after 4: P=2/4, R=2/4 -> 0.5.
    items = [
        ("en-1", "en-1", 0.9),
        ("en-2", "en-9", 0.8),
        ("en-3", "en-3", 0.7),
        ("", "en-7", 0.6),
        ("en-4", "", -math.inf),
        None,
    ]
    f1, threshold = retrieval.best_threshold_f1(items)
    assert f1 == pytest.approx(4 / 7)
    assert threshold == 0.7
    assert retrieval.bucc_f1(items) == f1
