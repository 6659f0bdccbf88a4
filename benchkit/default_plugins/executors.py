"""Built-in executors: ``local`` (a fresh process per job, N at a time) and ``inline`` (this process, for debugging).

``local`` starts one process per job rather than reusing pool workers: a job's peak RSS is then its own, a crash
(segfault, OOM kill) takes down only that job, and no state leaks between jobs. The processes are forked from a
fork server that has imported the heavy libraries once (``BENCHKIT_PRELOAD``, default numpy, scipy, torch, open3d,
faiss and the runner): importing torch and open3d costs seconds per process, more than many jobs take. Each job
process then takes the caller's current environment and ``sys.path``, not the fork server's. Where fork servers
do not exist (Windows), processes are spawned and import everything themselves.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
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


DEFAULT_PRELOAD = ("numpy", "scipy", "torch", "open3d", "faiss", "benchkit.worker")


def _preload() -> list[str]:
    env = os.environ.get("BENCHKIT_PRELOAD")
    names = DEFAULT_PRELOAD if env is None else tuple(n.strip() for n in env.split(","))
    found = []
    for name in filter(None, names):
        try:
            if importlib.util.find_spec(name) is not None:
                found.append(name)
        except (ImportError, ValueError):
            continue
    return found


def _context():
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_preload())
        return ctx
    return multiprocessing.get_context("spawn")


def _in_child(work: Callable[[Any], Any], job: Any, environ: dict[str, str], path: list[str], conn: Any) -> None:
    """Run ``work(job)`` with the caller's environment and import path (the fork server may hold older ones) and
    send its result back through ``conn``."""
    os.environ.clear()
    os.environ.update(environ)
    sys.path[:] = path
    result = work(job)
    conn.send(result)
    conn.close()


class _Running:
    """One job's process and the read end of the pipe its result comes back on."""

    def __init__(self, ctx: Any, work: Callable[[Any], Any], job: Any) -> None:
        self.job = job
        self.reader, writer = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_in_child, args=(work, job, dict(os.environ), list(sys.path), writer),
                                daemon=False)
        self.proc.start()
        writer.close()  # the child holds its own copy; EOF here then means the child is gone
        self.result: Any = None
        self.received = False

    def receive(self) -> None:
        """Take the result if the child sent it (a large result is read while the child is still sending)."""
        if not self.received and self.reader.poll():
            try:
                self.result = self.reader.recv()
                self.received = True
            except EOFError:
                pass


class LocalExecutor(Executor):
    def run(self, jobs: Sequence[Any], work: Callable[[Any], Any]) -> Iterator[tuple[Any, Any, str | None]]:
        ctx = _context()
        pending = list(jobs)[::-1]
        running: list[_Running] = []
        try:
            while pending or running:
                while pending and len(running) < self.workers:
                    running.append(_Running(ctx, work, pending.pop()))
                still = []
                for item in running:
                    item.receive()
                    if item.proc.is_alive():
                        still.append(item)
                        continue
                    item.proc.join()
                    item.receive()
                    item.reader.close()
                    if item.received:
                        yield item.job, item.result, None
                    else:
                        yield item.job, None, _describe_exit(item.proc.exitcode)
                running = still
                if running:
                    multiprocessing.connection.wait([p.proc.sentinel for p in running]
                                                    + [p.reader for p in running if not p.received], timeout=1.0)
        finally:
            for item in running:  # interrupted (Ctrl-C): stop the workers too
                item.proc.terminate()
                item.proc.join(timeout=5)


class InlineExecutor(Executor):
    """Runs jobs one after another in this process. Peak memory is then shared and marked so in records."""

    def run(self, jobs: Sequence[Any], work: Callable[[Any], Any]) -> Iterator[tuple[Any, Any, str | None]]:
        for job in jobs:
            yield job, work(job), None


@hookimpl
def register_executors(register):
    register(ExecutorSpec("local", "1", "One fresh process per job, --workers at a time, on this machine",
                          LocalExecutor))
    register(ExecutorSpec("inline", "1", "Every job in the calling process, one after another (debugging)",
                          InlineExecutor, isolates_jobs=False))
