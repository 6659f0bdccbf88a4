"""Built-in executors: ``local`` (a fresh process per job, N at a time) and ``inline`` (this process, for debugging).

``local`` starts one spawned process per job rather than reusing pool workers: a job's peak RSS is then its own, a
crash (segfault, OOM kill) takes down only that job, and no state leaks between jobs.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from benchkit.executors import Executor, ExecutorSpec
from benchkit.hookspecs import hookimpl


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"worker process killed by signal {signal.Signals(-code).name} (out of memory or crashed)"
        except ValueError:
            return f"worker process killed by signal {-code}"
    return f"worker process exited with code {code} before finishing its job"


class LocalExecutor(Executor):
    isolates_jobs = True

    def run(self, jobs: Sequence[Any], work: Callable[[Any], Any]) -> Iterator[tuple[Any, str | None]]:
        ctx = multiprocessing.get_context("spawn")
        pending = list(jobs)[::-1]
        running: list[tuple[Any, Any]] = []
        try:
            while pending or running:
                while pending and len(running) < self.workers:
                    job = pending.pop()
                    proc = ctx.Process(target=work, args=(job,), daemon=False)
                    proc.start()
                    running.append((job, proc))
                still = []
                for job, proc in running:
                    if proc.is_alive():
                        still.append((job, proc))
                        continue
                    proc.join()
                    yield job, (None if proc.exitcode == 0 else _describe_exit(proc.exitcode))
                running = still
                if running:
                    multiprocessing.connection.wait([p.sentinel for _, p in running], timeout=1.0)
        finally:
            for _, proc in running:  # interrupted (Ctrl-C): stop the workers too
                proc.terminate()
                proc.join(timeout=5)


class InlineExecutor(Executor):
    """Runs jobs one after another in this process. Peak memory is then shared and marked so in records."""

    isolates_jobs = False

    def run(self, jobs: Sequence[Any], work: Callable[[Any], Any]) -> Iterator[tuple[Any, str | None]]:
        for job in jobs:
            work(job)
            yield job, None


@hookimpl
def register_executors(register):
    register(ExecutorSpec("local", "1", "One fresh process per job, --workers at a time, on this machine", LocalExecutor))
    register(ExecutorSpec("inline", "1", "Every job in the calling process, one after another (debugging)", InlineExecutor))
