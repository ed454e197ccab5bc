"""``protocol=xtreme`` beside the default: XTREME's Tatoeba direction, UD-POS seqeval F1, BUCC's
threshold chosen on dev and applied to test; the protocol and split of every task and group
are recorded in the results."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from seqeval.metrics import f1_score

from harness_tasks.adapter.checkpoint import EncoderCheckpoint
from harness_tasks.cli_eval import _annotate_results
from harness_tasks.data import LOADED, POOLS, lm_eval_dataset, load_eval_split
from harness_tasks.errors import XtremeAdvError
from harness_tasks.families import FAMILIES
from harness_tasks.metrics import retrieval, tagging
from tests.harness.test_bucc import _bucc_optimize, _knn, _rows  # XTREME's code, transcribed

N_TATOEBA = 200


@pytest.fixture(scope="module")
def small_checkpoint(embedded_model_dir_small):
    return EncoderCheckpoint(embedded_model_dir_small, batch_size=64)


def _tatoeba_docs(xtreme_data_dir, protocol):
    data = lm_eval_dataset("tatoeba", "de", data_dir=str(xtreme_data_dir), protocol=protocol)
    sources = data["eval"].to_list()[:N_TATOEBA]
    # The first N pairs only: their English side inline instead of the whole pool.
    pool = POOLS["xtreme_tatoeba_de"][:N_TATOEBA]
    return sources + [p | {"protocol": s.get("protocol")} for p, s in zip(pool, sources)]


def _accuracy(checkpoint, docs):
    answers = checkpoint.retrieve(FAMILIES["tatoeba"], docs)
    items = [retrieval.process_results_tatoeba(d, [a])["acc"] for d, a in zip(docs, answers)]
    return retrieval.mean_scored(items)


@pytest.mark.slow
def test_tatoeba_direction_per_protocol(small_checkpoint, xtreme_data_dir, monkeypatch):
    monkeypatch.setenv("XTREME_ADV_EMBED_CACHE", "off")
    src = [line for line in open(xtreme_data_dir / "tatoeba" / "tatoeba.deu-eng.deu")]
    eng = [line for line in open(xtreme_data_dir / "tatoeba" / "tatoeba.deu-eng.eng")]
    x = small_checkpoint.embed([s.rstrip("\n") for s in src[:N_TATOEBA]])
    y = small_checkpoint.embed([s.rstrip("\n") for s in eng[:N_TATOEBA]])
    # XTREME's similarity_search: IndexFlatL2 over the (normalised) source, English queries.
    d2 = ((y[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    xtreme = float(np.mean(d2.argmin(axis=1) == np.arange(N_TATOEBA)))
    # MTEB / the default: each source sentence queries the English side.
    default = float(np.mean(_knn(x, y, 1)[1][:, 0] == np.arange(N_TATOEBA)))
    assert xtreme != default  # the two directions give different numbers on this model
    docs_x = _tatoeba_docs(xtreme_data_dir, "xtreme")
    docs_d = _tatoeba_docs(xtreme_data_dir, None)
    assert _accuracy(small_checkpoint, docs_x) == pytest.approx(xtreme)
    assert _accuracy(small_checkpoint, docs_d) == pytest.approx(default)
    assert LOADED["xtreme_tatoeba_de"]["protocol"] == "xtreme-adv"


def test_udpos_reports_xtreme_seqeval_f1_beside_token_accuracy(xtreme_data_dir):
    docs = load_eval_split("udpos", "de", data_dir=xtreme_data_dir).dataset.select(range(200))
    rng = np.random.default_rng(1)
    tags = FAMILIES["udpos"].labels
    items = []
    for doc in docs:
        pred = [t if rng.random() > 0.15 else tags[rng.integers(len(tags))] for t in doc["tags"]]
        results = tagging.process_results_pos(doc, [" ".join(pred)])
        items.append(results["f1"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # run_tag.py: f1_score(out_label_list, preds_list)
        expected = f1_score([g for g, _ in items], [p for _, p in items])
    assert tagging.seqeval_f1(items) == pytest.approx(expected)
    assert abs(tagging.seqeval_f1(items) - tagging.token_accuracy(items)) > 0.005


def test_bucc_threshold_chosen_on_dev_is_applied_to_test(
    tmp_path, xtreme_data_dir, small_checkpoint, monkeypatch
):
    """A folder with a dev and a test split (two disjoint real slices, each with its gold)."""
    monkeypatch.setenv("XTREME_ADV_EMBED_CACHE", "off")
    src = xtreme_data_dir / "bucc2018"
    zh, en = _rows(src / "zh-en.dev.zh"), _rows(src / "zh-en.dev.en")
    zh_text, en_text = dict(zh), dict(en)
    pairs = [tuple(line.split("\t")) for line in (src / "zh-en.dev.gold").read_text().splitlines()]
    used_zh = {z for z, _ in pairs}
    used_en = {e for _, e in pairs}
    others_zh = [i for i, _ in zh if i not in used_zh]
    others_en = [i for i, _ in en if i not in used_en]
    root = tmp_path / "xtreme" / "bucc2018"
    root.mkdir(parents=True)
    for n, split in enumerate(("dev", "test")):
        part = pairs[n * 50 : n * 50 + 50]
        zs = [z for z, _ in part] + others_zh[n::89][:50]
        es = [e for _, e in part] + others_en[n::97][:80]
        (root / f"zh-en.{split}.zh").write_text("".join(f"{i}\t{zh_text[i]}\n" for i in zs))
        (root / f"zh-en.{split}.en").write_text("".join(f"{i}\t{en_text[i]}\n" for i in es))
        (root / f"zh-en.{split}.gold").write_text("".join(f"{z}\t{e}\n" for z, e in part))
    data_dir = str(root.parent)
    test = lm_eval_dataset("bucc", "zh", data_dir=data_dir, protocol="xtreme")["eval"].to_list()
    assert test[0]["split"] == "test"
    answers = small_checkpoint.retrieve(FAMILIES["bucc"], test, task_name="xtreme_bucc_zh")
    items = [retrieval.process_results_bucc(d, [a])["f1"] for d, a in zip(test, answers)]
    record = LOADED["xtreme_bucc_zh"]
    assert record["split"] == "test" and record["bucc_threshold"]["chosen_on"] == "validation"
    threshold = record["bucc_threshold"]["value"]
    # The same threshold from XTREME's bucc_optimize over the dev mining.
    dev = load_eval_split("bucc", "zh", split="validation", data_dir=data_dir).dataset.to_list()
    dev_answers = small_checkpoint.retrieve(FAMILIES["bucc"], dev)
    cand2score = {
        (d["id"], json.loads(a)["id"]): json.loads(a)["score"]
        for d, a in zip(dev, dev_answers)
        if a
    }
    dev_gold = {f"{d['id']}\t{d['gold']}" for d in dev if d["side"] == "source" and d["gold"]}
    assert threshold == pytest.approx(_bucc_optimize(cand2score, dev_gold))
    assert all(json.loads(a)["threshold"] == threshold for a in answers if a)
    # Applied to test as bucc_extract does: every pair >= threshold.
    kept = [
        d["gold"] == json.loads(a)["id"]
        for d, a in zip(test, answers)
        if a and json.loads(a)["score"] >= threshold
    ]
    precision, recall = sum(kept) / len(kept), sum(kept) / 50
    assert retrieval.bucc_f1(items) == pytest.approx(2 * precision * recall / (precision + recall))
    assert retrieval.bucc_f1(items) != retrieval.xtreme_bucc_f1(items)  # not re-optimised on test


def test_mixed_splits_in_a_group_are_recorded_and_announced(tmp_path, xtreme_data_dir, capsys):
    for lang in ("de", "es"):
        lm_eval_dataset("pawsx", lang, data_dir=str(xtreme_data_dir))
    results = {
        "results": {"xtreme_pawsx_de": {}, "xtreme_pawsx_es": {}},
        "group_subtasks": {"xtreme-pawsx": ["xtreme_pawsx_de", "xtreme_pawsx_es"]},
    }
    path = tmp_path / "results_x.json"
    path.write_text(json.dumps(results))
    _annotate_results(str(path), 0)
    groups = json.loads(path.read_text())["xtreme_adv"]["groups"]
    assert groups["xtreme-pawsx"]["split"] == "mixed"
    assert groups["xtreme-pawsx"]["splits"] == {
        "test": ["xtreme_pawsx_de"],
        "validation": ["xtreme_pawsx_es"],
    }
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "group xtreme-pawsx averages different splits" in err[0]
    # One split for the whole group: no warning, the split is named.
    for lang in ("de", "es"):
        lm_eval_dataset("pawsx", lang, split="validation", data_dir=str(xtreme_data_dir))
    path.write_text(json.dumps(results))
    _annotate_results(str(path), 0)
    groups = json.loads(path.read_text())["xtreme_adv"]["groups"]
    assert groups["xtreme-pawsx"] == {"split": "validation", "protocol": "xtreme-adv"}
    assert capsys.readouterr().err == ""


def test_unknown_protocol_is_a_user_error(xtreme_data_dir):
    with pytest.raises(XtremeAdvError, match="protocol 'xtrem' .* choose from xtreme-adv, xtreme"):
        lm_eval_dataset("xnli", "de", data_dir=str(xtreme_data_dir), protocol="xtrem")
