"""The six attack families as declarative TextAttack recipes.

A family names its transformation, its constraints (with defaults and where a constant comes
from), the tasks it applies to, and how TextAttack's ``Attack`` is assembled from those parts
for adaptive and source-model runs (goal: ``UntargetedClassification``; search:
``GreedyWordSwapWIR``). Static, model-agnostic sets use the same transformation and constraints
with a seeded random word choice (:mod:`adversarial.engine`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness_tasks.errors import XtremeAdvError

ALL_TASKS = (
    "xnli",
    "pawsx",
    "xcopa",
    "udpos",
    "panx",
    "xquad",
    "mlqa",
    "tydiqa",
    "bucc",
    "tatoeba",
)

# Shared validity constraints (every word-level family).
COMMON = {
    # At most this share of a field's words is changed (floor(ratio * words), at least 1 word
    # or the example is skipped). DeepWordBug and BAE report 10-30%; 0.25 sits in that range.
    "max_ratio": 0.25,
    # Cosine floor between original and perturbed field under the similarity model; BAE and
    # TextFooler use 0.7-0.8 with USE; 0.7 with E5 (whose cosines are compressed upwards).
    "min_similarity": 0.7,
    "similarity_model": "embedded",
    # Words shorter than this many grapheme clusters are never changed (one-grapheme words,
    # negations and numbers never are: adversarial.constraints.ProtectedWords).
    "min_word_length": 1,
    # The floor actually applied is max(min_similarity, this quantile of the similarity of
    # unrelated pairs of the same field and language): a perturbed text must be closer to its
    # original than nearly all unrelated texts are to each other (E5 puts unrelated XNLI
    # premises at 0.82-0.92). 0 turns the calibration off.
    "floor_quantile": 0.99,
}


@dataclass(frozen=True)
class Family:
    """One attack family: its parameters with defaults, and where it applies."""

    name: str
    summary: str
    citation: str
    params: dict = field(default_factory=dict)
    tasks: tuple[str, ...] = ALL_TASKS

    def defaults(self) -> dict:
        """All parameters of the family with their default values."""
        return {**COMMON, **self.params}


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "charnoise",
            "character swap/substitute/delete/insert inside words, on grapheme clusters",
            "DeepWordBug, Gao et al. 2018",
            # Every changed word is one grapheme edit away or keeps 3/4 of its characters
            # (CharacterEditSimilarity): a typo, never a swap to an unrelated real word.
            {"operations": "swap,substitute,delete,insert", "min_char_similarity": 0.75},
        ),
        Family(
            "visual",
            "Unicode confusable homoglyphs, diacritic stripping, zero-width spaces",
            "Eger et al. 2019 (VIPER); Boucher et al. 2022 (Bad Characters)",
            # Invisible zero-width insertions: at most a third of a text's edits.
            # Homoglyphs, stripped accents and zero-width spaces cost nothing under
            # CharacterEditSimilarity; a changed letter costs as in charnoise.
            {
                "operations": "homoglyph,strip_diacritics,zero_width",
                "max_zero_width_share": 0.34,
                "min_char_similarity": 0.75,
            },
        ),
        Family(
            "mlmswap",
            "word substitution by a multilingual masked LM, similarity-constrained",
            "BAE, Garg & Ramakrishnan 2020; BERT-Attack, Li et al. 2020",
            {"mlm": "xlm-roberta-base", "max_candidates": 20, "min_confidence": 5e-4},
        ),
        Family(
            "codeswitch",
            "words replaced by dictionary translations (MUSE format)",
            "PolyGloss, Tan & Joty 2021",
            {"dictionary": "", "min_similarity": 0.5},
        ),
        Family(
            "distractor",
            "AddSent-style same-language sentence appended (QA); label-neutral clause (NLI)",
            "AddSent, Jia & Liang 2017; stress tests, Naik et al. 2018",
            {"min_similarity": 0.0, "max_ratio": 1.0},
            tasks=("xnli", "pawsx", "xquad", "mlqa", "tydiqa"),
        ),
        Family(
            "entityswap",
            "an entity replaced by another of the same type from the same language's data",
            "entity swaps of Jia & Liang 2017 / Ribeiro et al. 2020 (CheckList)",
            {"max_entities": 1, "gazetteer_task": "panx", "min_similarity": 0.0, "max_ratio": 1.0},
            tasks=("panx", "udpos", "xquad", "mlqa", "tydiqa"),
        ),
    )
}


def get_family(name: str) -> Family:
    """Return the attack family ``name`` or raise a user error listing the valid ones."""
    if name not in FAMILIES:
        raise XtremeAdvError(f"unknown attack {name!r}; choose from {', '.join(FAMILIES)}")
    return FAMILIES[name]


def _coerce(family: Family, key: str, value: object, default: object) -> object:
    if not isinstance(value, str) or isinstance(default, str):
        return value
    try:
        if isinstance(default, bool):
            return value.lower() in {"1", "true", "yes"}
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError:
        raise XtremeAdvError(
            f"attack {family.name}: parameter {key}={value!r} is not a {type(default).__name__}"
        ) from None
    return value


def resolve_params(family: Family, overrides: dict[str, object]) -> dict:
    """Defaults updated by ``overrides``; unknown names or bad values are user errors."""
    params = family.defaults()
    for key, value in overrides.items():
        if key not in params:
            raise XtremeAdvError(
                f"attack {family.name}: unknown parameter {key!r}; "
                f"choose from {', '.join(sorted(params))}"
            )
        params[key] = _coerce(family, key, value, params[key])
    if not 0.0 < float(params["max_ratio"]) <= 1.0:
        raise XtremeAdvError(f"attack {family.name}: max_ratio={params['max_ratio']} not in (0, 1]")
    if not 0.0 <= float(params["floor_quantile"]) < 1.0:
        raise XtremeAdvError(
            f"attack {family.name}: floor_quantile={params['floor_quantile']} not in [0, 1)"
        )
    if not -1.0 <= float(params["min_similarity"]) <= 1.0:
        raise XtremeAdvError(
            f"attack {family.name}: min_similarity={params['min_similarity']} not in [-1, 1]"
        )
    if not 0.0 <= float(params.get("min_char_similarity", 0.0)) <= 1.0:
        raise XtremeAdvError(
            f"attack {family.name}: min_char_similarity={params['min_char_similarity']} "
            "not in [0, 1]"
        )
    _check_operations(family, params)
    if family.name == "codeswitch" and not params["dictionary"]:
        raise XtremeAdvError(
            "attack codeswitch: parameter dictionary is required (a MUSE file such as "
            "de-en.txt, a folder of them, or hub:<dataset id>); pass --param dictionary=PATH"
        )
    return params


def _check_operations(family: Family, params: dict) -> None:
    from adversarial.transformations import CharacterNoise, VisualNoise

    known = {"charnoise": CharacterNoise.OPERATIONS, "visual": VisualNoise.OPERATIONS}
    if family.name not in known:
        return
    ops = [op for op in str(params["operations"]).split(",") if op]
    bad = [op for op in ops if op not in known[family.name]]
    if bad or not ops:
        raise XtremeAdvError(
            f"attack {family.name}: operations={params['operations']!r}; "
            f"choose from {','.join(known[family.name])}"
        )


def check_task(family: Family, task: str) -> None:
    """Raise a user error when ``family`` does not apply to ``task``."""
    if task not in ALL_TASKS:
        raise XtremeAdvError(f"unknown XTREME task {task!r}; choose from {', '.join(ALL_TASKS)}")
    if task not in family.tasks:
        raise XtremeAdvError(
            f"attack {family.name} does not apply to task {task}; it applies to "
            f"{', '.join(family.tasks)}"
        )


def word_swap(family: Family, lang: str, params: dict, seed: int = 0, search: bool = False):
    """The family's TextAttack word-level transformation for ``lang`` (None if not word-level).

    ``search``: the transformation feeds a model-in-the-loop search (adaptive, --source-model),
    which gets every Han homophone typo instead of one random one per word."""
    from adversarial import transformations as T

    ops = str(params.get("operations", "")).split(",")
    if family.name == "charnoise":
        return T.CharacterNoise(lang, seed, operations=ops, all_homophones=search)
    if family.name == "visual":
        return T.VisualNoise(lang, seed, operations=ops)
    if family.name == "codeswitch":
        from adversarial.dictionaries import load_dictionary

        return T.DictionarySwap(lang, load_dictionary(str(params["dictionary"]), lang), seed)
    if family.name == "mlmswap":
        return T.MultilingualMaskedLM(
            lang,
            str(params["mlm"]),
            max_candidates=int(params["max_candidates"]),
            min_confidence=float(params["min_confidence"]),
            seed=seed,
        )
    return None


def pre_constraints(lang: str, params: dict) -> list:
    """TextAttack pre-transformation constraints: stopwords (:func:`lexicon.stopwords`), word
    length, and protected words (negations, numbers, one-grapheme words)."""
    from adversarial import lexicon
    from adversarial.constraints import ProtectedWords
    from adversarial.textattack_compat import textattack

    C = textattack.constraints.pre_transformation
    stop = lexicon.stopwords(lang)
    # StopwordModification compares the word as written: add capitalised forms.
    stop = set(stop) | {w.capitalize() for w in stop} | {w.upper() for w in stop}
    return [
        C.RepeatModification(),
        C.StopwordModification(stopwords=stop),
        C.MinWordLength(int(params["min_word_length"])),
        ProtectedWords(lang),
    ]


def build_attack(
    family: Family,
    lang: str,
    params: dict,
    model_wrapper,
    query_budget: int | None,
    seed: int = 0,
    search=None,
    similarity_floor: float | None = None,
):
    """Assemble TextAttack's ``Attack`` for a classification model (adaptive/source-model runs).

    ``search`` replaces the default ``GreedyWordSwapWIR`` (transfer sets pass
    :class:`adversarial.minimal.MinimalGreedyWordSwapWIR`). ``similarity_floor``: the floor of
    the embedding-similarity constraint, where ``min_similarity`` asks for one; the builds pass
    the calibrated floor the manifest records (:func:`adversarial.calibration.for_request`:
    max(min_similarity, the floor_quantile of unrelated pairs)), default ``min_similarity``."""
    from adversarial.constraints import OriginalWordsModificationRate
    from adversarial.similarity import EmbeddingSimilarityFloor, load_encoder
    from adversarial.textattack_compat import textattack

    transformation = word_swap(family, lang, params, seed, search=True)
    if transformation is None:
        raise XtremeAdvError(
            f"attack {family.name} is not a word-level search; adaptive and --source-model runs "
            "support charnoise, visual, mlmswap and codeswitch"
        )
    constraints = pre_constraints(lang, params)
    # Counted in original words, as the static builder's budget: on every search path
    # (adaptive, --source-model transfer sets, the benchmarks).
    constraints.append(OriginalWordsModificationRate(float(params["max_ratio"])))
    if family.name == "visual":
        from adversarial.constraints import MaxZeroWidthShare

        constraints.append(MaxZeroWidthShare(float(params["max_zero_width_share"])))
    if float(params.get("min_char_similarity", 0.0)) > 0:
        from adversarial.constraints import CharacterEditSimilarity

        constraints.append(CharacterEditSimilarity(float(params["min_char_similarity"])))
    if float(params["min_similarity"]) > 0:
        encoder = load_encoder(str(params["similarity_model"]))
        floor = params["min_similarity"] if similarity_floor is None else similarity_floor
        constraints.append(EmbeddingSimilarityFloor(encoder, float(floor)))
    goal = textattack.goal_functions.UntargetedClassification(
        model_wrapper, query_budget=query_budget or float("inf"), model_batch_size=64
    )
    # "delete" importance ranking needs no [UNK] token (XLM-R's differs from TextAttack's default).
    if search is None:
        search = textattack.search_methods.GreedyWordSwapWIR(wir_method="delete")
    return textattack.Attack(goal, constraints, transformation, search)


def resources(family: Family, lang: str, params: dict) -> dict:
    """Identity of every external resource the output depends on (for the manifest and the
    work key): stopword and negation lists, and the masked LM / dictionary with their hashes."""
    from adversarial import lexicon

    out = {"stopwords": lexicon.stopword_source(lang), "negations": lexicon.negation_source(lang)}
    if family.name == "mlmswap":
        from adversarial.mlm import mlm_identity

        out["mlm"] = mlm_identity(str(params["mlm"]))
    if family.name == "codeswitch":
        from adversarial.dictionaries import dictionary_identity

        out["dictionary"] = dictionary_identity(str(params["dictionary"]), lang)
    if family.name == "entityswap":
        from adversarial.names import name_evidence_source

        evidence = name_evidence_source(lang)
        if evidence:
            out["name_evidence"] = evidence
    return out
