"""Make lm-eval 0.4.13 see this plugin: its task folders and the ``xtreme-encoder`` model.

lm-eval 0.4.13 has no plugin hooks. Its CLI builds a ``TaskManager`` at call time (imported
from ``lm_eval.tasks`` inside the function), so swapping that name for a subclass that adds
our include paths reaches ``run``, ``ls`` and ``validate`` alike. The model registry imports
``lm_eval.models`` only while empty, so the built-ins are imported before ours is registered
(otherwise ``hf`` would disappear).
"""

from __future__ import annotations

import os
from pathlib import Path

from harness_tasks import tasks_path


def adversarial_tasks_path() -> Path:
    """Folder where ``xtreme-adv attack build`` writes the YAMLs of built adversarial sets."""
    root = os.environ.get("XTREME_ADV_DIR") or Path.home() / ".cache" / "xtreme-adv" / "adversarial"
    return Path(root) / "tasks"


def include_paths(extra: str | list[str] | None = None) -> list[str]:
    """Our task folders plus the user's ``--include_path`` (one path or a list)."""
    paths = [str(tasks_path())]
    adv = adversarial_tasks_path()
    if adv.is_dir():
        paths.append(str(adv))
    if isinstance(extra, str):
        paths.append(extra)
    elif extra:
        paths.extend(str(p) for p in extra)
    return paths


def register_model() -> None:
    """Register ``xtreme-encoder`` in lm-eval's model registry, keeping the built-in models."""
    import lm_eval.models  # noqa: F401 - populate the registry first

    import harness_tasks.adapter.encoder_lm  # noqa: F401 - registers on import


def install_task_manager() -> None:
    """Replace ``lm_eval.tasks.TaskManager`` by a subclass that always includes our tasks."""
    import lm_eval.tasks as lm_tasks

    base = lm_tasks.TaskManager
    if getattr(base, "_xtreme_adv", False):
        return

    class XtremeTaskManager(base):  # type: ignore[misc, valid-type]
        _xtreme_adv = True

        def __init__(self, *args, include_path=None, **kwargs):
            if os.environ.get("XTREME_ADV_ONLY_TASKS") == "1":
                # Skip indexing lm-eval's ~10k built-in YAMLs (8-9 s) when only ours are used.
                kwargs["include_defaults"] = False
            super().__init__(*args, include_path=include_paths(include_path), **kwargs)

    lm_tasks.TaskManager = XtremeTaskManager


def cache_templates() -> None:
    """Compile each distinct Jinja prompt template once (lm-eval 0.4.13 recompiles it for every
    document and field, about 2 ms each: a quarter of an encoder's evaluation time on XNLI).

    Same environment, same template text, same rendering: only the compile step is shared.
    """
    import functools

    from lm_eval import utils

    if getattr(utils.apply_template, "_xtreme_adv", False):
        return
    compile_template = functools.lru_cache(maxsize=4096)(utils.env.from_string)

    def apply_template(template: str, doc: dict) -> str:
        return compile_template(template).render(**doc)

    apply_template._xtreme_adv = True  # type: ignore[attr-defined]
    utils.apply_template = apply_template
