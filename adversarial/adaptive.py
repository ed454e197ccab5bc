"""Adaptive attacks on one checkpoint, reported as TextAttack does.

The attack itself, and the adversarial set it leaves, are :mod:`adversarial.adaptive_sets`.

Accuracy under attack = failed / total, attack success rate = successful / (successful + failed),
average queries and perturbed-word percentage come from ``textattack.metrics`` over the results.
A metric TextAttack leaves undefined (the mean over no results: ``avg_word_perturbed_perc`` when no
attack succeeds, ``avg_num_queries`` when every example is skipped) is reported as ``null``, so
the report is strict JSON.
"""

from __future__ import annotations

import math
import numbers
import warnings
from pathlib import Path

from adversarial.textattack_compat import textattack


def run_adaptive(
    model: str,
    task: str,
    lang: str,
    attack: str,
    query_budget: int = 200,
    num_examples: int | None = 50,
    params: dict | None = None,
    seed: int = 0,
    data_dir: str | None = None,
    split: str | None = None,
    root: str | Path | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    **settings,
) -> dict | None:
    """Attack ``model`` adaptively on the first ``num_examples`` documents (None: all), build
    the adversarial set (:mod:`adversarial.adaptive_sets`) and return its report: provenance,
    the set's folder and lm-eval task name, and TextAttack's metrics. ``settings`` are the
    search and goal options of :class:`~adversarial.adaptive_sets.AdaptiveRequest`. Returns
    None when only one shard of several was built.
    """
    from adversarial.adaptive_sets import AdaptiveRequest, build_adaptive, report

    request = AdaptiveRequest(
        model,
        task,
        lang,
        attack,
        params=params,
        seed=seed,
        query_budget=query_budget,
        data_dir=data_dir,
        split=split,
        limit=num_examples,
        **settings,
    )
    with warnings.catch_warnings():
        # TextAttack's metric helpers take means over empty slices (no success, all skipped).
        warnings.simplefilter("ignore", RuntimeWarning)
        folder = build_adaptive(request, root=root, num_shards=num_shards, shard_index=shard_index)
    return None if folder is None else report(folder)


def json_number(value: object) -> int | float | None:
    """``value`` (a Python or numpy number) as a JSON-safe number: NaN and infinities are None."""
    if value is None:
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


def attack_metrics(results: list) -> dict:
    """TextAttack's own summary numbers for a list of attack results (undefined ones None)."""
    M = textattack.metrics
    with warnings.catch_warnings():  # numpy's "mean of empty slice": reported as None below
        warnings.simplefilter("ignore", RuntimeWarning)
        success = M.AttackSuccessRate().calculate(results)
        words = M.WordsPerturbed().calculate(results)
        queries = M.AttackQueries().calculate(results)
    raw = {
        "n_examples": len(results),
        "successful_attacks": success["successful_attacks"],
        "failed_attacks": success["failed_attacks"],
        "skipped_attacks": success["skipped_attacks"],
        "original_accuracy": success["original_accuracy"],
        "accuracy_under_attack": success["attack_accuracy_perc"],
        "attack_success_rate": success["attack_success_rate"],
        "avg_num_queries": queries["avg_num_queries"],
        "avg_word_perturbed_perc": words["avg_word_perturbed_perc"],
    }
    return {key: json_number(value) for key, value in raw.items()}
