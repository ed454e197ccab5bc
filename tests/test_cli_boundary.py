"""The ``xtreme-adv`` command boundary: no flag abbreviations on any parser, OS and value errors
as one line with exit 2 (tracebacks with ``XTREME_ADV_DEBUG=1``)."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness_tasks import cli

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("harness_tasks", "adversarial", "trainers", "leaderboards", "studies")


def _project_parsers() -> dict[str, argparse.ArgumentParser]:
    from adversarial.cli import _parser as attack
    from harness_tasks.demo import _parser as demo
    from harness_tasks.embedded.cli import _parser as model
    from leaderboards.cli import _parser as leaderboard
    from studies.cli import _parser as study
    from trainers.cli import build_parser as train

    return {
        "adversarial/cli.py": attack(),
        "harness_tasks/demo.py": demo(),
        "harness_tasks/embedded/cli.py": model(),
        "leaderboards/cli.py": leaderboard(),
        "studies/cli.py": study(),
        "trainers/cli.py": train(),
    }


def _all(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _all(sub)
    return found


def test_every_parser_refuses_abbreviations() -> None:
    parsers = _project_parsers()
    # Every file that builds a parser is covered (generate.py is checked by its text below).
    builders = {
        str(p.relative_to(REPO))
        for pkg in PACKAGES
        for p in (REPO / pkg).rglob("*.py")
        if re.search(r"ArgumentParser\(|add_subparsers\(", p.read_text(encoding="utf-8"))
    }
    assert builders <= {*parsers, "harness_tasks/tasks/generate.py", "harness_tasks/cli.py"}
    for name, parser in parsers.items():
        subs = _all(parser)
        assert len(subs) >= 1
        assert all(p.allow_abbrev is False for p in subs), name
    text = (REPO / "harness_tasks/tasks/generate.py").read_text(encoding="utf-8")
    assert "ArgumentParser(description=__doc__, allow_abbrev=False)" in text


def test_lm_eval_parser_gets_no_abbreviations() -> None:
    from lm_eval.__main__ import HarnessCLI

    parser = HarnessCLI()._parser
    assert parser.allow_abbrev is True  # lm-eval's own default ...
    cli.no_abbreviations(parser)  # ... turned off by `xtreme-adv eval`
    subs = _all(parser)
    assert len(subs) > 1 and all(p.allow_abbrev is False for p in subs)
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--task", "xnli"])  # `--tasks` spelled short


def test_train_direct_intermediate_is_not_intermediate_dir(capsys) -> None:
    code = cli.main(["train", "direct", "--intermediate", "anli", "--target", "xnli",
                     "--out", "never-created"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "unrecognized arguments: --intermediate anli" in err
    assert not Path("never-created").exists()


class _EntryPoint:
    def __init__(self, func):
        self.func = func

    def load(self):
        return self.func


def _raise(exc: BaseException):
    def command(argv: list[str]) -> int:
        raise exc

    return command


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (
            FileNotFoundError(2, "No such file or directory", "/data/missing.tsv"),
            "xtreme-adv fake: error: /data/missing.tsv: No such file or directory",
        ),
        (
            PermissionError(13, "Permission denied", "/ro/out"),
            "xtreme-adv fake: error: /ro/out: Permission denied",
        ),
        (
            ValueError("--limit 'x': invalid literal\nsecond line"),
            "xtreme-adv fake: error: --limit 'x': invalid literal "
            "(XTREME_ADV_DEBUG=1 shows the traceback)",
        ),
    ],
)
def test_os_and_value_errors_are_one_line(monkeypatch, capsys, exc, line) -> None:
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    monkeypatch.setattr(cli, "_commands", lambda: {"fake": _EntryPoint(_raise(exc))})
    assert cli.main(["fake", "x"]) == 2
    assert capsys.readouterr().err == line + "\n"
    # With the debug switch the real traceback comes through.
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    with pytest.raises(type(exc)):
        cli.main(["fake", "x"])
    monkeypatch.delenv(cli.DEBUG_ENV)
    with pytest.raises(type(exc)):
        cli.main(["--debug", "fake", "x"])
    os.environ.pop(cli.DEBUG_ENV, None)


def test_real_bugs_keep_their_traceback(monkeypatch) -> None:
    monkeypatch.setattr(cli, "_commands", lambda: {"fake": _EntryPoint(_raise(KeyError("k")))})
    with pytest.raises(KeyError):
        cli.main(["fake"])


def test_build_embedded_under_proc(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness_tasks.cli", "model", "build-embedded", "/proc/x/y",
         "--layers", "2"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env=dict(os.environ, HF_HUB_OFFLINE="1"),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.splitlines() == [
        "xtreme-adv model: error: /proc/x/y: /proc/x: No such file or directory"
    ]
    assert list(tmp_path.iterdir()) == []
