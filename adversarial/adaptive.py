"""Adaptive attacks on one checkpoint with TextAttack's ``Attacker``, reported as TextAttack does.

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

from adversarial import recipes
from adversarial.engine import TEXT_FIELDS
from adversarial.textattack_compat import language, textattack
from harness_tasks.errors import XtremeAdvError


def run_adaptive(
    model: str,
    task: str,
    lang: str,
    attack: str,
    query_budget: int = 200,
    num_examples: int = 50,
    params: dict | None = None,
    seed: int = 0,
    data_dir: str | None = None,
    split: str | None = None,
) -> dict:
    """Attack ``model`` on ``num_examples`` documents; return TextAttack's metrics + provenance."""
    from adversarial.build import library_versions
    from adversarial.model_wrapper import DynamicPaddingWrapper
    from adversarial.transfer import label_index
    from harness_tasks.data import load_eval_split

    family = recipes.get_family(attack)
    recipes.check_task(family, task)
    if task not in ("xnli", "pawsx"):
        raise XtremeAdvError(
            f"adaptive attacks need a classification task (xnli, pawsx), not {task}"
        )
    if query_budget < 1 or num_examples < 1:
        raise XtremeAdvError("--query-budget and --num-examples must be positive")
    resolved = recipes.resolve_params(family, params or {})
    loaded = load_eval_split(task, lang, split=split, data_dir=data_dir)
    wrapper = DynamicPaddingWrapper.from_pretrained(model)
    labels = label_index(task, wrapper.model)
    recipe = recipes.build_attack(family, lang, resolved, wrapper, query_budget, seed=seed)
    fields = TEXT_FIELDS[task]
    docs = loaded.dataset.select(range(min(num_examples, len(loaded.dataset)))).to_list()
    dataset = textattack.datasets.Dataset(
        [(tuple(d[f] for f in fields), labels[d["label"]]) for d in docs],
        input_columns=list(fields),
    )
    args = textattack.AttackArgs(
        num_examples=len(docs),
        query_budget=query_budget,
        random_seed=seed,
        silent=True,
        disable_stdout=True,
    )
    with language(lang), warnings.catch_warnings():
        # The Attacker's own summary takes means over empty slices (no success, all skipped).
        warnings.simplefilter("ignore", RuntimeWarning)
        results = textattack.Attacker(recipe, dataset, args).attack_dataset()
    return {
        "model": str(model),
        "task": task,
        "lang": lang,
        "attack": attack,
        "params": resolved,
        "seed": seed,
        "query_budget": query_budget,
        "split": loaded.split,
        "source_sha256": loaded.sha256,
        "metrics": attack_metrics(results),
        "versions": library_versions(),
    }


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
