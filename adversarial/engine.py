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

import functools
import hashlib
import json
import math
import random
from collections import Counter
from dataclasses import dataclass, field

import regex

from adversarial import lexicon, names, recipes
from adversarial.constraints import (
    is_typo,
    is_zero_width_edit,
    protection_reason,
    zero_width_allowed,
)
from adversarial.segment import graphemes, word_spans
from adversarial.textattack_compat import AttackedText, language
from adversarial.transformations import lookup_key as lexicon_key

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
# Languages whose sentences follow each other without a space (Thai, Lao, Khmer and Burmese do
# put a space between sentences, though not between words).
GLUED_SENTENCE_LANGS = {"zh", "ja", "yue", "wuu"}

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
        taken = self._plan_phrases(fp, spans, allowed, protected, budget, rng)
        budget -= len(taken)  # a phrase counts as its words against max_ratio
        allowed -= taken
        order = rng.sample(sorted(allowed), len(allowed))[: budget * 4]
        contexts = []
        if hasattr(self.transformation, "fill_masks"):
            mask = self.transformation._lm_tokenizer.mask_token
            contexts = [text[: spans[i][0]] + mask + text[spans[i][1] :] for i in order]
        cands = self._candidates([text[s:e] for s, e in spans], contexts, order)
        n_phrases = len(fp.edits)
        for i in order:
            if len(fp.edits) - n_phrases >= budget:
                break
            word = text[spans[i][0] : spans[i][1]]
            options = self._allowed_options(word, [c for c in cands[i] if c and c != word], fp)
            if options:
                fp.edits.append((*spans[i], rng.choice(options)))
        return fp

    def _plan_phrases(self, fp, spans, allowed, protected, budget, rng) -> set[int]:
        """Phrase-level code-mixing (Tan & Joty 2021): runs of 2-3 words whose phrase the
        dictionary translates (``source phrase<TAB>target phrase`` lines, e.g. from
        ``attack lexicon``) become that phrase. A phrase may hold stopwords but no protected
        word (negation, number, one grapheme) and at least one modifiable word; the words it
        covers count against the budget. Returns the word indices covered."""
        phrases = getattr(self.transformation, "phrases", None)
        if not phrases or budget < 2:
            return set()
        text = fp.original
        words = [text[s:e] for s, e in spans]
        ok = [
            protection_reason(w, self.lang) is None and not _overlaps(spans[i], protected)
            for i, w in enumerate(words)
        ]
        # Words of one phrase are separated by spaces only ("gesagt, Mama" is no phrase).
        spaced = [
            not text[spans[i][1] : spans[i + 1][0]].strip() for i in range(len(spans) - 1)
        ] + [False]
        found = []
        for i in range(len(words)):
            for n in (3, 2):
                inside = all(spaced[i : i + n - 1]) and all(ok[i : i + n])
                if i + n <= len(words) and inside and allowed & set(range(i, i + n)):
                    key = " ".join(lexicon_key(w) for w in words[i : i + n])
                    if key in phrases:
                        found.append((i, n, phrases[key]))
                        break
        taken: set[int] = set()
        for i, n, options in rng.sample(found, len(found)):
            if len(taken) + n > budget or taken & set(range(i, i + n)):
                continue
            choice = rng.choice(options)
            first = words[i]
            if first[:1].isupper():
                choice = choice[:1].upper() + choice[1:]
            fp.edits.append((spans[i][0], spans[i + n - 1][1], choice))
            taken |= set(range(i, i + n))
        return taken

    def _allowed_options(self, word: str, options: list, fp: FieldPlan) -> list:
        """Options for ``word`` given the edits already chosen in ``fp``.

        Where the family sets ``min_char_similarity`` (charnoise, visual), an option must keep
        that much of the word, or be one grapheme edit away
        (:func:`adversarial.constraints.is_typo`). Visual noise
        prefers a visible edit (homoglyph, stripped accent); an invisible
        zero-width insertion is taken only where no visible one exists and only while
        zero-width edits stay at most ``max_zero_width_share`` of the field's edits, in every
        prefix of the edit order (so the similarity floor's trimming keeps the bound).
        """
        floor = float(self.params.get("min_char_similarity", 0.0))
        if floor > 0:  # typos and visual edits only, never an unrelated word
            options = [o for o in options if is_typo(word, str(o), floor)]
        if self.attack != "visual" or not options:
            return options
        visible = [c for c in options if not is_zero_width_edit(word, c)]
        if visible:
            return visible
        n_zw = sum(is_zero_width_edit(str(o), str(r)) for o, r in self._edit_pairs(fp))
        share = float(self.params.get("max_zero_width_share", 1.0))
        return options if zero_width_allowed(n_zw, len(fp.edits), share) else []

    @staticmethod
    def _edit_pairs(fp: FieldPlan) -> list[tuple[str, object]]:
        if fp.name == "tokens":
            return [(fp.original[s], r) for s, _, r in fp.edits]
        return [(fp.original[s:e], r) for s, e, r in fp.edits]

    def _plan_tokens(self, tokens: list[str], rng: random.Random) -> FieldPlan:
        min_len = int(self.params["min_word_length"])
        allowed = [
            i
            for i, tok in enumerate(tokens)
            if any(ch.isalpha() for ch in tok)
            and tok.lower() not in self.stopwords
            and len(graphemes(tok)) >= min_len
            and protection_reason(tok, self.lang) is None
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
            options = self._allowed_options(tokens[i], options, fp)
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
                for sent in split_sentences(doc[source], self.lang):
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
        sep = "" if self.lang in GLUED_SENTENCE_LANGS else " "
        if self.task in QA:
            golds = [a for a in doc["answers"]["text"] if a]
            own = set(split_sentences(doc["context"], self.lang))
            # AddSent: the candidate most similar to the question (sentence embeddings: word
            # overlap finds nothing across inflection) that holds no gold answer.
            ok = [s for s in sample if s not in own and not any(g in s for g in golds)]
            if not ok:
                plan.reason = "no_candidate"
                return
            best = self._most_similar(doc["question"], ok[:_DISTRACTOR_CANDIDATES])
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

    def _most_similar(self, query: str, candidates: list[str]) -> str:
        """The candidate whose embedding is closest to ``query`` (first one on ties)."""
        from adversarial.similarity import load_encoder

        encoder = load_encoder(str(self.params["similarity_model"]))
        sims = encoder.similarity([(query, c) for c in candidates])
        best = max(range(len(candidates)), key=lambda k: (float(sims[k]), -k))
        return candidates[best]

    # ------------------------------------------------------------- entityswap
    def _plan_entityswap(self, plan: Plan, rng: random.Random) -> None:
        doc = plan.doc
        n_max = int(self.params["max_entities"])
        if self.task in TAGGING:
            tokens, tags = doc["tokens"], doc["tags"]
            sep = "" if self.lang in NO_SPACE_LANGS else " "
            # Where every noun is capitalised (German), a PAN-X span must also read as a name:
            # its link-derived tags mark common nouns too ("Stadtrechte" ORG). UD's PROPN is
            # a treebank's own proper-noun tag.
            found = [
                f
                for f in tag_entities(tags, self.task)
                if self.task == "udpos"
                or names.is_named_entity(sep.join(tokens[f[0] : f[1]]), self.lang)
            ]
            fp = FieldPlan("tokens", list(tokens), [], len(tokens))
            for start, end, etype in rng.sample(found, len(found)):
                if len(fp.edits) == n_max:
                    break
                current = tuple(tokens[start:end])
                options = [
                    e
                    for e in self.gazetteer.get(etype, ())
                    if e != current
                    and plausible_name(sep.join(e), self.lang)
                    and _same_case_shape(sep.join(e), sep.join(current), self.lang)
                ]
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
        # Whole entities only: a match that continues into a neighbouring capitalised word is a
        # fragment of a longer name ("England" in "New England Patriots") and stays.
        found = [
            f
            for f in found
            if _whole_entity(text, f[0], f[1], self.lang)
            and plausible_name(text[f[0] : f[1]], self.lang)
        ]
        fp = FieldPlan("context", text, [], len(word_spans(text, self.lang)))
        used: list[Span] = []
        for start, end, etype in rng.sample(found, len(found)):
            if len(fp.edits) == n_max:
                break
            if _overlaps((start, end), used):
                continue
            sep = "" if self.lang in NO_SPACE_LANGS else " "
            current = text[start:end]
            options = [
                sep.join(e)
                for e in self.gazetteer.get(etype, ())
                if sep.join(e) != current
                and _same_case_shape(sep.join(e), current, self.lang)
                and plausible_name(sep.join(e), self.lang)
            ]
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
# Candidate sentences embedded per question (AddSent ranks a sample, not the whole pool).
_DISTRACTOR_CANDIDATES = 16
# pysbd's rule sets (abbreviations such as "d.h.", "Dr.", ordinals such as "5." in German).
_PYSBD_LANGS = frozenset(
    "en hi mr zh es am ar hy bg ur ru pl fa nl da fr my el it ja de kk sk".split()
)
_SPACE_SENTENCE_LANGS = frozenset({"th", "lo", "km"})


def split_sentences(text: str, lang: str = "en") -> list[str]:
    """Sentences of ``text``: pysbd (Golden Rules sentence boundaries, 23 languages, knowing
    abbreviations and ordinals) where it has rules for ``lang``; Thai, Lao and Khmer at spaces
    (which separate their sentences); otherwise at sentence-final punctuation."""
    return list(_split_cached(text, lang))


@functools.lru_cache(maxsize=1 << 14)  # XNLI repeats each premise for its three hypotheses
def _split_cached(text: str, lang: str) -> tuple[str, ...]:
    if lang in _PYSBD_LANGS:
        segmenter = _pysbd_segmenter(lang)
        return tuple(s.strip() for s in segmenter.segment(text) if s.strip())
    if lang in _SPACE_SENTENCE_LANGS:
        return tuple(s for s in text.split() if s)
    return tuple(_split_at_punctuation(text))


@functools.cache
def _pysbd_segmenter(lang: str):
    import pysbd

    return pysbd.Segmenter(language=lang, clean=False)


def _split_at_punctuation(text: str) -> list[str]:
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


def _whole_entity(text: str, start: int, end: int, lang: str) -> bool:
    """Whether ``text[start:end]`` is a whole name: in a cased script, no capitalised word is
    glued to it by a space or hyphen on either side (the word before may open a sentence)."""
    name = text[start:end]
    if not any(ch.isupper() for ch in name):
        return True  # uncased script (or lower-case match): nothing to extend
    before = regex.search(r"(\p{L}+)[ \-]$", text[:start])
    after = regex.match(r"[ \-](\p{L}+)", text[end:])
    if after and after.group(1)[0].isupper():
        return False
    if before and before.group(1)[0].isupper():
        opens_sentence = regex.search(r"(^|[.!?]\s+)\p{L}+[ \-]$", text[:start]) is not None
        return opens_sentence
    return True


# jieba's part-of-speech tags of proper nouns: person, place, organisation, other names.
_JIEBA_NAME_TAGS = frozenset({"nr", "nrt", "nrfg", "ns", "nt", "nz"})


@functools.cache
def _jieba_tags() -> dict[str, str]:
    import jieba

    tags = {}
    for raw in jieba.get_dict_file():
        parts = (raw.decode("utf-8") if isinstance(raw, bytes) else raw).split()
        if len(parts) == 3:
            tags[parts[0]] = parts[2]
    return tags


def plausible_name(surface: str, lang: str) -> bool:
    """Whether a gazetteer entry reads as a name: PAN-X's automatic (Wikipedia-link) tags also
    mark "it", "the", "多" or "越多"; such entries are never matched or inserted.

    A name has two graphemes or more, no digit, no bracket or quote, is not a stopword; in a
    cased script its first word is capitalised; in Chinese, a word jieba knows must carry a
    proper-noun tag; in German, which capitalises every noun, it must also read as a name
    (:func:`adversarial.names.is_named_entity`: "Stadtmitte" or "Abonnements" do not).
    """
    if len(graphemes(surface)) < 2 or any(ch.isdigit() for ch in surface):
        return False
    if regex.search(r"[()\[\]{}\"“”«»]|''|``", surface):
        return False  # Wikipedia disambiguation or quoting: "Cromwell ( Neuseeland )"
    if surface.lower() in lexicon.stopwords(lang):
        return False
    letters = [ch for ch in surface if ch.isalpha()]
    if not letters:
        return False
    cased = any(ch.isupper() or ch.islower() for ch in letters)
    if cased and not letters[0].isupper():
        return False
    if lang in ("zh", "yue", "wuu") and surface in _jieba_tags():
        return _jieba_tags()[surface] in _JIEBA_NAME_TAGS
    return names.is_named_entity(surface, lang)


# Languages that inflect names for grammatical case (the name carries the case ending: ru
# "Ирака", fi "Ranskassa"): a swapped name must end like the one it replaces, or the position
# is skipped, since no inflector is available offline for all of them.
INFLECTING_LANGS = frozenset(
    "ru uk bg be pl cs sk sl hr sr lt lv fi et hu tr az kk uz ka eu ta te ml el la".split()
)


def _same_case_shape(new: str, old: str, lang: str = "") -> bool:
    """Whether name ``new`` may stand where ``old`` stood: the same capitalisation pattern
    (title case, all caps; uncased scripts always match) and, in a language that inflects
    names, the same last letter (the case ending, roughly)."""
    if lang in INFLECTING_LANGS and new[-1:].lower() != old[-1:].lower():
        return False
    a, b = _case_shape(new), _case_shape(old)
    return a == b or "uncased" in (a, b)


def _case_shape(text: str) -> str:
    """``upper``, ``title``, ``mixed`` or ``uncased``."""
    letters = [ch for ch in text if ch.isalpha()]
    if not any(ch.isupper() or ch.islower() for ch in letters):
        return "uncased"
    if all(not ch.islower() for ch in letters):
        return "upper"
    words = [w for w in regex.split(r"[\s\-]+", text) if w]
    return "title" if all(w[0].isupper() for w in words if w[0].isalpha()) else "mixed"


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
    # A surface tagged with several types (PAN-X: "Ирака" as LOC and inside ORG names) keeps
    # its most frequent one (ties: the type name first in order), so a swap keeps the type.
    counts: dict[tuple[str, ...], Counter] = {}
    for doc in docs:
        for start, end, etype in tag_entities(doc["tags"], task):
            counts.setdefault(tuple(doc["tokens"][start:end]), Counter())[etype] += 1
    table: dict[str, set[tuple[str, ...]]] = {}
    for surface, types in counts.items():
        etype = min(types, key=lambda t: (-types[t], t))
        table.setdefault(etype, set()).add(surface)
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
