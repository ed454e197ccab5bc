"""Sets of one parallel half (docs/contracts.md section 8).

XNLI is a translation of XNLI-en dev; a checkpoint trained on half 0 of it is scored on half 1
only. ``attack adaptive`` against such a checkpoint attacks only half 1 (its card says so), so
the set's success rate and queries are never measured on translations of training rows; a static
``attack build --parallel-half 1`` does the same for a study's models, and perturbs each document
exactly as the build of the whole split does (edits are seeded by the document's position in the
split, not in the set).
"""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from adversarial.adaptive_sets import AdaptiveRequest, build_adaptive
from adversarial.build import BuildRequest, build
from adversarial.registry import load_set
from harness_tasks.data import load_eval_split
from harness_tasks.data.parallel import RULE, parallel_half, parallel_key
from harness_tasks.errors import XtremeAdvError
from tests.adversarial.fitted_heads import fit_xnli

NO_SIM = {"min_similarity": 0}


def _half(doc_id: str) -> int:
    return parallel_half(parallel_key(doc_id, "de"))


@pytest.mark.shared_data
def test_static_set_of_one_half_perturbs_like_the_whole_split(xtreme_data_dir, tmp_path):
    def built(root: Path, **kwargs) -> list[dict]:
        request = BuildRequest("xnli", "de", "charnoise", NO_SIM, seed=3,
                               data_dir=str(xtreme_data_dir), **kwargs)  # fmt: skip
        build(request, root=root, progress=False)
        return load_set("xnli", "charnoise", "de", root=root)[0].to_list()

    half = built(tmp_path / "half", limit=10, parallel_half=1)
    whole = {r["id"]: r for r in built(tmp_path / "whole", limit=40)}
    ids = load_eval_split("xnli", "de", data_dir=str(xtreme_data_dir)).dataset["id"]
    assert [r["id"] for r in half] == [i for i in ids if _half(i) == 1][:10]
    assert all(r["id"] in whole for r in half)
    for row in half:
        assert row == whole[row["id"]]  # same edits, same text, same bookkeeping
    assert sum(r["adv_status"] == "attacked" for r in half) >= 8
    _, manifest = load_set("xnli", "charnoise", "de", root=tmp_path / "half")
    n_half = sum(_half(i) == 1 for i in ids)
    assert manifest["parallel_half"] == {"rule": RULE, "half": 1, "n_docs": n_half}
    assert manifest["limit"] == 10
    assert "parallel_half" not in load_set("xnli", "charnoise", "de", root=tmp_path / "whole")[1]
    # Each half's first 6: what a model scored on half 0, on half 1 or on everything
    # (--limit 6) is scored on, whatever the hash of the first documents' keys.
    each = built(tmp_path / "each", limit=6, each_half=True)
    firsts = [i for i in ids if _half(i) == 0][:6] + [i for i in ids if _half(i) == 1][:6]
    assert [r["id"] for r in each] == sorted(firsts, key=ids.index)
    assert set(ids[:6]) <= set(firsts)
    for row in each:
        if row["id"] in whole:
            assert row == whole[row["id"]]
    _, manifest = load_set("xnli", "charnoise", "de", root=tmp_path / "each")
    assert manifest["parallel_half"]["half"] == "each" and manifest["limit"] == 6
    with pytest.raises(XtremeAdvError, match="--each-half takes --limit"):
        BuildRequest("xnli", "de", "charnoise", NO_SIM, each_half=True)
    with pytest.raises(XtremeAdvError, match="tatoeba is not a parallel task"):
        BuildRequest("tatoeba", "de", "charnoise", NO_SIM, parallel_half=1)
    with pytest.raises(XtremeAdvError, match="must be 0 or 1"):
        BuildRequest("xnli", "de", "charnoise", NO_SIM, parallel_half=2)


@pytest.mark.shared_data
def test_adaptive_attack_spares_the_half_the_checkpoint_was_trained_on(
    embedded_model_dir_small, xtreme_data_dir, tmp_path
):
    docs = load_eval_split("xnli", "de", data_dir=str(xtreme_data_dir)).dataset.to_list()
    model = tmp_path / "clf"
    fit_xnli(embedded_model_dir_small, docs[:48], model)
    request = dict(task="xnli", lang="de", attack="charnoise", params=NO_SIM, query_budget=30,
                   data_dir=str(xtreme_data_dir), limit=6)  # fmt: skip

    def attacked(root: Path) -> tuple[list[str], dict]:
        folder = build_adaptive(AdaptiveRequest(str(model), **request), root=root)
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        rows = datasets.Dataset.from_parquet(str(folder / "data.parquet"))
        return rows["id"], manifest

    everything, manifest = attacked(tmp_path / "plain")
    assert everything == [d["id"] for d in docs[:6]] and "parallel_half" not in manifest
    # The card of a checkpoint trained on half 0 of XNLI-en dev (what `xtreme-adv train` writes).
    exclusion = {"eval_task": "xnli", "rule": RULE, "trained_half": 0, "scored_half": 1,
                 "trained_on": "xnli/dev-en.tsv"}  # fmt: skip
    card = {"scoring_exclusions": [exclusion]}
    (model / "provenance.json").write_text(json.dumps(card), encoding="utf-8")
    scored, manifest = attacked(tmp_path / "card")
    assert scored == [d["id"] for d in docs if _half(d["id"]) == 1][:6]
    assert manifest["parallel_half"]["half"] == 1
