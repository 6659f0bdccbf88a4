"""The executor contract: where jobs run (worker processes here, a cluster elsewhere).

An executor calls ``work(job)`` for every job (``work`` is a picklable top-level function that runs the job and
writes its record) and yields ``(job, crash)`` as each one ends: ``crash`` is None when ``work`` returned, else a
description of how the worker died (killed, out of memory, ...); the runner then records the job as failed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any


class Executor(ABC):
    #: True when every job runs in a fresh process of its own, so its peak memory is its own.
    isolates_jobs: bool = True

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, int(workers))

    @abstractmethod
    def run(self, jobs: Sequence[Any], work: Callable[[Any], Any]) -> Iterator[tuple[Any, str | None]]:
        """Run ``work(job)`` for each job; yield ``(job, None)`` or ``(job, crash description)`` as jobs end."""


@dataclass(frozen=True)
class ExecutorSpec:
    name: str
    version: str
    description: str
    factory: Callable[..., Executor]  # factory(workers=N) -> Executor
