"""``xtreme-adv attack {build,list,merge,adaptive,push,pull,validate,lexicon}``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness_tasks.errors import XtremeAdvError

PROG = "xtreme-adv attack"


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)  # no prefix matching of long flags
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # one line, exit 2 (docs/contracts.md section 1)
        sys.stderr.write(f"{PROG}: error: {message}\n")
        raise SystemExit(2)


def _params(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise XtremeAdvError(f"--param {item!r}: expected NAME=VALUE")
        out[key.strip()] = value.strip()
    return out


def _langs(text: str, flag: str = "--langs") -> list[str]:
    langs = [x.strip() for x in text.split(",") if x.strip()]
    if not langs:
        raise XtremeAdvError(f"{flag} {text!r}: no language given")
    return langs


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Build and run adversarial XTREME sets.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(p):
        p.add_argument("--task", required=True, help="XTREME task, e.g. xnli, xquad, tatoeba")
        p.add_argument("--attack", required=True, help="attack family (see `attack list`)")
        p.add_argument(
            "--out",
            type=Path,
            default=None,
            help="output root (default $XTREME_ADV_DIR or ~/.cache/xtreme-adv/adversarial)",
        )

    b = sub.add_parser("build", help="build adversarial sets, one per language")
    common(b)
    b.add_argument("--langs", required=True, help="comma-separated XTREME language codes")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="attack parameter (repeatable); `attack list` shows them",
    )
    b.add_argument(
        "--source-model", default=None, help="classifier checkpoint to transfer from (xnli, pawsx)"
    )
    b.add_argument(
        "--data-dir",
        default=None,
        help="XTREME download folder (default $XTREME_DATA_DIR, else the Hub)",
    )  # noqa: E501
    b.add_argument("--split", default=None, help="split to attack (default: as the clean task)")
    b.add_argument("--limit", type=int, default=None, help="only the first N documents")
    b.add_argument(
        "--parallel-half",
        default=None,
        metavar="H",
        help="xnli, pawsx, xquad, mlqa: attack only the documents of parallel half H (0 or 1; "
        "models trained on the other half are scored on it); --limit counts within it",
    )
    b.add_argument(
        "--each-half",
        action="store_true",
        help="xnli, pawsx, xquad, mlqa, with --limit N: the first N documents of each parallel "
        "half (the documents any model is scored on under --limit N)",
    )
    b.add_argument("--num-shards", type=int, default=1)
    b.add_argument("--shard-index", type=int, default=0)
    b.add_argument("--no-progress", action="store_true")

    m = sub.add_parser("merge", help="merge the shards of a sharded build")
    common(m)
    m.add_argument("--langs", required=True)

    sub.add_parser("list", help="list attack families, parameters and defaults")

    lx = sub.add_parser(
        "lexicon", help="align a task's parallel data into MUSE lexicons for codeswitch"
    )
    lx.add_argument("--task", default="xnli", help="xnli, pawsx, xquad, mlqa or tatoeba")
    lx.add_argument("--langs", required=True)
    lx.add_argument("--out", type=Path, required=True, help="folder for <lang>-en.txt files")
    lx.add_argument("--data-dir", default=None)
    lx.add_argument("--limit", type=int, default=None, help="at most N sentence pairs")
    lx.add_argument("--model", default="embedded", help="encoder folder (default: embedded)")

    v = sub.add_parser("validate", help="human validation sheets: export, then import judgments")
    vsub = v.add_subparsers(dest="validate_command", required=True, parser_class=_Parser)
    ve = vsub.add_parser("export", help="sample N examples per set into a CSV + HTML sheet")
    ve.add_argument("--out", type=Path, default=None, help="output root holding the sets")
    ve.add_argument("--sheet", type=Path, required=True, help="folder for the sheet files")
    ve.add_argument("--n", type=int, default=15, help="examples per (task, family, language)")
    ve.add_argument("--seed", type=int, default=0)
    ve.add_argument("--task", default=None)
    ve.add_argument("--attack", default=None)
    ve.add_argument("--langs", default=None)
    ve.add_argument(
        "--prescreen",
        default=None,
        metavar="MODEL",
        help="also back-check XNLI/PAWS-X examples with this classifier (not the victim)",
    )
    vi = vsub.add_parser("import", help="read judgments; write validity rates into manifests")
    vi.add_argument("--out", type=Path, default=None, help="output root holding the sets")
    vi.add_argument("--sheet", type=Path, required=True, help="the filled validation.csv")

    a = sub.add_parser(
        "adaptive", help="attack one checkpoint with a TextAttack search; builds an adaptive set"
    )
    a.add_argument("--model", required=True, help="checkpoint folder the xtreme-encoder scores")
    a.add_argument("--task", required=True)
    a.add_argument(
        "--lang",
        required=True,
        help="a language, or several comma-separated (one process: imports and models load once)",
    )
    a.add_argument("--attack", required=True)
    a.add_argument("--query-budget", type=int, default=200)
    a.add_argument("--num-examples", type=int, default=50, help="first N documents; 0: all")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    a.add_argument("--data-dir", default=None)
    a.add_argument("--split", default=None)
    a.add_argument("--search", choices=("greedy", "beam"), default="greedy")
    a.add_argument("--beam-width", type=int, default=4)
    a.add_argument("--qa-goal", choices=("f1", "em"), default="f1",
                   help="QA: F1 below --qa-f1-ratio x clean F1, or exact match lost")  # fmt: skip
    a.add_argument("--qa-f1-ratio", type=float, default=0.5)
    a.add_argument(
        "--qa-scope",
        choices=("answer_sentence", "context"),
        default="answer_sentence",
        help="QA: context words the search may change (answers never do)",
    )
    a.add_argument("--top-k", type=int, default=1, help="retrieval: gold leaves the top k")
    a.add_argument("--out", type=Path, default=None, help="output root (as attack build)")
    a.add_argument("--num-shards", type=int, default=1)
    a.add_argument("--shard-index", type=int, default=0)
    a.add_argument("--json", type=Path, default=None, help="also write the report here")
    a.add_argument(
        "--json-dir",
        type=Path,
        default=None,
        help="also write each language's report to DIR/<lang>.json",
    )

    for name, helptext in (
        ("push", "push a built set to a Hub dataset repo"),
        ("pull", "download a set from a Hub dataset repo"),
    ):
        p = sub.add_parser(name, help=helptext)
        common(p)
        p.add_argument("--langs", required=True)
        p.add_argument("--repo", required=True, help="Hub dataset repo id, e.g. me/xtreme-adv")
    return parser


def cmd_list() -> int:
    """Print every family with its tasks and parameter defaults."""
    from adversarial.recipes import FAMILIES

    for family in FAMILIES.values():
        print(f"{family.name}: {family.summary} [{family.citation}]")
        print(f"  tasks: {', '.join(family.tasks)}")
        for key, value in family.defaults().items():
            print(f"  --param {key}={value}")
    return 0


def cmd_build(args) -> int:
    """Build one set per language."""
    from adversarial.build import BuildRequest, build

    params = _params(args.param)
    for lang in _langs(args.langs):
        request = BuildRequest(
            args.task,
            lang,
            args.attack,
            params,
            seed=args.seed,
            data_dir=args.data_dir,
            split=args.split,
            source_model=args.source_model,
            limit=args.limit,
            parallel_half=args.parallel_half,
            each_half=args.each_half,
        )
        folder = build(
            request,
            root=args.out,
            num_shards=args.num_shards,
            shard_index=args.shard_index,
            progress=not args.no_progress,
        )
        if folder is None:
            print(
                f"{args.task}/{args.attack}/{lang}: shard {args.shard_index} of "
                f"{args.num_shards} done; run `{PROG} merge` when all shards are"
            )
            continue
        _print_summary(folder)
    return 0


def _print_summary(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    v = manifest["validity"]
    print(
        f"{manifest['task_name']}: {v['attacked']}/{v['n_scored']} attacked, "
        f"skipped {v['skip_reasons']} ({v.get('left_clean_too_short', 0)} left clean as too "
        f"short), similarity floor {v['similarity_floor']}, max ratio {v['max_ratio_observed']}, "
        f"min similarity {v['min_similarity_observed']}, data sha256 "
        f"{manifest['data']['sha256'][:16]} -> {folder}"
    )


def cmd_merge(args) -> int:
    """Merge finished shards."""
    from adversarial.build import default_root, merge

    for lang in _langs(args.langs):
        _print_summary(merge(args.out or default_root(), args.task, args.attack, lang))
    return 0


def cmd_adaptive(args) -> int:
    """Run an adaptive attack per language, build its set and print the report (TextAttack's
    metrics); languages run one after the other in this process."""
    from adversarial.adaptive import run_adaptive
    from adversarial.build import atomic_write_text
    from harness_tasks.families import check_lang, get_family

    if args.num_examples < 0:
        raise XtremeAdvError(f"--num-examples {args.num_examples} must be >= 0 (0: all)")
    langs = list(dict.fromkeys(_langs(args.lang, "--lang")))
    for lang in langs:  # every language checked before the first one's attack runs
        check_lang(get_family(args.task), lang)
    if args.json and len(langs) > 1:
        raise XtremeAdvError(
            f"--json {args.json}: one file for {len(langs)} languages; use --json-dir"
        )
    for lang in langs:
        report = run_adaptive(
            args.model,
            args.task,
            lang,
            args.attack,
            query_budget=args.query_budget,
            num_examples=args.num_examples or None,
            params=_params(args.param),
            seed=args.seed,
            data_dir=args.data_dir,
            split=args.split,
            root=args.out,
            num_shards=args.num_shards,
            shard_index=args.shard_index,
            search=args.search,
            beam_width=args.beam_width,
            qa_goal=args.qa_goal,
            qa_f1_ratio=args.qa_f1_ratio,
            qa_scope=args.qa_scope,
            top_k=args.top_k,
        )
        if report is None:
            print(
                f"adaptive {args.task}/{args.attack}/{lang}: shard {args.shard_index} of "
                f"{args.num_shards} done; the shard that completes the set merges it"
            )
            continue
        text = json.dumps(report, indent=1, sort_keys=True, allow_nan=False)  # strict JSON
        print(text)
        if args.json:
            atomic_write_text(args.json, text + "\n")
        if args.json_dir:
            atomic_write_text(args.json_dir / f"{lang}.json", text + "\n")
    return 0


def cmd_hub(args) -> int:
    """Push or pull sets."""
    from adversarial import hub
    from adversarial.build import default_root

    root = args.out or default_root()
    for lang in _langs(args.langs):
        if args.command == "push":
            print(hub.push(root, args.task, args.attack, lang, args.repo))
        else:
            print(hub.pull(root, args.task, args.attack, lang, args.repo))
    return 0


def cmd_lexicon(args) -> int:
    """Write one aligned MUSE lexicon per language."""
    from adversarial.align import write_lexicon

    for lang in _langs(args.langs):
        path = write_lexicon(args.task, lang, args.out, args.data_dir, args.model, args.limit)
        n = sum(1 for _ in path.open(encoding="utf-8"))
        print(f"{args.task}-{lang}: {n} word pairs -> {path}")
    return 0


def cmd_validate(args) -> int:
    """Export a validation sheet or import its judgments."""
    from adversarial import validate
    from adversarial.build import default_root

    root = args.out or default_root()
    if args.validate_command == "export":
        langs = _langs(args.langs) if args.langs else None
        sheet, n, flagged = validate.export(
            root, args.sheet, args.n, args.seed, args.prescreen,
            task=args.task, attack=args.attack, langs=langs,
        )  # fmt: skip
        print(f"{n} rows ({flagged} flagged by the pre-screen) -> {sheet} and "
              f"{sheet.with_suffix('.html')}")  # fmt: skip
        return 0
    for name, result in validate.import_judgments(args.sheet, root):
        shares = ", ".join(
            f"{j} {result[j]['rate']:.2f} [{result[j]['ci95'][0]:.2f}, {result[j]['ci95'][1]:.2f}]"
            for j in validate.JUDGMENTS
        )
        print(f"{name}: {result['n_judged']} judged; {shares}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``xtreme-adv attack``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    try:
        if args.command == "list":
            return cmd_list()
        if args.command == "build":
            return cmd_build(args)
        if args.command == "merge":
            return cmd_merge(args)
        if args.command == "validate":
            return cmd_validate(args)
        if args.command == "lexicon":
            return cmd_lexicon(args)
        if args.command == "adaptive":
            return cmd_adaptive(args)
        return cmd_hub(args)
    except XtremeAdvError as err:
        sys.stderr.write(f"{PROG}: error: {err}\n")
        return 2
