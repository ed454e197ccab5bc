"""The manifest of a built set: provenance, validity statistics and every edit made."""

from __future__ import annotations

import json
from collections import Counter

from adversarial import lexicon, recipes
from adversarial.constraints import is_zero_width_edit, protection_reason

ROW_FIELDS = (
    "adv_status",
    "adv_reason",
    "adv_edits",
    "adv_original",
    "adv_similarity",
    "adv_ratio",
)


def task_name(task: str, attack: str, lang: str) -> str:
    """lm-eval name of an adversarial task (docs/contracts.md section 2)."""
    return f"xtreme_adv_{task}_{attack}_{lang}"


def check_row(row: dict, task: str) -> dict[str, int]:
    """Validity checks of one row: QA answers at their offsets, tag alignment (counts)."""
    out = Counter()
    if "answers" in row and "context" in row:
        answers = row["answers"]
        for text, start in zip(answers["text"], answers["answer_start"], strict=True):
            out["answers"] += 1
            out["answers_preserved"] += row["context"][start : start + len(text)] == text
    if "tokens" in row and "tags" in row:
        out["tagged"] += 1
        aligned = len(row["tokens"]) == len(row["tags"]) and all(
            tok and not any(ch.isspace() for ch in tok) for tok in row["tokens"]
        )
        out["tagged_aligned"] += aligned
    return dict(out)


def build_manifest(config: dict, rows: list[dict], data_sha256: str) -> dict:
    """Manifest for ``rows`` built under ``config`` (no timestamps: output is reproducible)."""
    task, attack, lang = config["task"], config["attack"], config["lang"]
    family = recipes.get_family(attack)
    params = config["params"]
    stop = lexicon.stopwords(lang)
    scored = [r for r in rows if r["adv_reason"] != "target_side"]
    attacked = [r for r in scored if r["adv_status"] == "attacked"]
    checks = Counter()
    examples, stopword_edits, n_edits = [], 0, 0
    protected_edits, operations, per_example = Counter(), Counter(), Counter()
    for row in rows:
        checks.update(check_row(row, task))
        edits = json.loads(row["adv_edits"])
        n_edits += len(edits)
        if row["adv_reason"] != "target_side":
            per_example[len(edits)] += 1
        if attack not in ("distractor", "entityswap"):
            stopword_edits += sum(e["original"].lower() in stop for e in edits)
            for e in edits:
                reason = protection_reason(e["original"], lang)
                if reason:
                    protected_edits[reason] += 1
        if attack == "visual":
            operations.update(_visual_operation(e["original"], e["perturbed"]) for e in edits)
        example = {
            "id": row["id"],
            "status": row["adv_status"],
            "reason": row["adv_reason"],
            "edits": edits,
        }
        if "adv_queries" in row:  # transfer sets: the search's cost and its reduction
            example.update(
                queries=row["adv_queries"],
                search_edits=row["adv_search_edits"],
                minimal=row["adv_minimal"],
            )
        examples.append(example)
    sims = [r["adv_similarity"] for r in attacked if r["adv_similarity"] is not None]
    ratios = [r["adv_ratio"] for r in attacked]
    data_version = data_sha256[:12]
    return (
        {
            "schema": config["schema"],
            "task_name": task_name(task, attack, lang),
            "task": task,
            "lang": lang,
            "version": data_version,
            "attack": {
                "name": attack,
                "summary": family.summary,
                "citation": family.citation,
                "params": params,
            },
            "seed": config["seed"],
            "split": config["split"],
            "source": config["source"],
            "limit": config["limit"],
            # The parallel half attacked, when only one was (absent: every document).
            **({"parallel_half": config["parallel_half"]} if "parallel_half" in config else {}),
            "source_model": config["source_model"],
            "versions": config["versions"],
            "data": {"file": "data.parquet", "sha256": data_sha256, "n_rows": len(rows)},
            # Stopword/negation lists, MLM, dictionary (with sources and hashes), and the
            # similarity-floor calibration against unrelated pairs (adversarial.calibration).
            "validity_setup": config.get("validity_setup", {}),
            "validity": {
                "n_docs": len(rows),
                "n_scored": len(scored),
                "attacked": len(attacked),
                "skipped": len(scored) - len(attacked),
                "skip_reasons": dict(
                    sorted(
                        Counter(
                            r["adv_reason"] for r in scored if r["adv_status"] != "attacked"
                        ).items()
                    )
                ),
                "n_edits": n_edits,
                "max_ratio_limit": params["max_ratio"],
                "max_ratio_observed": max(ratios, default=0.0),
                "mean_ratio": round(sum(ratios) / len(ratios), 6) if ratios else 0.0,
                "similarity_floor": config.get("validity_setup", {})
                .get("similarity_floor", {})
                .get("floor", params["min_similarity"]),
                "similarity_model": params["similarity_model"],
                "min_similarity_observed": min(sims, default=None),
                "mean_similarity": round(sum(sims) / len(sims), 6) if sims else None,
                "stopword_edits": stopword_edits,
                # Edits of words that must never change (negation, number, one grapheme): 0.
                "protected_edits": {k: protected_edits[k] for k in sorted(protected_edits)},
                # How many edits each scored example got ({"0": n, "1": n, ...}): static sets do
                # not always spend the budget; a 0 is an example left clean (see skip_reasons).
                "edits_per_example": {str(k): per_example[k] for k in sorted(per_example)},
                "left_clean": len(scored) - len(attacked),
                "left_clean_too_short": sum(r["adv_reason"] == "too_short" for r in scored),
                "qa_answers": checks["answers"],
                "qa_answers_preserved": checks["answers_preserved"],
                "tagged_examples": checks["tagged"],
                "tagged_aligned": checks["tagged_aligned"],
            },
            "examples": examples,
        }
        | ({"visual_operations": dict(sorted(operations.items()))} if attack == "visual" else {})
        | (
            {"minimal_perturbations": minimal_summary(rows)}
            if rows and "adv_queries" in rows[0]
            else {}
        )
    )


def minimal_summary(rows: list[dict]) -> dict:
    """How the edits of a transfer set's successful attacks were reduced to the fewest that
    still flip the source model (adversarial.minimal): edits per success before and after,
    how many were reduced by which method, and the model queries spent."""
    won = [r for r in rows if r["adv_status"] == "attacked" and r["adv_reason"] == ""]
    after = Counter(len(json.loads(r["adv_edits"])) for r in won)
    before = Counter(r["adv_search_edits"] for r in won)
    queries = [r["adv_queries"] for r in rows if r["adv_reason"] != "source_model_wrong"]
    return {
        "search": "GreedyWordSwapWIR(delete), then the fewest of its edits that still flip "
        "the source model (exact over subsets up to 7 edits, else one-minimal)",
        "successful": len(won),
        "edits_per_success": {str(k): after[k] for k in sorted(after)},
        "search_edits_per_success": {str(k): before[k] for k in sorted(before)},
        "reduced": sum(len(json.loads(r["adv_edits"])) < r["adv_search_edits"] for r in won),
        "methods": dict(sorted(Counter(r["adv_minimal"] for r in won).items())),
        "queries_total": sum(queries),
        "queries_mean": round(sum(queries) / len(queries), 3) if queries else None,
    }


def _visual_operation(original: str, perturbed: str) -> str:
    """``zero_width``, ``strip_diacritics`` or ``homoglyph`` (zero-width edits are counted
    apart: they are invisible, unlike the other two)."""
    if is_zero_width_edit(original, perturbed):
        return "zero_width"
    if perturbed == lexicon.strip_diacritics(original):
        return "strip_diacritics"
    return "homoglyph"
