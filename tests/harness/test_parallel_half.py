"""The parallel hold-out (docs/contracts.md section 8), evaluation side: clean and adversarial
documents of the trained half are never scored, the model card sets it by itself, and the
results record it."""

from __future__ import annotations

import hashlib
import json

import pytest

from harness_tasks.data import LOADED, lm_eval_dataset, load_eval_split
from harness_tasks.data.parallel import RULE, parallel_half, parallel_key
from harness_tasks.errors import XtremeAdvError
from tests.harness.conftest import read_run, run_cli


def _contract_half(key: str) -> int:
    # The rule as docs/contracts.md writes it, spelled out independently of the module.
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest(), "big") & 1


def test_key_and_half_follow_the_contract():
    assert parallel_key("de-17", "de") == "17"
    assert parallel_key("56be4db0acb8001400a502ec", "de") == "56be4db0acb8001400a502ec"
    assert parallel_key("en-3", "de") == "en-3"  # only the document's own language is removed
    keys = [str(i) for i in range(400)]
    halves = [parallel_half(k) for k in keys]
    assert halves == [_contract_half(k) for k in keys]
    assert 150 < sum(halves) < 250  # both halves are populated


def test_metadata_env_and_card_restrict_clean_documents(tmp_path, monkeypatch, xtreme_data_dir):
    monkeypatch.delenv("XTREME_PARALLEL_HALF", raising=False)
    full = load_eval_split("xnli", "de", data_dir=xtreme_data_dir).dataset
    expected = [r["id"] for r in full if _contract_half(r["id"].split("-", 1)[1]) == 1]

    scored = lm_eval_dataset("xnli", "de", data_dir=str(xtreme_data_dir), parallel_half=1)["eval"]
    assert scored["id"] == expected
    record = LOADED["xtreme_xnli_de"]["parallel_half"]
    assert record == {
        "rule": RULE,
        "scored_half": 1,
        "n_docs": len(expected),
        "n_excluded": len(full) - len(expected),
    }

    monkeypatch.setenv("XTREME_PARALLEL_HALF", "1")
    assert lm_eval_dataset("xnli", "de", data_dir=str(xtreme_data_dir))["eval"]["id"] == expected
    monkeypatch.delenv("XTREME_PARALLEL_HALF")

    card_dir = tmp_path / "model"
    card_dir.mkdir()
    (card_dir / "provenance.json").write_text(
        json.dumps(
            {"scoring_exclusions": [{"eval_task": "xnli", "rule": RULE, "trained_half": 0,
                                     "scored_half": 1, "trained_on": "xnli/dev-en.tsv"}]}
        )
    )  # fmt: skip
    by_card = lm_eval_dataset("xnli", "de", data_dir=str(xtreme_data_dir), pretrained=str(card_dir))
    assert by_card["eval"]["id"] == expected
    # The card names XNLI only: PAWS-X is scored in full, and nothing is recorded for it.
    pawsx = lm_eval_dataset("pawsx", "de", data_dir=str(xtreme_data_dir), pretrained=str(card_dir))
    assert len(pawsx["eval"]) == 2000 and "parallel_half" not in LOADED["xtreme_pawsx_de"]


def test_qa_ids_are_kept_as_keys(xtreme_data_dir):
    full = load_eval_split("xquad", "de", data_dir=xtreme_data_dir).dataset
    kept = lm_eval_dataset("xquad", "de", data_dir=str(xtreme_data_dir), parallel_half=0)["eval"]
    assert kept["id"] == [i for i in full["id"] if _contract_half(i) == 0]
    # The same questions are kept in English: the halves are parallel across languages.
    english = lm_eval_dataset("xquad", "en", data_dir=str(xtreme_data_dir), parallel_half=0)
    assert set(english["eval"]["id"]) == set(kept["id"])


@pytest.mark.parametrize("value", ["2", "yes", -1])
def test_bad_half_is_a_user_error(value, xtreme_data_dir):
    with pytest.raises(XtremeAdvError, match="parallel_half must be 0 or 1"):
        lm_eval_dataset("xnli", "de", data_dir=str(xtreme_data_dir), parallel_half=value)


def test_adversarial_documents_are_restricted_too(tmp_path, xtreme_data_dir):
    from adversarial.build import BuildRequest, build
    from adversarial.registry import lm_eval_dataset as adv_dataset

    root = tmp_path / "adv"
    request = BuildRequest(
        "xnli", "de", "charnoise", {"min_similarity": 0}, data_dir=str(xtreme_data_dir), limit=16
    )
    build(request, root=root, progress=False)
    every = adv_dataset("xnli", "charnoise", "de", root=str(root))["eval"]
    kept = adv_dataset("xnli", "charnoise", "de", root=str(root), parallel_half=1)["eval"]
    assert kept["id"] == [i for i in every["id"] if _contract_half(i.split("-", 1)[1]) == 1]
    assert 0 < len(kept) < len(every)
    record = LOADED["xtreme_adv_xnli_charnoise_de"]["parallel_half"]
    assert record["n_docs"] + record["n_excluded"] == len(every)


@pytest.mark.slow
def test_eval_run_reads_the_card_and_records_the_half(tmp_path, tiny_checkpoints, xtreme_data_dir):
    model = tiny_checkpoints["xnli"]
    entry = {"eval_task": "xnli", "rule": RULE, "trained_half": 0, "scored_half": 1}
    card = {"scoring_exclusions": [entry]}
    (model / "provenance.json").write_text(json.dumps(card))
    try:
        out = tmp_path / "out"
        proc = run_cli(
            ["eval", "run", "--model", "xtreme-encoder", "--model_args", f"pretrained={model}",
             "--tasks", "xtreme_xnli_de", "--device", "cpu", "--limit", "10",
             "--output_path", str(out), "--log_samples"],
            env={"XTREME_DATA_DIR": str(xtreme_data_dir)},
        )  # fmt: skip
    finally:
        (model / "provenance.json").unlink()
    assert proc.returncode == 0, proc.stderr[-3000:]
    results, samples = read_run(out)
    # No --batch_size given: the encoder's default, not lm-eval's 1.
    assert str(results["config"]["batch_size"]) == "64"
    record = results["xtreme_adv"]["tasks"]["xtreme_xnli_de"]["parallel_half"]
    assert record["rule"] == RULE and record["scored_half"] == 1
    assert record["n_docs"] + record["n_excluded"] == 2490
    ids = [s["doc"]["id"] for s in samples["xtreme_xnli_de"]]
    assert len(ids) == 10 and all(_contract_half(i.split("-", 1)[1]) == 1 for i in ids)
