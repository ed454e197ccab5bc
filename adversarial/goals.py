"""TextAttack goal functions for the XTREME task kinds TextAttack has none for.

Classification and multiple choice use TextAttack's own ``UntargetedClassification`` (the
victims return logits in the task's label order). The three below follow its conventions: a
higher score is closer to the goal, an example the model already gets wrong is skipped, the
score is continuous where the model gives one so the greedy search can rank words.

* :class:`ExtractiveQAGoal`: met when the predicted answer's F1 against the gold answers falls
  below ``f1_ratio`` times the clean F1 (``criterion="f1"``), or when exact match flips from 1
  to 0 (``criterion="em"``); F1 and EM are the official SQuAD / MLQA ones
  (:func:`harness_tasks.metrics.qa.score`).
* :class:`TaggingGoal`: UD-POS: a word the model tagged correctly gets another tag; PAN-X: a
  gold entity the model found exactly (seqeval spans) is no longer found.
* :class:`RetrievalGoal`: the gold candidate leaves the top ``k`` of the fixed pool.
"""

from __future__ import annotations

import json

import numpy as np

from adversarial.textattack_compat import textattack

GoalFunction = textattack.goal_functions.GoalFunction
GoalFunctionResult = textattack.goal_function_results.GoalFunctionResult


class StructuredGoalFunctionResult(GoalFunctionResult):
    """A goal-function result whose output is an answer string, a tag list or a rank."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, goal_function_result_type="Structured", **kwargs)

    def get_text_color_input(self):
        """Colour of the original text in TextAttack's printouts."""
        return "red"

    def get_text_color_perturbed(self):
        """Colour of the perturbed text in TextAttack's printouts."""
        return "blue"

    def get_colored_output(self, color_method=None):
        """The output as text (no colours)."""
        return str(self.output)


class _CleanAwareGoal(GoalFunction):
    """A goal that compares every output with the model's output on the clean example."""

    def __init__(self, model_wrapper, **kwargs):
        kwargs.setdefault("model_batch_size", 256)  # the victim batches by length itself
        super().__init__(model_wrapper, **kwargs)
        self.clean = None

    def init_attack_example(self, attacked_text, ground_truth_output):
        """Read the clean output before TextAttack's skip check sees it."""
        self.ground_truth_output = ground_truth_output
        self.clean = self._prepare(self._call_model([attacked_text])[0], ground_truth_output)
        return super().init_attack_example(attacked_text, ground_truth_output)

    def _prepare(self, clean_output, gold):
        raise NotImplementedError

    def _process_model_outputs(self, inputs, outputs):
        # Arrays arrive as one stacked tensor (retrieval) or as nested lists (tagging: TextAttack
        # flattens a list of numpy arrays of different lengths); answers as strings.
        if hasattr(outputs, "numpy"):
            return list(outputs.numpy())
        return [np.asarray(o, dtype=np.float32) if isinstance(o, list) else o for o in outputs]

    def _goal_function_result_type(self):
        return StructuredGoalFunctionResult


class ExtractiveQAGoal(_CleanAwareGoal):
    """Extractive QA: ground truth is the JSON list of gold answer texts (TextAttack's
    ``Attack.attack`` accepts only ``int`` or ``str`` ground truths)."""

    def __init__(
        self,
        model_wrapper,
        lang: str,
        style: str = "squad",
        criterion: str = "f1",
        f1_ratio: float = 0.5,
        **kwargs,
    ):
        super().__init__(model_wrapper, **kwargs)
        if criterion not in ("f1", "em"):
            raise ValueError(f"criterion {criterion!r}: choose f1 or em")
        self.lang, self.style, self.criterion, self.f1_ratio = lang, style, criterion, f1_ratio

    def _score(self, answer: str) -> dict:
        from harness_tasks.metrics.qa import score

        return score(answer.strip(), self.gold, self.style, self.lang)

    def _prepare(self, clean_output, gold):
        self.gold = list(json.loads(gold))
        return self._score(clean_output)

    def _should_skip(self, model_output, attacked_text):
        if self.criterion == "em":
            return self.clean["exact_match"] < 1
        return self.clean["f1"] <= 0

    def _is_goal_complete(self, model_output, attacked_text):
        now = self._score(model_output)
        if self.criterion == "em":
            return now["exact_match"] < 1
        return now["f1"] < self.f1_ratio * self.clean["f1"]

    def _get_score(self, model_output, attacked_text):
        now = self._score(model_output)
        key = "exact_match" if self.criterion == "em" else "f1"
        return 1.0 - now[key] / max(self.clean[key], 1e-9)


class TaggingGoal(_CleanAwareGoal):
    """Tagging: ground truth is the JSON list of gold tags, one per whitespace token."""

    def __init__(self, model_wrapper, task: str, labels: list[str], **kwargs):
        super().__init__(model_wrapper, **kwargs)
        self.task, self.labels = task, list(labels)

    def _tags(self, probs: np.ndarray) -> list[str]:
        return [self.labels[int(i)] for i in probs.argmax(axis=1)]

    def _units(self, tags: list[str], gold) -> set:
        """What the model gets right: word indices (UD-POS) or gold entity spans (PAN-X)."""
        gold = list(gold)
        if len(tags) != len(gold):
            raise ValueError(f"{len(tags)} predicted tags for {len(gold)} gold tags")
        if self.task == "panx":
            from seqeval.metrics.sequence_labeling import get_entities

            return set(get_entities(gold)) & set(get_entities(tags))
        return {i for i, (p, g) in enumerate(zip(tags, gold, strict=True)) if p == g}

    def _prepare(self, clean_output, gold):
        gold = self.gold = list(json.loads(gold))
        units = self._units(self._tags(clean_output), gold)
        if self.task == "panx":
            positions = sorted({i for _, s, e in units for i in range(s, e + 1)})
        else:
            positions = sorted(units)
        gold_ids = [self.labels.index(t) for t in gold]
        return {"units": units, "positions": positions, "gold_ids": gold_ids}

    def _should_skip(self, model_output, attacked_text):
        return not self.clean["units"]

    def _lost(self, model_output) -> int:
        now = self._units(self._tags(model_output), self.gold)
        return len(self.clean["units"] - now)

    def _is_goal_complete(self, model_output, attacked_text):
        return self._lost(model_output) >= 1

    def _get_score(self, model_output, attacked_text):
        # Units lost, plus how far the gold tags' probabilities fell where the model was right
        # (in [0, 1), so one more lost unit always outranks any probability shift).
        pos = self.clean["positions"]
        gold_p = model_output[pos, [self.clean["gold_ids"][i] for i in pos]] if pos else [1.0]
        return (self._lost(model_output) + float(1.0 - np.mean(gold_p))) / (
            len(self.clean["units"]) + 1
        )

    def _get_displayed_output(self, raw_output):
        return " ".join(self._tags(raw_output))


class RetrievalGoal(_CleanAwareGoal):
    """Retrieval: ground truth is the gold candidate's index in the pool."""

    def __init__(self, model_wrapper, top_k: int = 1, **kwargs):
        super().__init__(model_wrapper, **kwargs)
        if top_k < 1:
            raise ValueError(f"top_k={top_k} must be positive")
        self.top_k = top_k

    def _prepare(self, clean_output, gold):
        return {"rank": self.rank(clean_output, gold)}

    @staticmethod
    def rank(scores: np.ndarray, gold: int) -> int:
        """0-based rank of the gold candidate (candidates scoring strictly higher)."""
        return int((scores > scores[gold]).sum())

    def _should_skip(self, model_output, attacked_text):
        return self.clean["rank"] >= self.top_k

    def _is_goal_complete(self, model_output, attacked_text):
        return self.rank(model_output, self.ground_truth_output) >= self.top_k

    def _get_score(self, model_output, attacked_text):
        # How far the k-th best other candidate is above the gold one (> 0: goal met).
        others = np.delete(model_output, self.ground_truth_output)
        kth = np.partition(others, -self.top_k)[-self.top_k] if len(others) else -np.inf
        return float(kth - model_output[self.ground_truth_output])

    def _get_displayed_output(self, raw_output):
        return self.rank(raw_output, self.ground_truth_output)
