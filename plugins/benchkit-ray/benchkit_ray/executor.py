"""The ``ray`` executor: each benchkit job runs as a Ray task, on this machine or on every node of a Ray cluster.

Where it runs: the ``address`` argument, else ``$BENCHKIT_RAY_ADDRESS``, else ``$RAY_ADDRESS`` names a running
cluster to join (``auto`` joins the one started on this machine with ``ray start``). With none of them, or with
``local``, the executor starts a private local cluster with ``workers x threads`` CPUs (so exactly ``--workers``
jobs fit at once) and stops it when the run ends. A Ray connection the caller already opened is used as it is.

How it runs:

- One task per job, asking Ray for ``num_cpus = job.threads`` and, when ``$BENCHKIT_RAY_GPUS_PER_JOB`` is set,
  that many GPUs (Ray then sets ``CUDA_VISIBLE_DEVICES`` for the task).
- At most ``--workers`` tasks are in flight; the rest wait on the driver. On a cluster, set ``--workers`` to the
  number of jobs the cluster should run at once (Ray still queues a task until a node has its CPUs/GPUs free).
- ``max_calls=1``: Ray starts a fresh worker process for every task, so a job's peak RSS is its own and a crash
  takes down only that job (``isolates_jobs = True``). ``max_retries=0``: a job that dies is recorded as failed,
  not silently run again.
- No shared filesystem is needed for results: the task returns the job's result (predictions and measurements)
  through Ray's object store, and the driver scores it and writes the record.
- Datasets, weights and caches are read on the worker nodes, so they must be at the same absolute paths on every
  node (``$BENCHKIT_DATA``, ``$BENCHKIT_WEIGHTS``, ``$BENCHKIT_CACHE``; relative paths are made absolute here
  first), and benchkit with the same plugins must be installed in the nodes' Python environment. The driver's
  ``BENCHKIT_*`` variables and thread limits travel with each task through Ray's ``runtime_env``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from benchkit import BenchkitError, Executor

#: Variables every job needs on the worker node: benchkit's own, and the BLAS/OpenMP thread limits that the runner
#: sets from --threads (Ray would otherwise set OMP_NUM_THREADS to the task's CPU count itself).
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
PATH_VARS = ("BENCHKIT_CACHE", "BENCHKIT_DATA", "BENCHKIT_WEIGHTS")
LOCAL = ("", "local")


def cluster_address(explicit: str | None = None) -> str | None:
    """The cluster to join: the argument, else $BENCHKIT_RAY_ADDRESS, else $RAY_ADDRESS; None: start a local one."""
    for value in (explicit, os.environ.get("BENCHKIT_RAY_ADDRESS"), os.environ.get("RAY_ADDRESS")):
        if value is not None and value.strip():
            return None if value.strip() in LOCAL else value.strip()
    return None


def gpus_per_job() -> float:
    """GPUs each task asks for: $BENCHKIT_RAY_GPUS_PER_JOB (may be fractional), default 0."""
    raw = os.environ.get("BENCHKIT_RAY_GPUS_PER_JOB", "").strip()
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise BenchkitError(f"$BENCHKIT_RAY_GPUS_PER_JOB={raw!r} is not a number of GPUs; set it to e.g. 1 or 0.5, "
                            f"or unset it to run jobs without GPUs")
    return value


def task_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The driver's BENCHKIT_* variables (paths made absolute) and thread limits, for Ray's runtime_env."""
    environ = dict(os.environ if environ is None else environ)
    env = {k: v for k, v in environ.items() if k.startswith("BENCHKIT_") or k in THREAD_VARS}
    for key in PATH_VARS:
        if env.get(key):
            env[key] = str(Path(env[key]).expanduser().absolute())
    return env


def portable(job: Any) -> Any:
    """The job with its dataset paths made absolute, since worker nodes do not share this process's cwd."""
    changes = {}
    for name in ("dataset_root", "data_root"):
        value = getattr(job, name, None)
        if value:
            changes[name] = str(Path(value).expanduser().absolute())
    extra = getattr(job, "extra_datasets", None)
    if extra:
        changes["extra_datasets"] = {k: str(Path(v).expanduser().absolute()) for k, v in extra.items()}
    return dataclasses.replace(job, **changes) if changes else job


def run_on_node(work: Callable[[Any], Any], job: Any) -> Any:
    """Body of the Ray task: run the job and return its result (Ray ships it back to the driver)."""
    result = work(job)
    if result is None:
        raise RuntimeError(f"the job returned no result (on {os.uname().nodename})")
    return result


def describe_failure(exc: BaseException) -> str:
    """One line saying why a task did not return (the first line is what `benchkit run` prints), then details."""
    import ray.exceptions as rex

    name = type(exc).__name__
    if isinstance(exc, rex.OutOfMemoryError):
        head = "Ray killed the job's worker process: the node ran out of memory"
    elif isinstance(exc, rex.WorkerCrashedError):
        head = "the job's Ray worker process died (killed, out of memory or crashed)"
    elif isinstance(exc, rex.RayTaskError):
        cause = getattr(exc, "cause", None)
        lines = str(cause).strip().splitlines() or [""]
        head = f"the Ray task raised {type(cause).__name__}: {lines[0]}"
    elif isinstance(exc, rex.TaskCancelledError):
        head = "the Ray task was cancelled"
    else:
        head = f"the Ray task failed ({name})"
    return f"{head}\n{name}: {exc}"


class RayExecutor(Executor):
    """max_calls=1: a fresh Ray worker process per job, so the spec says ``isolates_jobs``."""

    def __init__(self, workers: int = 1, address: str | None = None) -> None:
        super().__init__(workers)  # cheap: Ray is reached in `run`
        self.address = address

    def run(self, jobs: Sequence[Any], work: Callable[[Any], Any]) -> Iterator[tuple[Any, Any, str | None]]:
        import ray

        jobs = list(jobs)
        if not jobs:
            return
        gpus = gpus_per_job()
        threads = max(float(getattr(job, "threads", 1)) for job in jobs)
        connection = self._connect(ray, threads)
        task = ray.remote(max_calls=1, max_retries=0)(run_on_node)  # max_calls cannot be set in .options()
        options = {"num_gpus": gpus, "runtime_env": {"env_vars": task_env()}}
        pending = jobs[::-1]
        running: dict[Any, Any] = {}  # Ray object ref -> job
        try:
            self._check_fits(ray, threads, gpus, strict=connection == "started")
            while pending or running:
                while pending and len(running) < self.workers:
                    job = pending.pop()
                    cpus = float(getattr(job, "threads", 1))
                    running[task.options(**options, num_cpus=cpus).remote(work, portable(job))] = job
                ready, _ = ray.wait(list(running), num_returns=1)
                for ref in ready:
                    job = running.pop(ref)
                    yield (job, *self._collect(ray, ref))
        finally:
            for ref in running:  # interrupted (Ctrl-C) or the caller stopped: do not leave jobs running
                ray.cancel(ref, force=True)
            if connection != "reused":
                ray.shutdown()  # stops a cluster started here; only disconnects from a joined one

    def _connect(self, ray: Any, threads: float) -> str:
        """Start a local cluster ("started"), join one ("joined") or use the caller's connection ("reused")."""
        if ray.is_initialized():
            return "reused"
        address = cluster_address(self.address)
        if address is None:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a private cluster phones nobody
            ray.init(address="local", num_cpus=max(1, round(self.workers * threads)), include_dashboard=False,
                     logging_level=logging.WARNING)
            return "started"
        try:
            ray.init(address=address, logging_level=logging.WARNING)
        except ConnectionError as exc:
            raise BenchkitError(f"cannot join the Ray cluster at {address!r} (from the executor's address, "
                                f"$BENCHKIT_RAY_ADDRESS or $RAY_ADDRESS): {exc}; start it with `ray start --head` "
                                f"or unset these to run on a local Ray cluster") from None
        return "joined"

    @staticmethod
    def _check_fits(ray: Any, cpus: float, gpus: float, strict: bool) -> None:
        """Ray waits forever for a task no node can hold: say so. Only a warning on a joined cluster, whose
        autoscaler may still add a node that fits."""
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        if any(n.get("CPU", 0) >= cpus and n.get("GPU", 0) >= gpus for n in nodes):
            return
        sizes = ", ".join(f"{n.get('CPU', 0):g} CPUs/{n.get('GPU', 0):g} GPUs" for n in nodes) or "none"
        message = (f"no node of the Ray cluster can run a job needing {cpus:g} CPUs and {gpus:g} GPUs (nodes: "
                   f"{sizes}); lower --threads or $BENCHKIT_RAY_GPUS_PER_JOB, or add nodes that big")
        if strict:
            raise BenchkitError(message)
        warnings.warn(message + "; jobs wait until such a node joins", stacklevel=2)

    @staticmethod
    def _collect(ray: Any, ref: Any) -> tuple[Any, str | None]:
        """(the task's result, None), or (None, why the task did not return)."""
        try:
            return ray.get(ref), None
        except ray.exceptions.RayError as exc:
            return None, describe_failure(exc)
