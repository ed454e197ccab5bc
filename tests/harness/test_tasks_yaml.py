"""The generated task YAMLs are current and lm-eval indexes every task, tag and group."""

from __future__ import annotations

import pytest

from harness_tasks.families import FAMILIES
from harness_tasks.tasks.generate import write_all
from tests.harness.conftest import run_cli


def test_checked_in_yamls_are_current():
    assert write_all(check=True) == []


@pytest.mark.slow
def test_eval_ls_lists_every_task_and_language_and_globs_miss_groups():
    proc = run_cli(["eval", "ls", "tasks"], env={"XTREME_ADV_ONLY_TASKS": "0"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    listed = {cell.strip() for line in proc.stdout.splitlines() for cell in line.split("|")}
    expected = {f.task_name(lang) for f in FAMILIES.values() for lang in f.langs}
    assert len(expected) == 15 + 7 + 33 + 40 + 12 + 7 + 9 + 4 + 36 + 11
    assert expected <= listed
    groups = {f.group_name for f in FAMILIES.values()}
    assert groups <= listed
    import fnmatch

    assert not [g for g in groups if fnmatch.fnmatch(g, "xtreme_*")]


def test_tasks_path_prints_the_yaml_folder():
    proc = run_cli(["tasks-path"])
    assert proc.returncode == 0
    from pathlib import Path

    folder = Path(proc.stdout.strip())
    assert (folder / "xtreme_xnli" / "xtreme_xnli_de.yaml").is_file()
