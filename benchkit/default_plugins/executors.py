"""Built-in executors: ``local`` (a fresh process per job, N at a time) and ``inline`` (this process, for debugging).

``local`` starts one process per job rather than reusing pool workers: a job's peak RSS is then its own, a crash
(segfault, OOM kill) takes down only that job, and no state leaks between jobs. The processes are forked from a
fork server that has imported the heavy libraries once (``BENCHKIT_PRELOAD``, default numpy, scipy, torch, torch's
compiler front end ``torch._dynamo``, open3d, faiss and the worker): importing torch and open3d costs seconds per
process, more than many jobs take, and every torch optimizer imports ``torch._dynamo`` when it is made (measured:
60 % of the time torch, open3d and faiss take together). Each job
process then takes the caller's current environment and ``sys.path``, not the fork server's. Where fork servers
do not exist (Windows), processes are spawned and import everything themselves.

Limits and lifetimes (``local``):

- A job past ``timeout`` seconds, or whose processes together hold more than ``max_memory_mb`` of resident memory
  (sampled every `MEMORY_POLL` seconds), is killed with everything it started and reported as a `Crash`.
- Each job process leads its own process group: the driver kills the whole group, and Ctrl-C in the terminal
  reaches only the driver, which then ends the jobs (SIGTERM and SIGHUP too, see `benchkit.driver`).
- A driver that dies without ending its jobs (``kill -9``) closes, with its other files, the only write end of a
  "lifeline" pipe; a watchdog thread in every job reads it, gets end-of-file and kills the job's process group.
  The fork server exits once its last job is gone, so no process of the run is left behind. (The watchdog needs
  the interpreter lock for an instant: a job stuck in C code that holds it is ended when the code returns.)
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from benchkit.executors import Crash, Executor, ExecutorSpec
from benchkit.hookspecs import hookimpl

#: Seconds between two samples of a job's memory when ``max_memory_mb`` is set.
MEMORY_POLL = 0.5


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"worker process killed by signal {signal.Signals(-code).name} (out of memory or crashed)"
        except ValueError:
            return f"worker process killed by signal {-code}"
    return f"worker process exited with code {code} before finishing its job"


DEFAULT_PRELOAD = ("numpy", "scipy", "torch", "torch._dynamo", "open3d", "faiss", "benchkit.worker")


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


def _watch_lifeline(lifeline: Any) -> None:
    """Block until the lifeline reaches end-of-file, which happens when the driver holding its only write end is
    gone (however it died), then end this job's process group: the job and everything it started."""
    try:
        lifeline.recv_bytes()
    except (EOFError, OSError):
        pass
    os.killpg(0, signal.SIGKILL)


def _in_child(work: Callable[[Any], Any], job: Any, environ: dict[str, str], path: list[str], conn: Any,
              lifeline: Any) -> None:
    """Run ``work(job)`` with the caller's environment and import path (the fork server may hold older ones) and
    send its result back through ``conn``; a watchdog thread ends the job when the driver dies."""
    import threading

    os.setpgid(0, 0)  # its own process group: the driver ends the job and all it started in one call
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle: it ends the jobs
    threading.Thread(target=_watch_lifeline, args=(lifeline,), name="benchkit-lifeline", daemon=True).start()
    os.environ.clear()
    os.environ.update(environ)
    sys.path[:] = path
    result = work(job)
    conn.send(result)
    conn.close()


class _Running:
    """One job's process and the read end of the pipe its result comes back on."""

    def __init__(self, ctx: Any, work: Callable[[Any], Any], job: Any, lifeline: Any) -> None:
        self.job = job
        self.reader, writer = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_in_child, daemon=False,
                                args=(work, job, dict(os.environ), list(sys.path), writer, lifeline))
        self.proc.start()
        self.started = time.monotonic()
        writer.close()  # the child holds its own copy; EOF here then means the child is gone
        self.result: Any = None
        self.received = False
        self.ended: Crash | None = None  # set when the executor ended the job for a limit

    def receive(self) -> None:
        """Take the result if the child sent it (a large result is read while the child is still sending)."""
        if not self.received and self.reader.poll():
            try:
                self.result = self.reader.recv()
                self.received = True
            except EOFError:
                pass

    def kill(self, reason: Crash | None = None) -> None:
        """End the job's process group (the job and whatever it started), then the process itself."""
        self.ended = self.ended or reason
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, AttributeError):  # no group yet (just started), or not POSIX
            pass
        self.proc.kill()
        self.proc.join(timeout=10)

    def memory_mb(self) -> float:
        """Resident memory of the job's process and its descendants."""
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0.0
        total = 0
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        return total / 2**20


class LocalExecutor(Executor):
    enforces_limits = True

    def run(self, jobs: Iterable[Any], work: Callable[[Any], Any]) -> Iterator[tuple[Any, Any, str | None]]:
        ctx = _context()
        pending = iter(jobs)
        exhausted = False
        running: list[_Running] = []
        lifeline, lifeline_end = ctx.Pipe(duplex=False)  # jobs watch ``lifeline``; only this process holds the end
        try:
            while running or not exhausted:
                while not exhausted and len(running) < self.workers:
                    job = next(pending, None)  # taken only now: the driver claims a job when it is taken
                    if job is None:
                        exhausted = True
                    else:
                        running.append(_Running(ctx, work, job, lifeline))
                self._enforce_limits(running)
                still = []
                for item in running:
                    item.receive()
                    if item.proc.is_alive():
                        still.append(item)
                        continue
                    item.proc.join()
                    item.receive()
                    item.reader.close()
                    if item.received and item.ended is None:
                        yield item.job, item.result, None
                    else:
                        yield item.job, None, item.ended or Crash(_describe_exit(item.proc.exitcode))
                running = still
                if running:
                    multiprocessing.connection.wait([p.proc.sentinel for p in running]
                                                    + [p.reader for p in running if not p.received],
                                                    timeout=self._poll_interval(running))
        finally:
            for item in running:  # interrupted (Ctrl-C, SIGTERM, an error here): end the jobs too
                item.kill()
            lifeline_end.close()
            lifeline.close()

    def _enforce_limits(self, running: list[_Running]) -> None:
        now = time.monotonic()
        for item in running:
            if item.ended is not None or not item.proc.is_alive():
                continue
            if self.timeout and now - item.started > self.timeout:
                item.kill(Crash(f"ended after {self.timeout:g} s, the per-job time limit (--timeout); a longer job "
                                f"needs a larger --timeout", kind="JobTimeout"))
            elif self.max_memory_mb and (used := item.memory_mb()) > self.max_memory_mb:
                item.kill(Crash(f"ended at {used:.0f} MB of resident memory, over the per-job limit of "
                                f"{self.max_memory_mb:g} MB (--max-memory)", kind="MemoryLimit"))

    def _poll_interval(self, running: list[_Running]) -> float:
        """Wake up for the next time limit, the next memory sample, or at least every second."""
        wait = 1.0
        if self.max_memory_mb:
            wait = min(wait, MEMORY_POLL)
        if self.timeout:
            soonest = min(item.started for item in running) + self.timeout - time.monotonic()
            wait = min(wait, max(soonest, 0.01))
        return wait


class InlineExecutor(Executor):
    """Runs jobs one after another in this process. Peak memory is then shared and marked so in records; limits
    are not enforced (a hang hangs the run: this executor is for debugging)."""

    def run(self, jobs: Iterable[Any], work: Callable[[Any], Any]) -> Iterator[tuple[Any, Any, str | None]]:
        for job in jobs:
            yield job, work(job), None


@hookimpl
def register_executors(register):
    register(ExecutorSpec("local", "1", "One fresh process per job, --workers at a time, on this machine",
                          LocalExecutor))
    register(ExecutorSpec("inline", "1", "Every job in the calling process, one after another (debugging)",
                          InlineExecutor, isolates_jobs=False))
