"""Reading lm-eval 0.4.13 output: a real run, and the synthetic generator's fidelity to it."""

from __future__ import annotations

import json

import pytest

from leaderboards.results import LocalFiles, read_inputs, read_results, task_hash_of
from leaderboards.synthetic import SyntheticModel, write_results_folder

from .conftest import PLAN, REAL, results_file


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_reads_a_real_lm_eval_run():
    # tests/leaderboards/data holds the output of a real `lm_eval run --model dummy
    # --log_samples` on two six-document tasks named like this project's tasks.
    runs = read_inputs([REAL])
    (run,) = runs.values()
    raw = json.loads(results_file(REAL).read_text())
    assert run.model_id == raw["model_name"]
    clean = run.tasks["xtreme_xnli_de"]
    adv = run.tasks["xtreme_adv_xnli_charnoise_de"]
    assert clean.value == raw["results"]["xtreme_xnli_de"]["acc,none"]
    assert clean.stderr == raw["results"]["xtreme_xnli_de"]["acc_stderr,none"]
    assert clean.version == "1.0" and clean.n == 6
    # Per-document scores come from the samples file, in file order, keyed by doc.id.
    lines = _lines(next(REAL.glob("samples_xtreme_xnli_de_*.jsonl")))
    assert list(clean.samples.ids) == [line["doc"]["id"] for line in lines]
    assert clean.samples.values.tolist() == [line["acc"] for line in lines]
    assert clean.samples.binary and adv.samples.binary
    # lm-eval's task hash is reproduced from the samples' doc/prompt/target hashes.
    assert task_hash_of(lines) == raw["task_hashes"]["xtreme_xnli_de"]


def test_synthetic_results_have_the_keys_of_a_real_run(tmp_path):
    real = json.loads(results_file(REAL).read_text())
    path = write_results_folder(tmp_path, SyntheticModel("m1"), PLAN, n_docs=5)
    syn = json.loads(path.read_text())
    # Same top-level keys, plus the section `xtreme-adv eval` adds (contracts.md section 6).
    assert set(syn) - set(real) == {"xtreme_adv"}
    assert set(real) <= set(syn)
    assert set(real["config"]) <= set(syn["config"])
    assert set(syn["config"]) - set(real["config"]) == {"xtreme_adv_model"}
    real_task = real["results"]["xtreme_xnli_de"]
    assert set(syn["results"]["xtreme_xnli_de"]) == set(real_task)
    # Our YAMLs carry tags (contracts.md section 2); the real dummy task had none.
    assert set(syn["configs"]["xtreme_xnli_de"]) - {"tag"} == set(real["configs"]["xtreme_xnli_de"])
    assert set(syn["n-samples"]["xtreme_xnli_de"]) == set(real["n-samples"]["xtreme_xnli_de"])
    real_line = _lines(next(REAL.glob("samples_xtreme_xnli_de_*.jsonl")))[0]
    syn_line = _lines(next(path.parent.glob("samples_xtreme_xnli_de_*.jsonl")))[0]
    assert set(syn_line) == set(real_line)
    # Its task hashes are lm-eval's: the reader recomputes them without complaint.
    run = read_results(LocalFiles(tmp_path), path.relative_to(tmp_path).as_posix())
    assert run.tasks["xtreme_xnli_de"].task_hash == syn["task_hashes"]["xtreme_xnli_de"]


def test_provenance_from_config_or_from_a_card_file(tmp_path):
    a = SyntheticModel("from-config", seed=1)
    b = SyntheticModel("from-file", seed=2)
    write_results_folder(tmp_path, a, PLAN, n_docs=5, card="config")
    write_results_folder(tmp_path, b, PLAN, n_docs=5, card="file")
    runs = read_inputs([tmp_path])
    assert runs["from-config"].provenance == a.provenance()
    assert runs["from-file"].provenance == b.provenance()


def test_without_a_card_the_model_is_named_by_its_pretrained_argument(tmp_path):
    write_results_folder(tmp_path, SyntheticModel("anon"), PLAN, n_docs=5, card="none")
    (run,) = read_inputs([tmp_path]).values()
    assert run.provenance is None
    assert run.model_id == "/synthetic/checkpoints/anon"  # from model_args "pretrained=..."


def test_a_rerun_in_the_same_folder_replaces_older_results(tmp_path):
    model = SyntheticModel("m")
    old = write_results_folder(tmp_path, model, PLAN, n_docs=5)
    new = old.with_name("results_2026-11-26T00-00-00.000000.json")
    data = json.loads(old.read_text())
    data["date"] += 86400
    data["results"]["xtreme_xnli_de"]["acc,none"] = 0.123
    data["task_hashes"] = {}
    new.write_text(json.dumps(data))
    (run,) = read_inputs([tmp_path]).values()
    assert run.tasks["xtreme_xnli_de"].value == 0.123
    assert run.tasks["xtreme_xnli_de"].source == str(new)
    assert len(run.files) == 2


@pytest.mark.parametrize("value", ["pretrained=/ckpt/a,batch_size=8", {"pretrained": "/ckpt/a"}])
def test_model_args_as_string_or_dict(tmp_path, value):
    path = write_results_folder(tmp_path, SyntheticModel("x"), PLAN, n_docs=5, card="none")
    data = json.loads(path.read_text())
    data["config"]["model_args"] = value
    path.write_text(json.dumps(data))
    (run,) = read_inputs([tmp_path]).values()
    assert run.model_id == "/ckpt/a"


def test_fast_synthetic_writer_writes_the_same_files(tmp_path):
    """The benchmark's fast writer (cached line prefixes) gives the same data as the plain one."""
    from leaderboards.synthetic import SyntheticModel, write_results_folder

    plan = [
        ("xnli", ["de"], ["charnoise"]),
        ("panx", ["de"], ["visual"]),
        ("bucc", ["de"], ["charnoise"]),
    ]
    model = SyntheticModel("fast-check")
    a = write_results_folder(tmp_path / "a", model, plan, n_docs=15).parent
    b = write_results_folder(tmp_path / "b", model, plan, n_docs=15, fast=True).parent
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir()) and len(names) == 7
    for name in names:
        if name.endswith(".jsonl"):
            assert _lines(a / name) == _lines(b / name)
        else:
            assert json.loads((a / name).read_text()) == json.loads((b / name).read_text())
