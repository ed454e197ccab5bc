"""``xtreme-adv demo``: the main job, ``xtreme-adv study run --preset demo``.

The preset (``studies/presets/demo.yaml``) compares a direct and an ANLI-intermediate XNLI
checkpoint of the embedded multilingual-e5-small under character and visual noise, with Tatoeba
retrieval beside them, and reports the intermediate-minus-direct difference of drops with the
leaderboard's paired intervals (``OUT/report.md``, ``OUT/site/``).

- With ``$XTREME_DATA_DIR`` (and ``--intermediate-dir``, default
  ``$XTREME_DATA_DIR/../intermediate``) it runs the full comparison from local files.
- Without it the demo writes a parallel Tatoeba sample (nine languages, six scripts), runs the
  retrieval part on it, and says in one line what it skipped and how to get the rest.

The study runner is reached through the ``xtreme-adv`` command (entry points), never imported.
Every step writes under ``--out`` and is not redone, so an interrupted demo resumes where it
stopped. Quiet by default (one progress bar per step); ``--verbose`` shows every command's output.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from harness_tasks.errors import XtremeAdvError
from harness_tasks.families import FAMILIES, family_of_task, lang_of_task
from harness_tasks.sample_data import SAMPLE_LANGS, write_sample_tatoeba

ATTACKS = ("charnoise", "visual")
DEFAULT_DATA_LANGS = "de,ru,zh,ar,hi"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xtreme-adv demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("xtreme-adv-demo"),
        help="output folder (default: ./xtreme-adv-demo)",
    )
    parser.add_argument(
        "--langs",
        default=None,
        help="comma-separated languages (default: the sample's nine, "
        f"or {DEFAULT_DATA_LANGS} with XTREME_DATA_DIR)",
    )
    parser.add_argument(
        "--layers",
        type=int,
        default=None,
        help="keep only the first N layers of the embedded model (faster)",
    )
    parser.add_argument("--seed", type=int, default=13, help="seed for attacks and training")
    parser.add_argument("--skip-train", action="store_true", help="retrieval only")
    parser.add_argument(
        "--train-examples",
        type=int,
        default=2000,
        help="English training examples per phase (default 2000)",
    )
    parser.add_argument(
        "--intermediate",
        default="anli",
        help="intermediate task(s) of the intermediate checkpoint (default anli)",
    )
    parser.add_argument(
        "--intermediate-dir",
        type=Path,
        default=None,
        help="local intermediate-task files (default $XTREME_DATA_DIR/../intermediate if present)",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="attack and evaluate at most N retrieval queries per language",
    )
    parser.add_argument(
        "--xnli-limit",
        type=int,
        default=300,
        help="XNLI documents scored per language (default 300)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show every command's output, library logs and warnings",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser  # fmt: skip


def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise XtremeAdvError(f"{name}: {value} must be a positive integer")


def _study_args(args: argparse.Namespace, data_dir: str | None, langs: list[str]) -> list[str]:
    """``study run --preset demo`` with the demo's flags as ``--set`` overrides."""
    base = "embedded" + (f":{args.layers}" if args.layers else "")
    inter = [t for t in args.intermediate.split(",") if t]
    sets = {
        "base_models": [{"name": "e5s" + (f"-{args.layers}l" if args.layers else ""),
                         "path": base}],
        "recipes": ["direct", {"name": "-".join(inter), "intermediate": inter}],
        "seeds": [args.seed],
        "attack_seed": args.seed,
        "limits.train_examples": args.train_examples,
        "limits.intermediate_examples": args.train_examples,
        "limits.eval_docs": args.xnli_limit,
        "limits.retrieval_docs": args.limit,
        "languages": {"tatoeba": langs,
                      "xnli": [x for x in langs if x in FAMILIES["xnli"].langs and x != "en"]
                      or DEFAULT_DATA_LANGS.split(",")},
    }  # fmt: skip
    if args.skip_train:
        sets["targets"] = ["tatoeba"]
        sets["languages"] = {"tatoeba": langs}
    argv = ["study", "run", "--preset", "demo", "--out", str(args.out)]
    for key, value in sets.items():
        argv += ["--set", f"{key}={json.dumps(value)}"]
    if data_dir:
        argv += ["--data-dir", data_dir]
    inter_dir = args.intermediate_dir
    if inter_dir is None and data_dir and os.environ.get("XTREME_DATA_DIR"):
        beside = Path(data_dir).resolve().parent / "intermediate"
        inter_dir = beside if beside.is_dir() else None
    if inter_dir is not None:
        argv += ["--intermediate-dir", str(inter_dir)]
    if args.verbose:
        argv.append("--verbose")
    if args.no_progress:
        argv.append("--no-progress")
    return argv


def _results_files(out: Path) -> list[Path]:
    return sorted(out.rglob("results_*.json"))


def side_by_side(results_dir: Path) -> str:
    """A text table of clean and adversarial scores per model, task and language, read from
    the lm-eval results JSON files under ``results_dir`` (primary metric, x100)."""
    scores: dict[tuple[str, str, str], dict[str, float]] = {}
    for path in _results_files(results_dir):
        report = json.loads(path.read_text(encoding="utf-8"))
        model = path.relative_to(results_dir).parts[0]
        for name, values in report.get("results", {}).items():
            if not name.startswith("xtreme_"):
                continue
            family = family_of_task(name)
            value = values.get(f"{family.metric},none")
            if not isinstance(value, (int, float)):
                continue
            prefix = f"xtreme_adv_{family.name}_"
            column = name[len(prefix) :].rsplit("_", 1)[0] if name.startswith(prefix) else "clean"
            scores.setdefault((model, family.name, lang_of_task(name)), {})[column] = value
    header = ["model", "task", "lang", "clean", *ATTACKS]
    lines = [header]
    for (model, task, lang), row in sorted(scores.items()):
        cells = [f"{100 * row[c]:.1f}" if c in row else "-" for c in ("clean", *ATTACKS)]
        lines.append([model, f"{task} ({FAMILIES[task].metric})", lang, *cells])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def main(argv: list[str]) -> int:
    """Entry point of ``xtreme-adv demo``."""
    args = _parser().parse_args(argv)
    for name, value in (
        ("--layers", args.layers),
        ("--train-examples", args.train_examples),
        ("--limit", args.limit),
        ("--xnli-limit", args.xnli_limit),
    ):
        _positive(name, value)  # fmt: skip
    out = args.out.resolve()
    data_dir = os.environ.get("XTREME_DATA_DIR")
    if data_dir:
        langs = (args.langs or DEFAULT_DATA_LANGS).split(",")
    else:
        langs = (args.langs or ",".join(SAMPLE_LANGS)).split(",")
    unknown = [lang for lang in langs if lang not in FAMILIES["tatoeba"].langs]
    if unknown:
        raise XtremeAdvError(f"--langs: {', '.join(unknown)} not among Tatoeba's languages")
    if not out.parent.is_dir():
        raise XtremeAdvError(f"--out {args.out}: the folder {out.parent} does not exist")
    args.out = out
    if not data_dir:
        data_dir = str(write_sample_tatoeba(out / "sample_data"))
        print(
            f"XTREME_DATA_DIR not set: Tatoeba retrieval on a {len(SAMPLE_LANGS)}-language sample "
            "only; XNLI training and the intermediate vs direct comparison are skipped (set "
            "XTREME_DATA_DIR to an XTREME download folder, and --intermediate-dir, for them)",
            flush=True,
        )
    cmd = [sys.executable, "-m", "harness_tasks.cli", *_study_args(args, data_dir, langs)]
    proc = subprocess.run(cmd)
    results = out / "results"
    if results.is_dir():
        print("\nClean and adversarial scores (x100):\n")
        print(side_by_side(results))
    report = out / "report.md"
    if report.is_file():
        answer = [ln for ln in report.read_text(encoding="utf-8").splitlines()
                  if ln.startswith("**")]  # fmt: skip
        print("\n" + "\n".join(answer))
        print(f"\nDemo finished: report {report}; leaderboard site {out / 'site' / 'index.html'}")
    return proc.returncode
