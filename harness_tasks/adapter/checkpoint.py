"""A fine-tuned encoder checkpoint answering XTREME tasks: one method per head type.

The heads are transformers' own (``AutoModelFor...``); what is written here is the glue
XTREME needs around them: label-name mapping, first-sub-token word labels, span decoding with
a doc stride over long contexts, and mean-pooled sentence embeddings with margin mining.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from harness_tasks.adapter.embed_cache import cached_embeddings
from harness_tasks.adapter.mining import NEIGHBOURS as BUCC_NEIGHBOURS  # noqa: F401 - re-export
from harness_tasks.adapter.mining import mine_documents
from harness_tasks.errors import XtremeAdvError
from harness_tasks.families import TaskFamily
from harness_tasks.weights import weights_sha256

HEADS = {
    "ForSequenceClassification": "classification",
    "ForMultipleChoice": "multiple_choice",
    "ForQuestionAnswering": "qa",
    "ForTokenClassification": "tagging",
}
# Label spellings other tools use for the same classes.
LABEL_ALIASES = {
    "contradictory": "contradiction",
    "entails": "entailment",
}
# jiant's XTREME maximum lengths: classification and tagging 256, QA 384, retrieval 512.
MAX_LENGTH = {
    "classification": 256,
    "multiple_choice": 256,
    "tagging": 256,
    "qa": 384,
    "retrieval": 512,
}
# XTREME's retrieval layer per base model, as an index of transformers' hidden_states (0 is the
# embedding output): scripts/run_tatoeba.sh and run_bucc2018.sh pass --specific_layer 13 for
# XLM-R Large and 7 for mBERT, indices into the layer outputs without the embedding output.
RETRIEVAL_LAYERS = {"xlm-roberta-large": 14, "bert-base-multilingual-cased": 8}
QA_STRIDE = 128
QA_MAX_ANSWER_TOKENS = 30
QA_N_BEST = 20
XCOPA_QUESTION = {"cause": "What was the cause?", "effect": "What happened as a result?"}


# A batch ends when a text is shorter than this share of the batch's longest (and more than
# PAD_SLACK characters shorter): every batch is padded to its longest input, and the adaptive
# attacks send calls of a hundred inputs of very different lengths (40% of the tokens were
# padding on XNLI with fixed-size batches).
PAD_RATIO = 0.8
PAD_SLACK = 16


def length_batches(texts: Sequence[str], size: int) -> Iterator[list[int]]:
    """Indices of ``texts`` in batches of at most ``size``, longest first, cut where padding
    to the batch's longest text would waste more than about a fifth of the batch."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    batch: list[int] = []
    for i in order:
        if batch:
            longest = len(texts[batch[0]])
            short = len(texts[i]) < PAD_RATIO * longest and longest - len(texts[i]) > PAD_SLACK
            if len(batch) >= size or short:
                yield batch
                batch = []
        batch.append(i)
    if batch:
        yield batch


class EncoderCheckpoint:
    """A transformers encoder folder, loaded lazily per head, answering XTREME documents."""

    def __init__(
        self,
        path: str | Path,
        device: str = "cpu",
        batch_size: int = 32,
        retrieval_layer: int | None = None,
        retrieval_prefix: str | None = None,
        max_length: int | None = None,
    ) -> None:
        from transformers import AutoConfig

        from harness_tasks.embedded.tokenizer import load_tokenizer

        self.path = Path(path)
        if not (self.path / "config.json").is_file():
            raise XtremeAdvError(
                f"{self.path}: not a transformers checkpoint folder (no config.json)"
            )
        try:
            self.config = AutoConfig.from_pretrained(self.path)
            self.tokenizer = load_tokenizer(self.path)
        except (OSError, ValueError) as err:
            raise XtremeAdvError(f"{self.path}: cannot load config or tokenizer ({err})") from None
        self.device = device
        self.batch_size = max(1, int(batch_size))
        if retrieval_layer is None:
            self.retrieval_layer, self.retrieval_layer_source = self._default_layer()
        else:
            self.retrieval_layer, self.retrieval_layer_source = int(retrieval_layer), "given"
        n_layers = int(getattr(self.config, "num_hidden_layers", 0) or 0)
        if n_layers and not -(n_layers + 1) <= self.retrieval_layer <= n_layers:
            raise XtremeAdvError(
                f"retrieval_layer={self.retrieval_layer} is out of range for {self.path} "
                f"({n_layers} layers: 0 is the embedding output, {n_layers} the last layer)"
            )
        self.retrieval_prefix = (
            retrieval_prefix if retrieval_prefix is not None else self._card_prefix()
        )
        self.max_length = max_length
        architectures = getattr(self.config, "architectures", None) or []
        self.architecture = architectures[0] if architectures else "unknown"
        self.head = next(
            (kind for suffix, kind in HEADS.items() if self.architecture.endswith(suffix)), "base"
        )
        self._models: dict[str, object] = {}
        self._embedding_key: str | None = None

    # -- loading -------------------------------------------------------------------------

    def _card_prefix(self) -> str:
        """Text prefix the checkpoint's provenance card asks for (e5 models use "query: ")."""
        card = self.path / "provenance.json"
        if card.is_file():
            try:
                data = json.loads(card.read_text(encoding="utf-8"))
                conversion = data.get("conversion") or {}
                return str(data.get("text_prefix") or conversion.get("text_prefix") or "")
            except (json.JSONDecodeError, AttributeError):
                return ""
        return ""

    def _default_layer(self) -> tuple[int, str]:
        """XTREME's retrieval layer for a known base model, else the last layer.

        The base model is the card's ``base_model.name``, else config ``_name_or_path``.
        """
        names = []
        card = self.path / "provenance.json"
        if card.is_file():
            try:
                base = json.loads(card.read_text(encoding="utf-8")).get("base_model") or {}
                names.append(str(base.get("name") or ""))
            except (json.JSONDecodeError, AttributeError):
                pass
        names.append(str(getattr(self.config, "_name_or_path", "") or ""))
        for name in names:
            key = name.rstrip("/").rsplit("/", 1)[-1]
            if key in RETRIEVAL_LAYERS:
                return RETRIEVAL_LAYERS[key], f"XTREME's layer for {key}"
        return -1, "last layer"

    def require_head(self, family: TaskFamily) -> None:
        """Raise a user error when this checkpoint's head cannot answer ``family``."""
        if family.kind == "retrieval" or self.head == family.kind:
            return
        wanted = {v: k for k, v in HEADS.items()}[family.kind]
        raise XtremeAdvError(
            f"checkpoint {self.path} has head {self.architecture}; {family.title} needs a "
            f"*{wanted} checkpoint"
        )

    def model(self, kind: str):
        """The torch module for ``kind`` (a head type, or ``retrieval`` for the bare encoder)."""
        if kind not in self._models:
            import torch
            import transformers

            auto = {
                "classification": transformers.AutoModelForSequenceClassification,
                "multiple_choice": transformers.AutoModelForMultipleChoice,
                "qa": transformers.AutoModelForQuestionAnswering,
                "tagging": transformers.AutoModelForTokenClassification,
                "retrieval": transformers.AutoModel,
            }[kind]
            try:
                module = auto.from_pretrained(self.path)
            except (OSError, ValueError) as err:
                raise XtremeAdvError(f"{self.path}: cannot load weights ({err})") from None
            module.to(torch.device(self.device)).eval()
            self._models[kind] = module
        return self._models[kind]

    def label_index(self, family: TaskFamily) -> list[int]:
        """For each of the task's labels, the checkpoint output index with that name."""
        id2label = {int(i): str(n) for i, n in self.config.id2label.items()}
        by_name: dict[str, int] = {}
        for index, name in id2label.items():
            key = name.strip().lower()
            by_name[LABEL_ALIASES.get(key) or key] = index
        missing = [label for label in family.labels if label.lower() not in by_name]
        if missing or len(id2label) != len(family.labels):
            raise XtremeAdvError(
                f"checkpoint {self.path} labels {sorted(id2label.values())} do not match "
                f"{family.title}'s labels {list(family.labels)} (config.json id2label); "
                f"missing {missing or 'none'}"
            )
        return [by_name[label.lower()] for label in family.labels]

    def _encode(self, kind: str, *texts, **kwargs):
        import torch

        limit = self.max_length or min(MAX_LENGTH[kind], self.tokenizer.model_max_length)
        enc = self.tokenizer(
            *texts,
            truncation=kwargs.pop("truncation", True),
            max_length=limit,
            padding=True,
            return_tensors="pt",
            **kwargs,
        )
        return {k: v.to(torch.device(self.device)) for k, v in enc.items()}

    # -- heads ---------------------------------------------------------------------------

    def classify(self, family: TaskFamily, docs: Sequence[dict]) -> np.ndarray:
        """Logits [n_docs, n_labels] in the task's label order (sentence-pair classification)."""
        import torch

        if family.kind == "multiple_choice":
            return self.choose(docs)
        self.require_head(family)
        order = self.label_index(family)
        first, second = (
            ("premise", "hypothesis") if family.name == "xnli" else ("sentence1", "sentence2")
        )
        model = self.model("classification")
        out = np.zeros((len(docs), len(order)), dtype=np.float32)
        pairs = [d[first] + d[second] for d in docs]
        with torch.inference_mode():
            for batch in length_batches(pairs, self.batch_size):
                enc = self._encode(
                    "classification",
                    [docs[i][first] for i in batch],
                    [docs[i][second] for i in batch],
                )
                logits = model(**enc).logits.float().cpu().numpy()
                out[batch] = logits[:, order]
        return out

    def choose(self, docs: Sequence[dict]) -> np.ndarray:
        """Logits [n_docs, 2] over XCOPA's two alternatives (multiple-choice head)."""
        import torch

        if self.head != "multiple_choice":
            raise XtremeAdvError(
                f"checkpoint {self.path} has head {self.architecture}; XCOPA needs a "
                "*ForMultipleChoice checkpoint"
            )
        model = self.model("multiple_choice")
        out = np.zeros((len(docs), 2), dtype=np.float32)
        firsts = [f"{d['premise']} {XCOPA_QUESTION.get(d['question'], '')}".strip() for d in docs]
        with torch.inference_mode():
            for batch in length_batches(firsts, self.batch_size):
                a = [firsts[i] for i in batch for _ in range(2)]
                b = [docs[i][c] for i in batch for c in ("choice1", "choice2")]
                enc = self._encode("multiple_choice", a, b)
                enc = {k: v.view(len(batch), 2, -1) for k, v in enc.items()}
                out[batch] = model(**enc).logits.float().cpu().numpy()
        return out

    def answer(self, docs: Sequence[dict]) -> list[str]:
        """Extractive answers: best span over doc-stride windows of each context."""
        import torch

        if self.head != "qa":
            raise XtremeAdvError(
                f"checkpoint {self.path} has head {self.architecture}; extractive QA needs a "
                "*ForQuestionAnswering checkpoint"
            )
        model = self.model("qa")
        pad_right = self.tokenizer.padding_side == "right"
        answers = [""] * len(docs)
        best = [-math.inf] * len(docs)
        contexts = [d["context"] for d in docs]
        for batch in length_batches(contexts, max(1, self.batch_size // 2)):
            questions = [docs[i]["question"].lstrip() for i in batch]
            ctx = [contexts[i] for i in batch]
            enc = self.tokenizer(
                questions if pad_right else ctx,
                ctx if pad_right else questions,
                truncation="only_second" if pad_right else "only_first",
                max_length=self.max_length or MAX_LENGTH["qa"],
                stride=QA_STRIDE,
                return_overflowing_tokens=True,
                return_offsets_mapping=True,
                padding=True,
                return_tensors="pt",
            )
            owner = enc.pop("overflow_to_sample_mapping").tolist()
            offsets = enc.pop("offset_mapping").tolist()
            context_side = 1 if pad_right else 0
            seq_ids = [enc.sequence_ids(f) for f in range(len(owner))]
            inputs = {k: v.to(torch.device(self.device)) for k, v in enc.items()}
            with torch.inference_mode():
                for start in range(0, len(owner), self.batch_size):
                    part = {k: v[start : start + self.batch_size] for k, v in inputs.items()}
                    out = model(**part)
                    starts = out.start_logits.float().cpu().numpy()
                    ends = out.end_logits.float().cpu().numpy()
                    for j in range(starts.shape[0]):
                        f = start + j
                        doc = batch[owner[f]]
                        span, value = _best_span(
                            starts[j], ends[j], offsets[f], seq_ids[f], context_side
                        )
                        if span is not None and value > best[doc]:
                            best[doc] = value
                            answers[doc] = contexts[doc][span[0] : span[1]]
        return answers

    def tag(self, family: TaskFamily, docs: Sequence[dict]) -> list[list[str]]:
        """One tag per word, read from the word's first sub-token (as XTREME)."""
        import torch

        self.require_head(family)
        order = self.label_index(family)
        labels = list(family.labels)
        fallback = "O" if "O" in labels else "X"
        model = self.model("tagging")
        results: list[list[str]] = [[] for _ in docs]
        lengths = [" ".join(d["tokens"]) for d in docs]
        with torch.inference_mode():
            for batch in length_batches(lengths, self.batch_size):
                words = [list(docs[i]["tokens"]) for i in batch]
                enc = self.tokenizer(
                    words,
                    is_split_into_words=True,
                    truncation=True,
                    max_length=self.max_length or MAX_LENGTH["tagging"],
                    padding=True,
                    return_tensors="pt",
                )
                word_ids = [enc.word_ids(j) for j in range(len(batch))]
                inputs = {k: v.to(torch.device(self.device)) for k, v in enc.items()}
                logits = model(**inputs).logits.float().cpu().numpy()[:, :, order]
                for j, i in enumerate(batch):
                    tags = [fallback] * len(words[j])
                    seen = set()
                    for pos, w in enumerate(word_ids[j]):
                        if w is None or w in seen:
                            continue
                        seen.add(w)
                        tags[w] = labels[int(logits[j, pos].argmax())]
                    results[i] = tags
        return results

    # -- retrieval -------------------------------------------------------------------------

    @property
    def embedding_key(self) -> str | None:
        """Identity of the retrieval embeddings (weights, layer, prefix, length) for the cache."""
        if self._embedding_key is None:
            weights = weights_sha256(self.path)
            if weights is None:
                return None
            settings = {
                "weights": weights,
                "layer": self.retrieval_layer,
                "prefix": self.retrieval_prefix,
                "max_length": self.max_length or MAX_LENGTH["retrieval"],
                "pooling": "mean/l2/1",
            }
            self._embedding_key = json.dumps(settings, sort_keys=True)
        return self._embedding_key

    def _embed_batches(self, texts: Sequence[str], progress=None) -> np.ndarray:
        import torch

        model = self.model("retrieval")
        prefixed = [self.retrieval_prefix + t for t in texts]
        out: np.ndarray | None = None
        with torch.inference_mode():
            for batch in length_batches(prefixed, self.batch_size):
                enc = self._encode("retrieval", [prefixed[i] for i in batch])
                hidden = model(**enc, output_hidden_states=True).hidden_states
                layer = hidden[self.retrieval_layer]
                mask = enc["attention_mask"].unsqueeze(-1).to(layer.dtype)
                pooled = (layer * mask).sum(1) / mask.sum(1).clamp(min=1)
                pooled = torch.nn.functional.normalize(pooled.float(), dim=-1).cpu().numpy()
                if out is None:
                    out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
                out[batch] = pooled
                if progress:
                    progress(len(batch))
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)

    def embed(self, texts: Sequence[str], desc: str | None = None) -> np.ndarray:
        """L2-normalised mean-pooled hidden states of ``retrieval_layer`` [n, hidden].

        With ``desc`` (a whole retrieval side), the embeddings are cached on disk by content
        hash (:mod:`harness_tasks.adapter.embed_cache`) and a progress bar in sentences per
        second is shown on a terminal; without it (many small calls, as an attack's queries)
        neither.
        """
        if desc is None:
            return self._embed_batches(texts)
        from tqdm.auto import tqdm

        # On a terminal only, unless XTREME_ADV_PROGRESS=1 forces it (0 hides it).
        forced = os.environ.get("XTREME_ADV_PROGRESS")
        hidden = None if forced is None else forced == "0"
        with tqdm(total=len(texts), desc=desc, unit="sent", disable=hidden, leave=False) as bar:
            return cached_embeddings(
                texts,
                lambda part: self._embed_batches(part, bar.update),
                self.embedding_key,
                progress=bar.update,
            )

    def retrieve(
        self, family: TaskFamily, docs: Sequence[dict], task_name: str | None = None
    ) -> list[str]:
        """Answer every source doc with its retrieved target as JSON ``{"id", "score"}``.

        BUCC: XTREME's margin mining (:func:`harness_tasks.adapter.mining.mine_documents`).
        Tatoeba: the cosine nearest neighbour, source -> English; with ``protocol=xtreme``
        XTREME's direction, English -> source (``similarity_search``), answered on the source
        doc of each English query as ``{"id", "score", "query"}``.
        """
        from harness_tasks.data import pool_of

        n_docs = len(docs)
        if not any(d["side"] == "target" for d in docs):
            docs = [*docs, *pool_of(list(docs))]  # the pool set aside by the dataset hook
        src = [i for i, d in enumerate(docs) if d["side"] == "source"]
        tgt = [i for i, d in enumerate(docs) if d["side"] == "target"]
        answers = [""] * n_docs
        if task_name:
            from harness_tasks.data import LOADED

            LOADED.setdefault(task_name, {})["retrieval"] = {
                "layer": self.retrieval_layer,
                "layer_source": self.retrieval_layer_source,
                "prefix": self.retrieval_prefix,
            }
        if not src or not tgt:
            return answers
        src_texts = [docs[i]["sentence"] for i in src]
        tgt_texts = [docs[i]["sentence"] for i in tgt]
        if family.name == "bucc":
            lang = docs[src[0]].get("lang", "xx")
            pairs = mine_documents(
                src_texts,
                tgt_texts,
                lambda texts: self.embed(texts, desc=f"bucc {lang}"),
            )
            extra = {}
            if docs[src[0]].get("protocol") == "xtreme" and docs[src[0]].get("split") == "test":
                threshold = self._dev_threshold(task_name or family.task_name(lang))
                if threshold is not None:
                    extra = {"threshold": threshold}
            for s, (t, score) in pairs.items():
                found = {"id": docs[tgt[t]]["id"], "score": float(score)}
                answers[src[s]] = json.dumps(found | extra)
            return answers
        x, y = self.embed(src_texts, "source"), self.embed(tgt_texts, "english")
        if docs[src[0]].get("protocol") == "xtreme":
            # XTREME's similarity_search: each English sentence queries the source sentences.
            sims = y @ x.T
            best = sims.argmax(axis=1)
            by_target = {docs[tgt[t]]["id"]: t for t in range(len(tgt))}
            for i in src:
                t = by_target.get(docs[i]["gold"])
                if t is None:
                    continue
                found = {"id": docs[src[int(best[t])]]["id"], "score": float(sims[t, best[t]])}
                answers[i] = json.dumps(found | {"query": docs[tgt[t]]["id"]})
            return answers
        sims = x @ y.T  # cosine nearest neighbour, source -> English (as MTEB)
        best = sims.argmax(axis=1)
        for s, i in enumerate(src):
            found = {"id": docs[tgt[int(best[s])]]["id"], "score": float(sims[s, best[s]])}
            answers[i] = json.dumps(found)
        return answers

    def _dev_threshold(self, task_name: str) -> float | None:
        """XTREME's BUCC threshold for test: ``bucc_optimize`` on the dev split's mining.

        Recorded under ``xtreme_adv.tasks.<task>.bucc_threshold``; ``None`` (threshold chosen on
        the scored split itself) when no labelled dev split is found beside the test split.
        """
        from harness_tasks.data import LOADED, companion_split
        from harness_tasks.metrics.retrieval import _mined, optimize_threshold

        dev = companion_split(task_name, "validation")
        record = LOADED.setdefault(task_name, {})
        if not dev:
            record["bucc_threshold"] = {"chosen_on": "test (no labelled dev split found)"}
            return None
        src = [d["sentence"] for d in dev if d["side"] == "source"]
        tgt = [d["sentence"] for d in dev if d["side"] == "target"]
        pairs = mine_documents(src, tgt, lambda texts: self.embed(texts, desc="bucc dev"))
        mined, n_gold = _mined(_bucc_items(dev, pairs))
        threshold = optimize_threshold(mined, n_gold) if mined and n_gold else None
        record["bucc_threshold"] = {"chosen_on": "validation", "value": threshold}
        return threshold


def _bucc_items(docs: Sequence[dict], pairs: dict[int, tuple[int, float]]) -> list:
    """(gold, mined, score) per source doc, as ``process_results_bucc`` passes them on."""
    src = [d for d in docs if d["side"] == "source"]
    tgt = [d for d in docs if d["side"] == "target"]
    mined = {s: (tgt[t]["id"], score) for s, (t, score) in pairs.items()}
    return [(d["gold"], *mined.get(n, ("", -math.inf))) for n, d in enumerate(src)]


def _best_span(starts, ends, offsets, seq_ids, context_side) -> tuple[tuple | None, float]:
    """Best (char start, char end) inside the context, as transformers' QA post-processing."""
    top_s = np.argsort(starts)[-QA_N_BEST:][::-1]
    top_e = np.argsort(ends)[-QA_N_BEST:][::-1]
    best, value = None, -math.inf
    for s in top_s:
        if seq_ids[s] != context_side:
            continue
        for e in top_e:
            if seq_ids[e] != context_side or e < s or e - s + 1 > QA_MAX_ANSWER_TOKENS:
                continue
            score = float(starts[s] + ends[e])
            if score > value:
                best, value = (offsets[s][0], offsets[e][1]), score
    return best, value
