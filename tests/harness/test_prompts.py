"""LM-route prompts: lm-eval's own (templates, delimiters, PAWS-X pre-processing) with only the
documented word corrections, and XCOPA premises cut only at a final sentence mark."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import datasets
import jinja2
import lm_eval
import pytest
import yaml

from harness_tasks import tasks_path
from harness_tasks.tasks import prompts

LM_TASKS = Path(lm_eval.__file__).parent / "tasks"


class _IgnoreTags(yaml.SafeLoader):
    """Reads lm-eval YAMLs without resolving ``!function`` tags."""


_IgnoreTags.add_multi_constructor("!", lambda loader, suffix, node: None)


def _upstream_tables():
    xnli = importlib.import_module("lm_eval.tasks.xnli.utils").LANGUAGES
    pawsx = importlib.import_module("lm_eval.tasks.paws-x._generate_config").LANGUAGES
    xcopa_utils = importlib.import_module("lm_eval.tasks.xcopa.utils")
    keys = ("QUESTION_WORD", "ENTAILMENT_LABEL", "NEUTRAL_LABEL", "CONTRADICTION_LABEL")
    up = {
        "xnli": {lang: {k: w[k] for k in keys} for lang, w in xnli.items()},
        "pawsx": {lang: {"QUESTION_WORD": w["QUESTION_WORD"], "NO": w["NO"], "YES": w["YES"]}
                  for lang, w in pawsx.items()},
        "xcopa": {lang: dict(getattr(xcopa_utils, f"doc_to_text_{lang}").keywords["connector"])
                  for lang in prompts.XCOPA},
    }  # fmt: skip
    ours = {
        "xnli": {lang: dict(zip(keys, w, strict=True)) for lang, w in prompts.XNLI.items()},
        "pawsx": {lang: dict(zip(("QUESTION_WORD", "NO", "YES"), w, strict=True))
                  for lang, w in prompts.PAWSX.items()},
        "xcopa": {lang: dict(zip(("cause", "effect"), w, strict=True))
                  for lang, w in prompts.XCOPA.items()},
    }  # fmt: skip
    return up, ours


def test_words_differ_from_lm_eval_only_by_the_documented_corrections():
    upstream, ours = _upstream_tables()
    differences = {
        (task, lang, field, upstream[task][lang][field], ours[task][lang][field])
        for task in ours
        for lang in ours[task]
        for field in ours[task][lang]
        if upstream[task][lang][field] != ours[task][lang][field]
    }
    documented = {c[:5] for c in prompts.CORRECTIONS}
    assert differences == documented
    # Each upstream file named as carrying the error does carry it.
    for _, _, _, wrong, _, _, files in prompts.CORRECTIONS:
        for name in files:
            text = (LM_TASKS.parent / name.removeprefix("lm_eval/")).read_text(encoding="utf-8")
            assert wrong in " ".join(text.split()), (name, wrong)  # YAML may wrap a line


@pytest.fixture(scope="module")
def task_manager():
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=[str(tasks_path())], include_defaults=False)


def _task(manager, name, monkeypatch, data_dir):
    monkeypatch.setenv("XTREME_DATA_DIR", str(data_dir))
    return manager.load([name])["tasks"][name]


def _render(template: str, doc: dict):
    return jinja2.Environment().from_string(template).render(**doc)


def test_xnli_prompt_and_delimiter_are_lm_eval_s(task_manager, monkeypatch, xtreme_data_dir):
    task = _task(task_manager, "xtreme_xnli_de", monkeypatch, xtreme_data_dir)
    doc = task.eval_docs[0]
    common = yaml.safe_load((LM_TASKS / "xnli" / "xnli_common_yaml").read_text())
    upstream = yaml.safe_load((LM_TASKS / "xnli" / "xnli_de.yaml").read_text())
    from lm_eval.api.task import TaskConfig

    expected_delimiter = common.get("target_delimiter", TaskConfig(task="x").target_delimiter)
    assert task.config.target_delimiter == expected_delimiter == " "
    assert task.doc_to_choice(doc) == eval(_render(upstream["doc_to_choice"], doc))  # noqa: S307
    arabic = _task(task_manager, "xtreme_xnli_ar", monkeypatch, xtreme_data_dir)
    choices = arabic.doc_to_choice(arabic.eval_docs[0])
    assert "صحيح? لا, " in choices[2] and "رقم" not in choices[2]


def test_pawsx_is_preprocessed_as_lm_eval_for_the_lm_only(
    task_manager, monkeypatch, xtreme_data_dir
):
    task = _task(task_manager, "xtreme_pawsx_de", monkeypatch, xtreme_data_dir)
    assert task.config.target_delimiter == ""
    raw = [
        line.split("\t")
        for line in (xtreme_data_dir / "pawsx/test-de.tsv").read_text().splitlines()
    ]
    utils = importlib.import_module("lm_eval.tasks.paws-x.utils")
    upstream = yaml.load((LM_TASKS / "paws-x" / "paws_de.yaml").read_text(), Loader=_IgnoreTags)
    rows = datasets.Dataset.from_list(
        [{"sentence1": a, "sentence2": b, "label": int(c)} for a, b, c in raw[:200]]
    )
    processed = list(utils.process_docs_paraphrases(rows))
    changed = 0
    for doc, reference in zip(task.eval_docs.select(range(200)), processed, strict=True):
        want = eval(_render(upstream["doc_to_choice"], reference))  # noqa: S307
        assert task.doc_to_choice(doc) == want
        changed += doc["sentence1"] != reference["sentence1"]
    assert changed > 50  # the pre-processing did something on real data ...
    # ... while the encoder still reads the sentences as the file has them.
    assert task.eval_docs[0]["sentence1"] == raw[0][0]
    french = _task(task_manager, "xtreme_pawsx_fr", monkeypatch, xtreme_data_dir)
    assert "n'est-ce pas? Non, " in french.doc_to_choice(french.eval_docs[0])[0]


def test_xcopa_cuts_only_a_final_sentence_mark(task_manager, monkeypatch, tmp_path):
    (tmp_path / "xcopa").mkdir()
    premises = {
        "th": "ผู้หญิงคนนั้นสูญเสียการทรงตัว",  # Thai: no final period
        "ta": "அந்தப் பெண் சமநிலையை இழந்தாள்",
        "it": "La donna perse l'equilibrio.",
    }
    for lang, premise in premises.items():
        record = {"premise": premise, "choice1": "A", "choice2": "B", "question": "effect",
                  "label": 0, "idx": 1}  # fmt: skip
        (tmp_path / "xcopa" / f"val-{lang}.jsonl").write_text(
            json.dumps(record) + "\n", encoding="utf-8"
        )
    texts = {
        lang: (lambda t: t.doc_to_text(t.eval_docs[0]))(
            _task(task_manager, f"xtreme_xcopa_{lang}", monkeypatch, tmp_path)
        )
        for lang in premises
    }
    assert texts["th"] == premises["th"] + " ดังนั้น"  # last Thai character kept
    assert texts["ta"] == premises["ta"] + " எனவே"
    # With a period, exactly lm-eval's doc_to_text.
    utils = importlib.import_module("lm_eval.tasks.xcopa.utils")
    assert texts["it"] == utils.doc_to_text_it({"premise": premises["it"], "question": "effect"})
