"""The ``xtreme-encoder`` adapter through lm-eval vs a raw batched forward pass, side by side.

Same model (the embedded multilingual-e5-small with an XNLI classification head), same
documents (XNLI German dev), same batch size. Goal: the adapter reaches at least 0.8 of the
raw pass's examples per second. Run:

    pytest benchmarks/test_bench_adapter.py --benchmark-only -s

The ratio is printed at the end and stored in each benchmark's ``extra_info``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

N_DOCS = int(os.environ.get("XTREME_BENCH_DOCS", "1024"))
BATCH = 32
RATES: dict[str, float] = {}
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "xtreme"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    if not SHARED.is_dir():
        pytest.skip("needs ../shared/data/xtreme")
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from harness_tasks.data import load_eval_split
    from harness_tasks.embedded import default_model_dir
    from harness_tasks.families import FAMILIES

    torch.set_num_threads(2)
    labels = list(FAMILIES["xnli"].labels)
    folder = tmp_path_factory.mktemp("bench") / "e5-xnli"
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        default_model_dir(),
        num_labels=3,
        id2label=dict(enumerate(labels)),
        label2id={n: i for i, n in enumerate(labels)},
    )
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(default_model_dir()).save_pretrained(folder)
    docs = load_eval_split("xnli", "de", data_dir=SHARED).dataset.select(range(N_DOCS))
    os.environ["XTREME_DATA_DIR"] = str(SHARED)
    os.environ["XTREME_ADV_ONLY_TASKS"] = "1"
    yield folder, docs
    print(
        f"\nadapter / raw examples per second: {RATES['adapter'] / RATES['raw']:.3f} "
        f"(adapter {RATES['adapter']:.1f}/s, raw {RATES['raw']:.1f}/s, {N_DOCS} docs)"
    )


@pytest.mark.benchmark(group="xnli-de-inference")
def test_raw_batched_forward(benchmark, setup):
    """Baseline: tokenizer + model forward in batches, longest first (dynamic padding)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder, docs = setup
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    premises, hypotheses = docs["premise"], docs["hypothesis"]
    order = sorted(range(len(docs)), key=lambda i: -len(premises[i] + hypotheses[i]))

    def run():
        preds = [0] * len(order)
        with torch.inference_mode():
            for start in range(0, len(order), BATCH):
                idx = order[start : start + BATCH]
                enc = tokenizer(
                    [premises[i] for i in idx],
                    [hypotheses[i] for i in idx],
                    truncation=True,
                    max_length=256,
                    padding=True,
                    return_tensors="pt",
                )
                for i, p in zip(idx, model(**enc).logits.argmax(-1).tolist()):
                    preds[i] = p
        return preds

    preds = benchmark.pedantic(run, rounds=2, iterations=1, warmup_rounds=0)
    assert len(preds) == len(docs)
    RATES["raw"] = len(docs) / benchmark.stats.stats.mean
    benchmark.extra_info["examples_per_second"] = RATES["raw"]


@pytest.mark.benchmark(group="xnli-de-inference")
def test_adapter_through_lm_eval(benchmark, setup):
    """The full path: lm-eval builds requests (3 per doc), the adapter answers, lm-eval scores."""
    from harness_tasks.api import simple_evaluate

    folder, docs = setup

    def run():
        return simple_evaluate(
            model="xtreme-encoder",
            model_args=f"pretrained={folder}",
            tasks=["xtreme_xnli_de"],
            limit=len(docs),
            device="cpu",
            batch_size=BATCH,
            bootstrap_iters=0,
        )

    out = benchmark.pedantic(run, rounds=2, iterations=1, warmup_rounds=0)
    assert out["results"]["xtreme_xnli_de"]["acc,none"] >= 0.0
    RATES["adapter"] = len(docs) / benchmark.stats.stats.mean
    benchmark.extra_info["examples_per_second"] = RATES["adapter"]
    if "raw" in RATES:
        benchmark.extra_info["ratio_to_raw"] = RATES["adapter"] / RATES["raw"]
