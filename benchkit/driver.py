"""The driver: runs planned jobs through an executor, scores what they return and writes one record per job.

Only the driver writes records (atomically), so a record on disk is always complete. A job whose record already
exists with the same config hash and status ok or skipped is not run again, which makes an interrupted run resume
where it stopped. A worker that dies (killed, out of memory) gets a ``failed`` record saying so; the other jobs go
on. Scoring happens here, in the driver's process, which runs no detector code (see `benchkit.scoring`).
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchkit import __version__, provenance
from benchkit.datasets import Dataset
from benchkit.jobs import Job, NotRun
from benchkit.plugins import Registry, get_registry
from benchkit.results import (BackboneUse, Efficiency, ErrorInfo, Provenance, Record, RecordError, SampleScore,
                              load_record, write_record)
from benchkit.scoring import sample_counts, score_metrics, score_predictions
from benchkit.stats import bootstrap_intervals
from benchkit.worker import WorkerResult, execute_job


@dataclass
class Summary:
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    cached: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def count(self, status: str, line: str) -> None:
        if status == "failed":
            self.failed += 1
            self.failures.append(line)
        elif status == "skipped":
            self.skipped += 1
        else:
            self.ok += 1


def weights_of(backbones: Sequence[dict[str, Any]]) -> str:
    """The record's weights kind, from what the harness built: random-init wins over pretrained over none."""
    kinds = {b.get("weights") for b in backbones}
    return next((k for k in ("random-init", "pretrained") if k in kinds), "none")


def make_record(job: Job, status: str, *, error: ErrorInfo | None = None, device: str = "cpu",
                threads: int | None = None, **fields: Any) -> Record:
    """A record for a job, with provenance of this machine (shared by `run` and `evaluate`)."""
    registry = get_registry()
    owners = {registry.owner.get(("detectors", job.detector.partition(":")[0])),
              registry.owner.get(("datasets", job.dataset))}
    prov = provenance.collect(threads=job.threads if threads is None else threads, device=device,
                              executor=job.executor, extra_packages=tuple(sorted(o for o in owners if o)))
    return Record(benchkit_version=__version__, job=job.info, status=status, error=error,
                  incomplete=job.incomplete, provenance=Provenance(**prov), **fields)


class _Scorer:
    """Scores workers' results; keeps each dataset reader open across the jobs of a run."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._readers: dict[tuple[str, str], Dataset] = {}

    def reader(self, job: Job) -> Dataset:
        key = (job.dataset, job.dataset_root)
        if key not in self._readers:
            spec = self.registry.get("datasets", job.dataset)
            self._readers[key] = spec.open(job.dataset_root, **job.dataset_options.get(job.dataset, {}))
        return self._readers[key]

    def record(self, job: Job, result: WorkerResult) -> Record:
        common = dict(device=result.device, threads=result.threads, duration_seconds=result.duration_seconds,
                      backbones=[BackboneUse(**b) for b in result.backbones], weights=weights_of(result.backbones))
        eff = Efficiency(**result.efficiency) if result.efficiency else Efficiency()
        if result.status != "ok":
            return make_record(job, result.status, error=ErrorInfo(**result.error), efficiency=eff, **common)
        try:
            scored = score_predictions(job, self.reader(job), job.plan.test, result.predictions)
            return make_record(
                job, "ok", counts=sample_counts(job.plan, scored), metrics=score_metrics(scored),
                intervals=bootstrap_intervals(scored.labels, scored.scores, scored.categories, scored.gts,
                                              scored.maps, seed=job.seed),
                efficiency=eff, **common,
                samples=[SampleScore(id=i, category=c, label=lab, score=s) for i, c, lab, s in
                         zip(scored.ids, scored.categories, scored.labels, scored.scores)],
            )
        except Exception as exc:  # noqa: BLE001 - a bad prediction fails its job, not the run
            return make_record(job, "failed", efficiency=eff, **common, error=ErrorInfo(
                type=type(exc).__name__, message=str(exc), traceback=traceback.format_exc()))


def _crash_record(job: Job, crash: str) -> Record:
    return make_record(job, "failed", device="unknown", error=ErrorInfo(type="WorkerCrash", message=crash))


def _up_to_date(path: str | Path, digest: str) -> str | None:
    """Status of an existing record for the same config (ok/skipped only), else None."""
    try:
        record = load_record(path)
    except RecordError:
        return None
    if record.job.config_hash == digest and record.status in ("ok", "skipped"):
        return record.status
    return None


def _write_not_run(item: NotRun) -> None:
    prov = provenance.collect(threads=1, device="cpu", executor="none")
    record = Record(benchkit_version=__version__, job=item.info, status=item.status,
                    error=ErrorInfo(type=item.error_type, message=item.reason), provenance=Provenance(**prov))
    write_record(record, item.record_path)


def set_thread_env(threads: int) -> None:
    """Worker processes inherit these; BLAS/OpenMP read them when they load, before any job code runs."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(threads)


def run_jobs(jobs: Sequence[Job], not_run: Sequence[NotRun], executor_name: str, workers: int,
             registry: Registry | None = None, progress: bool = True) -> Summary:
    registry = registry or get_registry()
    summary = Summary()
    for item in not_run:
        if item.status == "skipped" and _up_to_date(item.record_path, item.info.config_hash):
            summary.cached += 1
            continue
        _write_not_run(item)
        summary.count(item.status, f"{item.info.detector} on {item.info.dataset} ({item.info.setting}): {item.reason}")
    todo = []
    for job in jobs:
        if _up_to_date(job.record_path, job.config_hash):
            summary.cached += 1
        else:
            todo.append(job)
    if not todo:
        return summary
    set_thread_env(todo[0].threads)
    executor = registry.get("executors", executor_name).factory(workers=workers)
    scorer = _Scorer(registry)
    bar = _progress(len(todo), progress)
    try:
        for job, result, crash in executor.run(todo, execute_job):
            record = _crash_record(job, crash) if crash is not None else scorer.record(job, result)
            write_record(record, job.record_path)
            summary.count(record.status, _failure_line(job, record))
            bar.update(1)
            bar.set_postfix(ok=summary.ok, failed=summary.failed, skipped=summary.skipped, refresh=False)
    finally:
        bar.close()
    return summary


def _failure_line(job: Job, record: Record) -> str:
    err = record.error
    message = f"{err.type}: {err.message}" if err else "unknown error"
    first = message.strip().splitlines()[0] if message.strip() else message
    return f"{job.describe()}: {first}"


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="jobs", unit="job", disable=not enabled, dynamic_ncols=True)


def iter_variant_names(registry: Registry) -> Iterator[str]:
    for spec in registry.detectors.values():
        yield from spec.variant_names()
