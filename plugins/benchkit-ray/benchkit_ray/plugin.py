"""Entry-point module: registers the ``ray`` executor. Ray itself is imported only when jobs run."""

from __future__ import annotations

from benchkit import ExecutorSpec, hookimpl

from benchkit_ray.executor import RayExecutor


@hookimpl
def register_executors(register):
    register(ExecutorSpec("ray", "1", "Every job a Ray task (fresh worker process) on $BENCHKIT_RAY_ADDRESS's cluster "
                                      "or a local one; --workers jobs in flight", RayExecutor, isolates_jobs=True))
