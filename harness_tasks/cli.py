"""The one ``xtreme-adv`` command: dispatches to subcommands found through entry points.

Each package registers its subcommands in the ``xtreme_adv.commands`` entry-point group, so
this dispatcher never imports the other packages by name (see docs/contracts.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import entry_points

GROUP = "xtreme_adv.commands"
# Set to 1 (or pass --debug before the command) to get tracebacks of OS / value errors.
DEBUG_ENV = "XTREME_ADV_DEBUG"


def _commands() -> dict:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def _usage(commands: dict) -> str:
    names = "\n".join(f"  {name}" for name in sorted(commands))
    return (
        f"usage: xtreme-adv [--debug] <command> [args...]\n\ncommands:\n{names}\n\n"
        f"--debug (or {DEBUG_ENV}=1): tracebacks instead of one-line OS / value errors\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Run ``xtreme-adv <command> ...``; returns the subcommand's exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = _commands()
    if not argv or argv[0] in {"-h", "--help", "help"}:
        sys.stdout.write(_usage(commands))
        return 0
    if argv[0] == "--debug":
        os.environ[DEBUG_ENV] = "1"
        argv = argv[1:]
        if not argv:
            sys.stdout.write(_usage(commands))
            return 0
    name, rest = argv[0], argv[1:]
    if name == "--version":
        from harness_tasks import __version__

        print(f"xtreme-adv {__version__}")
        return 0
    if name not in commands:
        sys.stderr.write(
            f"xtreme-adv: error: unknown command {name!r}; "
            f"choose from {', '.join(sorted(commands))}\n"
        )
        return 2
    try:
        func = commands[name].load()
        return int(func(rest) or 0)
    except KeyboardInterrupt:
        sys.stderr.write(f"xtreme-adv {name}: interrupted\n")
        return 130
    except Exception as err:  # noqa: BLE001 - user errors, OS and value errors become one line
        if os.environ.get(DEBUG_ENV) == "1" and not getattr(err, "xtreme_adv_user_error", False):
            raise
        line = boundary_message(err)
        if line is None:
            raise
        sys.stderr.write(f"xtreme-adv {name}: error: {line}\n")
        return 2


def no_abbreviations(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Turn off prefix matching of long flags on ``parser`` and all its subparsers (for
    parsers the project does not build itself, such as lm-eval's)."""
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                no_abbreviations(sub)
    return parser


def boundary_message(err: BaseException) -> str | None:
    """The one line a command-boundary error is reported as, or None for a real bug.

    User errors (``xtreme_adv_user_error``) as they are; ``OSError`` as path and reason (a
    missing, unreadable or unwritable file or folder); ``ValueError`` by its first line, with
    the hint to set ``XTREME_ADV_DEBUG=1`` for the traceback."""
    if getattr(err, "xtreme_adv_user_error", False):
        return " ".join(str(err).split("\n"))
    if isinstance(err, OSError):
        paths = [str(p) for p in (err.filename, err.filename2) if p is not None]
        reason = err.strerror or str(err) or type(err).__name__
        where = " -> ".join(paths)
        return f"{where}: {reason}" if where else reason
    if isinstance(err, ValueError):
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        return f"{first} ({DEBUG_ENV}=1 shows the traceback)"
    return None


if __name__ == "__main__":
    raise SystemExit(main())
