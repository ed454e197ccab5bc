"""Searches advanced in lockstep (:mod:`adversarial.batched_search`) against sequential ones.

The lockstep runner must give every example exactly the sequential search's outcome (same
adversarial text, success flag, queries, perturbed words: the whole row) on a real checkpoint
and real data, while calling the model fewer times with more inputs per call.
"""

from __future__ import annotations

import json
import threading

import pytest

from adversarial.adaptive_sets import AdaptiveAttack, AdaptiveRequest
from adversarial.batched_search import Lockstep, need

NO_SIM = {"min_similarity": 0}


class _Owner:
    """A model stand-in: records each shared call, answers by caching the keys."""

    def __init__(self):
        self.calls: list[list] = []
        self.cache: dict = {}

    def fill(self, keys):
        self.calls.append(list(keys))
        self.cache.update((k, k * 10) for k in keys)

    def outputs(self, keys):
        need(self, [k for k in keys if k not in self.cache])
        return [self.cache[k] for k in keys]


def test_lockstep_serves_the_union_of_requests_in_job_order():
    owner = _Owner()
    threads = set()

    def job(steps):
        def run():
            threads.add(threading.get_ident())
            return [owner.outputs(keys) for keys in steps]

        return run

    jobs = [job([[1, 2], [3]]), job([[2, 4]]), job([]), job([[5], [6], [7]])]
    runner = Lockstep(jobs)
    results = runner.run()
    assert results == [[[10, 20], [30]], [[20, 40]], [], [[50], [60], [70]]]
    # Round 1 asks for every job's first request at once (2 is asked twice, computed once);
    # round 2 for the second steps of the jobs still running, and so on.
    assert owner.calls == [[1, 2, 4, 5], [3, 6], [7]]
    assert runner.rounds == 3
    assert len(threads) == 4 and threading.get_ident() not in threads
    # Outside a lockstep job ``need`` does nothing: the caller computes the outputs itself.
    with pytest.raises(KeyError):
        _Owner().outputs([1])


def test_lockstep_reraises_a_job_error_and_ends_every_job():
    owner = _Owner()
    ended = []

    def good():
        try:
            return owner.outputs([1]) + owner.outputs([2])
        finally:
            ended.append("good")

    def bad():
        owner.outputs([3])
        raise ValueError("broken search")

    before = threading.active_count()
    with pytest.raises(ValueError, match="broken search"):
        Lockstep([good, bad, good]).run()
    assert threading.active_count() == before  # no job left waiting
    assert ended == ["good", "good"]


def _rows_both_ways(request, docs_slice=None):
    """Rows of the sequential and the lockstep search on the same documents, and the sizes
    of the model calls each made."""
    loaded = request.load()
    runner = AdaptiveAttack(request, loaded)
    docs = loaded.dataset.to_list()
    docs = docs if docs_slice is None else docs[docs_slice]
    calls: list[int] = []
    forward = runner.victim.forward

    def counted(inputs):
        calls.append(len(inputs))
        return forward(inputs)

    runner.victim.forward = counted
    encoder_calls: list[int] = []
    if runner.encoder is not None:  # the similarity floor's model is batched the same way
        embed = runner.encoder._embed

        def counted_embed(texts):
            encoder_calls.append(len(texts))
            return embed(texts)

        runner.encoder._embed = counted_embed
    out = {}
    for lockstep in (False, True):
        calls.clear()
        encoder_calls.clear()
        rows = runner.run(docs, lockstep=lockstep)
        out[lockstep] = ([json.dumps(r, sort_keys=True, ensure_ascii=False) for r in rows],
                         list(calls), [r["_adaptive"] for r in rows],
                         list(encoder_calls))  # fmt: skip
    return out[False], out[True]


def _check(sequential, lockstep):
    rows_seq, calls_seq, records, encoder_seq = sequential
    rows_lock, calls_lock, _, encoder_lock = lockstep
    if encoder_seq:
        assert len(encoder_lock) < len(encoder_seq) / 2, (encoder_lock, encoder_seq)
    results = [r["result"] for r in records if r]
    # Something to compare: attacks that succeeded and attacks that ran to their end.
    assert "successful" in results and len(results) >= 4, results
    assert any(r["result"] != "skipped" and r["queries"] > 5 for r in records if r)
    # Equal rows; the similarity to the float precision of another batch: the encoder embeds
    # the texts in other batches (other padding lengths and batch sizes), which moves a cosine
    # by ~1e-7, enough to change its 6th decimal on some CPUs.
    seq, lock = ([json.loads(r) for r in rows] for rows in (rows_seq, rows_lock))
    sims_seq, sims_lock = ([r.pop("adv_similarity") for r in rows] for rows in (seq, lock))
    assert lock == seq
    assert sims_lock == pytest.approx(sims_seq, abs=2e-6)
    # Same inputs scored, in fewer and larger model calls.
    assert sum(calls_lock) == sum(calls_seq)
    assert len(calls_lock) < len(calls_seq) / 2, (calls_lock, calls_seq)


@pytest.fixture(scope="module")
def fitted_classifier(embedded_model_dir_small, xtreme_data_dir, tmp_path_factory):
    """The 2-layer encoder with pooler and XNLI head fitted on 256 English dev pairs (seconds):
    its decisions follow the input, so charnoise flips some and not others."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from harness_tasks.data import load_eval_split

    labels = ["entailment", "neutral", "contradiction"]
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        embedded_model_dir_small, num_labels=3, id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    ).eval()  # fmt: skip
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir_small)
    english = load_eval_split("xnli", "en", data_dir=str(xtreme_data_dir)).dataset
    english = english.select(range(256))
    with torch.no_grad():
        enc = tokenizer(list(english["premise"]), list(english["hypothesis"]), truncation=True,
                        max_length=96, padding=True, return_tensors="pt")  # fmt: skip
        cls = model.bert(**enc).last_hidden_state[:, 0]
    gold = torch.tensor(list(english["label"]))
    pooler, head = model.bert.pooler, model.classifier
    optimizer = torch.optim.Adam([*pooler.parameters(), *head.parameters()], lr=1e-3)
    for _ in range(200):
        optimizer.zero_grad()
        logits = head(pooler.activation(pooler.dense(cls)))
        torch.nn.functional.cross_entropy(logits, gold).backward()
        optimizer.step()
    out = tmp_path_factory.mktemp("lockstep-clf")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "params",
    # Without and with the calibrated similarity floor (its encoder: the 2-layer one).
    [NO_SIM, {"similarity_model": "embedded:2"}],
    ids=["no-floor", "floor"],
)
def test_lockstep_classification_rows_equal_sequential(fitted_classifier, xtreme_data_dir, params):
    request = AdaptiveRequest(str(fitted_classifier), "xnli", "de", "charnoise", params, seed=0,
                              query_budget=200, data_dir=str(xtreme_data_dir),
                              limit=24)  # fmt: skip
    _check(*_rows_both_ways(request))


@pytest.mark.shared_data
def test_lockstep_retrieval_rows_equal_sequential(embedded_model_dir_small, xtreme_data_dir):
    # Spanish: the 2-layer encoder retrieves some of the first sources right (German: few).
    request = AdaptiveRequest(str(embedded_model_dir_small), "tatoeba", "es", "charnoise",
                              NO_SIM, seed=0, query_budget=100, data_dir=str(xtreme_data_dir),
                              limit=24)  # fmt: skip
    _check(*_rows_both_ways(request, slice(0, 48)))
