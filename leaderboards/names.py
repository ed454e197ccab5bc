"""Task names of docs/contracts.md section 2, parsed without importing `harness_tasks`."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

TASKS = ("xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc", "tatoeba", "xcopa")
ATTACKS = ("charnoise", "visual", "mlmswap", "codeswitch", "distractor", "entityswap")
# Primary metric per task (contracts.md section 2); the results key is "<metric>,none".
PRIMARY_METRIC = {
    "xnli": "acc",
    "pawsx": "acc",
    "xcopa": "acc",
    "tatoeba": "acc",
    "udpos": "acc",
    "bucc": "f1",
    "panx": "f1",
    "xquad": "f1",
    "mlqa": "f1",
    "tydiqa": "f1",
}
FILTER = "none"

_TASKS = "|".join(TASKS)
_ATTACKS = "|".join(ATTACKS)
_CLEAN_RE = re.compile(rf"^xtreme_(?P<task>{_TASKS})_(?P<lang>[a-z]{{2,3}})$")
# Adaptive sets (adversarial.adaptive_sets): attack ``adaptive-<family>-<10 hex of weights>``.
ADAPTIVE_RE = re.compile(r"^adaptive-(?P<family>[a-z0-9]+)-(?P<key>[0-9a-f]{10})$")
_ADV_RE = re.compile(
    rf"^xtreme_adv_(?P<task>{_TASKS})_(?P<attack>{_ATTACKS}|adaptive-[a-z0-9]+-[0-9a-f]{{10}})"
    rf"_(?P<lang>[a-z]{{2,3}})$"
)


@dataclass(frozen=True)
class TaskName:
    """A parsed lm-eval task name; ``attack`` is None for a clean task."""

    task: str
    lang: str
    attack: str | None = None

    @property
    def name(self) -> str:
        """The lm-eval task name."""
        if self.attack is None:
            return f"xtreme_{self.task}_{self.lang}"
        return f"xtreme_adv_{self.task}_{self.attack}_{self.lang}"

    @property
    def clean(self) -> TaskName:
        """The clean twin of this task (itself when clean)."""
        return TaskName(self.task, self.lang)

    @property
    def metric(self) -> str:
        """The task's primary metric."""
        return PRIMARY_METRIC[self.task]


@functools.lru_cache(maxsize=65536)  # the same names recur in every results file
def parse_task(name: str) -> TaskName | None:
    """Parse ``xtreme_<task>_<lang>`` or ``xtreme_adv_<task>_<attack>_<lang>``; None otherwise."""
    m = _ADV_RE.match(name)
    if m:
        return TaskName(m["task"], m["lang"], m["attack"])
    m = _CLEAN_RE.match(name)
    if m:
        return TaskName(m["task"], m["lang"])
    return None
