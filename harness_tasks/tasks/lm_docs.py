"""Document pre-processing of the LM route, beside the fields the encoder reads.

lm-eval's ``paws_*`` tasks detokenize both sentences, drop the first sentence's final mark and
lowercase the second's first letter (``process_docs_paraphrases``) so that the choice
``s1 + ", right? Yes, " + s2`` reads as one sentence. The encoder adapter classifies the
sentences as they are, so the pre-processed text goes into new fields, ``lm_sentence1`` and
``lm_sentence2``, computed with lm-eval's own functions.
"""

from __future__ import annotations

import importlib


def _lm_eval_pawsx():
    # "paws-x" is not an identifier; lm-eval's task folder is imported by its path.
    return importlib.import_module("lm_eval.tasks.paws-x.utils")


def lm_sentences(sentence1: str, sentence2: str) -> tuple[str, str]:
    """lm-eval's ``process_docs_paraphrases`` on one pair (empty sentences left as they are)."""
    utils = _lm_eval_pawsx()
    if not sentence1 or not sentence2:
        return sentence1, sentence2
    first = utils.general_detokenize(sentence1).strip()
    second = utils.general_detokenize(sentence2).strip()
    if first.endswith((".", ",", ";")):
        first = first[:-1]
    return first, utils.lowercase_first_letter(second)


def process_docs_pawsx(dataset):
    """lm-eval ``process_docs`` hook: add ``lm_sentence1``/``lm_sentence2`` to every document."""

    firsts, seconds = dataset["sentence1"], dataset["sentence2"]
    pairs = [lm_sentences(a, b) for a, b in zip(firsts, seconds, strict=True)]
    for n, name in enumerate(("lm_sentence1", "lm_sentence2")):
        if name in dataset.column_names:
            dataset = dataset.remove_columns(name)
        # add_column, not map: no progress bar per task on the terminal
        dataset = dataset.add_column(name, [p[n] for p in pairs])
    return dataset


__all__ = ["lm_sentences", "process_docs_pawsx"]
