"""The LM route: a causal LM, scored as lm-eval's ``hf`` model scores XNLI, attacked adaptively.

The victim is a tiny random GPT-2 with a byte-level BPE vocabulary fitted here on German XNLI
text (a 250k-entry vocabulary would make every log-likelihood cost a 250k-wide softmax). Its
adaptive set is then scored by ``xtreme-adv eval run --model hf`` next to the clean task, and
every row's status is checked against lm-eval's own per-sample ``acc`` on both: a successful
attack turns a right answer wrong, a failed one leaves it right, a skipped one was wrong. The
results file records the set as ``kind: adaptive`` with its source model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adversarial.adaptive import run_adaptive
from adversarial.build import sha256_file
from harness_tasks.data import load_eval_split
from tests.harness.conftest import read_run, run_cli

N_DOCS = 8

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory, xtreme_data_dir) -> Path:
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    docs = load_eval_split("xnli", "de", data_dir=str(xtreme_data_dir)).dataset.to_list()
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([d["premise"] + " " + d["hypothesis"] for d in docs[:1000]],
                            vocab_size=2000, special_tokens=["<|endoftext|>"])  # fmt: skip
    end = "<|endoftext|>"
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, eos_token=end,
                                        bos_token=end, unk_token=end)  # fmt: skip
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2,
                        n_positions=512, bos_token_id=tokenizer.bos_token_id,
                        eos_token_id=tokenizer.eos_token_id)  # fmt: skip
    # A random tiny LM barely looks at its input; with this seed some answers hinge on a word
    # (seeds 0-2 give 0, 1 and 2 successful attacks on the first 8 documents).
    torch.manual_seed(2)
    folder = tmp_path_factory.mktemp("gpt2")
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_causal_lm_adaptive_set_is_scored_by_lm_eval(tiny_gpt2, xtreme_data_dir, tmp_path):
    root = tmp_path / "adv"
    report = run_adaptive(str(tiny_gpt2), "xnli", "de", "charnoise", query_budget=40,
                          num_examples=N_DOCS, params={"min_similarity": 0},
                          data_dir=str(xtreme_data_dir), root=root)  # fmt: skip
    weights = sha256_file(tiny_gpt2 / "model.safetensors")
    name = f"xtreme_adv_xnli_adaptive-charnoise-{weights[:10]}_de"
    assert report["task_name"] == name and report["kind"] == "adaptive"
    out = tmp_path / "eval"
    proc = run_cli(
        ["eval", "run", "--model", "hf", "--model_args", f"pretrained={tiny_gpt2}",
         "--tasks", f"xtreme_xnli_de,{name}", "--device", "cpu", "--limit", str(N_DOCS),
         "--batch_size", "8", "--output_path", str(out), "--log_samples"],
        env={"XTREME_DATA_DIR": str(xtreme_data_dir), "XTREME_ADV_DIR": str(root)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results, samples = read_run(out)
    entry = results["xtreme_adv"]["tasks"][name]
    assert entry["kind"] == "adaptive"
    assert entry["source_model"]["sha256"] == weights
    clean = {s["doc"]["id"]: s["acc"] for s in samples["xtreme_xnli_de"]}
    adv = {s["doc"]["id"]: (s["acc"], s["doc"]) for s in samples[name]}
    assert len(adv) == N_DOCS
    m = report["metrics"]
    outcomes = {"successful": 0, "failed": 0, "skipped": 0}
    for doc_id, (acc, doc) in adv.items():
        status = (doc["adv_status"], doc["adv_reason"])
        if status == ("skipped", "source_model_wrong"):
            assert clean[doc_id] == 0 and json.loads(doc["adv_edits"]) == []
            outcomes["skipped"] += 1
        elif status == ("attacked", ""):
            assert clean[doc_id] == 1 and acc == 0  # the attack flipped lm-eval's answer
            outcomes["successful"] += 1
        else:
            assert clean[doc_id] == 1 and acc == 1
            outcomes["failed"] += 1
    assert outcomes["successful"] > 0
    assert (m["successful_attacks"], m["failed_attacks"], m["skipped_attacks"]) == (
        outcomes["successful"], outcomes["failed"], outcomes["skipped"])  # fmt: skip
    # C's accuracy under attack, as lm-eval reports it, is TextAttack's accuracy under attack.
    assert results["results"][name]["acc,none"] == pytest.approx(
        m["accuracy_under_attack"] / 100, abs=1e-4
    )
