"""Python API for ``lm_eval.simple_evaluate`` users.

>>> from harness_tasks.api import simple_evaluate
>>> results = simple_evaluate(model="xtreme-encoder", model_args="pretrained=DIR",
...                           tasks=["xtreme_xnli_de"], device="cpu")
"""

from __future__ import annotations

from typing import Any

from harness_tasks.registration import (
    cache_templates,
    include_paths,
    install_task_manager,
    register_model,
)


def task_manager(include_path: str | list[str] | None = None, **kwargs: Any):
    """An lm-eval ``TaskManager`` that indexes xtreme-adv's tasks (plus ``include_path``)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=include_paths(include_path), **kwargs)


def simple_evaluate(*args: Any, include_path: str | list[str] | None = None, **kwargs: Any):
    """``lm_eval.simple_evaluate`` with the ``xtreme-encoder`` model and xtreme tasks known.

    Task globs such as ``"xtreme_xnli_*"`` are expanded first (lm-eval's ``TaskManager.load``
    does not expand them from Python).
    """
    from lm_eval import simple_evaluate as lm_simple_evaluate

    register_model()
    install_task_manager()
    cache_templates()
    manager = kwargs.pop("task_manager", None) or task_manager(include_path)
    tasks = kwargs.pop("tasks", None)
    if tasks is not None:
        names = [tasks] if isinstance(tasks, str) else list(tasks)
        tasks = [m for name in names for m in (manager.match_tasks([name]) or [name])]
    return lm_simple_evaluate(*args, tasks=tasks, task_manager=manager, **kwargs)
