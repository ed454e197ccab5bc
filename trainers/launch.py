"""``--nproc-per-node N``: the same ``train`` command as N data-parallel processes under torchrun.

The trainers already run under ``torchrun -m trainers`` (Trainer handles the process group);
this flag spares a study or a user the launcher's own command line: the parent validates the
arguments once, then starts ``python -m torch.distributed.run --standalone --nproc_per_node N
-m trainers <the same arguments without the flag>`` and returns its exit status.
"""

from __future__ import annotations

import os
import subprocess
import sys

FLAG = "--nproc-per-node"


def inside_launcher() -> bool:
    """True in a process that torchrun / accelerate started (it must not launch again)."""
    return "LOCAL_RANK" in os.environ or "TORCHELASTIC_RUN_ID" in os.environ


def without_flag(argv: list[str]) -> list[str]:
    """``argv`` without ``--nproc-per-node N`` / ``--nproc-per-node=N``."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == FLAG:
            skip = True
        elif not arg.startswith(FLAG + "="):
            out.append(arg)
    return out


def launch_command(argv: list[str], nproc: int) -> list[str]:
    """The torchrun command that runs ``xtreme-adv train <argv>`` as ``nproc`` processes."""
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        "--nproc_per_node", str(nproc), "-m", "trainers", *without_flag(argv),
    ]  # fmt: skip


def relaunch(argv: list[str], nproc: int) -> int:
    """Run ``argv`` under torchrun with ``nproc`` processes; the launcher's exit status."""
    return subprocess.run(launch_command(argv, nproc)).returncode
