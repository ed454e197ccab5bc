"""``xtreme-adv attack adaptive`` and ``--source-model`` transfer sets against a real classifier.

The classifier is the embedded multilingual-e5-small cut to 2 layers with a seeded 3-way XNLI
head whose weights are drawn with std 1.0 (the usual 0.02 gives near-constant logits), so its
decisions depend on the input and attacks can both succeed and fail. The model's own clean and
perturbed predictions, computed here with plain transformers, are the reference the reported
metrics and statuses are checked against (TextAttack's definitions: accuracy under attack =
failed / total, attack success rate = successful / (successful + failed)).
"""

from __future__ import annotations

import json
import shutil
from collections import OrderedDict
from pathlib import Path
from types import SimpleNamespace

import pytest

from adversarial.adaptive import attack_metrics, json_number
from adversarial.build import BuildRequest, build, work_dir
from adversarial.cli import main
from adversarial.registry import load_set
from adversarial.transfer import label_index
from harness_tasks.data import load_eval_split
from harness_tasks.errors import XtremeAdvError

LABELS = ["entailment", "neutral", "contradiction"]
N_DOCS = 8
BUDGET = 50
NO_SIM = {"min_similarity": 0}


@pytest.fixture(scope="module")
def classifier(small_classifier) -> Path:
    """The shared seeded 3-way XNLI classifier on the 2-layer embedded encoder."""
    return small_classifier


@pytest.fixture(scope="module")
def mislabelled(classifier, tmp_path_factory) -> Path:
    """The same checkpoint with id2label names that are not XNLI's."""
    out = tmp_path_factory.mktemp("mislabelled") / "clf"
    shutil.copytree(classifier, out)
    config = json.loads((out / "config.json").read_text())
    config["id2label"] = {"0": "yes", "1": "maybe", "2": "no"}
    config["label2id"] = {"yes": 0, "maybe": 1, "no": 2}
    (out / "config.json").write_text(json.dumps(config))
    return out


def _predict(model_dir: Path, docs: list[dict]) -> list[int]:
    """Argmax output index for each (premise, hypothesis) pair, one pair at a time."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    out = []
    with torch.inference_mode():
        for doc in docs:
            enc = tokenizer(doc["premise"], doc["hypothesis"], return_tensors="pt")
            out.append(int(model(**enc).logits[0].argmax()))
    return out


def _strict_json(text: str):
    def reject(constant: str):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=reject)


def _one_line_error(capsys, *needles: str) -> str:
    err = capsys.readouterr().err
    assert err.endswith("\n") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


@pytest.mark.shared_data
def test_adaptive_report_matches_textattack_definitions(
    classifier, xtreme_data_dir, tmp_path, capsys
):
    out = tmp_path / "report.json"
    argv = ["adaptive", "--model", str(classifier), "--task", "xnli", "--lang", "de",
            "--attack", "charnoise", "--num-examples", str(N_DOCS), "--query-budget", str(BUDGET),
            "--param", "min_similarity=0", "--data-dir", str(xtreme_data_dir),
            "--json", str(out), "--out", str(tmp_path / "adv")]  # fmt: skip
    assert main(argv) == 0
    report = _strict_json(out.read_text(encoding="utf-8"))
    assert _strict_json(capsys.readouterr().out) == report
    assert (report["task"], report["lang"], report["attack"]) == ("xnli", "de", "charnoise")
    assert report["query_budget"] == BUDGET

    m = report["metrics"]
    s, f, k = m["successful_attacks"], m["failed_attacks"], m["skipped_attacks"]
    assert m["n_examples"] == N_DOCS == s + f + k
    # Skipped = examples the model already gets wrong (checked against its own predictions).
    docs = load_eval_split("xnli", "de", data_dir=str(xtreme_data_dir)).dataset.to_list()
    preds = _predict(classifier, docs[:N_DOCS])
    assert k == sum(p != d["label"] for p, d in zip(preds, docs))
    assert m["original_accuracy"] == round(100 * (N_DOCS - k) / N_DOCS, 2)
    assert m["accuracy_under_attack"] == round(100 * f / N_DOCS, 2)
    assert m["attack_success_rate"] == (round(100 * s / (s + f), 2) if s + f else 0)
    if s:
        assert 0 < m["avg_word_perturbed_perc"] <= 100
    else:
        assert m["avg_word_perturbed_perc"] is None
    if k < N_DOCS:
        assert 1 <= m["avg_num_queries"] <= BUDGET
    else:
        assert m["avg_num_queries"] is None


def test_attack_metrics_definitions_and_nulls():
    """TextAttack's numbers on hand-made results; its means over no results (NaN) are null."""
    import numpy as np
    from textattack.attack_results import (
        FailedAttackResult,
        SkippedAttackResult,
        SuccessfulAttackResult,
    )
    from textattack.goal_function_results import (
        ClassificationGoalFunctionResult,
        GoalFunctionResultStatus,
    )

    from adversarial.textattack_compat import AttackedText

    text = AttackedText(OrderedDict(premise="Ein Hund läuft.", hypothesis="Ein Tier rennt."))
    flipped = text.replace_word_at_index(1, "Hnud")  # 1 of 6 words

    def result(status, attacked=text, queries=7):
        return ClassificationGoalFunctionResult(attacked, None, 0, status, 0.1, queries, 0)

    failed = FailedAttackResult(result(GoalFunctionResultStatus.SEARCHING))
    m = attack_metrics([failed, failed])
    assert m["avg_word_perturbed_perc"] is None
    assert (m["failed_attacks"], m["accuracy_under_attack"], m["attack_success_rate"]) == (
        2,
        100,
        0,
    )
    assert m["avg_num_queries"] == 7
    skipped = SkippedAttackResult(result(GoalFunctionResultStatus.SKIPPED))
    m = attack_metrics([skipped])
    assert m["avg_num_queries"] is None and m["avg_word_perturbed_perc"] is None
    json.dumps(m, allow_nan=False)

    success = SuccessfulAttackResult(
        result(GoalFunctionResultStatus.SEARCHING),
        result(GoalFunctionResultStatus.SUCCEEDED, flipped, queries=13),
    )
    m = attack_metrics([success, failed, failed, skipped])
    assert (m["successful_attacks"], m["failed_attacks"], m["skipped_attacks"]) == (1, 2, 1)
    assert m["original_accuracy"] == 75.0  # (total - skipped) / total
    assert m["accuracy_under_attack"] == 50.0  # failed / total
    assert m["attack_success_rate"] == 33.33  # successful / (successful + failed)
    assert m["avg_num_queries"] == 9.0  # over the non-skipped results
    assert m["avg_word_perturbed_perc"] == round(100 / 6, 2)
    assert [json_number(x) for x in (np.float64("nan"), float("inf"), np.int64(3), 2.5)] == [
        None,
        None,
        3,
        2.5,
    ]
    assert isinstance(json_number(np.int64(3)), int)


@pytest.mark.shared_data
def test_transfer_build_statuses(classifier, xtreme_data_dir, tmp_path):
    root = tmp_path / "adv"
    request = BuildRequest("xnli", "de", "charnoise", NO_SIM, data_dir=str(xtreme_data_dir),
                           source_model=str(classifier), limit=N_DOCS)  # fmt: skip
    build(request, root=root, progress=False)
    dataset, manifest = load_set("xnli", "charnoise", "de", root)
    rows = dataset.to_list()
    docs = load_eval_split("xnli", "de", data_dir=str(xtreme_data_dir)).dataset.to_list()[:N_DOCS]
    assert len(rows) == N_DOCS
    clean_preds, adv_preds = _predict(classifier, docs), _predict(classifier, rows)
    seen = set()
    for row, doc, before, after in zip(rows, docs, clean_preds, adv_preds):
        assert (row["id"], row["label"]) == (doc["id"], doc["label"])
        changed = (row["premise"], row["hypothesis"]) != (doc["premise"], doc["hypothesis"])
        status = (row["adv_status"], row["adv_reason"])
        seen.add(status)
        if before != doc["label"]:
            # The source model is already wrong: TextAttack skips it, nothing is changed.
            assert status == ("skipped", "source_model_wrong") and not changed
        elif status == ("attacked", ""):  # a successful attack flips the source model
            assert changed and after != doc["label"]
        elif status == ("attacked", "goal_not_reached"):
            assert changed and after == doc["label"]
        else:
            assert status == ("skipped", "no_candidate") and not changed
        assert bool(json.loads(row["adv_edits"])) == changed
    v = manifest["validity"]
    assert v["n_docs"] == N_DOCS and v["attacked"] == sum(
        r["adv_status"] == "attacked" for r in rows
    )
    assert v["attacked"] + v["skipped"] == N_DOCS
    assert manifest["source_model"]["sha256"]
    assert ("skipped", "source_model_wrong") in seen or ("attacked", "") in seen


def test_label_index_maps_names_case_insensitively():
    def model(id2label):
        return SimpleNamespace(config=SimpleNamespace(id2label=id2label, _name_or_path="ckpt"))

    assert label_index("xnli", model({0: "CONTRADICTION", 1: "Entailment", 2: "neutral"})) == [
        1,
        2,
        0,
    ]
    assert label_index("pawsx", model({"0": "not_paraphrase", "1": "paraphrase"})) == [0, 1]
    with pytest.raises(XtremeAdvError, match=r"LABEL_0.*entailment.*missing"):
        label_index("xnli", model({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}))


@pytest.mark.shared_data
def test_mismatched_label_names_are_a_clear_error(mislabelled, xtreme_data_dir, tmp_path, capsys):
    argv = ["adaptive", "--model", str(mislabelled), "--task", "xnli", "--lang", "de",
            "--attack", "charnoise", "--num-examples", "2", "--param", "min_similarity=0",
            "--data-dir", str(xtreme_data_dir)]  # fmt: skip
    assert main(argv) == 2
    _one_line_error(capsys, str(mislabelled), "'yes'", "'maybe'", "'no'", "'entailment'",
                    "'neutral'", "'contradiction'")  # fmt: skip

    root = tmp_path / "adv"
    request = BuildRequest("xnli", "de", "charnoise", NO_SIM, data_dir=str(xtreme_data_dir),
                           source_model=str(mislabelled), limit=2)  # fmt: skip
    with pytest.raises(XtremeAdvError, match=r"'yes'.*'entailment'"):
        build(request, root=root, progress=False)
    assert not (root / "xnli").exists()
    assert not work_dir(root, "xnli", "charnoise", "de").exists()
