"""The embedding-similarity floor for static sets, applied to a whole chunk in batched rounds.

Each round embeds every field still above its edit count's floor check; a field below the floor
loses its last-chosen edit and is checked again next round, so the result is the longest prefix
of the seeded edit order that keeps similarity >= floor.
"""

from __future__ import annotations

from adversarial.engine import NO_SPACE_LANGS, FieldPlan, Plan, apply_char_edits


def field_texts(fp: FieldPlan, lang: str) -> tuple[str, str]:
    """Original and perturbed text of a field under its currently kept edits."""
    kept = fp.edits[: fp.kept]
    if fp.name == "tokens":
        sep = "" if lang in NO_SPACE_LANGS else " "
        tokens = list(fp.original)
        for start, end, repl in sorted(kept, key=lambda e: e[0], reverse=True):
            tokens[start:end] = repl if isinstance(repl, list) else [repl]
        return sep.join(fp.original), sep.join(tokens)
    return fp.original, apply_char_edits(fp.original, kept)[0]


def apply_similarity_floor(plans: list[Plan], encoder, floor: float, lang: str) -> list:
    """Trim edits to meet ``floor``; return each plan's lowest field similarity (None: none)."""
    if encoder is None:
        return [None] * len(plans)
    final: dict[tuple[int, int], float] = {}
    pending = [
        (p, f) for p, plan in enumerate(plans) for f, fp in enumerate(plan.fields) if fp.kept
    ]
    while pending:
        pairs = [field_texts(plans[p].fields[f], lang) for p, f in pending]
        sims = encoder.similarity(pairs)
        still = []
        for (p, f), sim in zip(pending, sims, strict=True):
            fp = plans[p].fields[f]
            if sim >= floor or floor <= 0:
                final[(p, f)] = float(sim)
            else:
                fp.kept -= 1
                if fp.kept:
                    still.append((p, f))
        pending = still
    out = []
    for p, plan in enumerate(plans):
        scores = [final[(p, f)] for f in range(len(plan.fields)) if (p, f) in final]
        out.append(min(scores) if scores else None)
    return out
