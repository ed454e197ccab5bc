"""The installed lm-eval task YAMLs, read as files (never by importing `harness_tasks`).

Locations: folders given with ``--tasks-dir``; else the ``tasks`` folder of the installed
``harness_tasks`` package (found with ``importlib.util.find_spec``, which locates a top-level
package without running it) and ``$XTREME_ADV_DIR/tasks`` (generated adversarial tasks,
docs/contracts.md section 7).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from leaderboards.errors import LeaderboardError
from leaderboards.names import parse_task

MAX_YAML_BYTES = 1024 * 1024


class _TaskLoader(yaml.SafeLoader):
    """SafeLoader that keeps lm-eval's ``!function module.fn`` tags as plain strings."""


def _tag_as_text(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> str:
    return f"!{suffix} {loader.construct_scalar(node)}" if isinstance(node, yaml.ScalarNode) else ""


_TaskLoader.add_multi_constructor("!", _tag_as_text)


@dataclass(frozen=True)
class InstalledTask:
    """One task YAML: its name, version (``metadata.version``) and file."""

    name: str
    version: str | None
    path: Path


def default_task_dirs() -> list[Path]:
    """The tasks folders of the installed packages (those that exist)."""
    dirs = []
    spec = importlib.util.find_spec("harness_tasks")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            dirs.append(Path(location) / "tasks")
    adv_dir = os.environ.get("XTREME_ADV_DIR") or str(Path.home() / ".cache/xtreme-adv/adversarial")
    dirs.append(Path(adv_dir) / "tasks")
    return [d for d in dirs if d.is_dir()]


def _load(path: Path, depth: int = 0) -> dict:
    if depth > 5:
        raise LeaderboardError(f"{path}: include chain deeper than 5")
    if path.stat().st_size > MAX_YAML_BYTES:
        raise LeaderboardError(f"{path}: larger than {MAX_YAML_BYTES} bytes")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_TaskLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as err:
        raise LeaderboardError(f"{path}: invalid YAML ({err})") from None
    if not isinstance(data, dict):
        return {}
    include = data.get("include")
    if isinstance(include, str):  # lm-eval resolves includes next to the including file
        base = _load(path.parent / include, depth + 1)
        base.update({k: v for k, v in data.items() if k != "include"})
        data = base
    return data


def _version(data: dict) -> str | None:
    meta = data.get("metadata")
    if isinstance(meta, dict) and "version" in meta:
        return str(meta["version"])
    return None


def installed_tasks(dirs: list[Path]) -> dict[str, InstalledTask]:
    """Every ``xtreme_*`` task defined by a ``*.yaml`` under ``dirs`` (as lm-eval indexes)."""
    found: dict[str, InstalledTask] = {}
    for root in dirs:
        if not root.is_dir():
            raise LeaderboardError(f"{root}: tasks folder does not exist")
        for path in sorted(root.rglob("*.yaml")):
            data = _load(path)
            name = data.get("task")
            if isinstance(name, str) and parse_task(name) is not None:
                found.setdefault(name, InstalledTask(name, _version(data), path))
    return found


def same_version(a: str | None, b: str | None) -> bool:
    """Versions compare as numbers when both are numeric (YAML ``1`` and lm-eval's ``1.0``)."""
    if a is None or b is None:
        return a == b
    try:
        return float(a) == float(b)
    except ValueError:
        return a == b
