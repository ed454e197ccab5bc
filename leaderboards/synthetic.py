"""Generator of SYNTHETIC lm-eval 0.4.13 results folders, for tests and benchmarks only.

Nothing here is a measurement. It writes folders shaped exactly like ``lm_eval run
--output_path OUT --log_samples`` output (key for key, as checked against a real dummy-model run
kept in tests/leaderboards/data/), with the ``xtreme_adv_model`` and ``xtreme_adv`` sections of
docs/contracts.md section 6 and provenance cards of section 5, so that the leaderboard can be
exercised without training or evaluating models. Per-document outcomes are simulated from a
seeded generator: a model has a clean skill and a robustness (probability that a document it
gets right survives the attack).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from leaderboards.names import PRIMARY_METRIC

STAMP = "2026-11-25T06-02-19.088831"
SPLIT = {"xquad": "validation", "tydiqa": "validation", "tatoeba": "validation"}
QA = ("xquad", "mlqa", "tydiqa")


def sha256_text(text: str) -> str:
    """Hex sha256 of a UTF-8 string (lm-eval's ``hash_string``)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class SyntheticModel:
    """A made-up checkpoint: identity for the provenance card and behaviour for the scores."""

    model_id: str
    recipe: str = "direct"
    seed: int = 42
    target_task: str = "xnli"
    intermediate_tasks: list[str] = field(default_factory=list)
    base_name: str = "synthetic/multilingual-e5-small"
    skill: float = 0.75
    robustness: float = 0.8
    lang_skill: dict[str, float] = field(default_factory=dict)

    @property
    def base_sha256(self) -> str:
        """Stands for the hash of the base weights."""
        return sha256_text(self.base_name)

    def provenance(self) -> dict:
        """A provenance card (contracts.md section 5)."""
        phases = []
        if self.intermediate_tasks:
            phases.append(
                {
                    "name": "intermediate",
                    "tasks": [
                        {"name": t, "source": f"synthetic/{t}", "sha256": sha256_text(t),
                         "n_examples": 3000}
                        for t in self.intermediate_tasks
                    ],
                    "hyperparameters": {"learning_rate": 2e-5, "epochs": 2},
                    "metrics": {"eval_accuracy": 0.5},
                }
            )  # fmt: skip
        phases.append(
            {
                "name": "target",
                "tasks": [{"name": self.target_task, "source": f"synthetic/{self.target_task}",
                           "sha256": sha256_text(self.target_task), "n_examples": 5000}],
                "hyperparameters": {"learning_rate": 2e-5, "epochs": 3},
                "metrics": {"eval_accuracy": self.skill},
            }
        )  # fmt: skip
        return {
            "schema": "xtreme-adv/provenance/1",
            "model_id": self.model_id,
            "recipe": self.recipe,
            "base_model": {"name": self.base_name, "sha256": self.base_sha256},
            "intermediate_tasks": list(self.intermediate_tasks),
            "target_task": self.target_task,
            "seed": self.seed,
            "phases": phases,
            "weights_sha256": sha256_text(f"weights:{self.model_id}"),
            "versions": {"xtreme_adv": "0.1.0", "torch": "2.13.0", "transformers": "4.57.6"},
            "created": "2026-11-25T06:00:00Z",
        }


def task_names(task: str, langs: list[str], attacks: list[str]) -> list[str]:
    """Clean and adversarial task names of one family, clean first."""
    names = [f"xtreme_{task}_{lang}" for lang in langs]
    names += [f"xtreme_adv_{task}_{a}_{lang}" for a in attacks for lang in langs]
    return names


# XTREME's languages for the families the generator fills first (copied, not imported: this
# package reads the other packages only through files).
PLAN_LANGS = {
    "xnli": "ar bg de el en es fr hi ru sw th tr ur vi zh".split(),
    "pawsx": "de en es fr ja ko zh".split(),
    "xcopa": "et ht id it qu sw ta th tr vi zh".split(),
    "mlqa": "ar de en es hi vi zh".split(),
    "xquad": "ar de el en es hi ro ru th tr vi zh".split(),
}


def plan_subtasks(
    n_subtasks: int, attacks: tuple[str, ...] = ("charnoise", "visual", "mlmswap", "codeswitch")
) -> list[tuple[str, list[str], list[str]]]:
    """A (task, langs, attacks) plan with exactly ``n_subtasks`` lm-eval tasks.

    Each language costs 1 clean + len(attacks) adversarial tasks; families are filled in the
    order of PLAN_LANGS with their real XTREME languages (100 = XNLI's 15 + PAWS-X's first 5).
    """
    per_lang = 1 + len(attacks)
    if n_subtasks % per_lang:
        raise ValueError(f"{n_subtasks} subtasks is not a multiple of {per_lang}")
    left = n_subtasks // per_lang
    plan = []
    for task, langs in PLAN_LANGS.items():
        if left == 0:
            break
        take = langs[: min(left, len(langs))]
        plan.append((task, take, list(attacks)))
        left -= len(take)
    if left:
        raise ValueError(f"{n_subtasks} subtasks is more than the planned languages allow")
    return plan


def _config(name: str, task: str, lang: str, version: float) -> dict:
    # Mirrors the "configs" entry lm-eval 0.4.13 writes for a YAML task (see the real fixture).
    split = SPLIT.get(task, "test")
    choices = ["entailment", "neutral", "contradiction"] if task == "xnli" else ["no", "yes"]
    return {
        "task": name,
        "tag": [name.rsplit("_", 2)[0] if "_adv_" in name else f"xtreme_{task}"],
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {split: f"/synthetic/{task}/{lang}.jsonl"}},
        f"{split}_split": split,
        "doc_to_text": "{{premise}} {{hypothesis}}",
        "doc_to_target": "label",
        "unsafe_code": False,
        "doc_to_choice": choices,
        "description": "",
        "target_delimiter": " ",
        "fewshot_delimiter": "\n\n",
        "fewshot_config": {
            "sampler": "default", "split": None, "process_docs": None, "fewshot_indices": None,
            "samples": None, "doc_to_text": "{{premise}} {{hypothesis}}",
            "doc_to_choice": choices, "doc_to_target": "label", "gen_prefix": None,
            "fewshot_delimiter": "\n\n", "target_delimiter": " ",
        },
        "num_fewshot": 0,
        "metric_list": [
            {"metric": PRIMARY_METRIC[task], "aggregation": "mean", "higher_is_better": True}
        ],
        "output_type": "multiple_choice",
        "repeats": 1,
        "should_decontaminate": False,
        "metadata": {
            "version": version,
            "config_source": f"/synthetic/tasks/xtreme_{task}/{name}.yaml",
        },
    }  # fmt: skip


UPOS = "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()
ENTITY_TYPES = ("PER", "ORG", "LOC")


def _gold_tags(task: str, lang: str, i: int) -> list[str]:
    # Same gold tags for every model and attack (the documents are shared).
    rng = np.random.default_rng([i, int.from_bytes(sha256_text(task + lang).encode()[:4])])
    length = int(rng.integers(4, 13))
    if task == "udpos":
        return [UPOS[int(k)] for k in rng.integers(0, len(UPOS), length)]
    tags = ["O"] * length
    pos = 0
    while pos < length:
        if rng.random() < 0.3:
            kind = ENTITY_TYPES[int(rng.integers(0, 3))]
            span = int(rng.integers(1, 3))
            for k in range(pos, min(length, pos + span)):
                tags[k] = ("B-" if k == pos else "I-") + kind
            pos += span + 1
        else:
            pos += 1
    return tags


def _doc(task: str, lang: str, i: int, attack: str | None) -> dict:
    doc = _clean_doc(task, lang, i, attack)
    if attack:  # as adversarial sets log it: every seventh document left as it was
        doc["adv_status"] = "skipped" if i % 7 == 0 else "attacked"
    return doc


def _clean_doc(task: str, lang: str, i: int, attack: str | None) -> dict:
    # Same documents for every model, so task hashes agree across models (as in real runs).
    # Ids follow the loaders': "<lang>-<i>" for sentence pairs (a translation keeps its
    # position, so the parallel key is "<i>"), question ids shared by every language in QA.
    noise = f" [{attack}]" if attack else ""
    if task in QA:
        # Three questions per context paragraph, as in SQuAD-style sets.
        return {"id": f"{task}-{i:05d}", "context": f"Context {i // 3} in {lang}.{noise}",
                "question": f"Question {i}?", "answers": {"text": [f"answer {i}"],
                "answer_start": [0]}}  # fmt: skip
    if task in ("udpos", "panx"):
        tags = _gold_tags(task, lang, i)
        tokens = [f"w{k}{noise}" for k in range(len(tags))]
        return {"id": f"{task}-{lang}-{i:05d}", "tokens": tokens, "tags": tags}
    if task in ("bucc", "tatoeba"):
        return {"id": f"{task}-{lang}-{i:05d}", "sentence": f"Sentence {i}{noise}",
                "side": "source", "gold": f"t{i}" if i % 4 else ""}  # fmt: skip
    return {"id": f"{lang}-{i:05d}", "premise": f"Premise {i} ({lang}){noise}",
            "hypothesis": f"Hypothesis {i}", "label": i % 3}  # fmt: skip


def _sample_line(doc_id: int, doc: dict, metric: str, value: object) -> dict:
    target = str(doc.get("label", 0))
    prompt = (
        f"{doc.get('premise', doc.get('context'))} {doc.get('hypothesis', doc.get('question'))}"
    )
    resps = [[[f"{-0.1 * (k + 1):.4f}", "False"]] for k in range(3)]
    return {
        "doc_id": doc_id,
        "doc": doc,
        "target": target,
        "arguments": {f"gen_args_{k}": {"arg_0": prompt, "arg_1": f" choice{k}"} for k in range(3)},
        "resps": resps,
        "filtered_resps": [r[0] for r in resps],
        "filter": "none",
        "metrics": [metric],
        "doc_hash": sha256_text(json.dumps(doc, indent=2, ensure_ascii=False)),
        "prompt_hash": sha256_text(prompt),
        "target_hash": sha256_text(target),
        metric: value,
    }


def _simulate(
    model: SyntheticModel, task: str, lang: str, n_docs: int, attacks: list[str], seed: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-document scores (clean, and per attack) drawn from the model's skill/robustness."""
    key = int.from_bytes(hashlib.sha256(f"{model.model_id}|{task}|{lang}".encode()).digest()[:8])
    rng = np.random.default_rng([seed, key])
    skill = min(0.98, max(0.02, model.skill + model.lang_skill.get(lang, 0.0)))
    if task in QA:  # per-question F1 in [0, 1]
        clean = np.clip(rng.beta(8 * skill, 8 * (1 - skill), n_docs), 0, 1).round(4)
        adv = {a: (clean * rng.uniform(model.robustness, 1.0, n_docs)).round(4) for a in attacks}
        return clean, adv
    if task in ("udpos", "panx", "bucc"):
        # Per document: probability that each item (token, entity, mined pair) is right.
        clean = (rng.random(n_docs) * 0.2 + skill - 0.1).clip(0, 1)
        adv = {a: clean * rng.uniform(model.robustness, 1.0, n_docs) for a in attacks}
        return clean, adv
    clean = (rng.random(n_docs) < skill).astype(np.float64)
    adv = {}
    for a in attacks:
        survive = rng.random(n_docs) < model.robustness
        lucky = rng.random(n_docs) < 0.05
        adv[a] = np.where(clean == 1, survive, lucky).astype(np.float64)
    return clean, adv


def write_results_folder(
    out: Path,
    model: SyntheticModel,
    plan: list[tuple[str, list[str], list[str]]],
    n_docs: int = 50,
    with_samples: bool = True,
    seed: int = 0,
    version: float = 1.0,
    card: str = "config",
    outcomes: dict[str, np.ndarray] | None = None,
    fast: bool = False,
) -> Path:
    """Write ``out/<model>/results_<stamp>.json`` (+ samples) like lm-eval 0.4.13; returns it.

    ``card``: "config" puts the provenance card in ``config.xtreme_adv_model`` (what the adapter
    writes), "file" writes ``provenance.json`` beside the results, "none" leaves it out.
    ``outcomes`` sets the per-document values of named tasks by hand (tests of statistics).
    ``fast`` writes the same lines from cached per-document prefixes (benchmarks: every model
    shares the documents, so only the metric value differs between models).
    """
    folder = out / model.model_id.replace("/", "__")
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    configs: dict[str, dict] = {}
    samples: dict[str, list[dict]] = {}
    for task, langs, attacks in plan:
        metric = PRIMARY_METRIC[task]
        for lang in langs:
            clean, adv = _simulate(model, task, lang, n_docs, attacks, seed)
            for attack, values in [(None, clean), *adv.items()]:
                name = (
                    f"xtreme_{task}_{lang}"
                    if attack is None
                    else f"xtreme_adv_{task}_{attack}_{lang}"
                )
                if outcomes and name in outcomes:
                    values = np.asarray(outcomes[name], dtype=np.float64)
                mean = float(values.mean())
                stderr = (
                    float(values.std(ddof=1) / math.sqrt(n_docs)) if n_docs > 1 else float("nan")
                )
                results[name] = {
                    "name": name,
                    "alias": name,
                    "sample_len": len(values),
                    f"{metric},none": mean,
                    f"{metric}_stderr,none": stderr,
                }
                configs[name] = _config(name, task, lang, version)
                per_doc = _structured(task, lang, values, rng_key=f"{model.model_id}|{name}|{seed}")
                if per_doc is not None:
                    results[name][f"{metric},none"] = _aggregate(task, per_doc)
                    results[name][f"{metric}_stderr,none"] = "N/A"
                if with_samples and fast:
                    samples[name] = [
                        float(v) if per_doc is None else per_doc[i] for i, v in enumerate(values)
                    ]
                elif with_samples:
                    samples[name] = [
                        _sample_line(
                            i, _doc(task, lang, i, attack), metric,
                            float(v) if per_doc is None else per_doc[i],
                        )
                        for i, v in enumerate(values)
                    ]  # fmt: skip
    if fast:
        task_hashes = {
            name: _prefixes(name, len(values), PRIMARY_METRIC[_family(name)])[1]
            for name, values in samples.items()
        }
    else:
        task_hashes = {
            name: sha256_text(
                "".join(s["doc_hash"] + s["prompt_hash"] + s["target_hash"] for s in lines)
            )
            for name, lines in samples.items()
        }
    names = sorted(results)
    card_obj = model.provenance()
    data = {
        "results": dict(sorted(results.items(), reverse=True)),
        "group_subtasks": {},
        "configs": configs,
        "versions": {n: version for n in names},
        "n-shot": {n: 0 for n in names},
        "higher_is_better": {n: {PRIMARY_METRIC[_family(n)]: True} for n in names},
        "n-samples": {n: {"original": n_docs, "effective": n_docs} for n in names},
        "config": {
            "model": "xtreme-encoder",
            "model_args": f"pretrained=/synthetic/checkpoints/{model.model_id}",
            "batch_size": 8,
            "batch_sizes": [],
            "device": "cpu",
            "use_cache": None,
            "limit": None,
            "bootstrap_iters": 100000,
            "gen_kwargs": {},
            "random_seed": 0,
            "numpy_seed": 1234,
            "torch_seed": 1234,
            "fewshot_seed": 1234,
            "xtreme_adv_model": {
                "path": f"/synthetic/checkpoints/{model.model_id}",
                "weights_sha256": card_obj["weights_sha256"],
                "provenance": card_obj if card == "config" else None,
            },
        },
        "git_hash": None,
        "date": 1795586487.0 + seed,
        "pretty_env_info": "PyTorch version: 2.13.0+cpu\n(synthetic)",
        "transformers_version": "4.57.6",
        "lm_eval_version": "0.4.13",
        "upper_git_hash": None,
        "task_hashes": task_hashes,
        "model_source": "xtreme-encoder",
        "model_name": f"/synthetic/checkpoints/{model.model_id}",
        "model_name_sanitized": f"__synthetic__checkpoints__{model.model_id}",
        "system_instruction": None,
        "system_instruction_sha": None,
        "fewshot_as_multiturn": None,
        "chat_template": None,
        "chat_template_sha": None,
        "total_evaluation_time_seconds": "12.5",
        "xtreme_adv": {
            "version": "0.1.0",
            "tasks": {
                n: {
                    "split": SPLIT.get(_family(n), "test"),
                    "source": f"/synthetic/{_family(n)}",
                    "data_sha256": sha256_text(n),
                }
                for n in names
            },
        },  # fmt: skip
    }
    path = folder / f"results_{STAMP}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    for name, lines in samples.items():
        if fast:
            prefixes = _prefixes(name, len(lines), PRIMARY_METRIC[_family(name)])[0]
            text = "".join(
                p + json.dumps(v, ensure_ascii=False) + "}\n"
                for p, v in zip(prefixes, lines, strict=True)
            )
        else:
            text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        (folder / f"samples_{name}_{STAMP}.jsonl").write_text(text, encoding="utf-8")
    if card == "file":
        (folder / "provenance.json").write_text(json.dumps(card_obj, indent=2), encoding="utf-8")
    return path


def _structured(task: str, lang: str, probs: np.ndarray, rng_key: str) -> list | None:
    """Per-document logged values of corpus-level metrics, from per-document item accuracy.

    UD-POS and PAN-X log (gold tags, predicted tags); BUCC logs (gold, mined, score), as the
    ``process_results`` hooks of harness_tasks do. None for tasks with a numeric per-doc value.
    """
    if task not in ("udpos", "panx", "bucc"):
        return None
    rng = np.random.default_rng(int.from_bytes(sha256_text(rng_key).encode()[:8]))
    out: list = []
    for i, p in enumerate(probs):
        if task == "bucc":
            gold = f"t{i}" if i % 4 else ""
            right = bool(gold) and rng.random() < p
            mined = gold if right else f"t{int(rng.integers(10_000, 20_000))}"
            score = round(float(0.5 + 0.5 * rng.random() if right else 0.8 * rng.random()), 6)
            out.append([gold, mined, score])
            continue
        gold = _gold_tags(task, lang, i)
        if task == "udpos":
            pred = [g if rng.random() < p else UPOS[(UPOS.index(g) + 1) % len(UPOS)] for g in gold]
        else:  # an entity's tags survive together with probability p, else become O
            pred = list(gold)
            keep = True
            for k, g in enumerate(gold):
                if g.startswith("B-"):
                    keep = rng.random() < p
                if g != "O" and not keep:
                    pred[k] = "O"
        out.append([gold, pred])
    return out


def _aggregate(task: str, per_doc: list) -> float:
    """The corpus-level score lm-eval's aggregation gives (seqeval for PAN-X, as XTREME)."""
    if task == "udpos":
        total = sum(len(g) for g, _ in per_doc)
        return sum(a == b for g, p in per_doc for a, b in zip(g, p, strict=True)) / total
    if task == "panx":
        from seqeval.metrics import f1_score

        return float(f1_score([g for g, _ in per_doc], [p for _, p in per_doc]))
    # BUCC: F1 at the best threshold over mined pairs sorted by score (XTREME's bucc_optimize)
    n_gold = sum(1 for g, _, _ in per_doc if g)
    mined = sorted(((s, g == m and m != "") for g, m, s in per_doc if m), key=lambda x: -x[0])
    best, hits = 0.0, 0
    for rank, (_, correct) in enumerate(mined, start=1):
        hits += correct
        if hits:
            best = max(best, 2 * (hits / rank) * (hits / n_gold) / (hits / rank + hits / n_gold))
    return best


_PREFIXES: dict[tuple[str, int], tuple[list[str], str]] = {}


def _prefixes(name: str, n_docs: int, metric: str) -> tuple[list[str], str]:
    """Each document's sample line up to its metric value, and the task hash (cached)."""
    key = (name, n_docs)
    if key not in _PREFIXES:
        parts = name.split("_")
        adv = parts[1] == "adv"
        task, lang = _family(name), parts[-1]
        attack = "_".join(parts[3:-1]) if adv else None
        out = []
        joined = []
        for i in range(n_docs):
            line = _sample_line(i, _doc(task, lang, i, attack), metric, 0.0)
            del line[metric]
            text = json.dumps(line, ensure_ascii=False)
            out.append(text[:-1] + f', "{metric}": ')
            joined.append(line["doc_hash"] + line["prompt_hash"] + line["target_hash"])
        _PREFIXES[key] = (out, sha256_text("".join(joined)))
    return _PREFIXES[key]


def _family(name: str) -> str:
    parts = name.split("_")
    return parts[2] if parts[1] == "adv" else parts[1]


def seed_set(
    recipe: str,
    seeds: list[int],
    skill: float,
    robustness: float,
    intermediate_tasks: list[str] | None = None,
    target_task: str = "xnli",
    prefix: str = "e5s",
) -> list[SyntheticModel]:
    """Models of one recipe over several seeds (same base, target task), for pairing tests."""
    inter = intermediate_tasks or ([] if recipe == "direct" else ["anli"])
    tag = "direct" if recipe == "direct" else "-".join(inter)
    return [
        SyntheticModel(
            model_id=f"{prefix}-{target_task}-{tag}-s{s}",
            recipe=recipe,
            seed=s,
            target_task=target_task,
            intermediate_tasks=inter,
            skill=skill,
            robustness=robustness,
        )
        for s in seeds
    ]


def write_tasks_dir(root: Path, families: dict[str, list[str]], version: float = 1.0) -> Path:
    """A tasks folder shaped like ``harness_tasks/tasks``: ``xtreme_<task>/_<task>_yaml``
    (the template, holding ``metadata: {version: ...}``) and one ``xtreme_<task>_<lang>.yaml``
    per language that includes it."""
    for task, langs in families.items():
        folder = root / f"xtreme_{task}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"_{task}_yaml").write_text(
            f"tag:\n  - xtreme\n  - xtreme_{task}\ndataset_path: json\n"
            "output_type: multiple_choice\n"
            f"process_results: !function utils.process_results\n"
            f"metric_list:\n  - metric: {PRIMARY_METRIC[task]}\n    aggregation: mean\n"
            f"    higher_is_better: true\nmetadata:\n  version: {version}\n",
            encoding="utf-8",
        )
        for lang in langs:
            (folder / f"xtreme_{task}_{lang}.yaml").write_text(
                f"# Generated by utils.py\ninclude: _{task}_yaml\ntask: xtreme_{task}_{lang}\n"
                f"dataset_name: {lang}\n",
                encoding="utf-8",
            )
    return root
