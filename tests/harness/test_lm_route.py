"""Route (i): a causal LM through lm-eval's own ``hf`` model runs every kind of xtreme task.

A tiny random GPT-2 with the real XLM-R tokenizer: its answers are noise, but lm-eval must
build the prompts, score choices by log-likelihood, generate, filter and aggregate.
"""

from __future__ import annotations

import pytest

from tests.harness.conftest import read_run, run_cli
from tests.harness.tiny_models import xlmr_tokenizer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = xlmr_tokenizer()
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=32,
        n_layer=2,
        n_head=2,
        n_positions=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("gpt2")
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_hf_causal_lm_runs_classification_tagging_qa_and_retrieval(
    tiny_gpt2, tmp_path, xtreme_data_dir
):
    tasks = "xtreme_xnli_de,xtreme_panx_de,xtreme_xquad_de,xtreme_tatoeba_de"
    proc = run_cli(
        [
            "eval",
            "run",
            "--model",
            "hf",
            "--model_args",
            f"pretrained={tiny_gpt2}",
            "--tasks",
            tasks,
            "--device",
            "cpu",
            "--limit",
            "6",
            "--batch_size",
            "4",
            "--gen_kwargs",
            "max_gen_toks=8",
            "--output_path",
            str(tmp_path),
            "--log_samples",
        ],
        env={"XTREME_DATA_DIR": str(xtreme_data_dir)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results, samples = read_run(tmp_path)
    row = results["results"]
    assert 0.0 <= row["xtreme_xnli_de"]["acc,none"] <= 1.0
    assert 0.0 <= row["xtreme_panx_de"]["f1,none"] <= 1.0
    assert 0.0 <= row["xtreme_xquad_de"]["f1,none"] <= 1.0
    # XNLI: three log-likelihood requests per document, with lm-eval's German prompt.
    first = samples["xtreme_xnli_de"][0]
    assert len(first["resps"]) == 3
    assert ", richtig? Ja, " in str(first["arguments"])
    # Tatoeba: only source sentences are documents (nothing is generated for the candidate
    # pool), the limit counts them, and each free-text generation was mapped by the retrieval
    # filter to a candidate of the whole pool.
    tatoeba = samples["xtreme_tatoeba_de"]
    assert [s["doc"]["side"] for s in tatoeba] == ["source"] * 6
    assert all(s["filtered_resps"][0].startswith('{"id": "tgt-') for s in tatoeba)
    info = results["xtreme_adv"]["tasks"]["xtreme_tatoeba_de"]
    assert info["n_pool"] == 1000
