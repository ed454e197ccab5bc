"""Never train on what is scored (docs/contracts.md section 8), on the real shared data: the
trainers keep half 0 of a parallel stand-in's keys, the evaluation side scores half 1, and both
sides' implementations of the rule agree."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from harness_tasks.data import parallel as harness_rule
from harness_tasks.data import xtreme_folder
from trainers.cli import main
from trainers.data import DataLocations, load_task_data
from trainers.data import parallel as trainer_rule
from trainers.tasks import INTERMEDIATE_TASKS, TARGET_TASKS

FAST = ["--epochs", "1", "--batch-size", "16", "--grad-accum", "1", "--max-length", "32",
        "--logging-steps", "50"]  # fmt: skip


def _contract_half(key: str) -> int:
    # docs/contracts.md section 8, as written.
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16) % 2


def test_both_sides_agree_with_the_contract(xtreme_data_dir: Path) -> None:
    keys = [str(i) for i in range(2490)]
    keys += [
        r["id"] for r in xtreme_folder.read("xquad", "de", xtreme_data_dir / "xquad/xquad.de.json")
    ]
    mlqa = xtreme_data_dir / "mlqa/MLQA_V1/dev/dev-context-en-question-en.json"
    keys += [r["id"] for r in xtreme_folder.read("mlqa", "en", mlqa)]
    assert len(keys) > 3500
    halves = [_contract_half(k) for k in keys]
    assert [trainer_rule.parallel_half(k) for k in keys] == halves
    assert [harness_rule.parallel_half(k) for k in keys] == halves
    assert 0.45 < sum(halves) / len(halves) < 0.55
    for ident, lang in [("de-17", "de"), ("17", "de"), ("56be4db0acb8001400a502ec", "en")]:
        assert trainer_rule.parallel_key(ident, lang) == harness_rule.parallel_key(ident, lang)
    assert trainer_rule.RULE == harness_rule.RULE


@pytest.mark.parametrize(
    ("task", "family", "lang", "eval_file"),
    [
        ("xnli", "xnli", "de", "xnli/dev-de.tsv"),
        ("qqp", "pawsx", "de", "pawsx/dev-de.tsv"),
        ("xquad", "xquad", "de", "xquad/xquad.de.json"),
    ],
)
def test_no_trained_document_is_scored(
    xtreme_data_dir: Path, task: str, family: str, lang: str, eval_file: str
) -> None:
    spec = TARGET_TASKS.get(task) or INTERMEDIATE_TASKS[task]
    data = load_task_data(spec, DataLocations(xtreme_dir=xtreme_data_dir))
    assert data.exclusion == {
        "eval_task": family, "rule": "xtreme-adv/parallel-half/1", "trained_half": 0,
        "scored_half": 1, "trained_on": data.exclusion["trained_on"],
        "n_trained": len(data.dataset),
    }  # fmt: skip
    # Where every trained example sits in the English file (its parallel key).
    if spec.head == "qa":
        trained = {str(i) for i in data.dataset["id"]}
    else:
        english = xtreme_folder.read(family, "en", xtreme_data_dir / f"{family}/dev-en.tsv")
        rows_of: dict[tuple, set[str]] = {}  # PAWS-X repeats some pairs: every copy counts
        for i, r in enumerate(english):
            pair = (r.get("premise", r.get("sentence1")), r.get("hypothesis", r.get("sentence2")))
            rows_of.setdefault(pair, set()).add(str(i))
        trained = set().union(
            *(rows_of[pair] for pair in zip(data.dataset["text_a"], data.dataset["text_b"]))
        )
    assert len(trained) >= len(data.dataset) > 500
    assert {_contract_half(k) for k in trained} == {0}
    # The evaluation side, restricted to the scored half, never sees those documents.
    from datasets import Dataset

    docs = Dataset.from_list(xtreme_folder.read(family, lang, xtreme_data_dir / eval_file))
    scored, record = harness_rule.filter_half(docs, lang, 1)
    scored_keys = {harness_rule.parallel_key(i, lang) for i in scored["id"]}
    assert scored_keys and not scored_keys & trained
    assert record["n_docs"] + record["n_excluded"] == len(docs)
    # ... and the two halves cover the whole split.
    assert len(scored_keys) + len(trained) >= 0.95 * len(docs)


def test_real_training_files_are_not_restricted(xtreme_data_dir: Path) -> None:
    data = load_task_data(TARGET_TASKS["panx"], DataLocations(xtreme_dir=xtreme_data_dir))
    assert data.exclusion is None and "scoring_exclusion" not in data.card()


def test_card_lists_the_exclusion_and_carries_the_base_settings(
    embedded_model_dir_small: Path, xtreme_data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "xnli"
    argv = ["direct", "--model", str(embedded_model_dir_small), "--target", "xnli",
            "--out", str(out), "--data-dir", str(xtreme_data_dir),
            "--max-train-examples", "32", *FAST]  # fmt: skip
    assert main(argv) == 0
    card = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    (entry,) = card["scoring_exclusions"]
    assert entry == {
        "eval_task": "xnli", "rule": "xtreme-adv/parallel-half/1", "trained_half": 0,
        "scored_half": 1, "trained_on": "xnli/dev-en.tsv", "n_trained": 32,
    }  # fmt: skip
    # The evaluation side reads the same card and scores half 1 of XNLI only.
    assert harness_rule.resolve_half("xnli", {"pretrained": str(out)}) == 1
    assert harness_rule.resolve_half("pawsx", {"pretrained": str(out)}) is None
    # The embedded e5 model asks for "query: "; the trained checkpoint keeps asking for it.
    base = json.loads((embedded_model_dir_small / "provenance.json").read_text("utf-8"))
    assert base["conversion"]["text_prefix"] == "query: "
    assert card["text_prefix"] == "query: " and card["retrieval_layer"] == -1
    from harness_tasks.adapter.checkpoint import EncoderCheckpoint

    assert EncoderCheckpoint(out).retrieval_prefix == "query: "
