"""Adaptive attacks on every task kind: fitted tagging and QA heads, a retrieval encoder.

Each test builds an adaptive set against a real checkpoint on real shared data, then reads
EVERY row back and checks it against the checkpoint's own predictions through the lm-eval
adapter (:class:`harness_tasks.adapter.checkpoint.EncoderCheckpoint`), recomputed here:

* alignment: gold tags stay one per token and unchanged; gold answers unchanged and found at
  their recomputed offsets; answer words never edited;
* statuses: a successful row really defeats the model (a correct tag/entity lost, answer F1
  below half the clean F1, gold out of the top 1), a failed one does not, a skipped one was
  wrong on the clean input;
* the set: ``kind: adaptive``, the weights hash in its name and manifest, TextAttack's metrics
  equal to counts over the rows; byte-identical when rebuilt, resumed or sharded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adversarial.adaptive_sets import AdaptiveRequest, build_adaptive
from adversarial.build import sha256_file
from adversarial.cli import main
from adversarial.registry import load_set
from harness_tasks.adapter.checkpoint import EncoderCheckpoint
from harness_tasks.data import load_eval_split
from harness_tasks.families import FAMILIES
from tests.adversarial.fitted_heads import fit_qa, fit_tagger

NO_SIM = {"min_similarity": 0}
N_TAG, N_QA, N_RET = 10, 6, 8

pytestmark = pytest.mark.shared_data


def _docs(xtreme_data_dir, task, lang, n):
    return load_eval_split(task, lang, data_dir=str(xtreme_data_dir)).dataset.to_list()[:n]


@pytest.fixture(scope="module")
def taggers(tmp_path_factory, embedded_model_dir_small, xtreme_data_dir) -> dict:
    """UD-POS and PAN-X heads fitted on the first 32 German sentences of each."""
    out = {}
    for task in ("udpos", "panx"):
        docs = _docs(xtreme_data_dir, task, "de", 32)
        folder = tmp_path_factory.mktemp(f"tagger-{task}")
        out[task] = fit_tagger(embedded_model_dir_small, docs, list(FAMILIES[task].labels), folder)
    return out


@pytest.fixture(scope="module")
def qa_head(tmp_path_factory, embedded_model_dir_small, xtreme_data_dir) -> Path:
    """An extractive QA head fitted on the first 12 German XQuAD questions."""
    docs = _docs(xtreme_data_dir, "xquad", "de", 12)
    return fit_qa(embedded_model_dir_small, docs, tmp_path_factory.mktemp("qa"))


def _build(model, task, n, root, xtreme_data_dir, lang="de", **kw) -> tuple[list[dict], dict]:
    request = AdaptiveRequest(str(model), task, lang, "charnoise", NO_SIM,
                              data_dir=str(xtreme_data_dir), limit=n, **kw)  # fmt: skip
    folder = build_adaptive(request, root=root)
    dataset, manifest = load_set(task, request.attack, lang, root)
    assert folder.name == lang and folder.parent.name == request.attack
    return dataset.to_list(), manifest


def _check_set(manifest, model, task, rows, lang="de"):
    """Provenance and metrics of an adaptive set, recomputed from its rows."""
    weights = sha256_file(next(Path(model).glob("*.safetensors")))
    assert manifest["kind"] == "adaptive"
    assert manifest["source_model"] == {"path": str(Path(model).resolve()), "sha256": weights}
    assert manifest["task_name"] == f"xtreme_adv_{task}_adaptive-charnoise-{weights[:10]}_{lang}"
    m = manifest["adaptive"]["metrics"]
    records = [e["attack_result"] for e in manifest["examples"] if e["attack_result"]]
    statuses = [(r["adv_status"], r["adv_reason"]) for r in rows]
    assert m["successful_attacks"] == statuses.count(("attacked", "")) > 0
    assert m["skipped_attacks"] == statuses.count(("skipped", "source_model_wrong"))
    n = len(records)
    s, f = m["successful_attacks"], m["failed_attacks"]
    assert s + f + m["skipped_attacks"] == n
    assert m["attack_success_rate"] == round(100 * s / (s + f), 2)
    assert m["accuracy_under_attack"] == round(100 * f / n, 2)
    assert all(1 <= r["queries"] <= manifest["adaptive"]["query_budget"] for r in records)
    return m


@pytest.mark.slow
@pytest.mark.parametrize(("task", "search", "n"), [("udpos", "greedy", N_TAG),
                                                   ("panx", "greedy", N_TAG),
                                                   ("udpos", "beam", 4)])  # fmt: skip
def test_tagging_sets_keep_gold_tags_aligned(task, search, n, taggers, xtreme_data_dir, tmp_path):
    from seqeval.metrics.sequence_labeling import get_entities

    family = FAMILIES[task]
    rows, manifest = _build(taggers[task], task, n, tmp_path / "adv", xtreme_data_dir,
                            query_budget=100, search=search, beam_width=2)  # fmt: skip
    assert manifest["adaptive"]["search"] == search
    clean = _docs(xtreme_data_dir, task, "de", n)
    ckpt = EncoderCheckpoint(taggers[task])
    before, after = ckpt.tag(family, clean), ckpt.tag(family, rows)
    for row, doc, p0, p1 in zip(rows, clean, before, after, strict=True):
        # Alignment: one gold tag per token, tags untouched, only the listed tokens changed.
        assert row["tags"] == doc["tags"] and len(row["tokens"]) == len(doc["tokens"])
        changed = {i for i, (a, b) in enumerate(zip(doc["tokens"], row["tokens"])) if a != b}
        edits = json.loads(row["adv_edits"])
        assert {e["start"] for e in edits} == changed
        assert all(t and not any(c.isspace() for c in t) for t in row["tokens"])
        if task == "panx":
            gold = set(get_entities(doc["tags"]))
            right0, right1 = gold & set(get_entities(p0)), gold & set(get_entities(p1))
        else:
            right0 = {i for i, (p, g) in enumerate(zip(p0, doc["tags"])) if p == g}
            right1 = {i for i, (p, g) in enumerate(zip(p1, doc["tags"])) if p == g}
        status = (row["adv_status"], row["adv_reason"])
        if status == ("skipped", "source_model_wrong"):
            assert not right0 and not changed
        elif status == ("attacked", ""):
            assert changed and right0 - right1  # something the model got right is now wrong
        else:
            assert not right0 - right1
    _check_set(manifest, taggers[task], task, rows)
    assert manifest["validity"]["tagged_aligned"] == manifest["validity"]["tagged_examples"]


@pytest.mark.slow
def test_qa_set_keeps_answers_at_their_offsets(qa_head, xtreme_data_dir, tmp_path):
    from harness_tasks.metrics.qa import score

    rows, manifest = _build(qa_head, "xquad", N_QA, tmp_path / "adv", xtreme_data_dir,
                            query_budget=60)  # fmt: skip
    clean = _docs(xtreme_data_dir, "xquad", "de", N_QA)
    ckpt = EncoderCheckpoint(qa_head)
    before, after = ckpt.answer(clean), ckpt.answer(rows)
    for row, doc, a0, a1 in zip(rows, clean, before, after, strict=True):
        answers = row["answers"]
        assert answers["text"] == doc["answers"]["text"]
        for text, start in zip(answers["text"], answers["answer_start"], strict=True):
            assert row["context"][start : start + len(text)] == text
        gold_spans = [(s, s + len(t)) for t, s in zip(doc["answers"]["text"],
                                                      doc["answers"]["answer_start"])]  # fmt: skip
        for edit in json.loads(row["adv_edits"]):
            if edit["field"] == "context":
                assert not any(edit["start"] < e and s < edit["end"] for s, e in gold_spans)
        f0 = score(a0, doc["answers"]["text"], "squad")["f1"]
        f1 = score(a1, doc["answers"]["text"], "squad")["f1"]
        status = (row["adv_status"], row["adv_reason"])
        if status == ("skipped", "source_model_wrong"):
            assert f0 == 0
        elif status == ("attacked", ""):
            assert f1 < 0.5 * f0
        else:
            assert f1 >= 0.5 * f0 > 0
    _check_set(manifest, qa_head, "xquad", rows)
    v = manifest["validity"]
    assert v["qa_answers_preserved"] == v["qa_answers"] > 0


@pytest.mark.slow
def test_retrieval_set_moves_gold_out_of_top1(embedded_model_dir_small, xtreme_data_dir, tmp_path):
    # Spanish: the 2-layer encoder retrieves 3 of the first 8 sources right (German: none).
    rows, manifest = _build(embedded_model_dir_small, "tatoeba", N_RET, tmp_path / "adv",
                            xtreme_data_dir, lang="es", query_budget=100)  # fmt: skip
    family = FAMILIES["tatoeba"]
    clean = load_eval_split("tatoeba", "es", data_dir=str(xtreme_data_dir)).dataset.to_list()
    clean = {d["id"]: d for d in clean}
    ckpt = EncoderCheckpoint(embedded_model_dir_small)
    targets = [r for r in rows if r["side"] == "target"]
    for row in targets:  # the candidate pool is left as it was
        assert row["adv_reason"] == "target_side"
        assert {k: v for k, v in row.items() if not k.startswith("adv_")} == clean[row["id"]]
    sources = [r for r in rows if r["side"] == "source"]
    assert len(sources) == N_RET
    top_clean = ckpt.retrieve(family, [clean[r["id"]] for r in sources] + targets)
    top_adv = ckpt.retrieve(family, rows)
    top_adv = dict(zip([r["id"] for r in rows], top_adv, strict=True))
    for row, hit0 in zip(sources, top_clean[: len(sources)], strict=True):
        right0 = json.loads(hit0)["id"] == row["gold"]
        right1 = json.loads(top_adv[row["id"]])["id"] == row["gold"]
        status = (row["adv_status"], row["adv_reason"])
        if status == ("skipped", "source_model_wrong"):
            assert not right0
        elif status == ("attacked", ""):
            assert right0 and not right1
        else:
            assert right1
    _check_set(manifest, embedded_model_dir_small, "tatoeba", rows, lang="es")


@pytest.mark.slow
def test_same_seed_same_bytes_resumed_and_sharded(taggers, xtreme_data_dir, tmp_path, monkeypatch):
    import adversarial.adaptive_sets as adaptive_sets

    monkeypatch.setattr(adaptive_sets, "CHUNK_SIZE", 2)  # 6 sentences: 3 chunks
    monkeypatch.setattr(adaptive_sets, "WINDOW_CHUNKS", 2)  # in lockstep windows {0, 1}, {2}
    model = taggers["udpos"]

    def request():
        return AdaptiveRequest(str(model), "udpos", "de", "charnoise", NO_SIM, seed=3,
                               query_budget=40, data_dir=str(xtreme_data_dir),
                               limit=6)  # fmt: skip

    def files(folder):
        return (folder / "data.parquet").read_bytes(), (folder / "manifest.json").read_bytes()

    whole = files(build_adaptive(request(), root=tmp_path / "a"))
    assert build_adaptive(request(), root=tmp_path / "c", stop_after=1) is None
    resumed = files(build_adaptive(request(), root=tmp_path / "c"))
    assert build_adaptive(request(), root=tmp_path / "d", num_shards=2, shard_index=0) is None
    sharded = files(build_adaptive(request(), root=tmp_path / "d", num_shards=2, shard_index=1))
    # Killed between the two chunk files of a window: the window runs again, chunk 0 stays.
    assert build_adaptive(request(), root=tmp_path / "e", stop_after=1) is None
    next((tmp_path / "e").rglob("chunk-00001.jsonl")).unlink()
    partial = files(build_adaptive(request(), root=tmp_path / "e"))
    assert whole == resumed == sharded == partial  # four runs of the same seed and checkpoint
    manifest = json.loads(whole[1])
    assert manifest["adaptive"]["metrics"]["n_examples"] == 6


def test_bad_adaptive_input_is_one_line(tmp_path, embedded_model_dir_small, capsys):
    out = tmp_path / "adv"
    cases = [
        (["--model", str(tmp_path / "nowhere"), "--task", "udpos", "--lang", "de",
          "--attack", "charnoise"], "nowhere"),
        (["--model", str(embedded_model_dir_small), "--task", "xquad", "--lang", "de",
          "--attack", "distractor"], "not a word-level search"),
        (["--model", str(embedded_model_dir_small), "--task", "tatoeba", "--lang", "de",
          "--attack", "charnoise", "--top-k", "0"], "--top-k 0"),
        (["--model", str(embedded_model_dir_small), "--task", "xquad", "--lang", "de",
          "--attack", "charnoise", "--qa-f1-ratio", "1.5"], "--qa-f1-ratio 1.5"),
        # a bad language among several: refused before the first language's attack runs
        (["--model", str(embedded_model_dir_small), "--task", "xnli", "--lang", "de,xx",
          "--attack", "charnoise"], "language 'xx' is not part of XTREME's XNLI"),
    ]  # fmt: skip
    for argv, needle in cases:
        assert main(["adaptive", *argv, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("xtreme-adv attack: error:"), err
        assert needle in err, err
    assert not out.exists()


# XCOPA is not among the shared slices: eight COPA items (Roemmele et al. 2011, BSD licence) in
# Italian, in XTREME's download layout (xcopa/test-it.jsonl), read by the project's own loader.
COPA_IT = [
    ("Il mio corpo proiettava un'ombra sull'erba.", "Il sole stava sorgendo.",
     "L'erba era stata tagliata.", "cause", 0),
    ("La donna tollerava il comportamento scortese dell'amica.",
     "Sapeva che l'amica stava attraversando un momento difficile.",
     "Sentiva che l'amica approfittava della sua gentilezza.", "cause", 0),
    ("Le donne si sono incontrate per un caffè.", "Il bar ha aperto in una nuova sede.",
     "Volevano parlare tra di loro.", "cause", 1),
    ("Il corridore indossava i pantaloncini.", "Le previsioni annunciavano temperature alte.",
     "Aveva programmato una lunga corsa.", "cause", 0),
    ("Ho aperto il rubinetto.", "L'acqua è uscita dal rubinetto.",
     "Il lavandino si è rotto.", "effect", 0),
    ("La ragazza ha trovato un insetto nei cereali.", "Ha versato il latte nella ciotola.",
     "Ha perso l'appetito.", "effect", 1),
    ("L'uomo ha perso l'equilibrio sulla scala.", "È caduto per terra.",
     "È salito fino in cima.", "effect", 0),
    ("Il bambino aveva molta fame.", "Ha mangiato un panino al formaggio.",
     "È andato subito a dormire.", "effect", 0),
]  # fmt: skip


@pytest.fixture(scope="module")
def copa_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("xcopa-data")
    (root / "xcopa").mkdir()
    keys = ("premise", "choice1", "choice2", "question", "label")
    records = [{**dict(zip(keys, item, strict=True)), "idx": i} for i, item in enumerate(COPA_IT)]
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    (root / "xcopa" / "test-it.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def choice_model(tmp_path_factory, embedded_model_dir_small) -> Path:
    """A 2-way multiple-choice head on the 2-layer encoder (seeded, weights with std 1.0, so
    its choice depends on the words; the usual 0.02 gives near-constant scores)."""
    import torch
    from transformers import AutoModelForMultipleChoice, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForMultipleChoice.from_pretrained(embedded_model_dir_small)
    torch.nn.init.normal_(model.classifier.weight, std=1.0)
    out = tmp_path_factory.mktemp("choice")
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(embedded_model_dir_small).save_pretrained(out)
    return out


@pytest.mark.slow
def test_multiple_choice_set_never_touches_the_question(choice_model, copa_dir, tmp_path):
    root = tmp_path / "adv"
    request = AdaptiveRequest(str(choice_model), "xcopa", "it", "charnoise", NO_SIM,
                              query_budget=60, data_dir=str(copa_dir))  # fmt: skip
    build_adaptive(request, root=root)
    rows, manifest = load_set("xcopa", request.attack, "it", root)
    rows = rows.to_list()
    clean = load_eval_split("xcopa", "it", data_dir=str(copa_dir)).dataset.to_list()
    ckpt = EncoderCheckpoint(choice_model)
    before, after = ckpt.choose(clean).argmax(1), ckpt.choose(rows).argmax(1)
    for row, doc, p0, p1 in zip(rows, clean, before, after, strict=True):
        assert (row["question"], row["label"]) == (doc["question"], doc["label"])
        fields = {e["field"] for e in json.loads(row["adv_edits"])}
        assert fields <= {"premise", "choice1", "choice2"}
        status = (row["adv_status"], row["adv_reason"])
        if status == ("skipped", "source_model_wrong"):
            assert p0 != doc["label"] and not fields
        elif status == ("attacked", ""):
            assert p0 == doc["label"] != p1
        else:
            assert p0 == p1 == doc["label"]
    _check_set(manifest, choice_model, "xcopa", rows, lang="it")
