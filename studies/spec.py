"""A study file: what to compare, on what, under which attacks; validated before anything runs.

```yaml
name: tiny
base_models:                 # "embedded" (12 layers), "embedded:N", a folder or a Hub id
  - {name: e5s, path: embedded}
recipes:                     # direct; intermediate with one task or a list
  - direct
  - {name: anli, intermediate: [anli]}
targets: [xnli, tatoeba]
seeds: [13, 14, 15]
attacks: [charnoise, visual]
adaptive: {attacks: [charnoise], query_budget: 50, num_examples: 20}
languages: [de, ru]          # or per task: {xnli: [de, ru], tatoeba: [de]}
target_recipes: {tatoeba: [direct]}   # optional: fewer recipes for some targets
attack_seed: 0
data:
  xtreme_dir: ${XTREME_DATA_DIR}      # relative paths are read from the study file's folder
  intermediate_dir: ../intermediate
  on_missing: error                   # or "skip": cells without data are skipped, with a reason
limits: {train_examples: 2000, eval_docs: 300}
training: {target_args: [--lr, "1e-4"], intermediate_args: []}
eval: {batch_size: 32, device: cpu}
```

Every error names the file, the key and the value (``StudyError``, one line, exit 2).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from studies.errors import StudyError

# The contract's names (docs/contracts.md section 2); this package imports no other package.
TASKS = ("xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc", "tatoeba", "xcopa")
RETRIEVAL = ("tatoeba", "bucc")
ATTACKS = ("charnoise", "visual", "mlmswap", "codeswitch", "distractor", "entityswap")
# Families that apply to some tasks only (adversarial.recipes' ``Family.tasks``; a test checks
# both agree); the others apply to every task.
ATTACK_TASKS = {
    "distractor": ("xnli", "pawsx", "xquad", "mlqa", "tydiqa"),
    "entityswap": ("panx", "udpos", "xquad", "mlqa", "tydiqa"),
}
# `xtreme-adv train list` (intermediate role)
INTERMEDIATE = (
    "anli",
    "mnli",
    "qqp",
    "squad",
    "squad_v2",
    "hellaswag",
    "commonsenseqa",
    "cosmosqa",
    "socialiqa",
    "ccg",
)
KEYS = (
    "name",
    "description",
    "base_models",
    "recipes",
    "targets",
    "seeds",
    "attacks",
    "adaptive",
    "languages",
    "attack_seed",
    "attack_params",
    "data",
    "limits",
    "training",
    "eval",
    "target_recipes",
)
LIMIT_KEYS = ("train_examples", "intermediate_examples", "eval_docs", "retrieval_docs")
_LANG = re.compile(r"^[a-z]{2,3}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Recipe:
    """``direct`` or ``intermediate`` with its intermediate task list."""

    name: str
    kind: str
    intermediate: tuple[str, ...] = ()


@dataclass(frozen=True)
class BaseModel:
    """A base encoder: ``embedded``, ``embedded:N``, a folder or a Hub id."""

    name: str
    path: str


@dataclass
class Study:
    """A validated study."""

    file: str
    name: str
    base_models: list[BaseModel]
    recipes: list[Recipe]
    targets: list[str]
    seeds: list[int]
    attacks: list[str]
    adaptive: dict
    languages: dict[str, list[str]]
    attack_seed: int
    attack_params: dict[str, dict[str, str]]
    xtreme_dir: Path | None
    intermediate_dir: Path | None
    on_missing: str
    limits: dict[str, int | None]
    training: dict[str, list[str]]
    eval: dict
    skipped: list[str] = field(default_factory=list)
    target_recipes: dict[str, list[str]] = field(default_factory=dict)

    def recipes_for(self, task: str) -> list[Recipe]:
        """The recipes trained for ``task`` (all, unless ``target_recipes`` narrows them)."""
        names = self.target_recipes.get(task)
        return [r for r in self.recipes if names is None or r.name in names]

    def attacks_for(self, task: str) -> list[str]:
        """The study's attacks that apply to ``task`` (a study lists families for all its
        targets; a distractor sentence has no place in a retrieval query)."""
        return [a for a in self.attacks if task in ATTACK_TASKS.get(a, (task,))]

    def not_applicable(self) -> list[tuple[str, str]]:
        """(task, attack) pairs of the study that no cell plans: the attack does not apply."""
        return [(t, a) for t in self.targets for a in self.attacks if a not in self.attacks_for(t)]

    def langs(self, task: str) -> list[str]:
        """Languages scored for ``task``."""
        return self.languages.get(task, [])


def preset_names() -> list[str]:
    """Presets shipped in the package (``studies/presets/*.yaml``)."""
    folder = resources.files("studies") / "presets"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def preset_path(name: str) -> Path:
    """The YAML file of preset ``name``; a user error naming the choices if unknown."""
    if name not in preset_names():
        raise StudyError(
            f"--preset: unknown preset {name!r}; choose from {', '.join(preset_names())}"
        )
    return Path(str(resources.files("studies") / "presets" / f"{name}.yaml"))


def _expand(text: str) -> str:
    """``${VAR}`` from the environment (empty when unset)."""
    return re.sub(r"\$\{(\w+)\}", lambda m: os.environ.get(m.group(1), ""), text)


def load(path: Path, data_dir: Path | None = None, intermediate_dir: Path | None = None) -> Study:
    """Read and validate a study file; ``data_dir`` / ``intermediate_dir`` override its data."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise StudyError(f"{path}: cannot read the study file ({err.strerror})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise StudyError(f"{path}: not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise StudyError(f"{path}: a study file is a mapping of keys (name, targets, ...)")
    return _validate(path, raw, data_dir, intermediate_dir)


def _err(path: Path, key: str, value, why: str) -> StudyError:
    return StudyError(f"{path}: key {key}: {value!r} {why}")


def _list(path: Path, raw: dict, key: str, default=None) -> list:
    value = raw.get(key, default)
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value:
        raise _err(path, key, value, "must be a non-empty list")
    return value


def _choices(path: Path, key: str, values: list, known: tuple[str, ...], what: str) -> list[str]:
    for value in values:
        if value not in known:
            raise _err(path, key, value, f"is not a known {what}; choose from {', '.join(known)}")
    if len(set(values)) != len(values):
        raise _err(path, key, values, "lists a value twice")
    return [str(v) for v in values]


def _validate(path: Path, raw: dict, data_dir, intermediate_dir) -> Study:
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise _err(
            path, unknown[0], raw[unknown[0]], f"is not a study key; keys: {', '.join(KEYS)}"
        )
    name = str(raw.get("name") or path.stem)
    if not _NAME.match(name):
        raise _err(path, "name", name, "must be letters, digits, '.', '_' or '-'")
    targets = _choices(path, "targets", _list(path, raw, "targets"), TASKS, "task")
    attacks = _choices(path, "attacks", _list(path, raw, "attacks"), ATTACKS, "attack")
    seeds = _list(path, raw, "seeds", [13])
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise _err(path, "seeds", seed, "is not a non-negative integer seed")
    if len(set(seeds)) != len(seeds):
        raise _err(path, "seeds", seeds, "lists a seed twice")
    bases = [_base(path, i, b) for i, b in enumerate(_list(path, raw, "base_models", ["embedded"]))]
    if len({b.name for b in bases}) != len(bases):
        raise _err(path, "base_models", [b.name for b in bases], "names a model twice")
    recipes = [_recipe(path, r) for r in _list(path, raw, "recipes", ["direct"])]
    if len({r.name for r in recipes}) != len(recipes):
        raise _err(path, "recipes", [r.name for r in recipes], "names a recipe twice")
    adaptive = _adaptive(path, raw.get("adaptive") or {})
    languages = _languages(path, raw.get("languages"), targets)
    limits = _limits(path, raw.get("limits") or {})
    training = _training(path, raw.get("training") or {})
    evaluation = raw.get("eval") or {}
    if not isinstance(evaluation, dict) or set(evaluation) - {"batch_size", "device", "processes"}:
        raise _err(path, "eval", evaluation, "takes batch_size, device and processes only")
    for key in ("batch_size", "processes"):
        value = evaluation.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _err(path, f"eval.{key}", value, "must be a positive integer")
    attack_seed = raw.get("attack_seed", 0)
    if isinstance(attack_seed, bool) or not isinstance(attack_seed, int) or attack_seed < 0:
        raise _err(path, "attack_seed", attack_seed, "is not a non-negative integer")
    params = raw.get("attack_params") or {}
    if not isinstance(params, dict) or any(
        a not in ATTACKS or not isinstance(v, dict) for a, v in params.items()
    ):
        raise _err(path, "attack_params", params, "maps attack names to {parameter: value}")
    data = raw.get("data") or {}
    if not isinstance(data, dict) or set(data) - {"xtreme_dir", "intermediate_dir", "on_missing"}:
        raise _err(path, "data", data, "takes xtreme_dir, intermediate_dir and on_missing")
    on_missing = data.get("on_missing", "error")
    if on_missing not in ("error", "skip"):
        raise _err(path, "data.on_missing", on_missing, "must be error or skip")
    xtreme = Path(data_dir) if data_dir else _data_path(path, data.get("xtreme_dir"))
    inter = (
        Path(intermediate_dir)
        if intermediate_dir
        else _data_path(path, data.get("intermediate_dir"))
    )
    study = Study(
        file=str(path),
        name=name,
        base_models=bases,
        recipes=recipes,
        targets=targets,
        seeds=[int(s) for s in seeds],
        attacks=attacks,
        adaptive=adaptive,
        languages=languages,
        attack_seed=attack_seed,
        attack_params={a: {str(k): str(v) for k, v in p.items()} for a, p in params.items()},
        xtreme_dir=xtreme,
        intermediate_dir=inter,
        on_missing=on_missing,
        limits=limits,
        training=training,
        eval={
            "batch_size": int(evaluation.get("batch_size", 32)),
            "device": str(evaluation.get("device", "cpu")),
            # lm-eval's data parallelism: eval cells run as this many processes (torchrun)
            "processes": int(evaluation.get("processes", 1)),
        },
    )
    narrowed = raw.get("target_recipes") or {}
    if not isinstance(narrowed, dict):
        raise _err(path, "target_recipes", narrowed, "maps targets to lists of recipe names")
    for task, names in narrowed.items():
        if task not in targets:
            raise _err(path, "target_recipes", task, "is not one of the study's targets")
        names = [names] if isinstance(names, str) else names
        known = tuple(r.name for r in recipes)
        study.target_recipes[task] = _choices(
            path, f"target_recipes.{task}", list(names or []), known, "recipe of this study"
        )
    _check_data(path, study, data_dir is not None, intermediate_dir is not None)
    return study


def _data_path(path: Path, value) -> Path | None:
    if value in (None, ""):
        return None
    text = _expand(str(value))
    if not text:
        return None
    folder = Path(text).expanduser()
    return folder if folder.is_absolute() else (path.parent / folder).resolve()


def _base(path: Path, index: int, item) -> BaseModel:
    if isinstance(item, str):
        item = {"path": item}
    if not isinstance(item, dict) or "path" not in item or set(item) - {"name", "path"}:
        raise _err(path, f"base_models[{index}]", item, "must be a path or {name, path}")
    model = str(item["path"])
    m = re.fullmatch(r"embedded(?::(\d+))?", model)
    if m and m.group(1) is not None and int(m.group(1)) < 1:
        raise _err(path, f"base_models[{index}].path", model, "needs at least one layer")
    default = "e5s" + (f"-{m.group(1)}l" if m and m.group(1) else "") if m else Path(model).name
    name = str(item.get("name") or default)
    if not _NAME.match(name):
        raise _err(path, f"base_models[{index}].name", name, "must be letters, digits, . _ -")
    return BaseModel(name=name, path=model)


def _recipe(path: Path, item) -> Recipe:
    if item == "direct":
        return Recipe("direct", "direct")
    if isinstance(item, str) and item.startswith("intermediate:"):
        item = {"intermediate": item.split(":", 1)[1].split(",")}
    if (
        not isinstance(item, dict)
        or "intermediate" not in item
        or set(item) - {"name", "intermediate"}
    ):
        raise _err(
            path,
            "recipes",
            item,
            "must be direct, intermediate:TASK[,TASK] or {name, intermediate}",
        )
    tasks = item["intermediate"]
    tasks = [tasks] if isinstance(tasks, str) else tasks
    if not isinstance(tasks, list) or not tasks:
        raise _err(path, "recipes.intermediate", tasks, "must be a task or a non-empty list")
    tasks = _choices(path, "recipes.intermediate", tasks, INTERMEDIATE, "intermediate task")
    name = str(item.get("name") or "-".join(tasks))
    if not _NAME.match(name) or name == "direct":
        raise _err(path, "recipes.name", name, "must be letters, digits, . _ - and not direct")
    return Recipe(name, "intermediate", tuple(tasks))


def _adaptive(path: Path, raw) -> dict:
    if not isinstance(raw, dict) or set(raw) - {
        "attacks",
        "query_budget",
        "num_examples",
        "search",
    }:
        raise _err(path, "adaptive", raw, "takes attacks, query_budget, num_examples, search")
    attacks = raw.get("attacks") or []
    attacks = _choices(path, "adaptive.attacks", attacks, ATTACKS, "attack")
    out = {"attacks": attacks, "search": str(raw.get("search", "greedy"))}
    if out["search"] not in ("greedy", "beam"):
        raise _err(path, "adaptive.search", out["search"], "must be greedy or beam")
    for key, default in (("query_budget", 100), ("num_examples", 50)):
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _err(path, f"adaptive.{key}", value, "must be a positive integer")
        out[key] = value
    return out


def _lang_list(path: Path, key: str, value) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value:
        raise _err(path, key, value, "must be a non-empty list of language codes")
    for lang in value:
        if not isinstance(lang, str) or not _LANG.match(lang):
            raise _err(path, key, lang, "is not an XTREME language code (e.g. de, zh)")
    return list(dict.fromkeys(value))


def _languages(path: Path, raw, targets: list[str]) -> dict[str, list[str]]:
    if raw is None:
        raise _err(path, "languages", raw, "must list languages (or map tasks to lists)")
    if isinstance(raw, dict):
        for task in raw:
            if task not in targets:
                raise _err(path, "languages", task, "is not one of the study's targets")
        missing = [t for t in targets if t not in raw]
        if missing:
            raise _err(path, "languages", missing[0], "target has no languages")
        return {t: _lang_list(path, f"languages.{t}", raw[t]) for t in targets}
    langs = _lang_list(path, "languages", raw)
    return {t: list(langs) for t in targets}


def _limits(path: Path, raw) -> dict[str, int | None]:
    if not isinstance(raw, dict) or set(raw) - set(LIMIT_KEYS):
        raise _err(path, "limits", raw, f"takes {', '.join(LIMIT_KEYS)}")
    out = {}
    for key in LIMIT_KEYS:
        value = raw.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise _err(path, f"limits.{key}", value, "must be a positive integer or absent")
        out[key] = value
    return out


def _training(path: Path, raw) -> dict[str, list[str]]:
    if not isinstance(raw, dict) or set(raw) - {"target_args", "intermediate_args", "args"}:
        raise _err(path, "training", raw, "takes args, target_args and intermediate_args")
    out = {}
    for key in ("args", "target_args", "intermediate_args"):
        value = raw.get(key) or []
        if not isinstance(value, list):
            raise _err(path, f"training.{key}", value, "must be a list of train flags")
        out[key] = [str(v) for v in value]
    return out


def _check_data(path: Path, study: Study, cli_data: bool, cli_inter: bool) -> None:
    """Data folders that are named must exist; without data, ``on_missing: skip`` skips."""
    where = "--data-dir" if cli_data else f"{path}: key data.xtreme_dir"
    if study.xtreme_dir is not None and not study.xtreme_dir.is_dir():
        raise StudyError(f"{where}: {str(study.xtreme_dir)!r} is not a folder")
    where = "--intermediate-dir" if cli_inter else f"{path}: key data.intermediate_dir"
    if study.intermediate_dir is not None and not study.intermediate_dir.is_dir():
        if study.on_missing == "skip" and not cli_inter:
            study.intermediate_dir = None
        else:
            raise StudyError(f"{where}: {str(study.intermediate_dir)!r} is not a folder")
    if study.xtreme_dir is None:
        if study.on_missing == "error":
            raise StudyError(
                f"{path}: key data.xtreme_dir: no XTREME data folder (set it, pass --data-dir, "
                "or set XTREME_DATA_DIR)"
            )
        return
    for task in list(study.targets):
        if not (study.xtreme_dir / _folder(task)).is_dir():
            if study.on_missing == "error":
                raise StudyError(
                    f"{path}: key targets: {task!r} has no data folder "
                    f"{str(study.xtreme_dir / _folder(task))!r}"
                )


def _folder(task: str) -> str:
    """The task's folder in XTREME's download layout."""
    return {"bucc": "bucc2018"}.get(task, task)
