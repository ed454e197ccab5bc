"""Adaptive vs static charnoise on Tatoeba with the embedded model (long: minutes on a CPU).

Run: ``XTREME_ADV_LONG=1 pytest -q -s tests/adversarial/test_adaptive_tatoeba_long.py``
(``XTREME_ADV_TATOEBA_N`` sources per language, default 50; ``XTREME_ADV_TATOEBA_LANGS`` a
comma-separated subset; ``XTREME_ADV_TATOEBA_JSON`` also writes the table).

Per language (de, ru, zh, ar, hi): the first N source sentences, the whole English candidate
pool, the charnoise family with its default constraints (max_ratio 0.25 counted in original
words, the similarity floor calibrated on unrelated pairs) for both sets; the adaptive set
searches against the embedded model with 200 queries per sentence. Top-1 accuracy of each
set is the adapter's own retrieval (:meth:`EncoderCheckpoint.retrieve`, what lm-eval scores)
on the set's rows.
"""

from __future__ import annotations

import json
import os

import pytest

from adversarial.adaptive_sets import AdaptiveRequest, build_adaptive
from adversarial.build import BuildRequest, build
from adversarial.registry import load_set
from harness_tasks.adapter.checkpoint import EncoderCheckpoint
from harness_tasks.data import load_eval_split
from harness_tasks.families import FAMILIES

LANGS = ("de", "ru", "zh", "ar", "hi")
BUDGET = 200


def _top1(ckpt, rows: list[dict], ids: list[str]) -> float:
    answers = dict(zip([r["id"] for r in rows], ckpt.retrieve(FAMILIES["tatoeba"], rows),
                       strict=True))  # fmt: skip
    gold = {r["id"]: r["gold"] for r in rows}
    return sum(json.loads(answers[i])["id"] == gold[i] for i in ids) / len(ids)


@pytest.mark.long
@pytest.mark.shared_data
def test_adaptive_charnoise_beats_static_on_tatoeba(embedded_model_dir, xtreme_data_dir, tmp_path):
    n = int(os.environ.get("XTREME_ADV_TATOEBA_N", "50"))
    ckpt = EncoderCheckpoint(embedded_model_dir)
    table = {}
    langs = os.environ.get("XTREME_ADV_TATOEBA_LANGS", ",".join(LANGS)).split(",")
    for lang in langs:
        clean = load_eval_split("tatoeba", lang, data_dir=str(xtreme_data_dir)).dataset.to_list()
        sources = [d for d in clean if d["side"] == "source"][:n]
        ids = [d["id"] for d in sources]
        pool = [d for d in clean if d["side"] == "target"]
        static = BuildRequest("tatoeba", lang, "charnoise", data_dir=str(xtreme_data_dir),
                              limit=n)  # fmt: skip
        build(static, root=tmp_path, progress=False)
        static_rows = load_set("tatoeba", "charnoise", lang, tmp_path)[0].to_list()
        adaptive = AdaptiveRequest(str(embedded_model_dir), "tatoeba", lang, "charnoise",
                                   query_budget=BUDGET, data_dir=str(xtreme_data_dir),
                                   limit=n)  # fmt: skip
        build_adaptive(adaptive, root=tmp_path)
        adaptive_rows, manifest = load_set("tatoeba", adaptive.attack, lang, tmp_path)
        table[lang] = {
            "n": len(ids),
            "clean_top1": round(_top1(ckpt, sources + pool, ids), 4),
            "static_top1": round(_top1(ckpt, static_rows, ids), 4),
            "adaptive_top1": round(_top1(ckpt, adaptive_rows.to_list(), ids), 4),
            "adaptive_metrics": manifest["adaptive"]["metrics"],
        }
        print(lang, json.dumps(table[lang]), flush=True)
    if os.environ.get("XTREME_ADV_TATOEBA_JSON"):
        with open(os.environ["XTREME_ADV_TATOEBA_JSON"], "w", encoding="utf-8") as handle:
            json.dump(table, handle, indent=1)
    for lang, row in table.items():
        assert row["adaptive_top1"] < row["static_top1"], (lang, row)
    gap = sum(r["static_top1"] - r["adaptive_top1"] for r in table.values()) / len(table)
    assert round(gap, 6) >= 0.1, table  # at least 10 points lower on average
