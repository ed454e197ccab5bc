"""Rows that may not be scored: the parallel hold-out (docs/contracts.md section 8) and the
kind of adversarial set a row was scored on (static, adaptive against itself, transfer).

The parallel-half rule is implemented here from the contract (this package imports neither
``harness_tasks`` nor ``trainers``); a test checks it against the trainers' implementation.
"""

from __future__ import annotations

import hashlib

from leaderboards.errors import LeaderboardError
from leaderboards.names import ADAPTIVE_RE
from leaderboards.results import ModelRun, TaskResult

RULE = "xtreme-adv/parallel-half/1"


def parallel_key(doc_id: str, lang: str) -> str:
    """A document's parallel key: its id without a leading ``<lang>-``."""
    prefix = f"{lang}-"
    return doc_id[len(prefix) :] if doc_id.startswith(prefix) else doc_id


def parallel_half(key: str) -> int:
    """Half (0 or 1) of a parallel key: SHA-256 of its UTF-8 bytes as an integer, modulo 2."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16) % 2


def exclusions(run: ModelRun) -> dict[str, int]:
    """Task family -> scored half, from the card's ``scoring_exclusions``."""
    out: dict[str, int] = {}
    for entry in (run.provenance or {}).get("scoring_exclusions") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("eval_task"), str):
            raise LeaderboardError(
                f"{run.files[0]}: provenance scoring_exclusions entry {entry!r} of "
                f"{run.model_id!r} has no eval_task"
            )
        if entry.get("rule") != RULE or entry.get("scored_half") not in (0, 1):
            raise LeaderboardError(
                f"{run.files[0]}: provenance scoring_exclusions of {run.model_id!r} for "
                f"{entry['eval_task']}: rule {entry.get('rule')!r}, scored_half "
                f"{entry.get('scored_half')!r}; expected rule {RULE} and 0 or 1"
            )
        out[entry["eval_task"]] = int(entry["scored_half"])
    return out


def check_not_leaked(run: ModelRun, result: TaskResult, scored_half: int) -> None:
    """Refuse a task result of a model trained on the other parallel half, unless the results
    record the restriction (``xtreme_adv.tasks.<task>.parallel_half``) and every scored
    document is of the scored half."""
    record = result.extra.get("parallel_half")
    if (
        not isinstance(record, dict)
        or record.get("rule") != RULE
        or record.get("scored_half") != scored_half
    ):
        raise LeaderboardError(
            f"{result.source}: {result.name.name} of {run.model_id!r} is leaked: the card "
            f"excludes half {1 - scored_half} of {result.name.task} (trained on), but "
            f"xtreme_adv.tasks.{result.name.name}.parallel_half does not record scored half "
            f"{scored_half} (evaluate with xtreme-adv eval run, docs/contracts.md section 8)"
        )
    if result.samples is not None:
        for doc_id in result.samples.ids:
            if parallel_half(parallel_key(doc_id, result.name.lang)) != scored_half:
                raise LeaderboardError(
                    f"{result.source}: {result.name.name} of {run.model_id!r} is leaked: "
                    f"document {doc_id!r} is in the trained half"
                )


def check_run(run: ModelRun) -> None:
    """Every task of a family the card excludes was scored on the held-out half only."""
    excluded = exclusions(run)
    if not excluded:
        return
    for result in run.tasks.values():
        half = excluded.get(result.name.task)
        if half is not None:
            check_not_leaked(run, result, half)


def attack_kind(run: ModelRun, result: TaskResult) -> str:
    """``static``, ``adaptive-self`` or ``transfer-from-<model or key>`` for an adversarial task.

    Read from ``xtreme_adv.tasks.<task>.source_model`` when the results carry it (the set's
    manifest), else from the adaptive attack name's weights key.
    """
    attack = result.name.attack or ""
    match = ADAPTIVE_RE.match(attack)
    source = result.extra.get("source_model")
    if match is None and not source:
        return "static"
    src_hash = None
    src_name = None
    if isinstance(source, dict):
        src_hash = source.get("weights_sha256") or source.get("sha256")
        src_name = source.get("model_id") or source.get("path")
    key = (src_hash or "")[:10] or (match["key"] if match else "")
    own = (run.weights_sha256 or "")[:10]
    if key and own and key == own:
        return "adaptive-self"
    label = str(src_name).rstrip("/").rsplit("/", 1)[-1] if src_name else key
    return f"transfer-from-{label}"
