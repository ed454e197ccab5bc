"""Static (model-agnostic) perturbation of XTREME documents, keeping labels and spans intact.

For each document the planner proposes edits in a seeded random order (TextAttack's
``Augmenter`` idea: random modifiable words, the family's transformation, its constraints),
then the similarity floor is applied to a whole chunk at once, dropping the last-chosen edits of
a field until it passes. ``Augmenter`` itself is not used because it draws from Python's global
``random``, transforms every word at every step and checks the embedding constraint per
candidate; here one candidate list per chosen word and one batched similarity pass per round.

Per task kind: text fields of classification / multiple choice / QA (context and question;
gold answers are protected and their offsets recomputed) / retrieval (source rows only), and
token lists of tagging tasks (one token in, one token out, so tags stay aligned).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass, field

from adversarial import lexicon, recipes
from adversarial.segment import graphemes, word_spans
from adversarial.textattack_compat import AttackedText, language

TEXT_FIELDS = {
    "xnli": ("premise", "hypothesis"),
    "pawsx": ("sentence1", "sentence2"),
    "xcopa": ("premise", "choice1", "choice2"),
    "xquad": ("context", "question"),
    "mlqa": ("context", "question"),
    "tydiqa": ("context", "question"),
    "tatoeba": ("sentence",),
    "bucc": ("sentence",),
}
TAGGING = ("udpos", "panx")
QA = ("xquad", "mlqa", "tydiqa")
NO_SPACE_LANGS = {"zh", "ja", "th", "my", "km", "lo", "yue", "wuu"}

Span = tuple[int, int]


@dataclass
class FieldPlan:
    """Proposed edits of one field, in the order chosen; ``kept`` is how many survive."""

    name: str
    original: object  # str, or list[str] for tagging tokens
    edits: list[tuple[int, int, object]]  # (start, end, replacement) chars or token indices
    n_units: int
    kept: int = 0


@dataclass
class Plan:
    """Everything decided for one document before the similarity floor is applied."""

    doc: dict
    fields: list[FieldPlan] = field(default_factory=list)
    reason: str = ""  # why nothing could be changed
    new_tags: dict[int, list[str]] = field(default_factory=dict)  # entityswap on tagging


def example_seed(seed: int, task: str, attack: str, lang: str, index: int, doc_id: str) -> int:
    """A 64-bit seed for one document, independent of chunking, sharding and resumption."""
    key = f"{seed}|{task}|{attack}|{lang}|{index}|{doc_id}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big")


def apply_char_edits(text: str, edits: list[tuple[int, int, str]]) -> tuple[str, list[int]]:
    """Apply non-overlapping ``(start, end, replacement)`` edits; return text and new starts."""
    order = sorted(range(len(edits)), key=lambda k: (edits[k][0], edits[k][1]))
    pieces, new_starts, pos, shift = [], [0] * len(edits), 0, 0
    for k in order:
        start, end, repl = edits[k]
        pieces.append(text[pos:start])
        new_starts[k] = start + shift
        pieces.append(repl)
        shift += len(repl) - (end - start)
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces), new_starts


def shift_offset(offset: int, edits: list[tuple[int, int, str]]) -> int:
    """Where ``offset`` of the original text lands after ``edits`` (none may straddle it)."""
    return offset + sum(len(r) - (e - s) for s, e, r in edits if e <= offset)


class Perturber:
    """Plans and applies one family's perturbations for one (task, language)."""

    def __init__(
        self,
        task: str,
        lang: str,
        attack: str,
        params: dict,
        seed: int,
        pool_docs: list[dict] | None = None,
        gazetteer: dict | None = None,
    ):
        self.task, self.lang, self.attack, self.seed = task, lang, attack, seed
        self.family = recipes.get_family(attack)
        self.params = params
        self.transformation = recipes.word_swap(self.family, lang, params, seed)
        self.pre = recipes.pre_constraints(lang, params) if self.transformation else []
        self.stopwords = lexicon.stopwords(lang)
        self.pool_docs = pool_docs or []
        self.gazetteer = gazetteer or {}
        self._distractor_pool: list[str] | None = None

    # ----------------------------------------------------------------- planning
    def plan(self, doc: dict, index: int) -> Plan:
        """Propose edits for ``doc`` (row ``index`` of the split)."""
        ex_seed = example_seed(self.seed, self.task, self.attack, self.lang, index, doc["id"])
        rng = random.Random(ex_seed)
        if self.transformation is not None:
            self.transformation.reseed(ex_seed ^ 0x5DEECE66D)
        plan = Plan(doc=doc)
        if self.task in ("tatoeba", "bucc") and doc.get("side") != "source":
            plan.reason = "target_side"
            return plan
        if self.attack == "distractor":
            self._plan_distractor(plan, rng)
        elif self.attack == "entityswap":
            self._plan_entityswap(plan, rng)
        elif self.task in TAGGING:
            plan.fields.append(self._plan_tokens(doc["tokens"], rng))
        else:
            protected = _answer_spans(doc) if self.task in QA else []
            for name in TEXT_FIELDS[self.task]:
                plan.fields.append(
                    self._plan_text(name, doc[name], rng, protected if name == "context" else [])
                )
        for fp in plan.fields:
            fp.kept = len(fp.edits)
        if not plan.reason and not any(fp.edits for fp in plan.fields):
            plan.reason = self._why_nothing(plan)
        return plan

    def _budget(self, n_units: int) -> int:
        # Strict ratio: floor(ratio * n); a field too short for one edit is left alone.
        return math.floor(float(self.params["max_ratio"]) * n_units + 1e-9)

    def _modifiable(self, at) -> set[int]:
        allowed = set(range(len(at.words)))
        for constraint in self.pre:
            allowed &= constraint(at, self.transformation)
        return allowed

    def _candidates(self, words: list[str], contexts: list[str], order: list[int]) -> dict:
        """Replacement candidates per word index (masked LM: one batched pass)."""
        if hasattr(self.transformation, "fill_masks"):
            filled = self.transformation.fill_masks(contexts, [words[i] for i in order])
            return {i: [w for w in c if w != words[i]] for i, c in zip(order, filled, strict=True)}
        return {i: self.transformation._get_replacement_words(words[i]) for i in order}

    def _plan_text(self, name: str, text: str, rng: random.Random, protected: list[Span]):
        with language(self.lang):
            at = AttackedText(text)
            spans = word_spans(text, self.lang)
            allowed = self._modifiable(at)
        allowed = {i for i in allowed if not _overlaps(spans[i], protected)}
        budget = self._budget(len(spans))
        fp = FieldPlan(name, text, [], len(spans))
        if budget == 0 or not allowed:
            return fp
        order = rng.sample(sorted(allowed), len(allowed))[: budget * 4]
        contexts = []
        if hasattr(self.transformation, "fill_masks"):
            mask = self.transformation._lm_tokenizer.mask_token
            contexts = [text[: spans[i][0]] + mask + text[spans[i][1] :] for i in order]
        cands = self._candidates([text[s:e] for s, e in spans], contexts, order)
        for i in order:
            if len(fp.edits) == budget:
                break
            options = [c for c in cands[i] if c and c != text[spans[i][0] : spans[i][1]]]
            if options:
                fp.edits.append((*spans[i], rng.choice(options)))
        return fp

    def _plan_tokens(self, tokens: list[str], rng: random.Random) -> FieldPlan:
        min_len = int(self.params["min_word_length"])
        allowed = [
            i
            for i, tok in enumerate(tokens)
            if any(ch.isalpha() for ch in tok)
            and tok.lower() not in self.stopwords
            and len(graphemes(tok)) >= min_len
        ]
        fp = FieldPlan("tokens", list(tokens), [], len(tokens))
        budget = self._budget(len(tokens))
        if budget == 0 or not allowed:
            return fp
        order = rng.sample(allowed, len(allowed))[: budget * 4]
        contexts = []
        if hasattr(self.transformation, "fill_masks"):
            mask = self.transformation._lm_tokenizer.mask_token
            sep = "" if self.lang in NO_SPACE_LANGS else " "
            contexts = [sep.join(tokens[:i] + [mask] + tokens[i + 1 :]) for i in order]
        cands = self._candidates(tokens, contexts, order)
        for i in order:
            if len(fp.edits) == budget:
                break
            # A token must stay one token: no whitespace may enter it.
            options = [
                c for c in cands[i] if c and c != tokens[i] and not any(ch.isspace() for ch in c)
            ]
            if options:
                fp.edits.append((i, i + 1, rng.choice(options)))
        return fp

    def _why_nothing(self, plan: Plan) -> str:
        if all(self._budget(fp.n_units) == 0 for fp in plan.fields):
            return "too_short"
        return "no_candidate"

    # ------------------------------------------------------------- distractor
    def _pool_sentences(self) -> list[str]:
        if self._distractor_pool is None:
            source = "context" if self.task in QA else TEXT_FIELDS[self.task][0]
            seen, pool = set(), []
            for doc in self.pool_docs:
                for sent in split_sentences(doc[source]):
                    if sent not in seen and len(word_spans(sent, self.lang)) >= 4:
                        seen.add(sent)
                        pool.append(sent)
            self._distractor_pool = pool
        return self._distractor_pool

    def _content(self, text: str) -> set[str]:
        return {
            text[s:e].lower()
            for s, e in word_spans(text, self.lang)
            if text[s:e].lower() not in self.stopwords
        }

    def _plan_distractor(self, plan: Plan, rng: random.Random) -> None:
        doc = plan.doc
        pool = self._pool_sentences()
        if not pool:
            plan.reason = "no_distractor_pool"
            return
        sample = [pool[k] for k in sorted(rng.sample(range(len(pool)), min(64, len(pool))))]
        sep = "" if self.lang in NO_SPACE_LANGS else " "
        if self.task in QA:
            golds = [a for a in doc["answers"]["text"] if a]
            own = set(split_sentences(doc["context"]))
            question = self._content(doc["question"])
            # AddSent: the candidate most similar to the question that holds no gold answer.
            ok = [s for s in sample if s not in own and not any(g in s for g in golds)]
            if not ok:
                plan.reason = "no_candidate"
                return
            best = max(ok, key=lambda s: (len(self._content(s) & question), -sample.index(s)))
            ctx = doc["context"]
            plan.fields.append(FieldPlan("context", ctx, [(len(ctx), len(ctx), sep + best)], 1))
            return
        fields = TEXT_FIELDS[self.task]
        words = set().union(*(self._content(doc[f]) for f in fields))
        own = {doc[f] for f in fields}
        # A clause sharing no content word with the pair: it adds nothing the label depends on.
        ok = [s for s in sample if s not in own and not (self._content(s) & words)]
        if not ok:
            plan.reason = "no_candidate"
            return
        clause = rng.choice(ok)
        # NLI: appended to the premise only (entailment/contradiction are monotone in the
        # premise); paraphrase: the same clause after both sentences.
        targets = ("premise",) if self.task == "xnli" else fields
        for name in targets:
            text = doc[name]
            plan.fields.append(FieldPlan(name, text, [(len(text), len(text), sep + clause)], 1))

    # ------------------------------------------------------------- entityswap
    def _plan_entityswap(self, plan: Plan, rng: random.Random) -> None:
        doc = plan.doc
        n_max = int(self.params["max_entities"])
        if self.task in TAGGING:
            tokens, tags = doc["tokens"], doc["tags"]
            found = tag_entities(tags, self.task)
            fp = FieldPlan("tokens", list(tokens), [], len(tokens))
            for start, end, etype in rng.sample(found, len(found)):
                if len(fp.edits) == n_max:
                    break
                current = tuple(tokens[start:end])
                options = [e for e in self.gazetteer.get(etype, ()) if e != current]
                if options:
                    new = list(rng.choice(options))
                    fp.edits.append((start, end, new))
                    plan.new_tags[start] = entity_tags(etype, len(new), self.task)
            plan.fields.append(fp)
            return
        text = doc["context"]
        protected = _answer_spans(doc)
        found = find_gazetteer_entities(text, self.lang, self.gazetteer)
        # Entities the question names stay too: they tie the question to the answer's sentence.
        asked = doc.get("question", "").casefold()
        found = [
            f for f in found
            if not _overlaps((f[0], f[1]), protected) and text[f[0] : f[1]].casefold() not in asked
        ]  # fmt: skip
        fp = FieldPlan("context", text, [], len(word_spans(text, self.lang)))
        used: list[Span] = []
        for start, end, etype in rng.sample(found, len(found)):
            if len(fp.edits) == n_max:
                break
            if _overlaps((start, end), used):
                continue
            sep = "" if self.lang in NO_SPACE_LANGS else " "
            options = [
                sep.join(e) for e in self.gazetteer.get(etype, ()) if sep.join(e) != text[start:end]
            ]  # noqa: E501
            if options:
                fp.edits.append((start, end, rng.choice(options)))
                used.append((start, end))
        plan.fields.append(fp)

    # ------------------------------------------------------------ materialise
    def realise(self, plan: Plan, similarity: float | None) -> dict:
        """The perturbed row: contract fields updated plus ``adv_*`` provenance columns."""
        doc = dict(plan.doc)
        edits_out, originals, ratios = [], {}, []
        for fp in plan.fields:
            kept = fp.edits[: fp.kept]
            if not kept:
                continue
            if fp.name == "tokens":
                new_tokens, new_tags = list(fp.original), list(doc.get("tags", []))
                for start, end, repl in sorted(kept, key=lambda e: e[0], reverse=True):
                    repl_list = repl if isinstance(repl, list) else [repl]
                    new_tokens[start:end] = repl_list
                    if start in plan.new_tags:
                        new_tags[start:end] = plan.new_tags[start]
                    edits_out.append(
                        {
                            "field": "tokens",
                            "start": start,
                            "end": end,
                            "original": " ".join(fp.original[start:end]),
                            "perturbed": " ".join(repl_list),
                            "new_start": start,
                        }
                    )
                if plan.new_tags:
                    originals["tags"] = list(doc["tags"])
                    doc["tags"] = new_tags
                originals["tokens"] = list(fp.original)
                doc["tokens"] = new_tokens
                ratios.append(len(kept) / max(1, fp.n_units))
                continue
            new_text, starts = apply_char_edits(fp.original, kept)
            for (start, end, repl), new_start in zip(kept, starts, strict=True):
                edits_out.append(
                    {
                        "field": fp.name,
                        "start": start,
                        "end": end,
                        "original": fp.original[start:end],
                        "perturbed": repl,
                        "new_start": new_start,
                    }
                )
            originals[fp.name] = fp.original
            doc[fp.name] = new_text
            ratios.append(len(kept) / max(1, fp.n_units))
            if fp.name == "context" and self.task in QA:
                answers = plan.doc["answers"]
                doc["answers"] = {
                    "text": list(answers["text"]),
                    "answer_start": [shift_offset(a, kept) for a in answers["answer_start"]],
                }
                originals["answers"] = {
                    "text": list(answers["text"]),
                    "answer_start": list(answers["answer_start"]),
                }
        edits_out.sort(key=lambda e: (e["field"], e["start"]))
        if edits_out:
            status, reason = "attacked", ""
        elif plan.reason:
            status, reason = "skipped", plan.reason
        else:
            status, reason = "skipped", "similarity_floor"
        doc["adv_status"] = status
        doc["adv_reason"] = reason
        doc["adv_edits"] = json.dumps(edits_out, ensure_ascii=False, sort_keys=True)
        doc["adv_original"] = json.dumps(originals, ensure_ascii=False, sort_keys=True)
        # None: not measured (no similarity model, or nothing changed).
        doc["adv_similarity"] = float(similarity) if similarity is not None else None
        doc["adv_ratio"] = float(round(max(ratios), 6)) if ratios else 0.0
        return doc


# ------------------------------------------------------------------- helpers
def _answer_spans(doc: dict) -> list[Span]:
    answers = doc.get("answers") or {"text": [], "answer_start": []}
    return [(s, s + len(t)) for t, s in zip(answers["text"], answers["answer_start"], strict=True)]


def _overlaps(span: Span, others: list[Span]) -> bool:
    return any(span[0] < b and a < span[1] for a, b in others)


_SENT_END = ".!?。！？।॥؟"


def split_sentences(text: str) -> list[str]:
    """Split on sentence-final punctuation (Latin, CJK, Devanagari, Arabic scripts)."""
    out, start = [], 0
    for i, ch in enumerate(text):
        if ch in _SENT_END and (i + 1 == len(text) or text[i + 1].isspace() or ch in "。！？"):
            sent = text[start : i + 1].strip()
            if sent:
                out.append(sent)
            start = i + 1
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def tag_entities(tags: list[str], task: str) -> list[tuple[int, int, str]]:
    """Entity spans ``(start, end, type)`` of a tag sequence (BIO for PAN-X, PROPN runs for UD)."""
    spans, i = [], 0
    while i < len(tags):
        tag = tags[i]
        if task == "udpos":
            if tag == "PROPN":
                j = i + 1
                while j < len(tags) and tags[j] == "PROPN":
                    j += 1
                spans.append((i, j, "PROPN"))
                i = j
                continue
        elif tag.startswith("B-"):
            etype, j = tag[2:], i + 1
            while j < len(tags) and tags[j] == f"I-{etype}":
                j += 1
            spans.append((i, j, etype))
            i = j
            continue
        i += 1
    return spans


def entity_tags(etype: str, n: int, task: str) -> list[str]:
    """Tags for a new entity of ``n`` tokens."""
    if task == "udpos":
        return ["PROPN"] * n
    return [f"B-{etype}"] + [f"I-{etype}"] * (n - 1)


def build_gazetteer(docs: list[dict], task: str) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Entity type -> distinct token tuples found in tagged ``docs`` (sorted, deterministic)."""
    table: dict[str, set[tuple[str, ...]]] = {}
    for doc in docs:
        for start, end, etype in tag_entities(doc["tags"], task):
            table.setdefault(etype, set()).add(tuple(doc["tokens"][start:end]))
    return {k: tuple(sorted(v)) for k, v in sorted(table.items())}


def find_gazetteer_entities(text: str, lang: str, gazetteer: dict) -> list[tuple[int, int, str]]:
    """Word-aligned occurrences in ``text`` of gazetteer entities (longest first, no overlap)."""
    spans = word_spans(text, lang)
    index: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for etype, entities in gazetteer.items():
        for ent in entities:
            index.setdefault(ent[0], []).append((ent, etype))
    found, i = [], 0
    words = [text[s:e] for s, e in spans]
    while i < len(words):
        best = None
        for ent, etype in index.get(words[i], ()):
            n = len(ent)
            if tuple(words[i : i + n]) == ent and (best is None or n > best[0]):
                best = (n, etype)
        if best:
            n, etype = best
            found.append((spans[i][0], spans[i + n - 1][1], etype))
            i += n
        else:
            i += 1
    return found
