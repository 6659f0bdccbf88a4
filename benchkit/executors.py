"""The executor contract: where jobs run (worker processes here, a cluster elsewhere).

An executor calls ``work(job)`` for every job (``work`` is a picklable top-level function, `benchkit.worker.
execute_job`, that runs the job and RETURNS its result) and yields ``(job, result, crash)`` as each job ends:
``result`` is what ``work`` returned, brought back to the calling process; ``crash`` is None, or, when the worker
died before returning (killed, out of memory, a lost node), a description of how, with ``result`` None. The driver
alone turns results into records and writes them: nothing travels through the filesystem.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any


class Executor(ABC):
    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, int(workers))

    @abstractmethod
    def run(self, jobs: Sequence[Any], work: Callable[[Any], Any]) -> Iterator[tuple[Any, Any, str | None]]:
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
