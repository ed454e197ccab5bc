"""A root of built sets (a study's ``adversarial/``) moved elsewhere evaluates where it is now:
the task YAMLs name no absolute root; lm-eval 0.4.13 resolves the sets beside the YAML.

The default run builds lm-eval's task from the moved root (documents and provenance); scoring it
through ``simple_evaluate`` and ``xtreme-adv eval run --include_path`` is marked long
(``--run-long``: 20-50 s each on the shared CPU)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from adversarial.build import BuildRequest, build, set_dir
from adversarial.registry import HOOK_MODULE, tasks_dir

NAME = "xtreme_adv_xnli_charnoise_de"
XTREME_ADV = str(Path(sys.executable).with_name("xtreme-adv"))


def _build_and_move(tmp_path: Path, xtreme_data_dir: Path) -> tuple[Path, Path]:
    """Build a small set under ``tmp_path/built/adv``, move that root; return (old, new)."""
    old = tmp_path / "built" / "adv"
    params = {"min_similarity": 0, "floor_quantile": 0}  # no similarity model: fast
    request = BuildRequest("xnli", "de", "charnoise", params, data_dir=str(xtreme_data_dir),
                           limit=8)  # fmt: skip
    build(request, root=old, progress=False)
    text = (tasks_dir(old) / f"{NAME}.yaml").read_text(encoding="utf-8")
    assert str(old.resolve()) not in text and "root" not in text
    assert "include" not in text and "/harness_tasks/" not in text  # nor the installation
    assert f"!function {HOOK_MODULE}.lm_eval_dataset" in text
    new = tmp_path / "elsewhere" / "copy" / "adv"
    new.parent.mkdir(parents=True)
    shutil.move(old, new)
    assert not old.exists()
    return old, new


def test_lm_eval_loads_a_moved_root_from_its_new_place(tmp_path, xtreme_data_dir) -> None:
    from lm_eval.tasks import TaskManager

    from harness_tasks import tasks_path
    from harness_tasks.data import LOADED

    _, new = _build_and_move(tmp_path, xtreme_data_dir)
    manifest = json.loads((set_dir(new, "xnli", "charnoise", "de") / "manifest.json").read_text())
    manager = TaskManager(include_path=[str(tasks_path()), str(tasks_dir(new))],
                          include_defaults=False)  # fmt: skip
    task = manager.load([NAME])["tasks"][NAME]
    assert len(task.eval_docs) == 8
    # Provenance as before: the set folder read (the new one) and its data hash.
    record = LOADED[NAME]
    assert record["source"] == str(set_dir(new.resolve(), "xnli", "charnoise", "de"))
    assert record["data_sha256"] == manifest["data"]["sha256"]


CLEAN = [
    ("xnli", "de"), ("pawsx", "ja"), ("xcopa", "et"), ("xquad", "ar"), ("mlqa", "hi"),
    ("tydiqa", "ru"), ("udpos", "tr"), ("panx", "zh"), ("tatoeba", "ko"), ("bucc", "zh"),
]  # fmt: skip


@pytest.mark.parametrize(("task", "lang"), CLEAN)
def test_written_yaml_is_the_clean_configuration_lm_eval_reads(tmp_path, task, lang) -> None:
    """lm-eval reads the written YAML (no include) as it reads one that includes the clean
    twin by path: every key equal, functions resolved to the same objects, but the set's own
    task, tags, dataset arguments and hook."""
    from lm_eval.tasks._yaml_loader import load_yaml

    from adversarial.registry import _clean_yaml, write_task_yamls

    written = load_yaml(write_task_yamls(tmp_path / "adv", task, "charnoise", lang))
    reference = tmp_path / "reference.yaml"
    reference.write_text(f"include: {_clean_yaml(task, lang)}\n", encoding="utf-8")
    clean = load_yaml(reference)
    own = {"task", "tag", "dataset_kwargs", "custom_dataset"}
    assert set(written) == set(clean)
    assert {k: written[k] for k in set(clean) - own} == {k: clean[k] for k in set(clean) - own}
    assert written["task"] == f"xtreme_adv_{task}_charnoise_{lang}"
    assert written["dataset_kwargs"] == {"task": task, "attack": "charnoise", "lang": lang}
    assert written["custom_dataset"].__module__.endswith(HOOK_MODULE)


def test_a_function_beside_a_clean_yaml_is_refused(tmp_path) -> None:
    from adversarial.registry import merged_yaml
    from harness_tasks.errors import XtremeAdvError

    (tmp_path / "utils.py").write_text("def f(x):\n    return x\n", encoding="utf-8")
    (tmp_path / "base.yaml").write_text("process_docs: !function utils.f\n", encoding="utf-8")
    (tmp_path / "task.yaml").write_text("include: base.yaml\ntask: t\n", encoding="utf-8")
    with pytest.raises(XtremeAdvError, match="utils.f is a module beside the YAML"):
        merged_yaml(tmp_path / "task.yaml")
    (tmp_path / "base.yaml").write_text("process_docs: !function harness_tasks.x.f\n")
    assert merged_yaml(tmp_path / "task.yaml") == {"process_docs": "harness_tasks.x.f",
                                                    "task": "t"}  # fmt: skip


@pytest.mark.long  # 20-30 s (lm-eval's index); the test above guards the default run
def test_simple_evaluate_scores_a_moved_root(
    tmp_path, xtreme_data_dir, small_classifier, monkeypatch
) -> None:
    from harness_tasks.api import simple_evaluate

    _, new = _build_and_move(tmp_path, xtreme_data_dir)
    monkeypatch.setenv("XTREME_ADV_DIR", str(tmp_path / "default-root"))  # nothing there
    monkeypatch.setenv("XTREME_DATA_DIR", str(xtreme_data_dir))
    results = simple_evaluate(
        model="xtreme-encoder", model_args=f"pretrained={small_classifier}", tasks=[NAME],
        include_path=str(tasks_dir(new)), device="cpu",
    )  # fmt: skip
    assert results["results"][NAME]["sample_len"] == 8
    assert 0.0 <= results["results"][NAME]["acc,none"] <= 1.0


@pytest.mark.long
def test_eval_run_scores_a_moved_root(tmp_path, xtreme_data_dir, small_classifier) -> None:
    _, new = _build_and_move(tmp_path, xtreme_data_dir)
    # The stock way to add a task folder; nothing registered from the default root.
    env = dict(os.environ, XTREME_ADV_DIR=str(tmp_path / "default-root"), HF_HUB_OFFLINE="1",
               XTREME_DATA_DIR=str(xtreme_data_dir), OMP_NUM_THREADS="2")  # fmt: skip
    out = tmp_path / "results"
    proc = subprocess.run(
        [XTREME_ADV, "eval", "run", "--model", "xtreme-encoder", "--model_args",
         f"pretrained={small_classifier}", "--tasks", NAME, "--include_path",
         str(tasks_dir(new)), "--device", "cpu", "--output_path", str(out)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = out.rglob("results_*.json")
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["results"][NAME]["sample_len"] == 8
    assert 0.0 <= report["results"][NAME]["acc,none"] <= 1.0
    record = report["xtreme_adv"]["tasks"][NAME]
    assert record["source"] == str(set_dir(new.resolve(), "xnli", "charnoise", "de"))
