"""Offline bilingual lexicons for code-switching, aligned from XTREME's own parallel data.

XNLI, PAWS-X, XQuAD and Tatoeba are human translations of each other, so every language has
English parallel text offline. Words are aligned as SimAlign does it (Jalili Sabet et al.
2020, "ArgMax"): contextual embeddings of a multilingual encoder (default: the embedded
multilingual-e5-small), word vectors as the mean of their subword vectors, and a pair aligned
when each word is the other's most similar (mutual argmax). The lexicon keeps, per source word,
its English translations in order of how often they were aligned in context, so the sense
that the data uses comes first; phrase pairs of 2-3 words (contiguous, monotone blocks of the
alignment) are kept too, for phrase-level code-mixing (Tan & Joty 2021). It is written in MUSE
format (``<lang>-en.txt``; phrase pairs tab-separated), which the ``codeswitch`` family reads
(``--param dictionary=FOLDER``). simalign itself is not used: it
pins old transformers/torch versions and needs networkx; the method is these 20 lines.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np

from adversarial.segment import word_spans
from harness_tasks.errors import XtremeAdvError

PARALLEL_FIELDS = {
    "xnli": ("premise", "hypothesis"),
    "pawsx": ("sentence1", "sentence2"),
    "xquad": ("question",),
    "mlqa": ("question",),
}
# Hidden layer for alignment: SimAlign finds middle layers best (8 of 12 for mBERT).
ALIGN_LAYER = 8


def parallel_key(doc_id: str, lang: str) -> str:
    """The parallel key of a document (docs/contracts.md section 8): its id without ``<lang>-``."""
    return doc_id[len(lang) + 1 :] if doc_id.startswith(f"{lang}-") else doc_id


def parallel_pairs(task: str, lang: str, data_dir=None, limit: int | None = None) -> list:
    """``(text in lang, its English translation)`` pairs from ``task``'s parallel splits."""
    from harness_tasks.data import load_eval_split

    if task == "tatoeba":
        rows = load_eval_split(task, lang, data_dir=data_dir).dataset.to_list()
        targets = {r["id"]: r["sentence"] for r in rows if r["side"] != "source"}
        pairs = [
            (r["sentence"], targets[r["gold"]])
            for r in rows
            if r["side"] == "source" and r.get("gold") in targets
        ]
        return pairs[:limit] if limit else pairs
    if task not in PARALLEL_FIELDS:
        raise XtremeAdvError(
            f"--task {task}: no parallel English data; choose from "
            f"{', '.join([*PARALLEL_FIELDS, 'tatoeba'])}"
        )
    source = load_eval_split(task, lang, data_dir=data_dir).dataset.to_list()
    english = load_eval_split(task, "en", data_dir=data_dir).dataset.to_list()
    by_key = {parallel_key(d["id"], "en"): d for d in english}
    pairs, seen = [], set()
    for doc in source:
        other = by_key.get(parallel_key(doc["id"], lang))
        if other is None:
            continue
        for name in PARALLEL_FIELDS[task]:
            pair = (doc[name], other[name])
            if pair not in seen:
                seen.add(pair)
                pairs.append(pair)
        if limit and len(pairs) >= limit:
            break
    return pairs[:limit] if limit else pairs


class WordAligner:
    """Mutual-argmax word alignment over contextual embeddings of a transformers encoder."""

    def __init__(self, model: str = "embedded", layer: int = ALIGN_LAYER):
        import torch
        from transformers import AutoModel

        from harness_tasks.embedded.tokenizer import load_tokenizer

        if model == "embedded" or model.startswith("embedded:"):
            from harness_tasks.embedded import default_model_dir

            layers = int(model.split(":", 1)[1]) if ":" in model else None
            model = str(default_model_dir(layers=layers))
        self.tokenizer = load_tokenizer(model)
        self.model = AutoModel.from_pretrained(model).eval()
        self.layer = min(layer, self.model.config.num_hidden_layers)
        self._torch = torch

    def word_vectors(self, text: str, lang: str) -> tuple[list[tuple[int, int]], np.ndarray]:
        """Word spans of ``text`` and one unit vector per word (mean of its subword vectors)."""
        spans = word_spans(text, lang)
        enc = self.tokenizer(
            text, return_offsets_mapping=True, truncation=True, max_length=256, return_tensors="pt"
        )
        offsets = enc.pop("offset_mapping")[0].tolist()
        with self._torch.inference_mode():
            hidden = self.model(**enc, output_hidden_states=True).hidden_states[self.layer][0]
        vectors = np.zeros((len(spans), hidden.shape[-1]), dtype=np.float32)
        counts = np.zeros(len(spans))
        for t, (a, b) in enumerate(offsets):
            if a == b:
                continue
            for w, (s, e) in enumerate(spans):
                if a < e and s < b:
                    vectors[w] += hidden[t].float().numpy()
                    counts[w] += 1
        keep = counts > 0
        vectors[keep] /= counts[keep, None]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return spans, vectors / np.maximum(norms, 1e-9)

    def links(self, src: str, tgt: str, src_lang: str, tgt_lang: str = "en"):
        """Word spans of both sides and the aligned ``(i, j)`` word-index pairs (mutual argmax)."""
        s_spans, s_vec = self.word_vectors(src, src_lang)
        t_spans, t_vec = self.word_vectors(tgt, tgt_lang)
        if not s_spans or not t_spans:
            return s_spans, t_spans, []
        sim = s_vec @ t_vec.T
        forward, backward = sim.argmax(1), sim.argmax(0)
        pairs = [(i, int(j)) for i, j in enumerate(forward) if backward[j] == i]
        return s_spans, t_spans, pairs

    def align(self, src: str, tgt: str, src_lang: str, tgt_lang: str = "en") -> list:
        """Aligned ``(source word, target word)`` pairs of one sentence pair (mutual argmax)."""
        s_spans, t_spans, pairs = self.links(src, tgt, src_lang, tgt_lang)
        return [(src[slice(*s_spans[i])], tgt[slice(*t_spans[j])]) for i, j in pairs]

    def phrases(self, src: str, tgt: str, src_lang: str, tgt_lang: str = "en") -> list:
        """Aligned phrase pairs of 2-3 words: consecutive source words linked, in order, to
        consecutive target words (the contiguous, monotone blocks of the word alignment)."""
        s_spans, t_spans, pairs = self.links(src, tgt, src_lang, tgt_lang)
        link = dict(pairs)
        out = []
        for i in range(len(s_spans)):
            for n in (2, 3):
                if all(link.get(i + k) is not None for k in range(n)) and all(
                    link[i + k] == link[i] + k for k in range(n)
                ):
                    j = link[i]
                    source = " ".join(src[slice(*s_spans[i + k])] for k in range(n))
                    target = " ".join(tgt[slice(*t_spans[j + k])] for k in range(n))
                    out.append((source, target))
        return out


def build_lexicon(pairs: list[tuple[str, str]], lang: str, aligner: WordAligner) -> dict:
    """Source word (lower case, NFC) -> English words by how often they were aligned."""
    counts: dict[str, Counter] = {}
    for src, tgt in pairs:
        for s, t in aligner.align(src, tgt, lang) + aligner.phrases(src, tgt, lang):
            key = " ".join(unicodedata.normalize("NFC", w.lower()) for w in s.split())
            if key == t.lower() or any(ch.isdigit() for ch in s + t):
                continue  # a copied name or number is no translation
            counts.setdefault(key, Counter())[t.lower()] += 1
    return {
        w: tuple(t for t, _ in sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
        for w, c in sorted(counts.items())
    }


def muse_text(lexicon: dict) -> str:
    """The lexicon in MUSE format: one ``source target`` line per translation, best first;
    a phrase pair is separated by a tab (``ich bin<TAB>i am``)."""
    return "".join(
        f"{s}{chr(9) if ' ' in s + t else ' '}{t}\n"
        for s, targets in lexicon.items()
        for t in targets
    )


def write_lexicon(task, lang, out_dir: Path, data_dir=None, model="embedded", limit=None) -> Path:
    """Align ``task``'s parallel data for ``lang`` and write ``out_dir/<lang>-en.txt``."""
    from adversarial.build import atomic_write_text

    if lang == "en":
        raise XtremeAdvError("--langs en: code-switching needs a language other than English")
    pairs = parallel_pairs(task, lang, data_dir=data_dir, limit=limit)
    if not pairs:
        raise XtremeAdvError(f"{task}-{lang}: no parallel English pairs found")
    lexicon = build_lexicon(pairs, lang, WordAligner(model))
    if not lexicon:
        raise XtremeAdvError(f"{task}-{lang}: the alignment produced no word pair")
    path = Path(out_dir) / f"{lang}-en.txt"
    atomic_write_text(path, muse_text(lexicon))
    return path
