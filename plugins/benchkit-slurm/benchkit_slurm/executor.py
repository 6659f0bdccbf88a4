"""The ``slurm`` executor: each benchkit job is one SLURM task, submitted as a job array through submitit.

Options (``benchkit run --executor slurm --executor-option KEY=VALUE``):

- ``partition``: the SLURM partition; ``time``: wall-time limit per job in minutes (default 60); ``gpus``: GPUs per
  job (default 0); ``mem``: memory per job in GB (default: the partition's); ``cpus``: CPUs per job (default: the
  job's ``--threads``); ``account``, ``qos``, ``constraint``: passed to sbatch as they are.
- ``folder``: where submitit keeps each task's pickled job, result and logs; it must be on a filesystem the nodes
  share (default ``$BENCHKIT_CACHE/slurm``). Every submission gets a subfolder of its own.
- ``cluster``: ``slurm`` (default when ``sbatch`` is on the PATH) or ``local``, which runs the same tasks as local
  subprocesses through submitit's own local executor, to try a setup without a cluster.

``--workers`` is the array's parallelism: at most that many jobs run at once (``slurm_array_parallelism``).
A task runs ``benchkit.worker.execute_job`` and its result (predictions and measurements) comes back through
submitit's result file; this process scores it and writes the record, like every executor. A task that SLURM kills
(time limit, memory, node failure) or that dies is recorded as a failed job with submitit's explanation. Datasets,
weights and the cache are read on the nodes at the same absolute paths (``$BENCHKIT_DATA``, ``$BENCHKIT_WEIGHTS``,
``$BENCHKIT_CACHE``); sbatch exports the submitting shell's environment by default, so the driver's ``BENCHKIT_*``
variables and thread limits reach the tasks.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from benchkit import BenchkitError, Executor, cache_dir

POLL_SECONDS = 1.0


class SlurmExecutor(Executor):
    def __init__(self, workers: int = 1, partition: str | None = None, time: int = 60, gpus: int = 0,
                 mem: float | None = None, cpus: int | None = None, account: str | None = None,
                 qos: str | None = None, constraint: str | None = None, folder: str | None = None,
                 cluster: str | None = None) -> None:
        super().__init__(workers)
        if cluster not in (None, "slurm", "local"):
            raise BenchkitError(f"slurm executor: cluster={cluster!r}; use slurm or local")
        for name, value in (("time", time), ("gpus", gpus)):
            if not isinstance(value, int) or value < 0:
                raise BenchkitError(f"slurm executor: {name}={value!r} must be a non-negative whole number")
        self.partition, self.time, self.gpus, self.mem, self.cpus = partition, time, gpus, mem, cpus
        self.account, self.qos, self.constraint = account, qos, constraint
        self.folder = Path(folder) if folder else cache_dir() / "slurm"
        self.cluster = cluster or ("slurm" if shutil.which("sbatch") else None)

    def _executor(self, threads: int):
        import submitit

        if self.cluster is None:
            raise BenchkitError("slurm executor: no `sbatch` on this machine's PATH; run on a SLURM login node, or "
                                "pass --executor-option cluster=local to run the tasks here through submitit")
        folder = self.folder / time.strftime("%Y%m%d-%H%M%S") / "%j"
        executor = submitit.AutoExecutor(folder=folder, cluster=self.cluster)
        params: dict[str, Any] = {"timeout_min": self.time, "cpus_per_task": self.cpus or threads,
                                  "slurm_array_parallelism": self.workers, "name": "benchkit"}
        if self.gpus:
            params["gpus_per_node"] = self.gpus
        if self.mem is not None:
            params["mem_gb"] = self.mem
        sbatch = {"partition": self.partition, "account": self.account, "qos": self.qos,
                  "constraint": self.constraint}
        params.update({f"slurm_{k}": v for k, v in sbatch.items() if v is not None})
        if self.cluster == "local":  # submitit's local executor knows only the generic parameters
            params = {k: v for k, v in params.items() if not k.startswith("slurm_")}
        executor.update_parameters(**params)
        return executor

    def run(self, jobs: Sequence[Any], work: Callable[[Any], Any]) -> Iterator[tuple[Any, Any, str | None]]:
        jobs = list(jobs)
        if not jobs:
            return
        executor = self._executor(max(int(getattr(job, "threads", 1)) for job in jobs))
        waiting: list[Any] = []
        if self.cluster == "local":  # no array there: submit --workers tasks at a time, like SLURM's parallelism
            waiting = jobs[::-1]
            pending: dict[Any, Any] = {}
        else:
            pending = dict(zip(executor.map_array(work, jobs), jobs))
        try:
            while pending or waiting:
                while waiting and len(pending) < self.workers:
                    job = waiting.pop()
                    pending[executor.submit(work, job)] = job
                for task in [t for t in pending if t.done()]:
                    yield (pending.pop(task), *self._collect(task))
                if pending:
                    time.sleep(POLL_SECONDS)
        finally:
            for task in pending:  # interrupted: do not leave tasks queued or running
                task.cancel(check=False)

    @staticmethod
    def _collect(task: Any) -> tuple[Any, str | None]:
        """(the task's result, None), or (None, why it did not return), from submitit's record of the task."""
        try:
            return task.result(), None
        except Exception as exc:  # submitit raises FailedJobError / UncompletedJobError with SLURM's reason
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            return None, f"the SLURM task {task.job_id} did not return ({type(exc).__name__}): {lines[0]}\n{exc}"
