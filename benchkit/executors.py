"""The executor contract: where jobs run (worker processes here, a cluster elsewhere).

An executor calls ``work(job)`` for every job (``work`` is a picklable top-level function, `benchkit.worker.
execute_job`, that runs the job and RETURNS its result) and yields ``(job, result, crash)`` as each job ends:
``result`` is what ``work`` returned, brought back to the calling process; ``crash`` is None, or, when the worker
died before returning (killed, out of memory, a lost node) or was ended for a limit, a `Crash` saying how, with
``result`` None. The driver alone turns results into records and writes them: nothing travels through the
filesystem.

``jobs`` is an iterable that an executor should consume lazily, taking the next job only when it can start it:
the driver claims each job as it is taken (`benchkit.claims`), so a second run into the same results folder can
take the jobs the first has not started. Before `run`, the driver sets ``timeout`` (seconds of wall time per job,
`DEFAULT_TIMEOUT` unless the user chose) and ``max_memory_mb`` (None: no limit); an executor that ends jobs past
them says so with ``enforces_limits``, and the driver warns when the user's limits would not be enforced.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any


#: Default per-job wall-time limit: generous for the slowest first-party job on CPU (a unified job over every
#: category of a real dataset), yet a job that hangs is ended the same day and the queue goes on.
DEFAULT_TIMEOUT = 6 * 3600.0


class Crash(str):
    """How a job ended without a result: the message (a str) and a ``kind`` that becomes the record's error type
    (``WorkerCrash``: the process died; ``JobTimeout``: ended past ``timeout``; ``MemoryLimit``: ended over
    ``max_memory_mb``)."""

    kind: str

    def __new__(cls, message: str, kind: str = "WorkerCrash") -> Crash:
        crash = super().__new__(cls, message)
        crash.kind = kind
        return crash


class Executor(ABC):
    #: Whether ``timeout`` and ``max_memory_mb`` are enforced (jobs past them are ended and reported as a `Crash`).
    enforces_limits: bool = False
    timeout: float | None = DEFAULT_TIMEOUT
    max_memory_mb: float | None = None

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, int(workers))

    @abstractmethod
    def run(self, jobs: Iterable[Any], work: Callable[[Any], Any]) -> Iterator[tuple[Any, Any, str | None]]:
        """Run ``work(job)`` for each job; yield ``(job, result, None)`` or ``(job, None, crash)`` as jobs end."""


@dataclass(frozen=True)
class ExecutorSpec:
    """``isolates_jobs``: every job runs in a fresh process of its own, so its peak memory is its own (records say
    so). ``factory(workers=N)`` builds the executor."""

    name: str
    version: str
    description: str
    factory: Callable[..., Executor]
    isolates_jobs: bool = True
