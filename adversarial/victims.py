"""TextAttack ``ModelWrapper``s over every head the ``xtreme-encoder`` adapter evaluates.

Each victim answers TextAttack's inputs (a string, or a tuple of column values) through
:class:`harness_tasks.adapter.checkpoint.EncoderCheckpoint`, so an attack sees exactly the
model the lm-eval adapter scores: the same loading, label-name mapping, length-sorted batches
with dynamic padding, QA span decoding and mean-pooled retrieval embeddings. Every victim keeps
the outputs of the inputs it has seen (a greedy search asks for the same text again across
steps and examples); ``clear_cache`` empties it so a resumed build recomputes what an
uninterrupted one does.

| victim | task kind | TextAttack input | output per input |
|---|---|---|---|
| :class:`ClassifierVictim` | xnli, pawsx | ``(first, second)`` | logits in the task's label order |
| :class:`ChoiceVictim` | xcopa | ``(premise, choice1, choice2, question)`` | 2 logits |
| :class:`QAVictim` | xquad, mlqa, tydiqa | ``(context, question)`` | predicted answer string |
| :class:`TaggerVictim` | udpos, panx | tokens joined by spaces | ``[tokens, labels]`` probs |
| :class:`RetrievalVictim` | tatoeba, bucc | source sentence | scores against the fixed pool |
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from adversarial import batched_search
from adversarial.textattack_compat import textattack

ModelWrapper = textattack.models.wrappers.ModelWrapper

TOKEN_SEP = " "  # tagging: a sentence is its tokens joined by one space (tokens hold none)


class CachedVictim(ModelWrapper):
    """Base class: a per-input output cache in front of :meth:`forward`."""

    kind = ""

    def __init__(self, checkpoint, cache_size: int = 2**16):
        self.checkpoint = checkpoint
        self.model = checkpoint.model(self.head)  # TextAttack requires ``model``
        self.cache: OrderedDict = OrderedDict()
        self.cache_size = cache_size
        self.forward_inputs = 0  # inputs actually run through the model (cache misses)

    head = "classification"

    def forward(self, inputs: list) -> list:
        """Outputs for ``inputs`` (no cache)."""
        raise NotImplementedError

    def clear_cache(self) -> None:
        """Forget every cached output."""
        self.cache.clear()

    def outputs(self, inputs: Sequence) -> list:
        """Cached outputs, one per input."""
        keys = [tuple(x) if isinstance(x, (list, tuple)) else x for x in inputs]
        missing = list(dict.fromkeys(k for k in keys if k not in self.cache))
        if missing:
            # Inside a lockstep search, wait for one call over every waiting example's inputs.
            batched_search.need(self, missing)
            missing = [k for k in missing if k not in self.cache]
        if missing:
            self.forward_inputs += len(missing)
            for key, out in zip(missing, self.forward(missing), strict=True):
                self.cache[key] = out
                if len(self.cache) > self.cache_size:
                    self.cache.popitem(last=False)
        return [self.cache[k] for k in keys]

    def fill(self, inputs: list) -> None:
        """Compute and cache the outputs of ``inputs`` (the lockstep scheduler's shared call)."""
        self.outputs(inputs)

    def __call__(self, text_input_list: list):
        """What TextAttack's goal function receives for a batch of inputs."""
        return self.outputs(text_input_list)

    def get_grad(self, text_input):
        """Not supported: the searches used here query outputs only."""
        raise NotImplementedError("gradient-based searches are not supported")


class ClassifierVictim(CachedVictim):
    """Sentence-pair classifier (XNLI, PAWS-X); logits in the task's label order."""

    head = "classification"

    def __init__(self, checkpoint, task: str, **kwargs):
        from harness_tasks.families import FAMILIES

        self.family = FAMILIES[task]
        self.fields = ("premise", "hypothesis") if task == "xnli" else ("sentence1", "sentence2")
        checkpoint.require_head(self.family)
        checkpoint.label_index(self.family)  # a user error now, not mid-search
        super().__init__(checkpoint, **kwargs)

    def forward(self, inputs: list) -> list:
        docs = [dict(zip(self.fields, x, strict=True)) for x in inputs]
        return list(self.checkpoint.classify(self.family, docs))

    def __call__(self, text_input_list: list) -> np.ndarray:
        return np.stack(self.outputs(text_input_list))


class ChoiceVictim(CachedVictim):
    """Multiple-choice head (XCOPA): logits of the two alternatives."""

    head = "multiple_choice"
    FIELDS = ("premise", "choice1", "choice2", "question")

    def __init__(self, checkpoint, **kwargs):
        from harness_tasks.families import FAMILIES

        checkpoint.require_head(FAMILIES["xcopa"])
        super().__init__(checkpoint, **kwargs)

    def forward(self, inputs: list) -> list:
        docs = [dict(zip(self.FIELDS, x, strict=True)) for x in inputs]
        return list(self.checkpoint.choose(docs))

    def __call__(self, text_input_list: list) -> np.ndarray:
        return np.stack(self.outputs(text_input_list))


class QAVictim(CachedVictim):
    """Extractive QA head: the adapter's best span over doc-stride windows."""

    head = "qa"

    def __init__(self, checkpoint, **kwargs):
        from harness_tasks.families import FAMILIES

        checkpoint.require_head(FAMILIES["xquad"])
        super().__init__(checkpoint, **kwargs)

    def forward(self, inputs: list) -> list:
        docs = [{"context": c, "question": q} for c, q in inputs]
        return list(self.checkpoint.answer(docs))


class TaggerVictim(CachedVictim):
    """Token-classification head (UD-POS, PAN-X): per-token label probabilities.

    The adapter's :meth:`~EncoderCheckpoint.tag` returns only the argmax names; a search needs
    how sure the model is, so this reads the same first-sub-token logits (same tokenizer call,
    same label-name order) and keeps the softmax.
    """

    head = "tagging"

    def __init__(self, checkpoint, task: str, **kwargs):
        from harness_tasks.families import FAMILIES

        self.family = FAMILIES[task]
        checkpoint.require_head(self.family)
        self.order = checkpoint.label_index(self.family)
        self.labels = list(self.family.labels)
        super().__init__(checkpoint, **kwargs)

    def forward(self, inputs: list) -> list:
        import torch

        from harness_tasks.adapter.checkpoint import MAX_LENGTH, length_batches

        ckpt = self.checkpoint
        sentences = [str(x).split(TOKEN_SEP) for x in inputs]
        out: list = [None] * len(inputs)
        with torch.inference_mode():
            for batch in length_batches([str(x) for x in inputs], ckpt.batch_size):
                words = [sentences[i] for i in batch]
                enc = ckpt.tokenizer(
                    words,
                    is_split_into_words=True,
                    truncation=True,
                    max_length=ckpt.max_length or MAX_LENGTH["tagging"],
                    padding=True,
                    return_tensors="pt",
                )
                word_ids = [enc.word_ids(j) for j in range(len(batch))]
                inputs_t = {k: v.to(torch.device(ckpt.device)) for k, v in enc.items()}
                logits = self.model(**inputs_t).logits.float()[:, :, self.order]
                probs = torch.softmax(logits, dim=-1).cpu().numpy()
                for j, i in enumerate(batch):
                    # A word cut off by truncation keeps a uniform row (the adapter's fallback).
                    rows = np.full((len(words[j]), len(self.labels)), 1.0 / len(self.labels))
                    seen = set()
                    for pos, w in enumerate(word_ids[j]):
                        if w is None or w in seen:
                            continue
                        seen.add(w)
                        rows[w] = probs[j, pos]
                    out[i] = rows.astype(np.float32)
        return out

    def __call__(self, text_input_list: list) -> list:
        # Nested lists: TextAttack would flatten a list of arrays of different lengths.
        return [p.tolist() for p in self.outputs(text_input_list)]


class RetrievalVictim(CachedVictim):
    """Sentence encoder against a fixed candidate pool, embedded once.

    ``scoring="cosine"`` ranks candidates by cosine (Tatoeba, as XTREME); ``"margin"`` by the
    ratio margin of BUCC mining (:func:`harness_tasks.adapter.mining.mine`), with
    each candidate's neighbourhood term computed once against the clean source sentences.
    """

    head = "retrieval"

    def __init__(
        self,
        checkpoint,
        pool: Sequence[str],
        scoring: str = "cosine",
        sources: Sequence[str] = (),
        k: int | None = None,
        **kwargs,
    ):
        from harness_tasks.adapter.checkpoint import BUCC_NEIGHBOURS

        super().__init__(checkpoint, **kwargs)
        self.scoring = scoring
        self.pool = checkpoint.embed(list(pool))
        self.k = k or BUCC_NEIGHBOURS
        self.pool_knn = None
        if scoring == "margin":
            src = checkpoint.embed(list(sources))
            kk = min(self.k, src.shape[0])
            sims = self.pool @ src.T
            self.pool_knn = np.partition(sims, -kk, axis=1)[:, -kk:].mean(axis=1)

    def forward(self, inputs: list) -> list:
        emb = self.checkpoint.embed([str(x) for x in inputs])
        sims = emb @ self.pool.T
        if self.scoring == "margin":
            kk = min(self.k, sims.shape[1])
            own = np.partition(sims, -kk, axis=1)[:, -kk:].mean(axis=1)
            sims = sims / ((own[:, None] + self.pool_knn[None, :]) / 2)
        return list(sims.astype(np.float32))

    def __call__(self, text_input_list: list) -> np.ndarray:
        return np.stack(self.outputs(text_input_list))


class CausalLMVictim(CachedVictim):
    """A causal LM scored as lm-eval's ``hf`` model scores a ``multiple_choice`` task.

    Each input becomes a document (the task's text fields), lm-eval's own task object builds
    its zero-shot context and one log-likelihood request per choice (``fewshot_context``,
    ``construct_requests``: the prompts, choices and target delimiter of the task's YAML), and
    ``HFLM.loglikelihood`` answers them in its batches. Outputs are the choices'
    log-likelihoods, whose argmax is lm-eval's ``acc`` prediction.
    """

    def __init__(self, lm, task, fields: Sequence[str], cache_size: int = 2**16):
        self.lm, self.task, self.fields = lm, task, tuple(fields)
        self.model = lm.model  # TextAttack requires ``model``
        self.cache = OrderedDict()
        self.cache_size = cache_size
        self.forward_inputs = 0

    def forward(self, inputs: list) -> list:
        requests, owners = [], []
        for k, values in enumerate(inputs):
            # lm-eval reads the target while building the context, but a zero-shot context
            # holds no answer: a placeholder label leaves the prompt unchanged.
            doc = {**dict(zip(self.fields, values, strict=True)), "label": 0}
            ctx = self.task.fewshot_context(doc, 0)
            for request in self.task.construct_requests(doc=doc, ctx=ctx, metadata=("", k, 1)):
                requests.append(request)
                owners.append(k)
        results = self.lm.loglikelihood(requests, disable_tqdm=True)
        out: list[list[float]] = [[] for _ in inputs]
        for (loglikelihood, _greedy), k in zip(results, owners, strict=True):
            out[k].append(float(loglikelihood))
        return [np.asarray(o, dtype=np.float32) for o in out]

    def __call__(self, text_input_list: list) -> np.ndarray:
        return np.stack(self.outputs(text_input_list))


def load_lm_task(task: str, lang: str, data_dir: str | None = None):
    """lm-eval's task object of the clean task ``xtreme_<task>_<lang>`` (prompts, choices)."""
    import logging
    import os

    from harness_tasks.api import task_manager

    name = f"xtreme_{task}_{lang}"
    previous = os.environ.get("XTREME_DATA_DIR")
    if data_dir:
        os.environ["XTREME_DATA_DIR"] = str(data_dir)
    quiet = logging.getLogger("lm_eval")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # lm-eval's note on --metadata for custom datasets
    try:
        # Only xtreme-adv's task folder is indexed (lm-eval's own would take most of a minute).
        return task_manager(include_defaults=False).load([name])["tasks"][name]
    finally:
        quiet.setLevel(level)
        if data_dir:
            if previous is None:
                os.environ.pop("XTREME_DATA_DIR", None)
            else:
                os.environ["XTREME_DATA_DIR"] = previous
