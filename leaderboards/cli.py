"""``xtreme-adv leaderboard build|submit|validate|check``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from leaderboards.errors import LeaderboardError
from leaderboards.gate import DEFAULT_TOLERANCE, find_regressions, load_baseline, regression_table
from leaderboards.stats import DEFAULT_BOOTSTRAP, DEFAULT_SEED

PROG = "xtreme-adv leaderboard"


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)  # no prefix matching of long flags
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # one line, exit 2, like every other bad input
        raise LeaderboardError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Robustness leaderboard over lm-eval results.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    build = sub.add_parser("build", help="build the static site from lm-eval output folders")
    build.add_argument(
        "results",
        nargs="+",
        type=Path,
        help="lm-eval --output_path folders, results files or submissions (.tar.gz)",
    )
    build.add_argument("--out", type=Path, required=True, help="site folder (replaced atomically)")
    build.add_argument(
        "--bootstrap",
        type=int,
        default=DEFAULT_BOOTSTRAP,
        help="bootstrap resamples for paired intervals (default %(default)s)",
    )
    build.add_argument("--seed", type=int, default=DEFAULT_SEED, help="bootstrap seed")
    build.add_argument(
        "--no-samples",
        action="store_true",
        help="ignore per-sample files (no intervals, flips or McNemar)",
    )
    build.add_argument(
        "--validity",
        type=Path,
        action="append",
        help="human judgments of attack sets: a validity.json, a set folder or a root of sets "
        "(repeatable); rows show the validity rate and scores on documents judged valid",
    )
    build.add_argument(
        "--validated-only",
        action="store_true",
        help="score every row on the documents judged valid only (needs --validity); rows "
        "without judgments are left out and listed",
    )

    submit = sub.add_parser("submit", help="pack results and provenance into one .tar.gz")
    submit.add_argument("results", nargs="+", type=Path, help="lm-eval --output_path folders")
    submit.add_argument("--out", type=Path, required=True, help="submission file (.tar.gz)")
    submit.add_argument(
        "--provenance",
        type=Path,
        help="provenance.json to include when the results do not carry one",
    )

    validate = sub.add_parser("validate", help="check a submission file")
    validate.add_argument("file", type=Path)
    validate.add_argument(
        "--tasks-dir",
        type=Path,
        action="append",
        help="installed task YAML folder (default: harness_tasks/tasks and $XTREME_ADV_DIR/tasks)",
    )
    validate.add_argument(
        "--reference",
        type=Path,
        help="leaderboard.json whose task hashes the submission must match",
    )

    check = sub.add_parser("check", help="CI gate: exit 1 if results regressed vs a baseline")
    check.add_argument(
        "--baseline",
        type=Path,
        required=True,
        nargs="+",
        help="the baseline's lm-eval output folders or submission archives (paired per "
        "document), or a leaderboard.json (scores and intervals only)",
    )
    check.add_argument(
        "--results",
        type=Path,
        required=True,
        nargs="+",
        help="lm-eval output folders or submission archives (.tar.gz)",
    )
    check.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help="allowed worsening, in [0, 1] units (default %(default)s)",
    )
    check.add_argument("--bootstrap", type=int, default=DEFAULT_BOOTSTRAP)
    check.add_argument("--seed", type=int, default=DEFAULT_SEED)
    return parser


def _positive(value: int, name: str) -> int:
    if value < 1:
        raise LeaderboardError(f"--{name} is {value}, expected a positive integer")
    return value


def _build(args: argparse.Namespace) -> int:
    from leaderboards.build import build
    from leaderboards.submission import check_submission

    if args.validated_only and not args.validity:
        raise LeaderboardError("--validated-only needs judgments: pass --validity PATH")
    folders, extra = [], []
    for path in args.results:
        if path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
            # everything validate checks but the installed task versions (a site may not
            # have the tasks installed): manifest, hashes, re-scoring, ranges, cards, twins
            runs = check_submission(path).runs
            if args.no_samples:
                for run in runs.values():
                    for result in run.tasks.values():
                        result.samples = None
            extra += list(runs.values())
        else:
            folders.append(path)
    built = build(
        folders, args.out, _positive(args.bootstrap, "bootstrap"), args.seed,
        not args.no_samples, extra, args.validity, args.validated_only,
    )  # fmt: skip
    sys.stdout.write(built.summary)
    print(f"\nsite: {(built.out / 'index.html').resolve()}")
    return 0


def _submit(args: argparse.Namespace) -> int:
    from leaderboards.submission import submit

    manifest = submit(args.results, args.out, args.provenance)
    print(
        f"wrote {args.out}: {len(manifest['files'])} files, models {', '.join(manifest['models'])}"
    )
    return 0


def _validate(args: argparse.Namespace) -> int:
    from leaderboards.installed import default_task_dirs
    from leaderboards.submission import validate

    dirs = args.tasks_dir or default_task_dirs()
    result = validate(args.file, dirs, args.reference)
    print(f"{args.file}: valid submission ({len(result.models)} model(s), {result.tasks} tasks)")
    for line in result.checks:
        print(f"  ok: {line}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from leaderboards.compute import build_board
    from leaderboards.gate import find_paired_regressions, read_any

    if not 0.0 <= args.tolerance <= 1.0:
        raise LeaderboardError(f"--tolerance is {args.tolerance}, expected a value in [0, 1]")
    n_boot = _positive(args.bootstrap, "bootstrap")
    current = read_any(args.results)
    shown = " ".join(str(p) for p in args.baseline)
    if (
        len(args.baseline) == 1
        and args.baseline[0].name.endswith(".json")
        and not args.baseline[0].name.startswith("results_")  # (one lm-eval results file)
    ):
        baseline = load_baseline(args.baseline[0])
        board = build_board(current, n_boot, args.seed)
        found = find_regressions(baseline, board, args.tolerance, args.baseline[0])
        n_rows = len(board.rows)
    else:
        found, n_rows = find_paired_regressions(
            read_any(args.baseline), current, args.tolerance, args.baseline[0], n_boot, args.seed
        )
    if found:
        print(f"{len(found)} regression(s) against {shown} (values x100):\n")
        sys.stdout.write(regression_table(found))
        return 1
    print(f"no regression against {shown} (tolerance {args.tolerance}, {n_rows} rows)")
    return 0


COMMANDS = {"build": _build, "submit": _submit, "validate": _validate, "check": _check}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``xtreme-adv leaderboard``; bad input is one line on stderr and exit 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv or argv[0] in ("-h", "--help"):
            _parser().print_help()
            return 0
        args = _parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except LeaderboardError as err:
        sys.stderr.write(f"xtreme-adv leaderboard: error: {err}\n")
        return 2
    except OSError as err:  # unreadable or unwritable paths given by the user
        sys.stderr.write(f"xtreme-adv leaderboard: error: {err.filename or ''}: {err.strerror}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
