"""Push built sets to a Hugging Face Hub dataset repo and pull them back.

A Hub repo mirrors the local layout (docs/contracts.md section 7)::

    <task>/<attack>/<lang>/data.parquet
    <task>/<attack>/<lang>/manifest.json
    tasks/xtreme_adv_<task>_<attack>_<lang>.yaml    (as generated where the set was pushed from)

``pull`` downloads only the set folder into a temporary folder under ``<root>/.work``, checks
``data.parquet`` against the SHA-256 in its manifest, swaps the folder into place and then
regenerates the task YAML (and the group YAML) for the local root: the pushed YAML carries the
pushing machine's absolute paths and is never trusted. Every failure is one
:class:`~harness_tasks.errors.XtremeAdvError` line naming the repo, task, attack and language.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from pathlib import Path

from adversarial.build import SCHEMA, _replace_dir, set_dir, sha256_file
from adversarial.manifest import task_name
from harness_tasks.errors import XtremeAdvError

REPO_TYPE = "dataset"


def set_patterns(task: str, attack: str, lang: str) -> list[str]:
    """Repo-relative patterns of one set: its folder and its generated task YAML."""
    return [f"{task}/{attack}/{lang}/*", f"tasks/{task_name(task, attack, lang)}.yaml"]


def _where(verb: str, repo: str, task: str, attack: str, lang: str) -> str:
    direction = "to" if verb == "push" else "from"
    name = task_name(task, attack, lang)
    return f"{verb} {task}/{attack}/{lang} ({name}) {direction} Hub dataset {repo!r}"


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0].strip() if text else type(err).__name__


def _hub_error(where: str, err: BaseException) -> XtremeAdvError:
    """One-line user error for an exception raised by huggingface_hub or the network."""
    import requests
    from huggingface_hub import errors

    if isinstance(err, errors.RepositoryNotFoundError):
        reason = (
            "repository not found (check the id; a private or gated repo needs "
            "`hf auth login` or HF_TOKEN)"
        )
    elif isinstance(err, errors.HFValidationError):
        reason = f"invalid repo id ({_first_line(err)})"
    elif isinstance(err, errors.LocalTokenNotFoundError):
        reason = "not logged in to the Hub (run `hf auth login` or set HF_TOKEN)"
    elif isinstance(
        err,
        (
            errors.OfflineModeIsEnabled,
            errors.LocalEntryNotFoundError,
            requests.ConnectionError,
            requests.Timeout,
        ),
    ):
        reason = f"the Hub is unreachable (network down or HF_HUB_OFFLINE=1): {_first_line(err)}"
    elif isinstance(err, errors.HfHubHTTPError):
        reason = f"Hub error: {_first_line(err)}"
    else:
        reason = f"{type(err).__name__}: {_first_line(err)}"
    return XtremeAdvError(f"{where}: {reason}")


def _check_set(folder: Path, task: str, attack: str, lang: str, where: str) -> dict:
    """The set's manifest after checking it is this set and its data matches the hash."""
    manifest_path, data_path = folder / "manifest.json", folder / "data.parquet"
    if not manifest_path.is_file() or not data_path.is_file():
        missing = "manifest.json" if not manifest_path.is_file() else "data.parquet"
        raise XtremeAdvError(f"{where}: {missing} missing in {folder}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        expected = manifest["data"]["sha256"]
        ident = (manifest["task"], manifest["attack"]["name"], manifest["lang"])
        schema = manifest["schema"]
    except (ValueError, KeyError, TypeError) as err:
        raise XtremeAdvError(f"{where}: malformed manifest.json ({_first_line(err)})") from None
    if schema != SCHEMA:
        raise XtremeAdvError(f"{where}: manifest schema {schema!r}, this version reads {SCHEMA!r}")
    if ident != (task, attack, lang):
        raise XtremeAdvError(f"{where}: manifest describes {'/'.join(ident)} instead")
    actual = sha256_file(data_path)
    if actual != expected:
        raise XtremeAdvError(
            f"{where}: data.parquet sha256 {actual[:16]}... does not match the manifest's "
            f"{expected[:16]}... (corrupted or tampered set)"
        )
    return manifest


def push(root: str | Path, task: str, attack: str, lang: str, repo: str) -> str:
    """Upload the built set ``<root>/<task>/<attack>/<lang>/`` and its task YAML to the Hub
    dataset ``repo`` (created if absent); returns a one-line summary."""
    import huggingface_hub

    from adversarial.registry import build_command

    root = Path(root)
    where = _where("push", repo, task, attack, lang)
    folder = set_dir(root, task, attack, lang)
    if not (folder / "manifest.json").is_file():
        command = build_command(task, attack, lang)
        raise XtremeAdvError(f"{where}: no built set in {folder}; build it with `{command}`")
    manifest = _check_set(folder, task, attack, lang, where)
    api = huggingface_hub.HfApi()
    try:
        api.create_repo(repo, repo_type=REPO_TYPE, exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo,
            repo_type=REPO_TYPE,
            folder_path=str(root),
            allow_patterns=set_patterns(task, attack, lang),
            commit_message=f"xtreme-adv: {manifest['task_name']} "
            f"(data sha256 {manifest['data']['sha256'][:12]})",
        )
    except Exception as err:  # noqa: BLE001 - any Hub or network failure is a user error
        raise _hub_error(where, err) from None
    url = getattr(commit, "commit_url", None) or str(commit)
    return f"{manifest['task_name']}: pushed {folder} to {repo} ({url})"


def pull(root: str | Path, task: str, attack: str, lang: str, repo: str) -> str:
    """Download one set from the Hub dataset ``repo`` into ``<root>/<task>/<attack>/<lang>/``
    (checked against its manifest's hash, swapped in atomically) and register it as the
    lm-eval task ``xtreme_adv_<task>_<attack>_<lang>`` for ``root``; returns a one-line summary.
    """
    import huggingface_hub

    from adversarial.registry import _clean_yaml, write_task_yamls

    root = Path(root)
    where = _where("pull", repo, task, attack, lang)
    try:
        _clean_yaml(task, lang)  # an unknown task or language fails before any download
    except XtremeAdvError as err:
        raise XtremeAdvError(f"{where}: {err}") from None
    final = set_dir(root, task, attack, lang)
    # Downloads land in the root's work area (same file system as ``final``): nothing
    # appears under ``<task>/<attack>/`` until the set is checked.
    (root / ".work").mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root / ".work", prefix=f"pull-{task}-{attack}-{lang}-"))
    try:
        download = tmp / "download"
        try:
            huggingface_hub.snapshot_download(
                repo,
                repo_type=REPO_TYPE,
                allow_patterns=set_patterns(task, attack, lang)[:1],
                local_dir=str(download),
            )
        except Exception as err:  # noqa: BLE001 - any Hub or network failure is a user error
            raise _hub_error(where, err) from None
        fetched = set_dir(download, task, attack, lang)
        if not (fetched / "manifest.json").is_file():
            raise XtremeAdvError(f"{where}: the repo has no set {task}/{attack}/{lang}/")
        manifest = _check_set(fetched, task, attack, lang, where)
        final.parent.mkdir(parents=True, exist_ok=True)
        _replace_dir(fetched, final)  # renames only: the old set goes after the swap
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        with contextlib.suppress(OSError):
            (root / ".work").rmdir()  # only if the pull left it empty
    write_task_yamls(root, task, attack, lang)
    return (
        f"{manifest['task_name']}: pulled from {repo} into {final} "
        f"(data sha256 {manifest['data']['sha256'][:16]} verified)"
    )
