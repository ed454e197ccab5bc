"""From merged model runs to leaderboard rows, XTREME-style averages and recipe comparisons.

A row is one model x task x language x attack: the clean twin ``xtreme_<task>_<lang>`` against
``xtreme_adv_<task>_<attack>_<lang>``. Per-document statistics need both samples files; they
are paired by ``doc.id`` (docs/contracts.md section 6).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field, replace

import numpy as np

from leaderboards import stats
from leaderboards.errors import LeaderboardError
from leaderboards.holdout import attack_kind, check_run
from leaderboards.names import ADAPTIVE_RE, TaskName, parse_task
from leaderboards.parallel_units import is_parallel, shared_units
from leaderboards.results import ModelRun, TaskResult
from leaderboards.units import Scores, Side
from leaderboards.validity import NOT_VALIDATED, SetValidity, match, row_fields, set_summary

SCHEMA = "xtreme-adv/leaderboard/1"
ALPHA = 0.05


@dataclass
class Board:
    """Everything the outputs render; ``to_json`` is the stable, versioned form."""

    models: list[dict]
    rows: list[dict]
    averages: list[dict]
    comparisons: list[dict]
    comparison_averages: list[dict]
    settings: dict
    validity: list[dict] = field(default_factory=list)  # judged sets (leaderboards.validity)

    def to_json(self) -> dict:
        """The leaderboard as JSON (schema ``xtreme-adv/leaderboard/1``)."""
        return {
            "schema": SCHEMA,
            "settings": self.settings,
            "models": self.models,
            "rows": self.rows,
            "averages": self.averages,
            "comparisons": self.comparisons,
            "comparison_averages": self.comparison_averages,
            "validity": self.validity,
        }


def _r(x: float | None) -> float | None:
    # Ten significant digits: stable, readable JSON that keeps tiny p-values meaningful.
    return None if x is None else float(f"{float(x):.10g}")


def _ci(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [_r(ci[0]), _r(ci[1])]


def check_twins(run: ModelRun) -> list[tuple[TaskResult, TaskResult]]:
    """Pair every adversarial task of ``run`` with its clean twin; missing twins are errors."""
    by_task: dict[str, set[str]] = defaultdict(set)
    for result in run.tasks.values():
        if result.name.attack is not None:
            by_task[result.name.task].add(result.name.attack)
    pairs = []
    for result in sorted(run.tasks.values(), key=lambda r: r.name.name):
        name = result.name
        if name.attack is not None:
            clean = run.tasks.get(name.clean.name)
            if clean is None:
                raise LeaderboardError(
                    f"{result.source}: {name.name} has no clean twin {name.clean.name} "
                    f"for model {run.model_id!r}"
                )
            pairs.append((clean, result))
            continue
        attacks = by_task.get(name.task)
        if not attacks:
            raise LeaderboardError(
                f"{result.source}: {name.name} has no adversarial twin "
                f"(no xtreme_adv_{name.task}_<attack>_{name.lang}) for model {run.model_id!r}"
            )
        for attack in sorted(attacks):
            twin = TaskName(name.task, name.lang, attack).name
            if twin not in run.tasks:
                raise LeaderboardError(
                    f"{result.source}: {name.name} has no adversarial twin {twin} "
                    f"(attack {attack} was evaluated for other languages of {name.task})"
                )
    return pairs


def _half_of(result: TaskResult) -> object:
    record = result.extra.get("parallel_half")
    return record.get("scored_half") if isinstance(record, dict) else None


def check_comparable(runs: dict[str, ModelRun]) -> None:
    """Every model must have seen the same version and documents/prompts of each task.

    Results restricted to one parallel half (contracts.md section 8) hold a subset of the
    documents, so their task hash is compared only with results of the same half; rows and
    comparisons then pair the documents both sides hold.
    """
    seen: dict[str, TaskResult] = {}
    hashes: dict[tuple[str, object], TaskResult] = {}
    for run in runs.values():
        for task_name, result in run.tasks.items():
            first = seen.setdefault(task_name, result)
            if first.version != result.version:
                raise LeaderboardError(
                    f"{result.source}: versions.{task_name} is {result.version}, but "
                    f"{first.source} has {first.version}"
                )
            first = hashes.setdefault((task_name, _half_of(result)), result)
            if first.task_hash and result.task_hash and first.task_hash != result.task_hash:
                raise LeaderboardError(
                    f"{result.source}: task_hashes.{task_name} is {result.task_hash}, but "
                    f"{first.source} has {first.task_hash} (different documents or prompts)"
                )


def align(scores: list[Scores]) -> list[Scores] | None:
    """Restrict every side to the documents all of them hold, in the first side's order."""
    common = set(scores[0].ids)
    for other in scores[1:]:
        common &= set(other.ids)
    if not common:
        return None
    order = [d for d in scores[0].ids if d in common]
    out = []
    for s in scores:
        if len(s.ids) == len(order) and s.ids == tuple(order):
            out.append(s)
            continue
        index = s.index()
        out.append(s.take(np.fromiter((index[d] for d in order), np.int64, len(order))))
    return out


def unit_codes(scores: Scores) -> tuple[np.ndarray | None, int]:
    """Resampling units: QA context paragraphs (codes 0..k-1), else each document (None)."""
    if scores.cluster is None:
        return None, len(scores.ids)
    _, codes = np.unique(scores.cluster, return_inverse=True)
    return codes.astype(np.int64), int(codes.max()) + 1


@dataclass
class Combination:
    """sum_k coef_k * statistic_k over sides that share one resampling of units."""

    sides: list[Side]
    coefs: list[float]

    def collapsed(self) -> Combination:
        """One side when all share their denominators (a linear statistic: exact, faster)."""
        first = self.sides[0]
        if first.kind == "bucc" or any(
            s.kind == "bucc" or not np.array_equal(s.den, first.den) for s in self.sides[1:]
        ):
            return self
        num = sum(c * s.num for c, s in zip(self.coefs, self.sides, strict=True))
        unit = all(s.unit_den for s in self.sides)
        side = Side(first.kind, np.asarray(num, dtype=np.float64), first.den, unit_den=unit)
        return Combination([side], [1.0])

    def point(self) -> float:
        """The combination on the documents as they are."""
        return float(sum(c * s.point() for c, s in zip(self.coefs, self.sides, strict=True)))

    def replicates(self, idx: np.ndarray) -> np.ndarray:
        """The combination on every resample."""
        out = np.zeros(idx.shape[0])
        for c, s in zip(self.coefs, self.sides, strict=True):
            out += c * s.replicates(idx)
        return out

    def jackknife(self) -> np.ndarray | None:
        """Leave-one-unit-out values (None if a side has none)."""
        jacks = [s.jackknife() for s in self.sides]
        if any(j is None for j in jacks):
            return None
        return sum(c * j for c, j in zip(self.coefs, jacks, strict=True))

    def bca(self, idx: np.ndarray) -> tuple[stats.BCa, np.ndarray]:
        """BCa interval and p-value, with the replicates (for averages)."""
        one = self.collapsed()
        reps = one.replicates(idx)
        return stats.bca(reps, one.point(), one.jackknife()), reps


@dataclass
class RowReplicates:
    """Bootstrap replicates of a row's clean and adversarial score (for average intervals),
    with the paired documents they were drawn from (a parallel task's average draws again)."""

    clean: np.ndarray
    adv: np.ndarray
    docs: tuple[Scores, Scores] | None = None
    split: str | None = None  # the split scored (translations pair within one split)


_SET_FIELDS = ("data_sha256", "clean_data_sha256", "attack", "params", "seed", "source_model")


def _attack_set(adv: TaskResult) -> dict:
    """What the results record of the adversarial set (its manifest, contracts.md section 6)."""
    out = {k: adv.extra[k] for k in _SET_FIELDS if adv.extra.get(k) is not None}
    model = out.get("source_model")
    if isinstance(model, dict):  # the attacked checkpoint: its hash and folder name, no local path
        out["source_model"] = {
            k: (local_path_tail(v) or v) if k == "path" and isinstance(v, str) else v
            for k, v in model.items()
        }
    source = adv.extra.get("source")
    if isinstance(source, str) and source:
        out["set"] = source.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
    return out


def make_row(
    run: ModelRun, clean: TaskResult, adv: TaskResult, n_boot: int, seed: int
) -> tuple[dict, RowReplicates | None]:
    """One leaderboard row: scores, drops and, with samples, flips and paired intervals.

    With per-sample files, ``clean``, ``adv`` and ``drop`` are estimates on the documents both
    sides hold (``n_paired``), the same documents their intervals describe; the results file's
    own values are kept as ``clean_reported`` / ``adv_reported`` (over ``n_clean`` / ``n_adv``).
    """
    name = adv.name
    row = {
        "model": run.model_id,
        "task": name.task,
        "lang": name.lang,
        "attack": name.attack,
        "metric": adv.metric,
        "clean": _r(clean.value),
        "adv": _r(adv.value),
        "drop": _r(clean.value - adv.value),
        "pdr": _r(stats.performance_drop_rate(clean.value, adv.value)),
        "clean_reported": _r(clean.value),
        "adv_reported": _r(adv.value),
        "clean_stderr": _r(clean.stderr),
        "adv_stderr": _r(adv.stderr),
        "n_clean": clean.n,
        "n_adv": adv.n,
        "n_paired": None,
        "n_units": None,
        "interval_method": None,
        "flip_rate": None,
        "perturbed_rate": None,
        "n_perturbed": None,
        "clean_ci": None,
        "adv_ci": None,
        "drop_ci": None,
        "drop_p": None,
        "pdr_ci": None,
        "attack_kind": attack_kind(run, adv),
        "attack_set": _attack_set(adv),
        "version": adv.version,
        "task_hash_clean": clean.task_hash,
        "task_hash_adv": adv.task_hash,
    }
    if clean.samples is None or adv.samples is None:
        return row, None
    pair = align([clean.samples, adv.samples])
    if pair is None:
        raise LeaderboardError(
            f"{adv.source}: no doc.id of {adv.name.name} matches one of {clean.name.name}"
        )
    sc_docs, sa_docs = pair
    if sa_docs.perturbed is not None:  # how much of the scored set the attack changed at all
        row["n_perturbed"] = int(sa_docs.perturbed.sum())
        row["perturbed_rate"] = _r(row["n_perturbed"] / len(sa_docs.ids))
    units, n_units = unit_codes(sc_docs)
    sc, sa = Side.of(sc_docs, units, n_units), Side.of(sa_docs, units, n_units)
    idx = stats.bootstrap_indices(
        stats.row_rng(seed, f"{run.model_id}|{name.name}"), n_units, n_boot
    )
    c_point, a_point = sc.point(), sa.point()
    rc, ra = sc.replicates(idx), sa.replicates(idx)
    jc, ja = sc.jackknife(), sa.jackknife()
    # the drop's replicates are those of clean minus adversarial (one shared resampling)
    drop = stats.bca(rc - ra, c_point - a_point, None if jc is None or ja is None else jc - ja)
    binary = sc_docs.binary and sa_docs.binary
    if binary:  # score intervals: right coverage at small n and at 0% / 100%
        n = len(sc_docs.ids)
        row["clean_ci"] = _ci(stats.wilson_interval(int(sc_docs.num.sum()), n))
        row["adv_ci"] = _ci(stats.wilson_interval(int(sa_docs.num.sum()), n))
        row["drop_ci"] = _ci(stats.newcombe_paired_interval(sc_docs.num, sa_docs.num))
        row["flip_rate"] = _r(stats.flip_rate(sc_docs.num, sa_docs.num))
        row["interval_method"] = "wilson/newcombe"
    else:
        row["clean_ci"] = _ci(stats.bca(rc, c_point, jc).interval)
        row["adv_ci"] = _ci(stats.bca(ra, a_point, ja).interval)
        row["drop_ci"] = _ci(drop.interval)
        row["interval_method"] = "bca" + ("-clustered" if units is not None else "")
    row["drop_p"] = _r(drop.p)
    pdr = stats.performance_drop_rate(c_point, a_point)
    if pdr is not None and np.all(rc > 0):
        jack = None if jc is None or ja is None or np.any(jc <= 0) else 1.0 - ja / jc
        row["pdr_ci"] = _ci(stats.bca(1.0 - ra / rc, pdr, jack).interval)
    row.update(
        clean=_r(c_point), adv=_r(a_point), drop=_r(c_point - a_point), pdr=_r(pdr),
        n_paired=len(sc_docs.ids), n_units=n_units,
    )  # fmt: skip
    return row, RowReplicates(rc, ra, (sc_docs, sa_docs), clean.extra.get("split"))


def _mean(values: list[float]) -> float:
    return float(np.mean(values))


def _avg_ci(reps: list[RowReplicates | None]) -> tuple[dict, RowReplicates | None]:
    """Percentile intervals of an average, from the average of its parts' replicates (drawn
    independently per part, or from one resampling of a parallel task's items)."""
    if not reps or any(r is None for r in reps):
        return {"clean_ci": None, "adv_ci": None, "drop_ci": None}, None
    clean = np.mean([r.clean for r in reps], axis=0)
    adv = np.mean([r.adv for r in reps], axis=0)
    return (
        {
            "clean_ci": _ci(stats.percentile_interval(clean)),
            "adv_ci": _ci(stats.percentile_interval(adv)),
            "drop_ci": _ci(stats.percentile_interval(clean - adv)),
        },
        RowReplicates(clean, adv),
    )


def xtreme_averages(
    rows: list[dict], replicates: dict[tuple[str, str, str, str], RowReplicates] | None = None
) -> list[dict]:
    """XTREME-style averages: over languages per task, then over tasks, per model and attack.

    ``level`` is ``task`` (mean over the task's languages) or ``all`` (mean of the task means).
    The relative drop of an average is the PDR of the averaged scores. With ``replicates``
    (keyed by model, task, lang, attack), each average gets percentile intervals of the same
    average taken over the rows' bootstrap replicates: a parallel task's languages drawn from one
    resampling of its items (``rows_languages_together``), other tasks' languages and the tasks
    of ``all`` as independent strata.
    """
    replicates = replicates or {}
    by_task: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for row in rows:
        by_task[(row["model"], row["attack"], row["task"])].append(row)
    out: list[dict] = []
    per_attack: dict[tuple[str, str], list[tuple[dict, RowReplicates | None]]] = defaultdict(list)
    for (model, attack, task), group in sorted(by_task.items()):
        clean = _mean([r["clean"] for r in group])
        adv = _mean([r["adv"] for r in group])
        cis, reps = _avg_ci([replicates.get((model, task, r["lang"], attack)) for r in group])
        avg = {
            "model": model,
            "attack": attack,
            "task": task,
            "level": "task",
            "clean": _r(clean),
            "adv": _r(adv),
            "drop": _r(clean - adv),
            "pdr": _r(stats.performance_drop_rate(clean, adv)),
            "n_langs": len(group),
            "n_tasks": 1,
            **cis,
        }
        out.append(avg)
        per_attack[(model, attack)].append((avg, reps))
    for (model, attack), group in sorted(per_attack.items()):
        clean = _mean([a["clean"] for a, _ in group])
        adv = _mean([a["adv"] for a, _ in group])
        cis, _ = _avg_ci([r for _, r in group])
        out.append(
            {
                "model": model,
                "attack": attack,
                "task": "all",
                "level": "all",
                "clean": _r(clean),
                "adv": _r(adv),
                "drop": _r(clean - adv),
                "pdr": _r(stats.performance_drop_rate(clean, adv)),
                "n_langs": sum(a["n_langs"] for a, _ in group),
                "n_tasks": len(group),
                **cis,
            }
        )
    return out


def _group_key(card: dict) -> tuple[str, str, str, tuple[str, ...]]:
    return (
        card["base_model"]["sha256"],
        str(card.get("target_task")),
        card["recipe"],
        tuple(sorted(card.get("intermediate_tasks") or [])),
    )


def recipe_groups(
    runs: dict[str, ModelRun],
) -> list[tuple[dict[int, ModelRun], dict[int, ModelRun]]]:
    """(intermediate seeds -> run, direct seeds -> run) for every matched pair of seed sets.

    Matching follows contracts.md section 5: same base weights, target task and seed; only
    seeds present in both recipes are compared. A target with no target-task training
    (retrieval: Tatoeba, BUCC) has no ``direct`` model: ``train direct`` writes the base model
    as recipe ``pretrained``, and that is the baseline the intermediate model is compared with.
    """
    groups: dict[tuple, dict[int, ModelRun]] = defaultdict(dict)
    for run in runs.values():
        if run.provenance is None:
            continue
        key = _group_key(run.provenance)
        seed = run.provenance["seed"]
        if seed in groups[key]:
            raise LeaderboardError(
                f"{run.files[0]}: models {groups[key][seed].model_id!r} and {run.model_id!r} "
                f"share base model, recipe, target task and seed {seed}"
            )
        groups[key][seed] = run
    out = []
    for key, inter in sorted(groups.items()):
        if key[2] != "intermediate":
            continue
        direct = groups.get((key[0], key[1], "direct", ())) or groups.get(
            (key[0], key[1], "pretrained", ())
        )
        if not direct:
            continue
        seeds = sorted(set(inter) & set(direct))
        if seeds:
            out.append(({s: inter[s] for s in seeds}, {s: direct[s] for s in seeds}))
    return out


def local_path_tail(value: str) -> str | None:
    """The last part of an absolute or home-relative local path; None for anything else
    (a Hub id such as ``intfloat/multilingual-e5-small`` is not a local path)."""
    if re.match(r"^(/|~|[A-Za-z]:[\\/])", value):
        return re.split(r"[\\/]", value.rstrip("/\\"))[-1]
    return None


def base_label(base_model: dict) -> str:
    """The base model's name as shown and keyed: a local folder is reduced to its last part.

    The comparison id seeds the comparison's bootstrap and is printed in every report, so it
    must not depend on where the base model lay on the machine that trained (the same weights
    in ``/root/.cache/...`` and ``/home/me/...`` give the same intervals).
    """
    name = str(base_model.get("name") or base_model["sha256"][:12])
    tail = local_path_tail(name)
    if tail is None:
        return name
    return tail or base_model["sha256"][:12]


def _comparison_id(card: dict, baseline_recipe: str = "direct") -> str:
    label = "+".join(sorted(card.get("intermediate_tasks") or [])) or "intermediate"
    base = base_label(card["base_model"])
    return f"{base}/{card.get('target_task')}: {label} vs {baseline_recipe}"


def _doc_level_test(
    inter: list[TaskResult], direct: list[TaskResult], rng: np.random.Generator, n_boot: int
) -> tuple[dict, np.ndarray, list[Scores], list[float]] | None:
    """Difference of drops on the documents every model of both seed sets holds: the test,
    its replicates, and the aligned documents and coefficients of every side.

    ``inter`` / ``direct`` alternate clean and adversarial results, seed by seed. Units
    (documents, or QA paragraphs) are resampled with replacement, each carrying all its seeds
    and both recipes: the cluster bootstrap of Davison and Hinkley (1997, sec. 3.8) with the
    document as cluster. Seeds are not resampled again inside a document: for a mean that
    would count the within-document variance twice (a conservative, not a valid, test); the
    spread over seeds is reported separately as ``ci_seeds``.
    """
    results = [*inter, *direct]
    if any(r.samples is None for r in results):
        return None
    if len({r.samples.kind for r in results}) != 1:
        return None
    aligned = align([r.samples for r in results])
    if aligned is None:
        return None
    units, n_units = unit_codes(aligned[0])
    sides = [Side.of(a, units, n_units) for a in aligned]
    k = len(inter) // 2
    # drop = clean - adv, averaged over seeds; intermediate minus direct
    coefs = [(1.0 if j % 2 == 0 else -1.0) / k for j in range(2 * k)]
    coefs += [-c for c in coefs]
    idx = stats.bootstrap_indices(rng, n_units, n_boot)
    result, reps = Combination(sides, coefs).bca(idx)
    drop_i = Combination(sides[: 2 * k], coefs[: 2 * k]).point()
    return (
        {
            "drop_intermediate": _r(drop_i),
            "drop_direct": _r(drop_i - result.estimate),
            "diff": _r(result.estimate),
            "ci_examples": _ci(result.interval),
            "p": _r(result.p),
            "test": "bca-bootstrap-documents" + ("-clustered" if units is not None else ""),
            "n_paired": len(aligned[0].ids),
            "n_units": n_units,
        },
        reps,
        aligned,
        coefs,
    )


def _languages_together(
    by_name: dict[str, tuple[str, str | None, list[Scores], list[float]]],
    rng: np.random.Generator,
    n_boot: int,
) -> dict[str, np.ndarray]:
    """Replicates of each language's combination (``name`` -> (lang, split, aligned sides,
    coefs)), all drawn from one resampling of the task's parallel units (``parallel_units``)."""
    codes, n_units = shared_units(
        {lang: aligned[0] for lang, _, aligned, _ in by_name.values()},
        {lang: split for lang, split, _, _ in by_name.values()},
    )
    idx = stats.bootstrap_indices(rng, n_units, n_boot)
    out = {}
    for name, (lang, _, aligned, coefs) in by_name.items():
        sides = [Side.of(a, codes[lang], n_units) for a in aligned]
        out[name] = Combination(sides, coefs).collapsed().replicates(idx)
    return out


def rows_languages_together(
    reps: dict[tuple[str, str, str, str], RowReplicates], n_boot: int, seed: int
) -> dict[tuple[str, str, str, str], RowReplicates]:
    """``reps`` (keyed by model, task, lang, attack) with each parallel task's languages drawn
    again from one resampling of parallel units per model and attack, so that an average over
    those languages carries the covariance of translations (``parallel_units``)."""
    groups: dict[tuple[str, str, str], dict[str, RowReplicates]] = defaultdict(dict)
    for (model, task, lang, attack), r in reps.items():
        if is_parallel(task) and r.docs is not None:
            groups[(model, task, attack)][lang] = r
    out = dict(reps)
    for (model, task, attack), by_lang in sorted(groups.items()):
        # each language's clean and adversarial side, all on one resampling of the items
        by_name = {
            f"{side}|{lang}": (lang, r.split, [docs], [1.0])
            for lang, r in by_lang.items()
            for side, docs in zip(("clean", "adv"), r.docs, strict=True)
        }
        rng = stats.row_rng(seed, f"{model}|{task}|{attack}|languages")
        drawn = _languages_together(by_name, rng, n_boot)
        for lang in by_lang:
            out[(model, task, lang, attack)] = RowReplicates(
                drawn[f"clean|{lang}"], drawn[f"adv|{lang}"]
            )
    return out


def comparison_attack(row: dict) -> str:
    """The attack under which a row meets other models' rows in a comparison: its own, except
    for a set attacked against the row's model (``adaptive-self``), whose name loses the
    weights key (``adaptive-charnoise``): each model is compared under the attack built
    against itself."""
    match = ADAPTIVE_RE.match(row["attack"] or "")
    if row["attack_kind"] != "adaptive-self" or match is None:
        return row["attack"]
    return f"adaptive-{match['family']}"


def compare(
    inter: dict[int, ModelRun],
    direct: dict[int, ModelRun],
    rows: dict[tuple[str, str], dict],
    n_boot: int,
    seed: int,
    tasks_of: dict[str, dict[str, str]],
) -> tuple[list[dict], list[dict]]:
    """Difference of drops (intermediate - direct) per task x language x attack, and averages.

    With per-sample files on every side, the point estimate, its 95% BCa interval over
    documents and the p-value (the interval inverted at zero) all come from one paired
    resampling of the documents every model of both seed sets holds, so the sign of ``diff``,
    ``ci_examples`` and ``p`` always agree. Without them, ``diff`` is the mean of the rows'
    drop differences and only the interval over seeds exists. Benjamini-Hochberg runs over
    the p-values of each task's languages x attacks within one comparison.

    ``tasks_of``: per model, its comparison names (``comparison_attack``) and the adversarial
    task each stands for: a static or transfer set is one task every model is scored on; an
    adaptive set is one per model, each attacked against that model (``adaptive-self``).
    """
    seeds = sorted(inter)
    first = inter[seeds[0]].provenance
    cid = _comparison_id(first, direct[seeds[0]].provenance["recipe"])
    tasks = set.intersection(
        *(set(tasks_of[run.model_id]) for run in [*inter.values(), *direct.values()])
    )
    out: list[dict] = []
    replicates: dict[str, np.ndarray] = {}
    # a parallel task's languages, for averages drawn from one resampling of parallel units
    together: dict[tuple[str, str], dict[str, tuple]] = defaultdict(dict)
    for cmp_name in sorted(tasks):
        adv_i = [tasks_of[inter[s].model_id][cmp_name] for s in seeds]
        adv_d = [tasks_of[direct[s].model_id][cmp_name] for s in seeds]
        ri = [rows[(inter[s].model_id, n)] for s, n in zip(seeds, adv_i, strict=True)]
        rd = [rows[(direct[s].model_id, n)] for s, n in zip(seeds, adv_d, strict=True)]
        if len({r["attack_kind"] for r in ri + rd}) != 1:
            continue  # an adaptive row of one model is never compared with a transfer row
        diffs = [a["drop"] - b["drop"] for a, b in zip(ri, rd, strict=True)]
        item = {
            "comparison": cid,
            "intermediate_models": [inter[s].model_id for s in seeds],
            "direct_models": [direct[s].model_id for s in seeds],
            "seeds": seeds,
            "base_model": first["base_model"],
            "target_task": first.get("target_task"),
            "intermediate_tasks": sorted(first.get("intermediate_tasks") or []),
            "task": ri[0]["task"],
            "lang": ri[0]["lang"],
            "attack": comparison_attack(ri[0]),
            "attack_kind": ri[0]["attack_kind"],
            "metric": ri[0]["metric"],
            "drop_intermediate": _r(_mean([r["drop"] for r in ri])),
            "drop_direct": _r(_mean([r["drop"] for r in rd])),
            "diff": _r(_mean(diffs)),
            "diff_by_seed": [_r(d) for d in diffs],
            "ci_seeds": _ci(stats.seed_interval(diffs)),
            "ci_examples": None,
            "p": None,
            "test": None,
            "n_paired": None,
            "n_units": None,
            "p_adjusted": None,
            "significant": None,
        }
        clean_name = parse_task(adv_i[0]).clean.name
        sides_i = [
            r
            for s, n in zip(seeds, adv_i, strict=True)
            for r in (inter[s].tasks[clean_name], inter[s].tasks[n])
        ]
        sides_d = [
            r
            for s, n in zip(seeds, adv_d, strict=True)
            for r in (direct[s].tasks[clean_name], direct[s].tasks[n])
        ]
        rng = stats.row_rng(seed, f"cmp|{cid}|{cmp_name}")
        tested = _doc_level_test(sides_i, sides_d, rng, n_boot)
        if tested is not None:
            item.update(tested[0])
            replicates[cmp_name] = tested[1]
            if is_parallel(item["task"]):
                split = sides_i[0].extra.get("split")
                together[(item["task"], item["attack"])][cmp_name] = (item["lang"], split,
                                                                      *tested[2:])  # fmt: skip
        out.append(item)
    for (task, attack), by_name in sorted(together.items()):
        key = f"cmp|{cid}|{task}|{attack}|languages"
        replicates.update(_languages_together(by_name, stats.row_rng(seed, key), n_boot))
    by_task: dict[str, list[dict]] = defaultdict(list)
    for item in out:
        if item["p"] is not None:
            by_task[item["task"]].append(item)
    for items in by_task.values():
        adjusted = stats.benjamini_hochberg([i["p"] for i in items])
        for item, p in zip(items, adjusted, strict=True):
            item["p_adjusted"] = _r(p)
            item["significant"] = p < ALPHA
    return out, _comparison_averages(out, replicates)


def _average_item(first: dict, group: list[dict], reps: list[np.ndarray] | None) -> dict:
    ci_examples = p = None
    if reps is not None:
        mean_reps = np.mean(reps, axis=0)
        ci_examples = _ci(stats.percentile_interval(mean_reps))
        p = _r(stats.percentile_pvalue(mean_reps))
    tested = [i for i in group if i.get("p") is not None or i.get("n_tested")]
    n_tested = sum(i.get("n_tested", 1) for i in tested)
    n_sig = sum(
        i.get("n_significant") or 0 if "n_tested" in i else int(bool(i["significant"]))
        for i in tested
    )
    by_seed = np.mean([i["diff_by_seed"] for i in group], axis=0).tolist()
    return {
        "comparison": first["comparison"],
        "intermediate_models": first["intermediate_models"],
        "direct_models": first["direct_models"],
        "seeds": first["seeds"],
        "n_langs": sum(i.get("n_langs", 1) for i in group),
        "drop_intermediate": _r(_mean([i["drop_intermediate"] for i in group])),
        "drop_direct": _r(_mean([i["drop_direct"] for i in group])),
        "diff": _r(_mean([i["diff"] for i in group])),
        "diff_by_seed": [_r(d) for d in by_seed],
        "ci_examples": ci_examples,
        "p": p,
        "ci_seeds": _ci(stats.seed_interval(by_seed)),
        "n_tested": n_tested,
        # None, shown as n/a, when no test ran: never "0 significant" for "not tested".
        "n_significant": n_sig if n_tested else None,
    }


def _comparison_averages(items: list[dict], replicates: dict[str, np.ndarray]) -> list[dict]:
    """Per comparison: the difference averaged over languages (per task and attack), then over
    tasks (``task`` = ``all``), with intervals from the averaged replicates.

    The languages of a parallel task (XNLI, PAWS-X, XQuAD, MLQA, XCOPA: translations) were
    drawn from one resampling of its items (``_languages_together``), so the covariance of
    translations is in the average; other tasks' languages, and the tasks of ``all``, are
    independent strata (their own streams). The average of the replicates is a replicate of the
    average; its percentile interval and p-value (ties half) agree in sign by construction.
    """
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for item in items:
        groups[(item["task"], item["attack"])].append(item)
    out = []
    per_attack: dict[str, list[tuple[dict, np.ndarray | None]]] = defaultdict(list)
    for (task, attack), group in sorted(groups.items()):
        names = [f"xtreme_adv_{task}_{attack}_{i['lang']}" for i in group]
        reps = [replicates[n] for n in names] if all(n in replicates for n in names) else None
        avg = {
            "task": task,
            "attack": attack,
            "level": "task",
            **_average_item(group[0], group, reps),
        }
        out.append(avg)
        per_attack[attack].append((avg, None if reps is None else np.mean(reps, axis=0)))
    for attack, group in sorted(per_attack.items()):
        parts = [a for a, _ in group]
        reps = [r for _, r in group]
        avg = {
            "task": "all", "attack": attack, "level": "all",
            **_average_item(parts[0], parts, None if any(r is None for r in reps) else reps),
        }  # fmt: skip
        avg["n_tasks"] = len(parts)
        out.append(avg)
    return out


# Row fields computed on the documents judged valid only (leaderboards.validity).
VALID_FIELDS = ("clean", "adv", "drop", "clean_ci", "adv_ci", "drop_ci", "n_paired")


def restrict_to_valid(adv: TaskResult, record: SetValidity) -> TaskResult | None:
    """``adv`` with its samples restricted to the documents judged valid (None: none left)."""
    if adv.samples is None:
        return None
    valid = record.valid_ids()
    keep = [i for i, doc in enumerate(adv.samples.ids) if doc in valid]
    if not keep:
        return None
    return replace(adv, samples=adv.samples.take(np.asarray(keep, dtype=np.int64)))


def _validity_columns(
    row: dict, record: SetValidity | None, valid_row: dict | None, reason: str | None
) -> None:
    """Add the set's validity rate and the validated-only scores (or why there are none)."""
    fields = row_fields(record)
    for key in ("valid_rate", "label_changed_rate", "unreadable_rate"):
        fields[key] = _r(fields[key])
    fields["valid_ci"] = None if fields["valid_ci"] is None else _ci(fields["valid_ci"])
    row.update(fields)
    row["validated_only"] = reason or "computed"
    for key in VALID_FIELDS:
        name = "n_valid" if key == "n_paired" else key.replace("_ci", "") + "_valid"
        name += "_ci" if key.endswith("_ci") else ""
        row[name] = None if valid_row is None else valid_row[key]


def _shared_docs(clean: TaskResult, adv: TaskResult) -> bool:
    if clean.samples is None or adv.samples is None:
        return False
    return not set(clean.samples.ids).isdisjoint(adv.samples.ids)


def validity_row(
    clean: TaskResult, adv: TaskResult, validity: dict | None
) -> tuple[SetValidity | None, TaskResult | None, str | None]:
    """Judgments of the row's set, its adversarial result restricted to the documents judged
    valid and, when there is none, the reason (not validated, no samples, no valid document)."""
    if validity is None:
        return None, None, NOT_VALIDATED
    name = adv.name
    record = match(validity, (name.task, name.attack, name.lang), adv.extra.get("data_sha256"),
                   adv.source)  # fmt: skip
    if record is None:
        return None, None, NOT_VALIDATED
    if clean.samples is None or adv.samples is None:
        return record, None, "no per-sample files"
    restricted = restrict_to_valid(adv, record)
    if restricted is None or not _shared_docs(clean, restricted):
        return record, None, "no scored document judged valid"
    return record, restricted, None


def build_board(
    runs: dict[str, ModelRun],
    n_boot: int,
    seed: int,
    validity: dict[tuple[str, str, str], list[SetValidity]] | None = None,
    validated_only: bool = False,
) -> Board:
    """Compute the whole leaderboard from merged runs (pure: same inputs, same board).

    Row replicates live only while their model's averages are computed, so memory does not
    grow with models x rows x resamples. With ``validity`` (judgments by set), each row shows
    its set's validity rate and the clean and adversarial scores on the documents judged valid
    (``*_valid``, over ``n_valid`` paired documents). With ``validated_only``, those are the
    row's scores, averages and comparisons; rows without them are left out and listed in
    ``settings.excluded`` with the reason, never scored on unjudged documents.
    """
    if not runs:
        raise LeaderboardError("no model results to build a leaderboard from")
    if validated_only and not validity:
        raise LeaderboardError("--validated-only needs judgments: pass --validity PATH")
    check_comparable(runs)
    excluded: list[dict] = []
    restricted_tasks: dict[str, dict[str, TaskResult]] = defaultdict(dict)
    rows: list[dict] = []
    averages: list[dict] = []
    by_key: dict[tuple[str, str], dict] = {}
    models = []
    for model_id in sorted(runs):
        run = runs[model_id]
        check_run(run)  # no row scored on documents the model was trained on
        pairs = check_twins(run)
        if not pairs:
            raise LeaderboardError(
                f"{run.files[0]}: no xtreme_adv_* task for model {model_id!r}; nothing to compare"
            )
        model_rows = []
        reps: dict[tuple[str, str, str, str], RowReplicates] = {}
        for clean, adv in pairs:
            record, restricted, reason = validity_row(clean, adv, validity)
            if validated_only:
                if restricted is None:
                    excluded.append({"model": model_id, "task": adv.name.task,
                                     "lang": adv.name.lang, "attack": adv.name.attack,
                                     "reason": reason})  # fmt: skip
                    continue
                restricted_tasks[model_id][adv.name.name] = restricted
                row, r = make_row(run, clean, restricted, n_boot, seed)
                valid_row = row
            else:
                row, r = make_row(run, clean, adv, n_boot, seed)
                valid_row = None
                if restricted is not None:
                    valid_row = make_row(run, clean, restricted, n_boot, seed)[0]
            _validity_columns(row, record, valid_row, reason)
            model_rows.append(row)
            by_key[(model_id, adv.name.name)] = row
            if r is not None:
                reps[(model_id, adv.name.task, adv.name.lang, adv.name.attack)] = r
        if not model_rows:  # validated-only: nothing of this model was judged
            continue
        rows.extend(model_rows)
        averages.extend(xtreme_averages(model_rows, rows_languages_together(reps, n_boot, seed)))
        card = run.provenance or {}
        models.append(
            {
                "model": model_id,
                "recipe": card.get("recipe"),
                "base_model": card.get("base_model"),
                "target_task": card.get("target_task"),
                "intermediate_tasks": card.get("intermediate_tasks"),
                "seed": card.get("seed"),
                "weights_sha256": card.get("weights_sha256"),
                "provenance": run.provenance,
                "model_name": run.model_name,
                "model_args": run.model_args,
                "model_name_short": run.lm_eval_model,
                # the last two parts of each results file's path (no local folders)
                "sources": sorted("/".join(f.replace(":", "/").split("/")[-2:]) for f in run.files),
            }
        )
    comparisons: list[dict] = []
    comparison_averages: list[dict] = []
    tasks_of: dict[str, dict[str, str]] = defaultdict(dict)
    for (model_id, task_name), row in by_key.items():
        name = f"xtreme_adv_{row['task']}_{comparison_attack(row)}_{row['lang']}"
        tasks_of[model_id][name] = task_name
    if validated_only:
        if not rows:
            raise LeaderboardError(
                "--validated-only: no row has documents judged valid in its set "
                f"({len(excluded)} rows: {excluded[0]['reason']}, ...)"
            )
        # comparisons pair the same valid documents: the restricted adversarial results
        runs = {m: replace(r, tasks={**r.tasks, **restricted_tasks[m]}) for m, r in runs.items()}
    for inter, direct in recipe_groups(runs):
        items, avgs = compare(inter, direct, by_key, n_boot, seed, tasks_of)
        comparisons.extend(items)
        comparison_averages.extend(avgs)
    settings = {
        "bootstrap": n_boot, "seed": seed, "confidence": stats.CONFIDENCE, "alpha": ALPHA,
        "test": "difference of drops: BCa bootstrap over documents (QA: context paragraphs), "
        "p-value = interval inverted at 0; Benjamini-Hochberg per comparison and task",
    }  # fmt: skip
    if validity is not None:
        settings["validated_only"] = validated_only
        settings["excluded"] = excluded
    judged = set_summary(validity) if validity else []
    for item in judged:
        for name in ("valid", "label_changed", "unreadable"):
            item[name] = {**item[name], "rate": _r(item[name]["rate"]), "ci": _ci(item[name]["ci"])}
    return Board(models, rows, averages, comparisons, comparison_averages, settings, judged)
