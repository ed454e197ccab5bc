"""TextAttack searches of many examples advanced in lockstep, sharing every model call.

A greedy word-importance search queries the victim a few candidates at a time: a ranking pass
(one text per word), then one word's candidates per step. Run example by example, each victim
call holds a handful of texts and the model runs far below its batched throughput. Here the
searches of a chunk's examples run side by side: each example's unchanged TextAttack
``Attack.attack`` (its goal function, transformation, constraints, search and query-budget
accounting) runs in a job of its own, and a job whose victim lacks outputs it needs hands the
missing inputs over and waits. When every job waits or has finished, one call computes the
union of their inputs (the victim batches it by length with dynamic padding) and every job
resumes on cached outputs. A job sees exactly the outputs the sequential search would see, so
the outcome per example is the same; only the batching of the model calls differs.

Jobs are threads used as coroutines: exactly one runs at a time, in a fixed order (job 0 to
n-1, then the shared call, then again), so the interleaving, the composition of each batched
call and the output are deterministic. No library offers this for TextAttack's synchronous
search code (greenlets would, without threads, but are not a dependency); the scheduler is the
small hand-written part, everything else is TextAttack's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

_CURRENT = threading.local()  # the Lockstep and job index of a job's thread


class _Aborted(BaseException):
    """Raised inside waiting jobs when another job failed (unwinds them quietly)."""


def need(owner: Any, keys: Sequence) -> None:
    """Called by a model wrapper (``owner``) that lacks outputs for ``keys``: inside a lockstep
    job, wait until ``owner.fill(keys)`` has run together with the other jobs' requests;
    anywhere else return at once (the caller computes them itself)."""
    lockstep = getattr(_CURRENT, "lockstep", None)
    if lockstep is None or not keys:
        return
    lockstep._wait(_CURRENT.index, owner, list(keys))


class Lockstep:
    """Run ``jobs`` (callables without arguments) as cooperative threads; see the module doc.

    ``run`` returns each job's return value in order, or raises the first job's exception.
    """

    def __init__(self, jobs: Sequence[Callable[[], Any]]):
        self.jobs = list(jobs)
        n = len(self.jobs)
        self._go = [threading.Semaphore(0) for _ in range(n)]
        self._back = threading.Semaphore(0)
        self._requests: dict[int, tuple[Any, list]] = {}
        self._done = [False] * n
        self._results: list[Any] = [None] * n
        self._error: BaseException | None = None
        self._abort = False
        self.rounds = 0  # shared model calls made (for tests and benchmarks)

    def _wait(self, index: int, owner: Any, keys: list) -> None:
        self._requests[index] = (owner, keys)
        self._back.release()
        self._go[index].acquire()
        if self._abort:
            raise _Aborted

    def _body(self, index: int) -> None:
        _CURRENT.lockstep, _CURRENT.index = self, index
        self._go[index].acquire()
        try:
            if not self._abort:
                self._results[index] = self.jobs[index]()
        except _Aborted:
            pass
        except BaseException as err:  # handed to the scheduler, re-raised there
            self._error = err
        finally:
            self._done[index] = True
            _CURRENT.lockstep = None
            self._back.release()

    def run(self) -> list[Any]:
        """Run every job to completion; their return values in order."""
        threads = [
            threading.Thread(target=self._body, args=(i,), daemon=True)
            for i in range(len(self.jobs))
        ]
        for thread in threads:
            thread.start()
        live = list(range(len(self.jobs)))
        try:
            while live:
                for i in live:  # each job runs until it needs outputs or ends
                    self._go[i].release()
                    self._back.acquire()
                    if self._error is not None:
                        raise self._error
                live = [i for i in live if not self._done[i]]
                self._serve(live)
        finally:
            if any(not done for done in self._done):
                self._abort = True
                for i, done in enumerate(self._done):
                    if not done:
                        self._go[i].release()
            for thread in threads:
                thread.join()
        return self._results

    def _serve(self, live: list[int]) -> None:
        """One call per owner for the union of the waiting jobs' keys (in job order)."""
        by_owner: dict[int, tuple[Any, dict]] = {}
        for i in live:
            owner, keys = self._requests.pop(i)
            _, union = by_owner.setdefault(id(owner), (owner, {}))
            union.update(dict.fromkeys(keys))
        for owner, union in by_owner.values():
            owner.fill(list(union))
            self.rounds += 1
