"""The one ``xtreme-adv`` command: dispatches to subcommands found through entry points.

Each package registers its subcommands in the ``xtreme_adv.commands`` entry-point group, so
this dispatcher never imports the other packages by name (see docs/contracts.md).
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

GROUP = "xtreme_adv.commands"


def _commands() -> dict:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def _usage(commands: dict) -> str:
    names = "\n".join(f"  {name}" for name in sorted(commands))
    return f"usage: xtreme-adv <command> [args...]\n\ncommands:\n{names}\n"


def main(argv: list[str] | None = None) -> int:
    """Run ``xtreme-adv <command> ...``; returns the subcommand's exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = _commands()
    if not argv or argv[0] in {"-h", "--help", "help"}:
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
    except Exception as err:  # noqa: BLE001 - only errors marked as user errors are reported
        if getattr(err, "xtreme_adv_user_error", False):
            sys.stderr.write(f"xtreme-adv {name}: error: {err}\n")
            return 2
        raise


if __name__ == "__main__":
    raise SystemExit(main())
