"""Adaptive adversarial sets: TextAttack searches against one checkpoint, on every task kind.

The result of attacking checkpoint C is a set in the static sets' layout (docs/contracts.md
section 7), so C's accuracy under attack is an lm-eval result and any other checkpoint scored
on it measures transfer. Sets of different checkpoints never collide: the set's attack name is
``adaptive-<family>-<key>``, ``key`` the first 10 hex digits of C's weights SHA-256, so the task
is ``xtreme_adv_<task>_adaptive-<family>-<key>_<lang>``. The manifest records ``kind:
adaptive``, ``source_model`` (path, weights hash), the search settings, TextAttack's summary
metrics (success rate, queries per example, perturbed-word share) and, per example, the
TextAttack result, its queries and the minimal perturbation the search stopped at.

The attack per task kind (:mod:`adversarial.victims`, :mod:`adversarial.goals`): the family's
word-level transformation and validity constraints (:mod:`adversarial.recipes`), the goal of
the task kind, TextAttack's ``GreedyWordSwapWIR`` (or ``BeamSearch``). QA answers are never
perturbed (their words are unmodifiable) and their offsets are recomputed; tagging sentences
keep one token per gold tag (a constraint rejects any edit that would split or merge tokens).

The searches of a window of ``WINDOW_CHUNKS`` chunks advance in lockstep, each victim call
scoring the candidates of all of them (:mod:`adversarial.batched_search`); every example's
outcome is the one its sequential search has. Builds are cut in the static builder's chunks
(same size, atomic chunk files); shards take whole windows (``window % num_shards``) and every
cache is emptied per window, so a resumed or sharded build is byte-identical to an
uninterrupted one.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path

from adversarial import calibration, recipes
from adversarial.build import (
    CHUNK_SIZE,
    _model_identity,
    _replace_dir,
    atomic_write_text,
    config_key,
    default_root,
    library_versions,
    load_limited_split,
    set_dir,
    sha256_file,
    split_config,
    work_dir,
    write_parquet,
)
from adversarial.constraints import original_words_changed
from adversarial.engine import TEXT_FIELDS, shift_offset
from adversarial.segment import word_spans
from adversarial.textattack_compat import AttackedText, language, textattack
from harness_tasks.data.parallel import resolve_half
from harness_tasks.errors import XtremeAdvError
from harness_tasks.weights import adaptive_attack_name

SCHEMA = "xtreme-adv/adversarial-set/1"
SEARCHES = ("greedy", "beam")
QA_CRITERIA = ("f1", "em")
QA_SCOPES = ("answer_sentence", "context")
# Inputs per forward pass of the victim. A lockstep round scores hundreds of candidates at
# once; on a CPU, batches of 128 short texts run them in fewer, larger operations than the
# adapter's default 32 (measured on the 2-layer encoder: about 1.5-2x the throughput).
VICTIM_BATCH_SIZE = 128
# Chunks whose searches advance in lockstep (batched_search): 4 x 64 rows, so a retrieval
# chunk's 32 queries and 32 pool rows, or a classification set of 100 documents, share rounds.
# The window is part of the build's key: a window's model calls batch its documents together.
WINDOW_CHUNKS = 4
_INFO = "_adaptive"  # per-example attack record in chunk files; moved to the manifest on merge


class AdaptiveRequest:
    """One adaptive set: checkpoint, task, language, family, search and goal settings."""

    def __init__(
        self,
        model: str,
        task: str,
        lang: str,
        attack: str,
        params: dict | None = None,
        seed: int = 0,
        query_budget: int = 200,
        search: str = "greedy",
        beam_width: int = 4,
        qa_goal: str = "f1",
        qa_f1_ratio: float = 0.5,
        qa_scope: str = "answer_sentence",
        top_k: int = 1,
        data_dir: str | None = None,
        split: str | None = None,
        limit: int | None = None,
    ):
        self.family = recipes.get_family(attack)
        recipes.check_task(self.family, task)
        if attack not in ("charnoise", "visual", "mlmswap", "codeswitch"):
            raise XtremeAdvError(
                f"attack {attack} is not a word-level search; adaptive attacks support "
                "charnoise, visual, mlmswap and codeswitch"
            )
        if query_budget < 1:
            raise XtremeAdvError(f"--query-budget {query_budget} must be positive")
        if limit is not None and limit < 1:
            raise XtremeAdvError(f"--num-examples {limit} must be positive")
        if search not in SEARCHES:
            raise XtremeAdvError(f"--search {search!r}: choose from {', '.join(SEARCHES)}")
        if beam_width < 1 or top_k < 1:
            raise XtremeAdvError(f"--beam-width {beam_width} and --top-k {top_k} must be >= 1")
        if qa_goal not in QA_CRITERIA:
            raise XtremeAdvError(f"--qa-goal {qa_goal!r}: choose from {', '.join(QA_CRITERIA)}")
        if qa_scope not in QA_SCOPES:
            raise XtremeAdvError(f"--qa-scope {qa_scope!r}: choose from {', '.join(QA_SCOPES)}")
        if not 0.0 < qa_f1_ratio <= 1.0:
            raise XtremeAdvError(f"--qa-f1-ratio {qa_f1_ratio} must be in (0, 1]")
        if not (Path(model) / "config.json").is_file():
            raise XtremeAdvError(f"--model {model}: not a checkpoint folder (no config.json)")
        self.model = str(model)
        self.identity = _model_identity(model)
        self.task, self.lang, self.seed = task, lang, int(seed)
        self.family_name = attack
        self.attack = adaptive_attack_name(attack, self.identity["sha256"])
        self.params = recipes.resolve_params(self.family, params or {})
        self.settings = {
            "query_budget": int(query_budget),
            "search": search,
            "beam_width": int(beam_width) if search == "beam" else None,
            "goal": self._goal_settings(qa_goal, float(qa_f1_ratio), int(top_k), qa_scope),
        }
        self.data_dir, self.split, self.limit = data_dir, split, limit

    def _goal_settings(self, qa_goal: str, ratio: float, top_k: int, scope: str) -> dict:
        from harness_tasks.families import FAMILIES

        kind = FAMILIES[self.task].kind
        if kind == "qa":
            return {
                "kind": kind,
                "criterion": qa_goal,
                "f1_ratio": ratio if qa_goal == "f1" else None,
                "scope": scope,
            }
        if kind == "retrieval":
            return {
                "kind": kind,
                "top_k": top_k,
                "scoring": "margin" if self.task == "bucc" else "cosine",
            }
        return {"kind": kind}

    def load(self):
        """The clean split (retrieval: every candidate kept under ``limit``)."""
        # Against a checkpoint trained on one parallel half, only the other is attacked: its
        # card says which (as ``xtreme-adv eval`` scores it), else every document.
        half = resolve_half(self.task, {"pretrained": self.model})
        return load_limited_split(self.task, self.lang, self.split, self.data_dir, self.limit, half)

    def config(self, loaded) -> dict:
        """Everything the output depends on; its hash names the work folder."""
        return {
            "schema": SCHEMA,
            "kind": "adaptive",
            "task": self.task,
            "lang": self.lang,
            "attack": self.attack,
            "family": self.family_name,
            "params": self.params,
            "seed": self.seed,
            "adaptive": self.settings,
            **split_config(loaded, self.limit),
            "source_model": self.identity,
            "chunk_size": CHUNK_SIZE,
            "window_chunks": WINDOW_CHUNKS,
            "versions": library_versions(),
            # Resources and the calibrated similarity floor, as the static builds record them.
            "validity_setup": calibration.setup(self, loaded),
        }


# ------------------------------------------------------------------ constraints
def _token_count_constraint():
    Constraint = textattack.constraints.Constraint

    class TokenCountPreserved(Constraint):
        """Tagging: a perturbed sentence keeps one non-empty space-separated token per tag."""

        def __init__(self):
            super().__init__(compare_against_original=True)

        def _check_constraint(self, transformed_text, reference_text):
            new = transformed_text.text.split(" ")
            old = reference_text.text.split(" ")
            return (
                len(new) == len(old)
                and all(t and not t.isspace() for t in new)
                and all(not any(ch.isspace() for ch in t) for t in new)
            )

    return TokenCountPreserved()


def search_constraints(recipe) -> list:
    """The recipe's constraints, pre-transformation first, for a search assembled here (the
    modification limit is already counted in original words: ``recipes.build_attack``)."""
    return list(recipe.pre_transformation_constraints) + list(recipe.constraints)


@contextlib.contextmanager
def _quiet_textattack():
    """TextAttack's logger warns about every goal function it has no model list for."""
    ta_logger = logging.getLogger("textattack.shared.utils.install")
    level = ta_logger.level
    ta_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        ta_logger.setLevel(level)


class AdaptiveAttack:
    """The TextAttack ``Attack`` of one request, and the rows it produces per document."""

    def __init__(self, request: AdaptiveRequest, loaded):
        with _quiet_textattack():  # "No entry found for goal function ...": expected here
            self._setup(request, loaded)

    def _setup(self, request: AdaptiveRequest, loaded) -> None:
        from harness_tasks.adapter.checkpoint import EncoderCheckpoint
        from harness_tasks.families import FAMILIES

        r = self.request = request
        self.kind = FAMILIES[r.task].kind
        self.ckpt = EncoderCheckpoint(r.model, batch_size=VICTIM_BATCH_SIZE)
        budget = r.settings["query_budget"]
        self.victim, self._goal = self._victim_and_goal(loaded)
        # The family's transformation and validity constraints exactly as the classification
        # recipe assembles them (recipes.build_attack); only goal and search differ per kind.
        # The similarity floor the static sets apply: max(min_similarity, the floor_quantile of
        # unrelated pairs' similarity) (adversarial.calibration), not min_similarity alone.
        recipe = recipes.build_attack(
            r.family, r.lang, r.params, self.victim, budget, r.seed,
            similarity_floor=calibration.for_request(r, loaded)["floor"],
        )  # fmt: skip
        self.transformation = recipe.transformation
        constraints = search_constraints(recipe)
        from adversarial.similarity import EmbeddingSimilarityFloor

        floors = [c for c in constraints if isinstance(c, EmbeddingSimilarityFloor)]
        self.encoder = floors[0].encoder if floors else None
        C = textattack.constraints.pre_transformation
        if self.kind == "multiple_choice":
            fields = list(self._fields())
            constraints.append(C.InputColumnModification(fields, {"question"}))
        if self.kind == "tagging":
            constraints.append(_token_count_constraint())
        self.constraints = constraints
        self.attack = self.new_attack()

    def new_attack(self):
        """A fresh TextAttack ``Attack`` of this request: its own goal function and search
        (they hold the state of the example being attacked) and, for QA, its own protected
        answer words; transformation and constraints (stateless but for caches) are shared."""
        with _quiet_textattack():
            r = self.request
            constraints = list(self.constraints)
            protected = None
            if self.kind == "qa":
                protected = textattack.constraints.pre_transformation.UnmodifiableIndices([])
                constraints.append(protected)
            if r.settings["search"] == "beam":
                search = textattack.search_methods.BeamSearch(beam_width=r.settings["beam_width"])
            elif self.kind == "tagging":
                # Deleting a word would shift the tokens against the gold tags: rank words by
                # replacing them with the tokenizer's unknown token instead.
                unk = self.ckpt.tokenizer.unk_token or "[UNK]"
                search = textattack.search_methods.GreedyWordSwapWIR(
                    wir_method="unk", unk_token=unk
                )
            else:
                search = textattack.search_methods.GreedyWordSwapWIR(wir_method="delete")
            attack = textattack.Attack(self._goal(), constraints, self.transformation, search)
            attack.protected = protected
            return attack

    def _victim_and_goal(self, loaded):
        """The victim (a ``ModelWrapper`` over C's head) and a factory of the goal function of
        this task kind (one goal per example attacked at the same time)."""
        from adversarial import goals, victims

        r = self.request
        budget = r.settings["query_budget"]
        goal_cfg = r.settings["goal"]

        def classification(victim):
            return lambda: textattack.goal_functions.UntargetedClassification(
                victim, query_budget=budget, model_batch_size=256
            )

        if self.ckpt.architecture.endswith(("ForCausalLM", "LMHeadModel")):
            # The LM route: lm-eval's ``hf`` model, choices scored by log-likelihood.
            if self.kind not in ("classification", "multiple_choice"):
                raise XtremeAdvError(
                    f"--model {r.model} is a causal LM ({self.ckpt.architecture}); adaptive "
                    "attacks on a causal LM support xnli, pawsx and xcopa (log-likelihood of "
                    f"the choices), not {r.task}"
                )
            from lm_eval.models.huggingface import HFLM

            lm = HFLM(pretrained=r.model, device="cpu", batch_size=32)
            task = victims.load_lm_task(r.task, r.lang, r.data_dir)
            victim = victims.CausalLMVictim(lm, task, self._fields())
            return victim, classification(victim)
        if self.kind == "classification":
            victim = victims.ClassifierVictim(self.ckpt, r.task)
            return victim, classification(victim)
        if self.kind == "multiple_choice":
            victim = victims.ChoiceVictim(self.ckpt)
            return victim, classification(victim)
        if self.kind == "qa":
            victim = victims.QAVictim(self.ckpt)
            return victim, lambda: goals.ExtractiveQAGoal(
                victim,
                r.lang,
                style="mlqa" if r.task == "mlqa" else "squad",
                criterion=goal_cfg["criterion"],
                f1_ratio=goal_cfg["f1_ratio"] or 1.0,
                query_budget=budget,
            )
        if self.kind == "tagging":
            victim = victims.TaggerVictim(self.ckpt, r.task)
            return victim, lambda: goals.TaggingGoal(
                victim, r.task, victim.labels, query_budget=budget
            )
        docs = loaded.dataset.to_list()
        pool = [d for d in docs if d["side"] == "target"]
        self.pool_index = {d["id"]: i for i, d in enumerate(pool)}
        sources = [d["sentence"] for d in loaded.full_dataset.to_list()
                   if d["side"] == "source"]  # fmt: skip
        victim = victims.RetrievalVictim(
            self.ckpt,
            [d["sentence"] for d in pool],
            scoring=goal_cfg["scoring"],
            sources=sources if goal_cfg["scoring"] == "margin" else (),
        )
        return victim, lambda: goals.RetrievalGoal(
            victim, top_k=goal_cfg["top_k"], query_budget=budget
        )

    def _fields(self) -> tuple[str, ...]:
        if self.kind == "multiple_choice":
            return ("premise", "choice1", "choice2", "question")
        return TEXT_FIELDS[self.request.task]

    # ------------------------------------------------------------------ per document
    def _example(self, doc: dict, new_attack):
        """(AttackedText, ground truth, attack) of ``doc``, or a skip reason. The attack is
        ``new_attack()``; for QA its protected words become the answer's (and, by scope, the
        non-evidence) words."""
        r = self.request
        if self.kind == "tagging":
            tokens = list(doc["tokens"])
            if not tokens or any(not t or any(ch.isspace() for ch in t) for t in tokens):
                return None, None, None, "token_with_space"
            text = AttackedText(" ".join(tokens))
            return text, json.dumps(list(doc["tags"])), new_attack(), ""
        if self.kind == "retrieval":
            if doc["side"] != "source":
                return None, None, None, "target_side"
            if doc.get("gold") not in self.pool_index:
                return None, None, None, "no_gold"
            text = AttackedText(OrderedDict(sentence=doc["sentence"]))
            return text, self.pool_index[doc["gold"]], new_attack(), ""
        text = AttackedText(OrderedDict((f, doc[f]) for f in self._fields()))
        if self.kind == "qa":
            golds = [a for a in doc["answers"]["text"] if a]
            if not golds:
                return None, None, None, "no_answer"
            scope = r.settings["goal"]["scope"]
            attack = new_attack()
            attack.protected.unmodifiable_indices = _answer_word_indices(text, doc, r.lang, scope)
            return text, json.dumps(golds, ensure_ascii=False), attack, ""
        return text, int(doc["label"]), new_attack(), ""

    def run(self, docs: list[dict], lockstep: bool = True) -> list[dict]:
        """Rows (contract fields, ``adv_*`` columns and the attack record) for ``docs``.

        With ``lockstep`` (the default) the documents' searches advance together and share
        each victim call (:mod:`adversarial.batched_search`); without it they run one after
        the other. Both give the same outcome per document.
        """
        from adversarial.batched_search import Lockstep

        self.attack.clear_cache()
        self.victim.clear_cache()
        if self.encoder is not None:
            self.encoder.clear_cache()
        lang = self.request.lang
        rows: list = [None] * len(docs)
        jobs, slots = [], []
        for i, doc in enumerate(docs):
            with language(lang):
                text, gold, attack, reason = self._example(
                    doc, self.new_attack if lockstep else lambda: self.attack
                )
            if text is None:
                rows[i] = _unchanged_row(doc, reason)
                continue
            job = functools.partial(_attack_one, attack, text, gold, lang)
            if lockstep:
                jobs.append(job)
                slots.append(i)
            else:
                rows[i] = self._row(doc, job())
        for i, result in zip(slots, Lockstep(jobs).run(), strict=True):
            rows[i] = self._row(docs[i], result)
        return rows

    def _row(self, doc: dict, result) -> dict:
        from adversarial.transfer import result_row

        r = self.request
        perturbed = result.perturbed_result.attacked_text
        sims = None
        if self.encoder is not None:
            before = result.original_result.attacked_text
            if before.text != perturbed.text:
                sims = float(min(self.encoder.similarity([(before.text, perturbed.text)])))
        if self.kind == "tagging":
            row = _tagging_row(doc, result, sims)
        else:
            row = result_row(doc, r.task, r.lang, result, sims)
            if self.kind == "qa":
                _remap_answers(row, doc)
        R = textattack.attack_results
        if isinstance(result, R.SuccessfulAttackResult):
            outcome = "successful"
        elif isinstance(result, R.SkippedAttackResult):
            outcome = "skipped"
        else:
            outcome = "failed"
        original = result.original_result.attacked_text
        with language(r.lang):
            n_words = len(original.words)
        row[_INFO] = {
            "result": outcome,
            "queries": int(result.perturbed_result.num_queries),
            # TextAttack's perturbed-word count (``all_words_diff``) compares words by index,
            # so after a re-split word (Han, zero-width space) every later word would count.
            "words_changed": original_words_changed(perturbed),
            "n_words": n_words,
        }
        return row


def _attack_one(attack, text, gold, lang: str):
    """TextAttack's ``Attack.attack`` of one example, words split the way ``lang`` needs."""
    with language(lang):
        return attack.attack(text, gold)


def _answer_word_indices(text, doc: dict, lang: str, scope: str = "context") -> list[int]:
    """Indices (in ``text.words``) of the context words that may not change: those overlapping
    a gold answer, and with ``scope="answer_sentence"`` every context word outside the
    sentences holding an answer (the evidence; a greedy search ranks every modifiable word,
    one query each, which over a whole context would exhaust any usual budget)."""
    spans = word_spans(text.text, lang)
    if len(spans) != len(text.words):
        raise RuntimeError("word segmentation disagrees with TextAttack's words")
    gold = doc["answers"]
    answers = [
        (s, s + len(t)) for t, s in zip(gold["text"], gold["answer_start"], strict=True) if t
    ]
    n_ctx = len(doc["context"])
    evidence = [(0, n_ctx)]
    if scope == "answer_sentence":
        evidence = [
            span
            for span in _sentence_spans(doc["context"], lang)
            if any(span[0] <= as_ < span[1] for as_, _ in answers)
        ] or evidence
    return [
        i
        for i, (s, e) in enumerate(spans)
        if e <= n_ctx
        and (
            any(s < ae and as_ < e for as_, ae in answers)
            or not any(a <= s and e <= b for a, b in evidence)
        )
    ]


def _sentence_spans(text: str, lang: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (:func:`adversarial.engine.split_sentences`)."""
    from adversarial.engine import split_sentences

    spans, pos = [], 0
    for sentence in split_sentences(text, lang):
        start = text.find(sentence, pos)
        if start < 0:
            continue
        spans.append((start, start + len(sentence)))
        pos = start + len(sentence)
    return spans


def _remap_answers(row: dict, doc: dict) -> None:
    """Move the gold answers' offsets along with the context edits (answers are unchanged)."""
    if row["context"] == doc["context"]:
        return
    edits = [(e["start"], e["end"], e["perturbed"]) for e in json.loads(row["adv_edits"])
             if e["field"] == "context"]  # fmt: skip
    answers = doc["answers"]
    starts = [shift_offset(s, edits) for s in answers["answer_start"]]
    for text, start in zip(answers["text"], starts, strict=True):
        if row["context"][start : start + len(text)] != text:
            raise RuntimeError(f"answer {text!r} lost its offset in {doc['id']}")
    row["answers"] = {"text": list(answers["text"]), "answer_start": starts}
    originals = json.loads(row["adv_original"])
    originals["answers"] = {
        "text": list(answers["text"]),
        "answer_start": list(answers["answer_start"]),
    }
    row["adv_original"] = json.dumps(originals, ensure_ascii=False, sort_keys=True)


def _tagging_row(doc: dict, result, similarity: float | None) -> dict:
    """Row of a tagging example: perturbed tokens, gold tags unchanged (one per token)."""
    R = textattack.attack_results
    row = dict(doc)
    tokens = list(doc["tokens"])
    new_tokens = result.perturbed_result.attacked_text.text.split(" ")
    if len(new_tokens) != len(tokens):
        raise RuntimeError(f"{doc['id']}: {len(new_tokens)} tokens for {len(tokens)} tags")
    edits = [
        {"field": "tokens", "start": i, "end": i + 1, "original": a, "perturbed": b,
         "new_start": i}
        for i, (a, b) in enumerate(zip(tokens, new_tokens, strict=True)) if a != b
    ]  # fmt: skip
    if isinstance(result, R.SkippedAttackResult):
        status, reason = "skipped", "source_model_wrong"
    elif isinstance(result, R.SuccessfulAttackResult):
        status, reason = "attacked", ""
    else:
        status, reason = ("attacked", "goal_not_reached") if edits else ("skipped", "no_candidate")
    row["tokens"] = new_tokens
    row.update(
        adv_status=status,
        adv_reason=reason,
        adv_edits=json.dumps(edits, ensure_ascii=False, sort_keys=True),
        adv_original=json.dumps({"tokens": tokens} if edits else {}, ensure_ascii=False),
        adv_similarity=similarity,
        adv_ratio=round(len(edits) / max(1, len(tokens)), 6),
    )
    return row


def _unchanged_row(doc: dict, reason: str) -> dict:
    row = dict(doc)
    row.update(adv_status="skipped", adv_reason=reason, adv_edits="[]", adv_original="{}",
               adv_similarity=None, adv_ratio=0.0)  # fmt: skip
    row[_INFO] = None
    return row


# ------------------------------------------------------------------ metrics
def summary_metrics(records: list[dict]) -> dict:
    """TextAttack's summary numbers (``textattack.metrics`` definitions, rounded as it rounds)
    from per-example records; a mean over no example is ``None``."""
    n = len(records)
    succ = [x for x in records if x["result"] == "successful"]
    failed = sum(x["result"] == "failed" for x in records)
    skipped = sum(x["result"] == "skipped" for x in records)
    attacked = [x for x in records if x["result"] != "skipped"]
    pct = [100.0 * x["words_changed"] / x["n_words"] for x in succ if x["n_words"]]
    pct = [p for p in pct if p > 0]

    def rnd(v):
        return None if v is None else round(float(v), 2)

    return {
        "n_examples": n,
        "successful_attacks": len(succ),
        "failed_attacks": failed,
        "skipped_attacks": skipped,
        "original_accuracy": rnd(100.0 * (n - skipped) / n) if n else None,
        "accuracy_under_attack": rnd(100.0 * failed / n) if n else None,
        "attack_success_rate": rnd(100.0 * len(succ) / (len(succ) + failed))
        if succ or failed
        else 0,
        "avg_num_queries": rnd(sum(x["queries"] for x in attacked) / len(attacked))
        if attacked
        else None,
        "avg_word_perturbed_perc": rnd(sum(pct) / len(pct)) if pct else None,
    }


# ------------------------------------------------------------------ build / merge
def build_adaptive(
    request: AdaptiveRequest,
    root: Path | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    stop_after: int | None = None,
) -> Path | None:
    """Build (or resume) the adaptive set; its folder, or None while other shards' chunks are
    missing (the shard that completes the set merges it) or after ``stop_after`` windows.

    The work is cut in windows of ``WINDOW_CHUNKS`` chunks whose searches run in lockstep;
    shards take whole windows (window ``w`` goes to shard ``w % num_shards``), so a window's
    documents share their model calls however the build is sharded or resumed.
    """
    if num_shards < 1 or not 0 <= shard_index < num_shards:
        raise XtremeAdvError(
            f"--shard-index {shard_index} must be in [0, --num-shards {num_shards})"
        )
    root = Path(root) if root else default_root()
    loaded = request.load()
    config = request.config(loaded)
    work = work_dir(root, request.task, request.attack, request.lang) / config_key(config)
    n_docs = len(loaded.dataset)
    n_chunks = max(1, math.ceil(n_docs / CHUNK_SIZE))
    n_windows = math.ceil(n_chunks / WINDOW_CHUNKS)
    windows = [
        chunks
        for w in range(n_windows)
        if w % num_shards == shard_index
        for chunks in [range(w * WINDOW_CHUNKS, min(n_chunks, (w + 1) * WINDOW_CHUNKS))]
        if any(not (work / _chunk_name(c)).exists() for c in chunks)
    ]
    runner = AdaptiveAttack(request, loaded) if windows else None  # bad input: nothing written
    if not (work / "config.json").exists():
        atomic_write_text(work / "config.json", json.dumps(config, indent=1, sort_keys=True))
    for done, chunks in enumerate(windows):
        if stop_after is not None and done >= stop_after:
            return None
        # The whole window runs (its searches share each model call); a chunk already
        # written by an interrupted run gets the same rows again and is left as it is.
        start, end = chunks[0] * CHUNK_SIZE, min(n_docs, (chunks[-1] + 1) * CHUNK_SIZE)
        rows = runner.run(loaded.dataset.select(range(start, end)).to_list())
        for chunk in chunks:
            if (work / _chunk_name(chunk)).exists():
                continue
            part = rows[chunk * CHUNK_SIZE - start : (chunk + 1) * CHUNK_SIZE - start]
            text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in part)
            atomic_write_text(work / _chunk_name(chunk), text)
    if num_shards > 1:
        atomic_write_text(work / f"shard-{shard_index}-of-{num_shards}.done", "")
        if any(not (work / _chunk_name(c)).exists() for c in range(n_chunks)):
            return None  # the shard that completes the set merges it
    return merge_adaptive(root, work)


def _chunk_name(chunk: int) -> str:
    return f"chunk-{chunk:05d}.jsonl"


def merge_adaptive(root: Path, work: Path) -> Path:
    """Assemble a finished adaptive build's chunks into its set folder (atomically)."""
    import datasets

    from adversarial.manifest import build_manifest, task_name
    from adversarial.registry import write_task_yamls

    config = json.loads((work / "config.json").read_text(encoding="utf-8"))
    n_chunks = max(1, math.ceil(config["n_rows"] / config["chunk_size"]))
    missing = [c for c in range(n_chunks) if not (work / _chunk_name(c)).exists()]
    if missing:
        raise XtremeAdvError(
            f"{work}: {len(missing)} of {n_chunks} chunks missing (first: {missing[0]}); run "
            "the remaining shards (same --num-shards) before merging"
        )
    rows, records = [], []
    for c in range(n_chunks):
        with open(work / _chunk_name(c), encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                records.append(row.pop(_INFO))
                rows.append(row)
    task, attack, lang = config["task"], config["attack"], config["lang"]
    final = set_dir(root, task, attack, lang)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{lang}.tmp-"))
    try:
        write_parquet(datasets.Dataset.from_list(rows), tmp / "data.parquet")
        manifest = build_manifest({**config, "attack": config["family"]}, rows,
                                  sha256_file(tmp / "data.parquet"))  # fmt: skip
        manifest["task_name"] = task_name(task, attack, lang)
        manifest["kind"] = "adaptive"
        manifest["attack"]["set_name"] = attack
        attacked = [x for x in records if x is not None]
        manifest["adaptive"] = {**config["adaptive"], "metrics": summary_metrics(attacked)}
        for example, record in zip(manifest["examples"], records, strict=True):
            example["attack_result"] = record
        atomic_write_text(
            tmp / "manifest.json",
            json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False),
        )
        _replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_task_yamls(root, task, attack, lang)
    shutil.rmtree(work, ignore_errors=True)
    return final


def report(folder: Path) -> dict:
    """The CLI report of a built adaptive set: provenance and TextAttack's metrics."""
    manifest = json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))
    return {
        "model": manifest["source_model"]["path"],
        "source_model": manifest["source_model"],
        "kind": manifest["kind"],
        "task": manifest["task"],
        "lang": manifest["lang"],
        "attack": manifest["attack"]["name"],
        "task_name": manifest["task_name"],
        "set": str(folder),
        "params": manifest["attack"]["params"],
        "seed": manifest["seed"],
        "query_budget": manifest["adaptive"]["query_budget"],
        "search": manifest["adaptive"]["search"],
        "goal": manifest["adaptive"]["goal"],
        "split": manifest["split"],
        "source_sha256": manifest["source"]["sha256"],
        "metrics": manifest["adaptive"]["metrics"],
        "versions": manifest["versions"],
    }
