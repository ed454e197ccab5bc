"""Sets transferred from a source model: TextAttack's ``Attack`` run on each document.

The recipe is the family's (:func:`adversarial.recipes.build_attack`: transformation,
constraints, ``UntargetedClassification``) over the dynamic-padding, caching wrapper
(:class:`adversarial.model_wrapper.DynamicPaddingWrapper`), searched by
:class:`adversarial.minimal.MinimalGreedyWordSwapWIR`: ``GreedyWordSwapWIR``, then the fewest of
its edits that still flip the source model. Each row records its queries and edit counts.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from adversarial import recipes
from adversarial.constraints import original_words_changed
from adversarial.engine import TEXT_FIELDS
from adversarial.minimal import MinimalGreedyWordSwapWIR, word_edits
from adversarial.textattack_compat import AttackedText, language, textattack
from harness_tasks.errors import XtremeAdvError

Results = textattack.attack_results


def label_index(task: str, model: Any) -> list[int]:
    """Model output index of each of the task's labels, matched by ``id2label`` name.

    Names are compared case-insensitively, with the aliases the ``xtreme-encoder`` adapter
    accepts (docs/contracts.md section 4); a checkpoint whose names do not cover the task's
    labels exactly is a user error, never a silent positional mapping.
    """
    from harness_tasks.adapter.checkpoint import LABEL_ALIASES
    from harness_tasks.families import FAMILIES

    labels = tuple(FAMILIES[task].labels or ())
    id2label = {int(k): str(v) for k, v in (model.config.id2label or {}).items()}
    by_name: dict[str, int] = {}
    for index, name in sorted(id2label.items()):
        key = name.strip().lower()
        by_name[LABEL_ALIASES.get(key) or key] = index
    missing = [label for label in labels if label.lower() not in by_name]
    if missing or len(id2label) != len(labels):
        where = getattr(model.config, "_name_or_path", "") or "the checkpoint"
        names = [id2label[i] for i in sorted(id2label)]
        raise XtremeAdvError(
            f"checkpoint {where}: config.json id2label names {names} do not match {task}'s "
            f"labels {list(labels)} (mapped case-insensitively); missing {missing or 'none'}"
        )
    return [by_name[label.lower()] for label in labels]


def result_row(
    doc: dict,
    task: str,
    lang: str,
    result,
    similarity: float | None,
    search: dict | None = None,
) -> dict:
    """Row of a transferred set from a TextAttack result.

    With ``search`` (what :class:`adversarial.minimal.MinimalGreedyWordSwapWIR` reports) the
    row also records the model queries spent (``adv_queries``), the edits the greedy search
    made before the reduction (``adv_search_edits``) and how it was reduced (``adv_minimal``).
    """
    fields = TEXT_FIELDS[task]
    row = dict(doc)
    perturbed = result.perturbed_result.attacked_text
    edits, originals = [], {}
    for name in fields:
        new = perturbed._text_input[name]
        if new != doc[name]:
            originals[name] = doc[name]
            row[name] = new
            edits.extend({"field": name, **e} for e in word_edits(doc[name], new, lang))
    if isinstance(result, Results.SkippedAttackResult):
        status, reason = "skipped", "source_model_wrong"
    elif isinstance(result, Results.SuccessfulAttackResult):
        status, reason = "attacked", ""
    else:
        status, reason = ("attacked", "goal_not_reached") if edits else ("skipped", "no_candidate")
    # In original words, as the static budget and the search's limit count them (a word a
    # typo re-splits in two is one perturbed word).
    n_words = max(1, len(perturbed.attack_attrs["original_index_map"]))
    row.update(
        adv_status=status,
        adv_reason=reason,
        adv_edits=json.dumps(
            sorted(edits, key=lambda e: (e["field"], e["start"])),
            ensure_ascii=False,
            sort_keys=True,
        ),
        adv_original=json.dumps(originals, ensure_ascii=False, sort_keys=True),
        adv_similarity=float(similarity) if similarity is not None else None,
        adv_ratio=round(original_words_changed(perturbed) / n_words, 6) if edits else 0.0,
    )
    if search is not None:
        row.update(
            adv_queries=int(result.perturbed_result.num_queries),
            adv_search_edits=int(search.get("search_edits", 0)),
            adv_minimal=str(search.get("minimal", "")),
        )
    return row


class TransferAttack:
    """Attacks documents against a source classifier; one TextAttack ``Attack`` per build,
    its similarity constraint at ``floor`` when given (else the family's ``min_similarity``)."""

    def __init__(self, request, encoder, floor: float | None = None):
        from adversarial.model_wrapper import DynamicPaddingWrapper

        self.request = request
        self.encoder = encoder
        self.wrapper = DynamicPaddingWrapper.from_pretrained(request.source_model)
        self.labels = label_index(request.task, self.wrapper.model)
        # Each example stops at the fewest of the greedy search's edits that flip the model.
        self.search = MinimalGreedyWordSwapWIR(request.lang)
        self.attack = recipes.build_attack(
            request.family,
            request.lang,
            request.params,
            self.wrapper,
            query_budget=None,
            seed=request.seed,
            search=self.search,
            # The calibrated floor the manifest reports as the set's (adversarial.calibration).
            similarity_floor=floor,
        )

    def run(self, docs: list[dict], start: int) -> list[dict]:
        """Rows for ``docs`` (rows ``start``.. of the split)."""
        rows = []
        fields = TEXT_FIELDS[self.request.task]
        # Caches start empty per chunk, so a resumed build computes exactly what an
        # uninterrupted one does (the transformation itself is seeded per word).
        self.attack.clear_cache()
        self.wrapper.cache.clear()
        r = self.request
        for doc in docs:
            self.search.last = None
            with language(r.lang):
                text = AttackedText(OrderedDict((f, doc[f]) for f in fields))
                result = self.attack.attack(text, self.labels[doc["label"]])
            search = self.search.last or {"search_edits": 0, "minimal": ""}
            sims = None
            if self.encoder is not None:
                pairs = [
                    (doc[f], result.perturbed_result.attacked_text._text_input[f]) for f in fields
                ]
                sims = float(min(self.encoder.similarity(pairs)))
            rows.append(result_row(doc, r.task, r.lang, result, sims, search))
        return rows
