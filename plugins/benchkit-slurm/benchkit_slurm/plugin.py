"""Entry-point module: registers the ``slurm`` executor. submitit itself is imported only when jobs run."""

from __future__ import annotations

from benchkit import ExecutorSpec, hookimpl


def make_slurm(**options):
    from benchkit_slurm.executor import SlurmExecutor

    return SlurmExecutor(**options)


@hookimpl
def register_executors(register):
    register(ExecutorSpec("slurm", "1", "Every job a SLURM task through submitit (--executor-option partition=..., "
                                        "time=MIN, gpus=N, mem=GB, cluster=local to try it here)", make_slurm,
                          isolates_jobs=True))
