"""Intermediate phases shared between runs (``train intermediate --intermediate-cache DIR``).

X-STILTs trains one intermediate checkpoint and fine-tunes it on each target; a run per target
would train the same intermediate phase once per target. The phase does not depend on the
target (its data, settings and seed are the run's; the target's data is read separately), so
runs that agree on everything the phase is made of share one folder::

    DIR/<tasks>-s<seed>-<key>/      checkpoint-N (Trainer resume points), encoder/, phase.json

``key`` hashes the base model's weights and the phase record without its metrics (each data
set's name, source, SHA-256 and size; every hyperparameter, world size and precision included).
The folder is claimed with an exclusive ``fcntl`` lock while the phase trains, so two runs
started at once train it once: the second waits and then reads it. A kill anywhere leaves
Trainer checkpoints the next run resumes from, as the run's own ``_work`` does.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("trainers")

RULE = "xtreme-adv/intermediate-phase/1"


def phase_folder(cache: Path, base_sha256: str, identity: dict) -> Path:
    """The shared folder of the phase whose record (metrics left out) is ``identity``."""
    text = json.dumps({"rule": RULE, "base_sha256": base_sha256, **identity}, sort_keys=True)
    key = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    tasks = "+".join(t["name"] for t in identity["tasks"])
    return Path(cache) / f"{tasks}-s{identity['hyperparameters']['seed']}-{key}"


@contextmanager
def phase_lock(folder: Path, hold: bool) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (``<folder>.lock``) when ``hold``; a second run
    blocks here until the first has trained the phase or stopped (the OS releases the lock of a
    killed process)."""
    if not hold:
        yield
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_name(folder.name + ".lock"), "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("waiting for another run training %s", folder.name)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def drop_resume_points(folder: Path) -> None:
    """Remove a finished shared phase's Trainer checkpoints (its encoder and record stay)."""
    for item in folder.glob("*checkpoint-*"):
        shutil.rmtree(item, ignore_errors=True)
