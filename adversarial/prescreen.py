"""Automatic pre-screen of a validation sheet: flag the examples a reader should judge first.

Each flag comes with a reason a reader can check (CSV column ``prescreen_reason``; the row is
highlighted in the HTML page). None of them is a verdict: human judgments are the measure.

- ``protected_word_edited``: an edit changes a negation, a number or a one-grapheme word;
- ``protected_word_introduced``: an edit writes a negation or a number (``不``, ``не``,
  ``nicht``, a digit): a planted label change;
- ``chrf_below_typo``: chrF (sacrebleu) of original -> perturbed is lower than typos at the
  same places give, by more than the language's margin (below): a word swapped, not misspelt;
- ``below_floor`` / ``near_floor``: the e5 similarity recorded for the example is under /
  within 0.02 of the similarity floor calibrated on unrelated pairs (the manifest's);
- ``full_budget``: the example spent the whole edit budget;
- ``reference_changed``: a reference classifier that was not the attack's victim predicts
  another label for the perturbed pair than for the original (``--prescreen MODEL``; XNLI,
  PAWS-X): a back-check with a clean model.

**chrF against typos at the same places.** chrF compares character n-grams, so a word replaced
by another word costs more than a typo in it; how much more depends on the text's length and
script. For each field, the reference is what the worst plausible typos at the same places of
the same text leave: the lowest chrF of ``N_SIMULATED`` simulated edits with one typo in every
edited word (half adjacent swaps, half any of DeepWordBug's swap, substitute, delete, insert of
one grapheme). The margin is per language and computed, not chosen: the 99th percentile
(floored at 0) of (reference - chrF of one more simulated typo edit) over clean texts of the
set, with the set's own edit budget (``max_ratio``) of its words of two or more graphemes
edited, as the attacks do.

Measured with :func:`separation` on XNLI dev (docs/adversarial.md, "Human validation"; 128
calibration texts of premises and hypotheses, then 200 other texts with 25% of their words
edited): the margin is 0.000 de, ru, hi, 0.004 ar, 0.016 zh; 0-3% of random one-typo edits and
2.5-4% of edits replacing the last character of every edited word are flagged; of edits
replacing the same words with words of other texts, 98.5-100% (de, ru, hi, ar) and 88% (zh). No
library measures "more than a typo" in a text of a given length, which is why the simulation is
written here; chrF itself is sacrebleu's.
"""

from __future__ import annotations

import functools
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness_tasks.errors import XtremeAdvError

# Flags that make a row likely invalid (shaded, counted); the others are hints shown beside.
LIKELY_INVALID = frozenset(
    {"protected_word_edited", "protected_word_introduced", "chrf_below_typo", "below_floor",
     "reference_changed"}
)  # fmt: skip
N_SIMULATED = 8
N_CALIBRATION = 128
MIN_CALIBRATION = 20  # fewer clean texts: no margin, no chrF flag (a 99th percentile of 8 is noise)
MARGIN_QUANTILE = 0.99
NEAR_FLOOR = 0.02
_ABSENT = "\u2603"  # a substituted / inserted grapheme that no text of the sets contains
CLASSIFICATION = {"xnli": ("premise", "hypothesis"), "pawsx": ("sentence1", "sentence2")}


@functools.cache
def _chrf_metric():
    from sacrebleu.metrics import CHRF

    return CHRF()


def chrf(original: str, perturbed: str) -> float:
    """sacrebleu's sentence chrF (character 6-grams, beta 2) of ``perturbed`` against
    ``original``, in [0, 1]."""
    return _chrf_metric().sentence_score(perturbed, [original]).score / 100.0


TYPOS = ("swap", "substitute", "delete", "insert")  # DeepWordBug's operations


def _typo(word: str, rng: random.Random, ops: tuple[str, ...] = TYPOS) -> str:
    """``word`` with one simulated typo (one of ``ops`` on graphemes, at a random place)."""
    from adversarial.segment import graphemes

    g = graphemes(word)
    if len(g) < 2:
        return word + _ABSENT
    i = rng.randrange(len(g) - 1)
    op = rng.choice(ops)
    if op == "swap":
        g[i], g[i + 1] = g[i + 1], g[i]
    elif op == "substitute":
        g[i] = _ABSENT
    elif op == "delete":
        del g[i]
    else:
        g.insert(i + 1, _ABSENT)
    out = "".join(g)
    return out if out != word else word[:-1] + _ABSENT  # a swap of two equal graphemes


def _replace(text: str, spans: list[tuple[int, int]], words: list[str]) -> str:
    for (start, end), word in sorted(zip(spans, words, strict=True), reverse=True):
        text = text[:start] + word + text[end:]
    return text


def typo_reference(text: str, spans: list[tuple[int, int]], seed: str) -> float:
    """What the worst plausible typos at ``spans`` leave: the lowest chrF of ``N_SIMULATED``
    edits of ``text`` with one typo in every span, half of them adjacent swaps (two graphemes
    moved: the most damaging typo in a long word), half any of DeepWordBug's operations (a
    substitution costs more in a one- or two-character word)."""
    scores = []
    for k in range(N_SIMULATED):
        rng = random.Random(f"{seed}|{k}")
        ops = ("swap",) if k % 2 == 0 else TYPOS
        typos = [_typo(text[s:e], rng, ops) for s, e in spans]
        scores.append(chrf(text, _replace(text, spans, typos)))
    return float(min(scores))


def calibrate_margin(texts: list[str], lang: str, ratio: float, seed: int = 0) -> dict:
    """The language's chrF margin: the ``MARGIN_QUANTILE`` of (typo reference - chrF of one
    more simulated typo edit) over ``texts``, each with ``ratio`` of its words edited."""
    from adversarial.segment import graphemes, word_spans

    rng = random.Random(f"margin|{lang}|{seed}")
    deficits = []
    for j, text in enumerate(texts[:N_CALIBRATION]):
        spans = word_spans(text, lang)
        # as the attacks: one-grapheme words are never edited, ratio of all words at most
        editable = [(s, e) for s, e in spans if len(graphemes(text[s:e])) > 1]
        if len(spans) < 2 or not editable:
            continue
        k = min(len(editable), max(1, int(ratio * len(spans))))
        chosen = sorted(rng.sample(editable, k))
        edited = _replace(text, chosen, [_typo(text[s:e], rng) for s, e in chosen])
        deficits.append(typo_reference(text, chosen, f"cal|{j}") - chrf(text, edited))
    if len(deficits) < MIN_CALIBRATION:
        return {"margin": None, "n_texts": len(deficits), "quantile": MARGIN_QUANTILE}
    margin = max(0.0, float(np.quantile(deficits, MARGIN_QUANTILE)))
    return {"margin": round(margin, 6), "n_texts": len(deficits), "quantile": MARGIN_QUANTILE}


def _spans(original: str, edits: list[dict]) -> list[tuple[int, int]] | None:
    """The edited spans in ``original``: character offsets, or for a token list joined by
    spaces (UD-POS, PAN-X: tokens hold no space) token indices mapped to characters. None when
    the edits index neither."""
    starts, pos = [], 0
    for token in original.split(" "):
        starts.append((pos, pos + len(token)))
        pos += len(token) + 1
    spans = []
    for e in edits:
        start, end, old = e.get("start"), e.get("end"), e.get("original", "")
        if not isinstance(start, int) or not isinstance(end, int):
            return None
        if original[start:end] == old:
            spans.append((start, end))
        elif 0 <= start < end <= len(starts) and " ".join(original.split(" ")[start:end]) == old:
            spans.append((starts[start][0], starts[end - 1][1]))
        else:
            return None
    return spans


def _introduces(edit: dict, lang: str) -> str | None:
    """``number`` / ``negation`` when an edit writes a digit or a negation word it did not
    find there (an edit turning "mehr" into "nicht mehr", or "3" into "8")."""
    from adversarial import lexicon
    from adversarial.segment import words

    new, old = edit.get("perturbed") or "", edit.get("original") or ""
    if any(ch.isdigit() for ch in new) and new != old:
        return "number"
    before = {w for w in words(old, lang) if lexicon.is_negation(w, lang)}
    if any(lexicon.is_negation(w, lang) and w not in before for w in words(new, lang)):
        return "negation"
    return None


@dataclass
class Prescreen:
    """Flags for the sheet rows of one set (one language)."""

    manifest: dict
    margin: dict
    # id -> (label on the original, label on the perturbed pair) of a ReferenceClassifier
    predictions: dict = field(default_factory=dict)

    @classmethod
    def for_set(cls, folder: Path, rows: list[dict]) -> Prescreen:
        """Calibrate the chrF margin on the set's own clean texts (its attacked examples'
        originals) with the set's edit budget."""
        manifest = json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))
        lang = manifest["lang"]
        ratio = float(manifest["attack"]["params"].get("max_ratio", 0.25))
        texts = []
        for row in rows:
            for value in json.loads(row["adv_original"]).values():
                text = " ".join(value) if isinstance(value, list) else value
                if isinstance(text, str) and text:
                    texts.append(text)
        random.Random(f"texts|{lang}").shuffle(texts)
        margin = calibrate_margin(texts, lang, min(max(ratio, 0.05), 1.0))
        return cls(manifest, margin)

    def _floor(self) -> float:
        setup = (self.manifest.get("validity_setup") or {}).get("similarity_floor") or {}
        applied = (self.manifest.get("validity") or {}).get("similarity_floor") or 0.0
        return float(max(applied, setup.get("floor") or 0.0))

    def flags(
        self, row: dict, field_name: str, original: str, perturbed: str, edits: list[dict]
    ) -> list[tuple[str, str]]:
        """(flag, reason) pairs for one sheet row: one field of one example."""
        from adversarial.constraints import protection_reason

        lang = self.manifest["lang"]
        out: list[tuple[str, str]] = []
        for e in edits:
            reason = protection_reason(e["original"], lang) if e.get("original") else None
            if reason:
                out.append(("protected_word_edited", f"{reason} {e['original']!r} edited"))
            introduced = _introduces(e, lang)
            if introduced:
                out.append(
                    ("protected_word_introduced", f"{introduced} {e['perturbed']!r} written")
                )
        spans = _spans(original, edits)
        if spans and self.margin.get("margin") is not None:
            ref = typo_reference(original, spans, f"{row['id']}|{field_name}")
            score = chrf(original, perturbed)
            if ref - score > self.margin["margin"]:
                out.append((
                    "chrf_below_typo",
                    f"chrF {score:.3f}; typos at the same places {ref:.3f} (margin "
                    f"{self.margin['margin']:.3f}, {lang})",
                ))  # fmt: skip
        floor, sim = self._floor(), row.get("adv_similarity")
        if sim is not None and floor > 0:
            if sim < floor:
                out.append(("below_floor", f"e5 similarity {sim:.3f} < floor {floor:.3f}"))
            elif sim < floor + NEAR_FLOOR:
                out.append(("near_floor", f"e5 similarity {sim:.3f} within {NEAR_FLOOR} of floor"))
        limit = float(self.manifest["attack"]["params"].get("max_ratio", 1.0))
        if limit < 1 and row.get("adv_ratio", 0) >= limit - 1e-9:
            out.append(("full_budget", f"edited {row['adv_ratio']:.2f} of words (the maximum)"))
        if row["id"] in self.predictions:
            before, after = self.predictions[row["id"]]
            if before != after:
                out.append(("reference_changed", f"reference model: {before} -> {after}"))
        return out


class ReferenceClassifier:
    """A clean classifier (not the attack's victim) that labels original and perturbed pairs."""

    def __init__(self, path: str | Path):
        from adversarial.build import _model_identity
        from harness_tasks.adapter.checkpoint import EncoderCheckpoint

        self.path = Path(path)
        if not (self.path / "config.json").is_file():
            raise XtremeAdvError(f"--prescreen {path}: not a checkpoint folder (no config.json)")
        if not any(self.path.glob("*.safetensors")) and not any(self.path.glob("*.bin")):
            raise XtremeAdvError(f"--prescreen {path}: no model weights (*.safetensors) found")
        self.identity = _model_identity(str(self.path))
        self.checkpoint = EncoderCheckpoint(self.path)

    def check_not_victim(self, manifest: dict, name: str) -> None:
        """A set attacked against this very model cannot be back-checked with it."""
        victim = (manifest.get("source_model") or {}).get("sha256")
        if victim and victim == self.identity["sha256"]:
            raise XtremeAdvError(
                f"--prescreen {self.path}: is the model set {name} was attacked with "
                "(manifest source_model); use a model that was not the attack's victim"
            )

    def predict(self, task: str, rows: list[dict]) -> dict[str, tuple[str, str]]:
        """Example id -> (label on the original pair, label on the perturbed pair)."""
        from harness_tasks.families import FAMILIES

        family = FAMILIES[task]
        first, second = CLASSIFICATION[task]
        originals, perturbed = [], []
        for row in rows:
            before = json.loads(row["adv_original"])
            originals.append({f: before.get(f, row[f]) for f in (first, second)})
            perturbed.append({f: row[f] for f in (first, second)})
        logits = self.checkpoint.classify(family, originals + perturbed)
        labels = [family.labels[i] for i in np.argmax(logits, axis=1)]
        n = len(rows)
        return {str(r["id"]): (labels[i], labels[n + i]) for i, r in enumerate(rows)}


def separation(
    texts: list[str], lang: str, ratio: float = 0.25, n_calibration: int = 128, seed: int = 0
) -> dict:
    """How well the chrF flag separates typos from word swaps on clean ``texts`` of ``lang``.

    The margin is calibrated on the first ``n_calibration`` texts; each later text gets
    ``ratio`` of its words (of two or more graphemes) edited three ways: one random typo per
    word, the word's last character replaced, and the word replaced by a word of another text.
    Returns the margin and the share of each kind that is flagged (the figures of
    docs/adversarial.md).
    """
    from adversarial.segment import graphemes, word_spans

    margin = calibrate_margin(texts[:n_calibration], lang, ratio, seed)["margin"]
    rng = random.Random(f"separation|{lang}|{seed}")
    pool = [t[s:e] for t in texts for s, e in word_spans(t, lang)]
    counts = {"typo": 0, "last_character": 0, "word_swap": 0}
    n = 0
    for j, text in enumerate(texts[n_calibration:]):
        spans = word_spans(text, lang)
        editable = [(s, e) for s, e in spans if len(graphemes(text[s:e])) > 1]
        if margin is None or len(spans) < 2 or not editable:
            continue
        k = min(len(editable), max(1, int(ratio * len(spans))))
        chosen = sorted(rng.sample(editable, k))
        reference = typo_reference(text, chosen, f"sep|{j}")
        edits = {
            "typo": [_typo(text[s:e], rng) for s, e in chosen],
            "last_character": [text[s : e - 1] + _ABSENT for s, e in chosen],
            "word_swap": [rng.choice(pool) for _ in chosen],
        }
        for kind, words in edits.items():
            counts[kind] += reference - chrf(text, _replace(text, chosen, words)) > margin
        n += 1
    return {"margin": margin, "n_texts": n, **{k: v / n if n else None for k, v in counts.items()}}
