"""BUCC end to end: XTREME's own mining and scoring, through ``xtreme-adv eval run``.

The reference below is google-research/xtreme's ``third_party/utils_retrieve.py``
(``mine_bitext`` with its defaults, ``bucc_eval``) transcribed with its file round trips; only
faiss's exact ``IndexFlatIP`` search is replaced by the same search in NumPy (faiss is not a
dependency). The data is a real slice of BUCC 2018 zh-en dev: gold pairs among distractors,
with sentences repeated in a file as the real files have them.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from harness_tasks.adapter import mining
from harness_tasks.adapter.checkpoint import EncoderCheckpoint
from harness_tasks.data import load_eval_split
from harness_tasks.families import FAMILIES
from harness_tasks.metrics import retrieval
from tests.harness.conftest import read_run, run_cli

N_GOLD, N_ZH_EXTRA, N_EN_EXTRA = 60, 60, 100


# -- the reference: XTREME's utils_retrieve.py -------------------------------------------------


def _knn(x, y, k):  # faiss.IndexFlatIP(dim); idx.add(y); idx.search(x, k)
    sims = x @ y.T
    ind = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(sims, ind, axis=1), ind


def _text_load_unify(fname):
    inds, sents, sent2ind = [], [], {}
    for line in open(fname, encoding="utf-8", errors="surrogateescape"):
        new_ind = len(sent2ind)
        inds.append(sent2ind.setdefault(line, new_ind))
        if inds[-1] == new_ind:
            sents.append(line[:-1])
    return inds, sents


def _unique_embeddings(emb, ind):
    aux = {j: i for i, j in enumerate(ind)}
    return emb[[aux[i] for i in range(len(aux))]]


def _mine_bitext(x, y, src_text_file, trg_text_file, output_file, neighborhood=4, threshold=0):
    src_inds, src_sents = _text_load_unify(src_text_file)
    trg_inds, trg_sents = _text_load_unify(trg_text_file)
    x = _unique_embeddings(x, src_inds)
    y = _unique_embeddings(y, trg_inds)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)  # faiss.normalize_L2
    y = y / np.linalg.norm(y, axis=1, keepdims=True)
    x2y_sim, x2y_ind = _knn(x, y, min(y.shape[0], neighborhood))
    x2y_mean = x2y_sim.mean(axis=1)
    y2x_sim, y2x_ind = _knn(y, x, min(x.shape[0], neighborhood))
    y2x_mean = y2x_sim.mean(axis=1)

    def margin(a, b):
        return a / b

    def score_candidates(x, y, candidate_inds, fwd_mean, bwd_mean):
        scores = np.zeros(candidate_inds.shape)
        for i in range(scores.shape[0]):
            for j in range(scores.shape[1]):
                k = candidate_inds[i, j]
                scores[i, j] = margin(x[i].dot(y[k]), (fwd_mean[i] + bwd_mean[k]) / 2)
        return scores

    fout = open(output_file, mode="w", encoding="utf-8", errors="surrogateescape")
    fwd_scores = score_candidates(x, y, x2y_ind, x2y_mean, y2x_mean)
    bwd_scores = score_candidates(y, x, y2x_ind, y2x_mean, x2y_mean)
    fwd_best = x2y_ind[np.arange(x.shape[0]), fwd_scores.argmax(axis=1)]
    bwd_best = y2x_ind[np.arange(y.shape[0]), bwd_scores.argmax(axis=1)]
    indices = np.stack(
        (
            np.concatenate((np.arange(x.shape[0]), bwd_best)),
            np.concatenate((fwd_best, np.arange(y.shape[0]))),
        ),
        axis=1,
    )
    scores = np.concatenate((fwd_scores.max(axis=1), bwd_scores.max(axis=1)))
    seen_src, seen_trg = set(), set()
    for i in np.argsort(-scores):
        src_ind, trg_ind = indices[i]
        if src_ind not in seen_src and trg_ind not in seen_trg:
            seen_src.add(src_ind)
            seen_trg.add(trg_ind)
            if scores[i] > threshold:
                print(scores[i], src_sents[src_ind], trg_sents[trg_ind], sep="\t", file=fout)
    fout.close()


def _bucc_optimize(candidate2score, gold):
    items = sorted(candidate2score.items(), key=lambda x: -x[1])
    ngold = len(gold)
    nextract = ncorrect = 0
    threshold = 0
    best_f1 = 0
    for i in range(len(items)):
        nextract += 1
        if "\t".join(items[i][0]) in gold:
            ncorrect += 1
        if ncorrect > 0:
            precision = ncorrect / nextract
            recall = ncorrect / ngold
            f1 = 2 * precision * recall / (precision + recall)
            if f1 > best_f1:
                best_f1 = f1
                threshold = (items[i][1] + items[i + 1][1]) / 2
    return threshold


def _read_sent2id(text_file, id_file):
    repeated, sent2id = set(), {}
    ids = [line.strip() for line in open(id_file, encoding="utf-8")]
    sentences = [line.strip() for line in open(text_file, encoding="utf-8")]
    for ident, sent in zip(ids, sentences, strict=True):
        if sent in sent2id:
            repeated.add(sent)
        else:
            sent2id[sent] = ident
    for sent in repeated:
        del sent2id[sent]
    return sent2id


def _bucc_eval(candidates_file, gold_file, src_file, trg_file, src_id_file, trg_id_file):
    src_sent2id = _read_sent2id(src_file, src_id_file)
    trg_sent2id = _read_sent2id(trg_file, trg_id_file)
    candidate2score = {}
    for line in open(candidates_file, encoding="utf-8", errors="surrogateescape"):
        score, src, trg = line.split("\t")
        score, src, trg = float(score), src.strip(), trg.strip()
        if src in src_sent2id and trg in trg_sent2id:
            key = (src_sent2id[src], trg_sent2id[trg])
            candidate2score[key] = max(score, candidate2score.get(key, score))
    gold = {line.strip() for line in open(gold_file)}
    threshold = _bucc_optimize(candidate2score, gold)
    bitexts = [s + "\t" + t for (s, t), score in candidate2score.items() if score >= threshold]
    ncorrect = len(gold.intersection(bitexts))
    if not ncorrect:
        return 0.0, {}
    precision, recall = ncorrect / len(bitexts), ncorrect / len(gold)
    return 2 * precision * recall / (precision + recall), candidate2score


# -- the slice ---------------------------------------------------------------------------------


def _rows(path: Path) -> list[tuple[str, str]]:
    return [tuple(line.split("\t", 1)) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def bucc_slice(tmp_path_factory, xtreme_data_dir) -> Path:
    """``bucc2018/zh-en.dev.*``: 60 gold pairs, 60 zh and 100 en other sentences, repeats kept."""
    src = xtreme_data_dir / "bucc2018"
    zh, en = _rows(src / "zh-en.dev.zh"), _rows(src / "zh-en.dev.en")
    gold = [tuple(line.split("\t")) for line in (src / "zh-en.dev.gold").read_text().split("\n")]
    gold = [g for g in gold if len(g) == 2][:N_GOLD]
    zh_ids, en_ids = {g[0] for g in gold}, {g[1] for g in gold}
    # Sentences that occur twice in the real English file: both copies come along.
    seen: dict[str, list[str]] = {}
    for ident, text in en:
        seen.setdefault(text, []).append(ident)
    repeats = {i for ids in seen.values() if len(ids) > 1 for i in ids[:2]}
    extra_zh = [i for i, _ in zh if i not in zh_ids][::101][:N_ZH_EXTRA]
    extra_en = [i for i, _ in en if i not in en_ids][::113][:N_EN_EXTRA]
    keep_zh = zh_ids | set(extra_zh)
    keep_en = en_ids | set(extra_en) | set(sorted(repeats)[:4])
    out = tmp_path_factory.mktemp("bucc") / "xtreme"
    (out / "bucc2018").mkdir(parents=True)
    for name, rows, keep in (("zh", zh, keep_zh), ("en", en, keep_en)):
        lines = [f"{i}\t{t}" for i, t in rows if i in keep]
        (out / "bucc2018" / f"zh-en.dev.{name}").write_text("\n".join(lines) + "\n")
    (out / "bucc2018" / "zh-en.dev.gold").write_text("".join(f"{s}\t{t}\n" for s, t in gold))
    return out


def _reference_f1(tmp_path: Path, root: Path, checkpoint: EncoderCheckpoint) -> tuple[float, dict]:
    """Official pipeline on the slice: cut -f1/-f2 files, embeddings, mine_bitext, bucc_eval."""
    base = root / "bucc2018" / "zh-en.dev"
    files = {}
    for lang in ("zh", "en"):
        rows = _rows(Path(f"{base}.{lang}"))
        files[lang] = tmp_path / f"zh-en.dev.{lang}.txt"
        files[lang].write_text("".join(t + "\n" for _, t in rows), encoding="utf-8")
        (tmp_path / f"zh-en.dev.{lang}.id").write_text("".join(i + "\n" for i, _ in rows))
    # One embedding per line, as extract_embeddings writes them (duplicates embedded again).
    x = checkpoint.embed([t for _, t in _rows(Path(f"{base}.zh"))])
    y = checkpoint.embed([t for _, t in _rows(Path(f"{base}.en"))])
    candidates = tmp_path / "candidates.tsv"
    _mine_bitext(x, y, files["zh"], files["en"], candidates)
    return _bucc_eval(
        candidates,
        f"{base}.gold",
        files["zh"],
        files["en"],
        tmp_path / "zh-en.dev.zh.id",
        tmp_path / "zh-en.dev.en.id",
    )


def _items(checkpoint, docs, protocol=None):
    answers = checkpoint.retrieve(FAMILIES["bucc"], docs)
    out = []
    for doc, answer in zip(docs, answers, strict=True):
        if protocol:
            doc = doc | {"protocol": protocol}
        out.append(retrieval.process_results_bucc(doc, [answer])["f1"])
    return out, answers


# -- tests -------------------------------------------------------------------------------------


def test_mining_equals_xtreme_mine_bitext_and_bucc_eval(
    tmp_path, bucc_slice, embedded_model_dir_small, monkeypatch
):
    monkeypatch.setenv("XTREME_ADV_EMBED_CACHE", "off")
    checkpoint = EncoderCheckpoint(embedded_model_dir_small, batch_size=64)
    docs = list(load_eval_split("bucc", "zh", data_dir=bucc_slice).dataset)
    reference_f1, candidate2score = _reference_f1(tmp_path, bucc_slice, checkpoint)
    items, answers = _items(checkpoint, docs, protocol="xtreme")
    assert 0.2 < reference_f1 < 1.0  # a real, imperfect mining: the comparison means something
    assert retrieval.bucc_f1(items) == pytest.approx(reference_f1, abs=1e-12)
    # Every pair bucc_eval keeps is mined here with the same score, and nothing else.
    mined = {
        (doc["id"], json.loads(a)["id"]): json.loads(a)["score"]
        for doc, a in zip(docs, answers, strict=True)
        if a
    }
    assert mined.keys() == candidate2score.keys()
    for key, score in candidate2score.items():
        assert mined[key] == pytest.approx(score, rel=1e-5)
    # Answers are plain JSON floats (NumPy float32 crashed lm-eval's results writer).
    assert all(type(x[2]) is float for x in items if x is not None)


def test_default_protocol_breaks_ties_by_rank_xtreme_keeps_them():
    # Three candidates tie at 1.0: the first is right, the other two wrong; 5 gold pairs.
    items = [("g1", "g1", 2.0), ("g2", "g2", 1.0), ("g3", "x3", 1.0), ("g4", "x4", 1.0)]
    items += [("g5", "x5", 0.5), None]
    # By rank, the cut falls inside the tie: 2 of 2 kept right, P 1, R 2/5.
    assert retrieval.best_threshold_f1(items) == (pytest.approx(4 / 7), 1.0)
    # XTREME: that cut's threshold (1.0 + 1.0) / 2 extracts every pair >= 1.0: P 2/4, R 2/5.
    assert retrieval.xtreme_bucc_f1(items) == pytest.approx(4 / 9)
    # A threshold given (e.g. chosen on dev) is applied as it is: all five, P 2/5, R 2/5.
    assert retrieval.xtreme_bucc_f1(items, threshold=0.5) == pytest.approx(0.4)
    tagged = [x + ("xtreme",) if x else x for x in items]
    assert retrieval.bucc_f1(tagged) == pytest.approx(4 / 9)
    assert retrieval.bucc_f1(items) == pytest.approx(4 / 7)


def test_chunked_knn_is_exact_and_memory_is_bounded():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 16)).astype(np.float32)
    y = rng.standard_normal((4000, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    sims, inds = mining.knn(x, y, 4, chunk=100)
    ref_sims, ref_inds = _knn(x, y, 4)
    assert np.array_equal(inds, ref_inds) and np.allclose(sims, ref_sims)
    full = x.shape[0] * y.shape[0] * 4  # bytes of the whole similarity matrix
    tracemalloc.start()
    mining.mine(x, y, chunk=100)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < full / 4


def test_embeddings_are_cached_by_content_and_resumed(
    tmp_path, bucc_slice, embedded_model_dir_small, monkeypatch, capfd
):
    monkeypatch.setenv("XTREME_ADV_EMBED_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XTREME_ADV_PROGRESS", "1")
    docs = list(load_eval_split("bucc", "zh", data_dir=bucc_slice).dataset)
    checkpoint = EncoderCheckpoint(embedded_model_dir_small, batch_size=64)
    calls = []
    real = checkpoint._embed_batches

    def counting(texts, progress=None):
        calls.append(len(texts))
        return real(texts, progress)

    monkeypatch.setattr(checkpoint, "_embed_batches", counting)
    first = checkpoint.retrieve(FAMILIES["bucc"], docs)
    assert "sent/s" in capfd.readouterr().err  # the progress bar reports sentences per second
    n_unique = len({d["sentence"] for d in docs if d["side"] == "source"}) + len(
        {d["sentence"] for d in docs if d["side"] == "target"}
    )
    assert sum(calls) == n_unique  # each side embedded once, duplicates once
    files = sorted((tmp_path / "cache").rglob("*.npy"))
    assert len(files) == 2
    calls.clear()
    assert checkpoint.retrieve(FAMILIES["bucc"], docs) == first
    assert calls == []  # all from the cache
    # A chunk truncated by a kill is computed again, the other one is reused.
    files[0].write_bytes(files[0].read_bytes()[:100])
    assert checkpoint.retrieve(FAMILIES["bucc"], docs) == first
    assert len(calls) == 1
    # Another layer is another cache entry.
    other = EncoderCheckpoint(embedded_model_dir_small, batch_size=64, retrieval_layer=1)
    assert other.embedding_key != checkpoint.embedding_key


@pytest.mark.slow
def test_bucc_zh_through_eval_run(tmp_path, bucc_slice, embedded_model_dir_small):
    protocol = "xtreme"
    out = tmp_path / "out"
    proc = run_cli(
        ["eval", "run", "--model", "xtreme-encoder", "--model_args",
         f"pretrained={embedded_model_dir_small}", "--tasks", "xtreme_bucc_zh", "--device", "cpu",
         "--output_path", str(out), "--log_samples",
         "--metadata", json.dumps({"protocol": protocol})],
        env={"XTREME_DATA_DIR": str(bucc_slice), "XTREME_ADV_EMBED_CACHE": "off"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results, samples = read_run(out)
    f1 = results["results"]["xtreme_bucc_zh"]["f1,none"]
    checkpoint = EncoderCheckpoint(embedded_model_dir_small, batch_size=32)
    docs = list(load_eval_split("bucc", "zh", data_dir=bucc_slice).dataset)
    items, _ = _items(checkpoint, docs, protocol)
    assert f1 == pytest.approx(retrieval.bucc_f1(items), abs=1e-6)
    assert 0.2 < f1 < 1.0
    assert results["xtreme_adv"]["tasks"]["xtreme_bucc_zh"]["protocol"] == protocol
    # Documents are the source sentences; the English side is the pool beside them.
    n_sources = sum(d["side"] == "source" for d in docs)
    assert len(samples["xtreme_bucc_zh"]) == n_sources
    assert results["xtreme_adv"]["tasks"]["xtreme_bucc_zh"]["n_pool"] == len(docs) - n_sources
