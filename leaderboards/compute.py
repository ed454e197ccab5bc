"""From merged model runs to leaderboard rows, XTREME-style averages and recipe comparisons.

A row is one model x task x language x attack: the clean twin ``xtreme_<task>_<lang>`` against
``xtreme_adv_<task>_<attack>_<lang>``. Per-document statistics need both samples files; they
are paired by ``doc.id`` (docs/contracts.md section 6).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from leaderboards import stats
from leaderboards.errors import LeaderboardError
from leaderboards.names import TaskName
from leaderboards.results import ModelRun, TaskResult

SCHEMA = "xtreme-adv/leaderboard/1"
ALPHA = 0.05


@dataclass
class Paired:
    """Per-document scores of one row, on the documents both sides share (clean order)."""

    ids: list[str]
    clean: np.ndarray
    adv: np.ndarray
    binary: bool


@dataclass
class Board:
    """Everything the outputs render; ``to_json`` is the stable, versioned form."""

    models: list[dict]
    rows: list[dict]
    averages: list[dict]
    comparisons: list[dict]
    comparison_averages: list[dict]
    settings: dict
    paired: dict[tuple[str, str], Paired] = field(default_factory=dict, repr=False)

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


def check_comparable(runs: dict[str, ModelRun]) -> None:
    """Every model must have seen the same version and documents/prompts of each task."""
    seen: dict[str, TaskResult] = {}
    for run in runs.values():
        for task_name, result in run.tasks.items():
            first = seen.setdefault(task_name, result)
            if first.version != result.version:
                raise LeaderboardError(
                    f"{result.source}: versions.{task_name} is {result.version}, but "
                    f"{first.source} has {first.version}"
                )
            if first.task_hash and result.task_hash and first.task_hash != result.task_hash:
                raise LeaderboardError(
                    f"{result.source}: task_hashes.{task_name} is {result.task_hash}, but "
                    f"{first.source} has {first.task_hash} (different documents or prompts)"
                )


def pair_samples(clean: TaskResult, adv: TaskResult) -> Paired | None:
    """Pair the two samples files by doc.id; None when either side has no per-doc scores."""
    if clean.samples is None or adv.samples is None:
        return None
    adv_index = adv.samples.index()
    keep = [(i, adv_index[d]) for i, d in enumerate(clean.samples.ids) if d in adv_index]
    if not keep:
        raise LeaderboardError(
            f"{adv.source}: no doc.id of {adv.name.name} matches one of {clean.name.name}"
        )
    ci = np.fromiter((i for i, _ in keep), dtype=np.int64, count=len(keep))
    ai = np.fromiter((j for _, j in keep), dtype=np.int64, count=len(keep))
    return Paired(
        [clean.samples.ids[i] for i in ci],
        clean.samples.values[ci],
        adv.samples.values[ai],
        clean.samples.binary and adv.samples.binary,
    )


def make_row(
    run: ModelRun, clean: TaskResult, adv: TaskResult, n_boot: int, seed: int
) -> tuple[dict, Paired | None]:
    """One leaderboard row: scores, drops and, with samples, flips and paired intervals."""
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
        "clean_stderr": _r(clean.stderr),
        "adv_stderr": _r(adv.stderr),
        "n_clean": clean.n,
        "n_adv": adv.n,
        "n_paired": None,
        "flip_rate": None,
        "clean_ci": None,
        "adv_ci": None,
        "drop_ci": None,
        "pdr_ci": None,
        "version": adv.version,
        "task_hash_clean": clean.task_hash,
        "task_hash_adv": adv.task_hash,
    }
    paired = pair_samples(clean, adv)
    if paired is not None:
        boot = stats.paired_bootstrap(
            paired.clean, paired.adv, stats.row_rng(seed, f"{run.model_id}|{name.name}"), n_boot
        )
        row["n_paired"] = len(paired.ids)
        row["clean_ci"] = _ci(stats.percentile_interval(boot.clean))
        row["adv_ci"] = _ci(stats.percentile_interval(boot.adv))
        row["drop_ci"] = _ci(stats.percentile_interval(boot.drop))
        row["pdr_ci"] = _ci(stats.interval_or_none(boot.pdr))
        if paired.binary:
            row["flip_rate"] = _r(stats.flip_rate(paired.clean, paired.adv))
    return row, paired


def _mean(values: list[float]) -> float:
    return float(np.mean(values))


def xtreme_averages(rows: list[dict]) -> list[dict]:
    """XTREME-style averages: over languages per task, then over tasks, per model and attack.

    ``level`` is ``task`` (mean over the task's languages) or ``all`` (mean of the task means).
    The relative drop of an average is the PDR of the averaged scores.
    """
    by_task: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for row in rows:
        by_task[(row["model"], row["attack"], row["task"])].append(row)
    out: list[dict] = []
    per_attack: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for (model, attack, task), group in sorted(by_task.items()):
        clean = _mean([r["clean"] for r in group])
        adv = _mean([r["adv"] for r in group])
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
        }
        out.append(avg)
        per_attack[(model, attack)].append(avg)
    for (model, attack), group in sorted(per_attack.items()):
        clean = _mean([a["clean"] for a in group])
        adv = _mean([a["adv"] for a in group])
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
                "n_langs": sum(a["n_langs"] for a in group),
                "n_tasks": len(group),
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
    seeds present in both recipes are compared.
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
        direct = groups.get((key[0], key[1], "direct", ()))
        if not direct:
            continue
        seeds = sorted(set(inter) & set(direct))
        if seeds:
            out.append(({s: inter[s] for s in seeds}, {s: direct[s] for s in seeds}))
    return out


def _common(paired: list[Paired]) -> list[str] | None:
    common = set(paired[0].ids)
    for p in paired[1:]:
        common &= set(p.ids)
    return [d for d in paired[0].ids if d in common] or None


def compare(
    inter: dict[int, ModelRun],
    direct: dict[int, ModelRun],
    rows: dict[tuple[str, str], dict],
    paired: dict[tuple[str, str], Paired],
    n_boot: int,
    seed: int,
    tasks_of: dict[str, set[str]],
) -> tuple[list[dict], list[dict]]:
    """Difference of drops (intermediate - direct) per task x language x attack, and averages.

    Intervals: over examples, a paired bootstrap of documents shared by every model of both
    seed sets (one draw for all, so seeds stay paired); over seeds, a Student-t interval of the
    per-seed differences. McNemar compares, per document and seed, whether the attack broke
    the intermediate model vs the direct one (correct clean and wrong attacked), discordant
    counts summed over seeds (the Mantel-Haenszel form for matched pairs).
    """
    seeds = sorted(inter)
    first = inter[seeds[0]].provenance
    label = f"{'+'.join(sorted(first.get('intermediate_tasks') or [])) or 'intermediate'}"
    cid = (
        f"{first['base_model'].get('name', first['base_model']['sha256'][:12])}/"
        f"{first.get('target_task')}: {label} vs direct"
    )
    tasks = set.intersection(
        *(tasks_of[run.model_id] for run in [*inter.values(), *direct.values()])
    )
    out: list[dict] = []
    replicates: dict[str, np.ndarray] = {}
    for task_name in sorted(tasks):
        ri = [rows[(inter[s].model_id, task_name)] for s in seeds]
        rd = [rows[(direct[s].model_id, task_name)] for s in seeds]
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
            "attack": ri[0]["attack"],
            "metric": ri[0]["metric"],
            "drop_intermediate": _r(_mean([r["drop"] for r in ri])),
            "drop_direct": _r(_mean([r["drop"] for r in rd])),
            "diff": _r(_mean(diffs)),
            "diff_by_seed": [_r(d) for d in diffs],
            "ci_seeds": _ci(stats.seed_interval(diffs)),
            "ci_examples": None,
            "n_paired": None,
            "mcnemar": None,
            "p_adjusted": None,
            "significant": None,
        }
        pi = [paired.get((inter[s].model_id, task_name)) for s in seeds]
        pd = [paired.get((direct[s].model_id, task_name)) for s in seeds]
        if all(p is not None for p in pi + pd):
            common = _common(pi + pd)
            if common is not None:
                pos = [p_.index_of(common) for p_ in map(_Indexer, pi + pd)]
                pi_sel = [
                    (p.clean[j], p.adv[j]) for p, j in zip(pi, pos[: len(seeds)], strict=True)
                ]
                pd_sel = [
                    (p.clean[j], p.adv[j]) for p, j in zip(pd, pos[len(seeds) :], strict=True)
                ]
                per_doc = np.mean(
                    [
                        (ci - ai) - (cd - ad)
                        for (ci, ai), (cd, ad) in zip(pi_sel, pd_sel, strict=True)
                    ],
                    axis=0,
                )
                rng = stats.row_rng(seed, f"cmp|{cid}|{task_name}")
                idx = stats.bootstrap_indices(rng, per_doc.size, n_boot)
                reps = per_doc[idx].mean(axis=1)
                replicates[task_name] = reps
                item["ci_examples"] = _ci(stats.percentile_interval(reps))
                item["n_paired"] = len(common)
                if all(p.binary for p in pi + pd):
                    b = c = 0
                    for (ci, ai), (cd, ad) in zip(pi_sel, pd_sel, strict=True):
                        broken_i = (ci == 1) & (ai == 0)
                        broken_d = (cd == 1) & (ad == 0)
                        db, dc = stats.discordant(broken_i, broken_d)
                        b, c = b + db, c + dc
                    test = stats.mcnemar(b, c)
                    item["mcnemar"] = {
                        "b_intermediate_only_broken": test.b,
                        "c_direct_only_broken": test.c,
                        "p_exact": _r(test.p_exact),
                        "chi2_cc": _r(test.chi2),
                        "p_chi2_cc": _r(test.p_chi2),
                    }
        out.append(item)
    # Benjamini-Hochberg across the languages and attacks of each task of this comparison.
    by_task: dict[str, list[dict]] = defaultdict(list)
    for item in out:
        if item["mcnemar"] is not None:
            by_task[item["task"]].append(item)
    for items in by_task.values():
        adjusted = stats.benjamini_hochberg([i["mcnemar"]["p_exact"] for i in items])
        for item, p in zip(items, adjusted, strict=True):
            item["p_adjusted"] = _r(p)
            item["significant"] = p < ALPHA
    return out, _comparison_averages(out, replicates)


class _Indexer:
    def __init__(self, paired: Paired):
        self.pos = {d: i for i, d in enumerate(paired.ids)}

    def index_of(self, ids: list[str]) -> np.ndarray:
        return np.fromiter((self.pos[d] for d in ids), dtype=np.int64, count=len(ids))


def _comparison_averages(items: list[dict], replicates: dict[str, np.ndarray]) -> list[dict]:
    """Per comparison, task and attack: the difference averaged over languages, with intervals.

    The example interval averages per-language bootstrap replicates (strata resampled
    independently); the seed interval uses the per-seed language averages.
    """
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for item in items:
        groups[(item["task"], item["attack"])].append(item)
    out = []
    for (task, attack), group in sorted(groups.items()):
        names = [f"xtreme_adv_{task}_{attack}_{i['lang']}" for i in group]
        ci_examples = None
        if all(n in replicates for n in names):
            ci_examples = _ci(
                stats.percentile_interval(np.mean([replicates[n] for n in names], axis=0))
            )
        first = group[0]
        by_seed = np.mean([i["diff_by_seed"] for i in group], axis=0).tolist()
        out.append(
            {
                "comparison": first["comparison"],
                "intermediate_models": first["intermediate_models"],
                "direct_models": first["direct_models"],
                "seeds": first["seeds"],
                "task": task,
                "attack": attack,
                "n_langs": len(group),
                "drop_intermediate": _r(_mean([i["drop_intermediate"] for i in group])),
                "drop_direct": _r(_mean([i["drop_direct"] for i in group])),
                "diff": _r(_mean([i["diff"] for i in group])),
                "ci_examples": ci_examples,
                "ci_seeds": _ci(stats.seed_interval(by_seed)),
                "n_significant": sum(1 for i in group if i["significant"]),
            }
        )
    return out


def build_board(runs: dict[str, ModelRun], n_boot: int, seed: int) -> Board:
    """Compute the whole leaderboard from merged runs (pure: same inputs, same board)."""
    if not runs:
        raise LeaderboardError("no model results to build a leaderboard from")
    check_comparable(runs)
    rows: list[dict] = []
    by_key: dict[tuple[str, str], dict] = {}
    paired: dict[tuple[str, str], Paired] = {}
    models = []
    for model_id in sorted(runs):
        run = runs[model_id]
        pairs = check_twins(run)
        if not pairs:
            raise LeaderboardError(
                f"{run.files[0]}: no xtreme_adv_* task for model {model_id!r}; nothing to compare"
            )
        for clean, adv in pairs:
            row, p = make_row(run, clean, adv, n_boot, seed)
            rows.append(row)
            by_key[(model_id, adv.name.name)] = row
            if p is not None:
                paired[(model_id, adv.name.name)] = p
        card = run.provenance or {}
        models.append(
            {
                "model": model_id,
                "recipe": card.get("recipe"),
                "base_model": card.get("base_model"),
                "target_task": card.get("target_task"),
                "intermediate_tasks": card.get("intermediate_tasks"),
                "seed": card.get("seed"),
                "provenance": run.provenance,
                "model_name": run.model_name,
                "sources": sorted(run.files),
            }
        )
    comparisons: list[dict] = []
    comparison_averages: list[dict] = []
    tasks_of: dict[str, set[str]] = defaultdict(set)
    for model_id, task_name in by_key:
        tasks_of[model_id].add(task_name)
    for inter, direct in recipe_groups(runs):
        items, avgs = compare(inter, direct, by_key, paired, n_boot, seed, tasks_of)
        comparisons.extend(items)
        comparison_averages.extend(avgs)
    settings = {"bootstrap": n_boot, "seed": seed, "confidence": stats.CONFIDENCE, "alpha": ALPHA}
    return Board(
        models, rows, xtreme_averages(rows), comparisons, comparison_averages, settings, paired
    )
