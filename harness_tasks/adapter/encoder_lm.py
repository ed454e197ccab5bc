"""The lm-eval model ``xtreme-encoder``: fine-tuned encoders answer lm-eval's requests.

lm-eval speaks in log-likelihoods and generations; an encoder has a classifier, a span or tag
head, or sentence embeddings. Each request carries its document (``Instance.doc``) and task
name, so the adapter reads the task family from the name, answers all documents of a task in
batches with the matching head, and returns what lm-eval expects:

- multiple choice (XNLI, PAWS-X, XCOPA): the log-softmax of the head for each choice;
- QA: the extracted answer text; tagging: the tags, space-separated;
- retrieval (Tatoeba, BUCC): ``{"id": target id, "score": s}`` for each source sentence,
  computed over all documents of the task at once (the candidate pool is part of the task).

Data parallel: under ``torchrun`` / ``accelerate launch`` (``xtreme-adv eval run
--nproc-per-node N``) each process is a rank of lm-eval's own data parallelism (documents
sharded by lm-eval, metrics and samples gathered to rank 0, which writes the results), with
accelerate's process group as lm-eval's ``hf`` model has. Retrieval documents are gathered to
every rank first, so each rank retrieves over the whole task, as one process does, and answers
its own documents (every rank must then hold some document of a generation task: a run with
fewer such documents than processes would wait forever).
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict

import numpy as np
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

from harness_tasks import __version__
from harness_tasks.adapter.checkpoint import EncoderCheckpoint
from harness_tasks.errors import XtremeAdvError
from harness_tasks.families import TaskFamily, family_of_task
from harness_tasks.weights import weights_sha256

log = logging.getLogger(__name__)


def _resolve_device(device: str | None) -> str:
    import torch

    device = device or "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        log.warning("CUDA is not available; xtreme-encoder runs on the CPU")
        return "cpu"
    return device


def _family(task_name: str) -> TaskFamily:
    try:
        return family_of_task(task_name)
    except XtremeAdvError:
        raise XtremeAdvError(
            f"xtreme-encoder answers only xtreme-adv tasks (xtreme_*); {task_name!r} is not one"
        ) from None


@register_model("xtreme-encoder")
class EncoderLM(LM):
    """lm-eval model for transformers encoder checkpoints (``--model xtreme-encoder``)."""

    def __init__(
        self,
        pretrained: str,
        batch_size: int | str = 32,
        max_batch_size: int | None = None,
        device: str | None = "cpu",
        retrieval_layer: int | None = None,
        retrieval_prefix: str | None = None,
        max_length: int | None = None,
        **_unused,
    ) -> None:
        super().__init__()
        size = int(batch_size) if str(batch_size).isdigit() else (max_batch_size or 32)
        device = self._join_process_group(_resolve_device(device))
        self.checkpoint = EncoderCheckpoint(
            pretrained,
            device=device,
            batch_size=size,
            retrieval_layer=None if retrieval_layer in (None, "") else int(retrieval_layer),
            retrieval_prefix=retrieval_prefix,
            max_length=int(max_length) if max_length else None,
        )
        self.batch_size = size

    # -- data parallelism (lm-eval's primitives, as its hf model implements them) ---------

    def _join_process_group(self, device: str) -> str:
        """Under a launcher with several processes: this rank's device, its accelerate state."""
        import torch

        self.accelerator = None
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            from accelerate import Accelerator

            self.accelerator = Accelerator(cpu=not device.startswith("cuda"))
            self._rank = self.accelerator.process_index
            self._world_size = self.accelerator.num_processes
            device = str(self.accelerator.device)
        self._device = torch.device(device)
        return device

    def all_gather(self, tensor):
        """lm-eval's tensor all-gather (instance counts) across ranks."""
        return tensor if self.world_size <= 1 else self.accelerator.gather(tensor)

    def gather_object(self, obj, dst: int = 0):
        """lm-eval's object gather (samples, metrics) to rank ``dst``."""
        if self.world_size <= 1:
            return [obj]
        import torch.distributed as dist

        out = [None] * self.world_size if self.rank == dst else None
        dist.gather_object(obj, out, dst=dst)
        return out

    def barrier(self) -> None:
        """Wait for every rank."""
        if self.world_size > 1:
            self.accelerator.wait_for_everyone()

    def _all_ranks(self, obj) -> list:
        """``obj`` of every rank, on every rank (rank order)."""
        if self.world_size <= 1:
            return [obj]
        import torch.distributed as dist

        out = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def _retrieve_whole_task(self, family: TaskFamily, task_name: str, requests: list) -> list:
        """Answers for this rank's ``requests`` of a retrieval task, retrieved over the
        documents of every rank in document order (what one process retrieves over)."""
        mine = {req.doc_id: req.doc for req in requests}
        docs: dict[int, dict] = {}
        for part in self._all_ranks(mine):
            docs.update(part)  # lm-eval pads a short rank with copies: one per doc_id
        ids = sorted(docs)
        answers = self.checkpoint.retrieve(family, [docs[i] for i in ids], task_name=task_name)
        by_id = dict(zip(ids, answers, strict=True))
        return [by_id[req.doc_id] for req in requests]

    # -- lm-eval interface ---------------------------------------------------------------

    def loglikelihood(self, requests, disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        """Log-probability of each choice from the classification / multiple-choice head."""
        docs: dict[str, dict[int, dict]] = defaultdict(dict)
        for req in requests:
            docs[req.task_name][req.doc_id] = req.doc
        scores: dict[tuple[str, int], np.ndarray] = {}
        for task_name, by_id in docs.items():
            family = _family(task_name)
            if family.kind not in {"classification", "multiple_choice"}:
                raise XtremeAdvError(
                    f"{task_name}: xtreme-encoder has no likelihood for {family.kind} tasks"
                )
            ids = list(by_id)
            logits = self.checkpoint.classify(family, [by_id[i] for i in ids])
            logprobs = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
            scores.update({(task_name, i): logprobs[n] for n, i in enumerate(ids)})
        out = []
        for req in requests:
            row = scores[(req.task_name, req.doc_id)]
            out.append((float(row[req.idx]), bool(int(row.argmax()) == req.idx)))
        return out

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        """Answers for QA, tagging and retrieval requests (see the module docstring)."""
        by_task: dict[str, list[int]] = defaultdict(list)
        for n, req in enumerate(requests):
            by_task[req.task_name].append(n)
        out = [""] * len(requests)
        if self.world_size > 1:
            # Every rank takes part in each retrieval task's gather, in one agreed order, even
            # one that holds none of its documents.
            names = {t for t in by_task if _family(t).kind == "retrieval"}
            for task_name in sorted(set().union(*self._all_ranks(names))):
                indices = by_task.pop(task_name, [])
                answers = self._retrieve_whole_task(
                    _family(task_name), task_name, [requests[n] for n in indices]
                )
                for n, answer in zip(indices, answers, strict=True):
                    out[n] = answer
        for task_name, indices in by_task.items():
            family = _family(task_name)
            docs = [requests[n].doc for n in indices]
            if family.kind == "qa":
                answers = self.checkpoint.answer(docs)
            elif family.kind == "tagging":
                answers = [" ".join(t) for t in self.checkpoint.tag(family, docs)]
            elif family.kind == "retrieval":
                answers = self.checkpoint.retrieve(family, docs, task_name=task_name)
            else:
                raise XtremeAdvError(f"{task_name}: {family.kind} tasks are scored by likelihood")
            for n, answer in zip(indices, answers, strict=True):
                out[n] = answer
        return out

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        """Encoders have no language-model likelihood."""
        raise XtremeAdvError(
            "xtreme-encoder cannot compute rolling log-likelihoods "
            "(perplexity tasks); use lm-eval's hf model for those"
        )

    def get_model_info(self) -> dict:
        """Model identity and provenance, added to the results JSON under ``config``."""
        path = self.checkpoint.path
        card = path / "provenance.json"
        provenance = None
        if card.is_file():
            try:
                provenance = json.loads(card.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                log.warning("%s is not valid JSON; provenance omitted", card)
        return {
            "xtreme_adv_model": {
                "path": str(path.resolve()),
                "architecture": self.checkpoint.architecture,
                "weights_sha256": weights_sha256(path),
                "provenance": provenance,
                "adapter_version": __version__,
                "retrieval_layer": self.checkpoint.retrieval_layer,
                "retrieval_prefix": self.checkpoint.retrieval_prefix,
            }
        }
