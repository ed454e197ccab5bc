"""The output folder of a run: claim it, resume in it, never overwrite a finished checkpoint.

Layout of ``--out DIR``::

    trainers_run.json          what this run is (compared on resume; a mismatch is an error)
    _work/<phase>/checkpoint-N Trainer checkpoints (resume points); phase.json once done
    config.json, model.safetensors, tokenizer files, README.md
    provenance.json            written last: its presence means "finished"
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from trainers.errors import TrainUserError

RUN_FILE = "trainers_run.json"
CARD_FILE = "provenance.json"
WORK = "_work"


def write_json_atomic(path: Path, data: object) -> None:
    """Write JSON to a temporary file beside ``path`` and move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=False)
        handle.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp creates 0600; checkpoints are meant to be shared
    os.replace(tmp, path)


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to a temporary file beside ``path`` and move it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _first_difference(old: object, new: object, where: str = "") -> str | None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            diff = _first_difference(old.get(key), new.get(key), f"{where}.{key}" if where else key)
            if diff:
                return diff
        return None
    if old != new:
        return f"{where} is {json.dumps(old)} there but {json.dumps(new)} in this command"
    return None


class RunFolder:
    """One run's ``--out`` folder."""

    def __init__(self, out: Path):
        """``out``: the folder the final checkpoint goes to."""
        self.out = Path(out)

    def work(self, phase: str) -> Path:
        """Scratch folder of one phase (Trainer output_dir)."""
        return self.out / WORK / phase

    @property
    def finished(self) -> bool:
        """True once the final checkpoint and its card are in place."""
        return (self.out / CARD_FILE).is_file()

    def check_location(self) -> None:
        """Raise unless ``--out`` is a folder or can be created as one: its nearest existing
        ancestor must be a folder a file can be created in (probed, then removed)."""
        if self.out.exists() and not self.out.is_dir():
            raise TrainUserError(f"--out {self.out}: exists and is not a folder")
        ancestor = self.out
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise TrainUserError(f"--out {self.out}: {ancestor} is not a folder")
        try:  # os.access says yes to root even where nothing can be created (/proc ...)
            fd, probe = tempfile.mkstemp(prefix=".xtreme-adv-probe.", dir=ancestor)
            os.close(fd)
            os.unlink(probe)
        except OSError as err:
            raise TrainUserError(
                f"--out {self.out}: cannot create files in {ancestor} ({err.strerror})"
            ) from None

    def _run_file_difference(self, record: dict) -> str | None:
        run_file = self.out / RUN_FILE
        try:
            old = json.loads(run_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise TrainUserError(f"{run_file}: unreadable run file ({err})") from None
        return _first_difference(old, json.loads(json.dumps(record)))

    def check(self, record: dict) -> bool:
        """Raise if this command may not write here; True when it resumes an earlier run.

        A finished folder is accepted only for the very command that made it (which then
        only tidies up, see :meth:`tidy`); any other command is refused."""
        self.check_location()
        if self.finished:
            diff = (
                self._run_file_difference(record)
                if (self.out / RUN_FILE).is_file()
                else f"{RUN_FILE} is missing"
            )
            if diff:
                raise TrainUserError(
                    f"--out {self.out}: already holds a finished checkpoint ({CARD_FILE}) of "
                    f"another command ({diff}); it is never overwritten: choose another --out"
                )
            return True
        if (self.out / RUN_FILE).is_file():
            diff = self._run_file_difference(record)
            if diff:
                raise TrainUserError(
                    f"--out {self.out}: incompatible resume folder: {RUN_FILE} field {diff}; "
                    "use another --out or the same settings"
                )
            return True
        if self.out.is_dir() and any(self.out.iterdir()):
            raise TrainUserError(
                f"--out {self.out}: folder is not empty and holds no {RUN_FILE}: "
                "not a trainers run to resume; choose an empty or new folder"
            )
        return False

    def tidy(self, keep_work: bool) -> None:
        """Remove what a finished run no longer needs: ``_work`` (unless ``keep_work``) and
        temporary files that a kill during an atomic write left behind."""
        if not keep_work:
            shutil.rmtree(self.out / WORK, ignore_errors=True)
        for name in (RUN_FILE, CARD_FILE, "README.md"):
            for tmp in self.out.glob(f".{name}.*"):
                tmp.unlink(missing_ok=True)

    def claim(self, record: dict) -> None:
        """Record what this run is (first start only)."""
        if not (self.out / RUN_FILE).is_file():
            write_json_atomic(self.out / RUN_FILE, record)
