"""Retrieval documents are the source sentences only; the candidate pool is set aside whole
(no generation for it, a limit never splits a pair); LM answers are matched to the pool with a
vectorised trigram Dice equal to the direct loop; few-shot examples never come from the scored
split."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness_tasks.adapter.checkpoint import EncoderCheckpoint
from harness_tasks.data import POOLS, lm_eval_dataset, load_eval_split
from harness_tasks.families import FAMILIES
from harness_tasks.metrics.retrieval import match_candidates


def _dice_loop(text: str, pool: list[dict]) -> tuple[str, float]:
    """The direct computation: Dice of character-trigram sets against each candidate."""

    def grams(t: str) -> set[str]:
        t = f" {' '.join(t.lower().split())} "
        return {t[i : i + 3] for i in range(max(1, len(t) - 2))}

    mine = grams(text)
    best_id, best = "", -1.0
    for cand in pool:
        other = grams(cand["sentence"])
        sim = 2 * len(mine & other) / (len(mine) + len(other))
        if sim > best:
            best_id, best = cand["id"], sim
    return best_id, best


def test_pool_is_set_aside_and_sources_are_the_documents(xtreme_data_dir):
    full = load_eval_split("tatoeba", "de", data_dir=xtreme_data_dir).dataset
    docs = lm_eval_dataset("tatoeba", "de", data_dir=str(xtreme_data_dir))["eval"]
    assert set(docs["side"]) == {"source"} and len(docs) == full["side"].count("source")
    pool = POOLS["xtreme_tatoeba_de"]
    assert [p["id"] for p in pool] == [r["id"] for r in full if r["side"] == "target"]
    assert set(docs["pool"]) == {"xtreme_tatoeba_de"}


def test_vectorised_matching_equals_the_direct_loop(xtreme_data_dir):
    docs = lm_eval_dataset("tatoeba", "de", data_dir=str(xtreme_data_dir))["eval"].to_list()
    pool = POOLS["xtreme_tatoeba_de"]
    rng = np.random.default_rng(0)
    # LM-like answers: the English gold with words dropped, some junk, an empty answer.
    english = {p["id"]: p["sentence"] for p in pool}
    answers = []
    for doc in docs[:300]:
        words = english[doc["gold"]].split()
        kept = [w for w in words if rng.random() > 0.4] or ["?"]
        answers.append(" ".join(kept))
    answers[7], answers[11] = "", "zzzz qqqq"
    out = match_candidates([[a] for a in answers], docs[:300])
    for answer, got in zip(answers, out, strict=True):
        found = json.loads(got[0])
        ident, score = _dice_loop(answer, pool)
        assert found["id"] == ident and found["score"] == pytest.approx(score, abs=1e-12)
    # The encoder's JSON answers pass through unchanged.
    passed = json.dumps({"id": "tgt-3", "score": 0.5})
    assert match_candidates([[passed]], docs[:1]) == [[passed]]


@pytest.mark.slow
def test_a_limit_scores_sources_against_the_whole_pool(
    tmp_path, xtreme_data_dir, embedded_model_dir_small, monkeypatch
):
    monkeypatch.setenv("XTREME_ADV_EMBED_CACHE", str(tmp_path))  # the pool is embedded once
    checkpoint = EncoderCheckpoint(embedded_model_dir_small, batch_size=64)
    docs = lm_eval_dataset("tatoeba", "de", data_dir=str(xtreme_data_dir))["eval"].to_list()
    first = docs[:5]  # what an odd --limit 5 keeps: five sources, no partner lost
    answers = checkpoint.retrieve(FAMILIES["tatoeba"], first, task_name="xtreme_tatoeba_de")
    # The same five sources with all 1000 English sentences inline as documents.
    full = load_eval_split("tatoeba", "de", data_dir=xtreme_data_dir).dataset.to_list()
    inline = [d for d in full if d["side"] == "target"] + [
        d for d in full if d["id"] in {f["id"] for f in first}
    ]
    reference = checkpoint.retrieve(FAMILIES["tatoeba"], inline)
    by_id = {d["id"]: a for d, a in zip(inline, reference, strict=True)}
    assert answers == [by_id[d["id"]] for d in first]


def test_fewshot_examples_never_come_from_the_scored_split(xtreme_data_dir, monkeypatch):
    from lm_eval.tasks import TaskManager

    from harness_tasks import tasks_path

    data = lm_eval_dataset("pawsx", "de", data_dir=str(xtreme_data_dir))
    dev = load_eval_split("pawsx", "de", split="validation", data_dir=xtreme_data_dir)
    assert data["eval"]["split"][0] == "test"
    assert data["fewshot"]["sentence1"] == dev.dataset["sentence1"]
    # Only a dev split (XNLI here): no few-shot source rather than the scored split.
    assert len(lm_eval_dataset("xnli", "de", data_dir=str(xtreme_data_dir))["fewshot"]) == 0
    # lm-eval takes its examples from that split (with the PAWS-X pre-processing applied).
    monkeypatch.setenv("XTREME_DATA_DIR", str(xtreme_data_dir))
    manager = TaskManager(include_path=[str(tasks_path())], include_defaults=False)
    task = manager.load(["xtreme_pawsx_de"])["tasks"]["xtreme_pawsx_de"]
    shots = list(task.fewshot_docs())
    assert [d["sentence1"] for d in shots] == dev.dataset["sentence1"]
    assert "lm_sentence1" in shots[0] and shots[0]["split"] == "validation"
