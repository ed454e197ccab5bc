"""Calibration of the similarity floor against unrelated pairs of the same language.

Multilingual sentence encoders compress cosines upwards: under E5, two unrelated XNLI premises
already score 0.82-0.92, so a fixed floor of 0.7 rejects nothing. The floor applied is
``max(min_similarity, q)`` where ``q`` is the ``floor_quantile`` (default 0.99) of the
similarity of unrelated pairs (the same field of two different documents of the split being
attacked, distinct texts, seeded sample): a perturbed text must stay closer to its original
than 99% of unrelated texts are to each other. The numbers go into the config (so into the
work key) and the manifest.
"""

from __future__ import annotations

import random

import numpy as np

N_PAIRS = 256
QUANTILES = (0.5, 0.9, 0.95, 0.99)


def field_texts(docs: list[dict], task: str, lang: str) -> dict[str, list[str]]:
    """The texts the builder perturbs, per field (tagging tokens joined as the floor joins them)."""
    from adversarial.engine import NO_SPACE_LANGS, TAGGING, TEXT_FIELDS

    if task in TAGGING:
        sep = "" if lang in NO_SPACE_LANGS else " "
        return {"tokens": [sep.join(d["tokens"]) for d in docs]}
    rows = [d for d in docs if d.get("side", "source") == "source"]
    return {name: [d[name] for d in rows] for name in TEXT_FIELDS[task]}


def unrelated_pairs(texts: dict[str, list[str]], n_pairs: int, seed: int) -> list[tuple[str, str]]:
    """A seeded sample of pairs of distinct texts of one field, from different documents."""
    rng = random.Random(f"calibration|{seed}")
    out = []
    for name in sorted(texts):
        pool = sorted(set(texts[name]))
        if len(pool) < 2:
            continue
        for _ in range(max(1, n_pairs // len(texts))):
            a, b = rng.sample(range(len(pool)), 2)
            out.append((pool[a], pool[b]))
    return out


def calibrate(encoder, docs: list[dict], task: str, lang: str, params: dict, seed: int) -> dict:
    """The floor to apply and the unrelated-pair similarity quantiles it comes from."""
    floor = float(params["min_similarity"])
    quantile = float(params.get("floor_quantile", 0.0))
    out = {"min_similarity": floor, "floor_quantile": quantile, "floor": floor}
    if encoder is None or floor <= 0 or quantile <= 0:
        out["calibrated"] = False
        return out
    pairs = unrelated_pairs(field_texts(docs, task, lang), N_PAIRS, seed)
    if not pairs:
        out["calibrated"] = False
        return out
    sims = encoder.similarity(pairs, stored=True)  # one sample per split: reused on disk
    q = float(np.round(np.quantile(sims, quantile), 6))
    out.update(
        calibrated=True,
        n_pairs=len(pairs),
        unrelated={f"q{int(p * 100)}": float(np.round(np.quantile(sims, p), 6)) for p in QUANTILES},
        unrelated_max=float(np.max(sims)),
        unrelated_quantile=q,
        floor=max(floor, q),
    )
    return out


def for_request(request, loaded) -> dict:
    """The calibration of a build request (computed once per request and cached on it)."""
    cached = getattr(request, "_calibration", None)
    if cached is None:
        encoder = None
        if float(request.params["min_similarity"]) > 0:
            from adversarial.similarity import load_encoder

            encoder = load_encoder(str(request.params["similarity_model"]))
        cached = calibrate(
            encoder,
            loaded.full_dataset.to_list(),
            request.task,
            request.lang,
            request.params,
            request.seed,
        )
        request._calibration = cached
    return cached


def setup(request, loaded) -> dict:
    """Everything validity-related a build depends on beyond its parameters: resources
    (stopword/negation lists, MLM, dictionary, with hashes) and the similarity floor."""
    from adversarial import recipes

    return {
        "resources": recipes.resources(request.family, request.lang, request.params),
        "similarity_floor": for_request(request, loaded),
    }
