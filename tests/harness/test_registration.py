"""The plugin's changes to lm-eval's process: the compiled-template cache."""

from __future__ import annotations

import yaml

from harness_tasks import tasks_path


def test_cached_templates_render_exactly_as_lm_eval(monkeypatch):
    from lm_eval import utils

    from harness_tasks.registration import cache_templates

    original = utils.apply_template
    monkeypatch.setattr(utils, "apply_template", original)  # restored after the test
    compiles = []
    real_from_string = utils.env.from_string

    def counting(source, *args, **kwargs):
        compiles.append(source)
        return real_from_string(source, *args, **kwargs)

    monkeypatch.setattr(utils.env, "from_string", counting)
    cache_templates()
    assert utils.apply_template is not original
    # The real XNLI prompts of three languages on real-looking documents.
    templates = []
    for lang in ("de", "ar", "zh"):
        path = tasks_path() / "xtreme_xnli" / f"xtreme_xnli_{lang}.yaml"
        templates.append(yaml.safe_load(path.read_text(encoding="utf-8"))["doc_to_choice"])
    docs = [
        {"premise": "Er sagte, er komme.", "hypothesis": "Er kommt."},
        {"premise": "قال إنه سيأتي.", "hypothesis": "سيأتي."},
        {"premise": "他说他会来。", "hypothesis": "他会来。"},
    ]
    cached = [utils.apply_template(t, d) for t in templates for d in docs]
    assert compiles == templates  # each template compiled once, for all documents
    assert cached == [original(t, d) for t in templates for d in docs]
    cache_templates()  # idempotent: no second wrapper
    assert utils.apply_template("{{premise}}", docs[0]) == "Er sagte, er komme."
