"""Tiny random checkpoints through ``xtreme-adv eval run``: lm-eval's numbers must equal what
the model computes directly on the same documents.

One run per head covers XNLI, PAWS-X, PAN-X, UD-POS and XQuAD on the real data slices.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness_tasks.adapter import load_encoder
from harness_tasks.data import load_eval_split
from harness_tasks.families import FAMILIES
from harness_tasks.metrics import qa, tagging
from tests.harness.conftest import read_run, run_cli

LIMIT = 12

pytestmark = pytest.mark.slow


def _eval(tmp_path, checkpoint, tasks, xtreme_data_dir, extra=()):
    out = tmp_path / "out"
    proc = run_cli(
        [
            "eval",
            "run",
            "--model",
            "xtreme-encoder",
            "--model_args",
            f"pretrained={checkpoint}",
            "--tasks",
            tasks,
            "--device",
            "cpu",
            "--batch_size",
            "4",
            "--limit",
            str(LIMIT),
            "--output_path",
            str(out),
            "--log_samples",
            *extra,
        ],
        env={"XTREME_DATA_DIR": str(xtreme_data_dir)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return read_run(out)


def _docs(task, lang, xtreme_data_dir):
    return load_eval_split(task, lang, data_dir=xtreme_data_dir).dataset.select(range(LIMIT))


@pytest.mark.parametrize("task", ["xnli", "pawsx"])
def test_classification_accuracy_matches_direct_predictions(
    task, tmp_path, tiny_checkpoints, xtreme_data_dir
):
    results, samples = _eval(tmp_path, tiny_checkpoints[task], f"xtreme_{task}_de", xtreme_data_dir)
    name = f"xtreme_{task}_de"
    docs = _docs(task, "de", xtreme_data_dir)
    logits = load_encoder(tiny_checkpoints[task]).classify(FAMILIES[task], list(docs))
    expected = float(np.mean(logits.argmax(1) == np.array(docs["label"])))
    assert results["results"][name]["acc,none"] == pytest.approx(expected)
    assert len(samples[name]) == LIMIT
    # provenance in the results: split, data hash, model identity
    info = results["xtreme_adv"]["tasks"][name]
    assert info["split"] == ("test" if task == "pawsx" else "validation")
    assert len(info["data_sha256"]) == 64
    assert results["config"]["xtreme_adv_model"]["weights_sha256"]


def test_tagging_metrics_match_direct_predictions(tmp_path, tiny_checkpoints, xtreme_data_dir):
    for task, metric, score in (
        ("panx", "f1", tagging.span_f1),
        ("udpos", "acc", tagging.token_accuracy),
    ):
        results, samples = _eval(
            tmp_path / task, tiny_checkpoints[task], f"xtreme_{task}_de", xtreme_data_dir
        )
        docs = list(_docs(task, "de", xtreme_data_dir))
        predicted = load_encoder(tiny_checkpoints[task]).tag(FAMILIES[task], docs)
        assert all(len(p) == len(d["tokens"]) for p, d in zip(predicted, docs))
        expected = score([(d["tags"], p) for d, p in zip(docs, predicted)])
        got = results["results"][f"xtreme_{task}_de"][f"{metric},none"]
        assert got == pytest.approx(expected)
        if task == "udpos":  # XTREME's run_tag.py number beside token accuracy
            f1 = results["results"]["xtreme_udpos_de"]["f1,none"]
            assert f1 == pytest.approx(
                tagging.seqeval_f1([(d["tags"], p) for d, p in zip(docs, predicted)])
            )
        # each logged response is exactly the tag sequence the model predicts
        logged = {s["doc_id"]: s["filtered_resps"][0] for s in samples[f"xtreme_{task}_de"]}
        assert [logged[i].split() for i in range(LIMIT)] == predicted


def test_qa_scores_match_direct_answers(tmp_path, tiny_checkpoints, xtreme_data_dir):
    results, samples = _eval(tmp_path, tiny_checkpoints["qa"], "xtreme_xquad_de", xtreme_data_dir)
    docs = list(_docs("xquad", "de", xtreme_data_dir))
    answers = load_encoder(tiny_checkpoints["qa"]).answer(docs)
    # spans come from the context
    assert all(a in d["context"] for a, d in zip(answers, docs))
    scores = [qa.score(a, d["answers"]["text"], "squad") for a, d in zip(answers, docs)]
    row = results["results"]["xtreme_xquad_de"]
    assert row["f1,none"] == pytest.approx(np.mean([s["f1"] for s in scores]))
    assert row["exact_match,none"] == pytest.approx(np.mean([s["exact_match"] for s in scores]))


def test_results_json_is_valid_lm_eval_output(tmp_path, tiny_checkpoints, xtreme_data_dir):
    results, _ = _eval(
        tmp_path,
        tiny_checkpoints["xnli"],
        "xtreme_xnli_de,xtreme_xnli_ru",
        xtreme_data_dir,
        extra=("--metadata", json.dumps({"split": "dev"})),
    )
    for key in ("results", "configs", "versions", "n-samples", "config", "lm_eval_version"):
        assert key in results
    assert set(results["results"]) == {"xtreme_xnli_de", "xtreme_xnli_ru"}
    assert results["versions"]["xtreme_xnli_de"] == 1.0
    assert results["n-samples"]["xtreme_xnli_de"]["effective"] == LIMIT
    assert results["configs"]["xtreme_xnli_de"]["metadata"]["split"] == "dev"


XCOPA_IT = [
    {
        "premise": "L'uomo aprì il rubinetto.",
        "choice1": "Il water si riempì d'acqua.",
        "choice2": "L'acqua uscì dal beccuccio.",
        "question": "effect",
        "label": 1,
        "idx": 1,
    },
    {
        "premise": "La ragazza trovò un insetto nei cereali.",
        "choice1": "Versò il latte.",
        "choice2": "Perse l'appetito.",
        "question": "effect",
        "label": 1,
        "idx": 2,
    },
    {
        "premise": "La donna si ritirò.",
        "choice1": "Ricevette la pensione.",
        "choice2": "Pagò il mutuo.",
        "question": "effect",
        "label": 0,
        "idx": 3,
    },
    {
        "premise": "Il mio corpo proiettava un'ombra sull'erba.",
        "choice1": "Il sole sorgeva.",
        "choice2": "L'erba era tagliata.",
        "question": "cause",
        "label": 0,
        "idx": 4,
    },
]


def test_xcopa_multiple_choice_head(tmp_path, tiny_checkpoints):
    """XCOPA (no XCOPA data ships here: four records in XCOPA's own format and language)."""
    folder = tmp_path / "data" / "xcopa" / "it"
    folder.mkdir(parents=True)
    (folder / "test.it.jsonl").write_text("\n".join(json.dumps(r) for r in XCOPA_IT) + "\n")
    out = tmp_path / "out"
    proc = run_cli(
        [
            "eval",
            "run",
            "--model",
            "xtreme-encoder",
            "--model_args",
            f"pretrained={tiny_checkpoints['xcopa']}",
            "--tasks",
            "xtreme_xcopa_it",
            "--device",
            "cpu",
            "--output_path",
            str(out),
            "--log_samples",
        ],
        env={"XTREME_DATA_DIR": str(tmp_path / "data")},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results, samples = read_run(out)
    docs = list(load_eval_split("xcopa", "it", data_dir=tmp_path / "data").dataset)
    logits = load_encoder(tiny_checkpoints["xcopa"]).choose(docs)
    expected = float(np.mean(logits.argmax(1) == np.array([d["label"] for d in docs])))
    assert results["results"]["xtreme_xcopa_it"]["acc,none"] == pytest.approx(expected)
    assert results["xtreme_adv"]["tasks"]["xtreme_xcopa_it"]["split"] == "test"
    # lm-eval's Italian connector ("quindi" for effect) is in the prompt for the LM route
    assert "quindi" in str(samples["xtreme_xcopa_it"][0]["arguments"])
