"""The driver: runs planned jobs through an executor, scores what they return and writes one record per job.

Only the driver writes records (atomically), so a record on disk is always complete. A job whose record already
exists with the same config hash and status ok or skipped is not run again, which makes an interrupted run resume
where it stopped. A worker that dies (killed, out of memory) gets a ``failed`` record saying so; the other jobs go
on. The answers are loaded and scored in a process of their own that imports no detector plugin (`benchkit.answers`);
the driver gets back plain values (metrics, counts, intervals, per-sample scores) and writes the record.
"""

from __future__ import annotations

import os
import signal
import threading
import traceback
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchkit import __version__, provenance
from benchkit.answers import Answers, IsolatedAnswers, answers_for
from benchkit.blinding import remove_inputs
from benchkit.claims import Claims
from benchkit.executors import DEFAULT_TIMEOUT
from benchkit.jobs import Job, NotRun
from benchkit.plugins import Registry, get_registry
from benchkit.results import BackboneUse, Efficiency, ErrorInfo, Provenance, Record, write_record
from benchkit.worker import WorkerResult, execute_job


@dataclass
class Summary:
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    cached: int = 0
    elsewhere: int = 0  # claimed by another run into the same results folder, left to it
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

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
                threads: int | None = None, scored_in: str | None = None, **fields: Any) -> Record:
    """A record for a job, with provenance of this machine (shared by `run` and `evaluate`). ``scored_in``: where
    its metrics were computed (`benchkit.answers`)."""
    registry = get_registry()
    owners = {registry.owner.get(("detectors", job.detector.partition(":")[0])),
              registry.owner.get(("datasets", job.dataset))}
    prov = provenance.collect(threads=job.threads if threads is None else threads, device=device,
                              executor=job.executor, extra_packages=tuple(sorted(o for o in owners if o)))
    prov["detector_plugin"] = provenance.plugin_ref(registry.owner.get(("detectors", job.detector.partition(":")[0])))
    if scored_in is not None:
        prov["scored_in"] = scored_in
    return Record(benchkit_version=__version__, job=job.info, status=status, error=error,
                  incomplete=job.incomplete, provenance=Provenance(**prov), **fields)


def job_record(job: Job, result: WorkerResult, answers: Answers | IsolatedAnswers) -> Record:
    """The record of a blinded job (the one its worker got) from its worker's result, scored by ``answers``."""
    common = dict(device=result.device, threads=result.threads, duration_seconds=result.duration_seconds,
                  backbones=[BackboneUse(**b) for b in result.backbones], weights=weights_of(result.backbones))
    eff = Efficiency(**result.efficiency) if result.efficiency else Efficiency()
    if result.status != "ok":
        answers.forget(job)
        return make_record(job, result.status, error=ErrorInfo(**result.error), efficiency=eff, **common)
    try:
        score = answers.score(job, result.predictions)
    except Exception as exc:  # noqa: BLE001 - a bad prediction fails its job, not the run
        answers.forget(job)
        return make_record(job, "failed", efficiency=eff, **common, error=ErrorInfo(
            type=type(exc).__name__, message=str(exc), traceback=traceback.format_exc()))
    return make_record(job, "ok", counts=score.counts, metrics=score.metrics, intervals=score.intervals,
                       samples=score.samples, efficiency=eff, scored_in=answers.where, **common)


def _inputs_parent() -> Path:
    """Where blinded test inputs are written (removed when their job ends): under the cache folder, which workers
    on other machines share with the driver like the data."""
    from benchkit.paths import cache_dir

    folder = cache_dir() / "inputs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _crash_record(job: Job, crash: str) -> Record:
    kind = getattr(crash, "kind", "WorkerCrash")  # a `benchkit.executors.Crash`, or a plain string
    return make_record(job, "failed", device="unknown", error=ErrorInfo(type=kind, message=str(crash)))


def _up_to_date(path: str | Path, digest: str) -> str | None:
    """Status of an existing record for the same config (ok/skipped only) that passes the strict checks of
    `benchkit.validation` (a tampered or broken record is run again), else None."""
    from benchkit.validation import check_file

    if not os.path.exists(path):
        return None
    check = check_file(path)
    if check.ok and check.record.job.config_hash == digest and check.record.status in ("ok", "skipped"):
        return check.record.status
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


class Stopped(KeyboardInterrupt):
    """The driver got SIGTERM or SIGHUP: handled like Ctrl-C (jobs ended, finished records kept)."""


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGTERM (schedulers, `timeout`) and SIGHUP (a closed terminal) unwind the driver like Ctrl-C, so the
    executor ends its workers on the way out instead of leaving them running."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, _frame):
        raise Stopped(f"stopped by {signal.Signals(signum).name}")

    wanted = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None]
    previous = {s: signal.signal(s, stop) for s in wanted}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _fold_duplicates(jobs: Sequence[Job], summary: Summary) -> list[Job]:
    """One job per record: the same job asked for twice (a repeated seed or detector) runs once."""
    seen: dict[str, Job] = {}
    for job in jobs:
        first = seen.setdefault(job.record_path, job)
        if first is not job and first.config_hash != job.config_hash:
            summary.notes.append(f"{job.describe()}: asked for twice with different configurations; the first is run")
    return list(seen.values())


def largest_first(jobs: Sequence[Job]) -> list[Job]:
    """Jobs with the most samples first (stable for ties). With several workers, a big job (a unified model over
    every category) started last leaves the others idle while it runs; starting the longest jobs first keeps the
    workers busy to the end (longest-processing-time-first scheduling). Sample count is the only cost known before
    running."""
    return sorted(jobs, key=lambda job: -(len(job.plan.train) + len(job.plan.test)))


def build_executor(registry: Registry, name: str, workers: int, options: dict[str, Any] | None = None):
    """The named executor with its options (``--executor-option``); an option its factory does not take is a usage
    error naming the valid ones."""
    import inspect

    from benchkit.errors import UsageError

    spec = registry.get("executors", name)
    options = dict(options or {})
    try:
        params = inspect.signature(spec.factory).parameters
    except (TypeError, ValueError):
        params = {}
    if options and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(options) - set(params))
        if unknown:
            valid = sorted(set(params) - {"workers", "self"})
            raise UsageError(f"--executor-option {', '.join(unknown)}: not an option of executor {name}; "
                             f"valid: {', '.join(valid) or 'none'}")
    try:
        return spec.factory(workers=workers, **options)
    except TypeError as exc:
        raise UsageError(f"--executor-option for executor {name}: {exc}") from None


def run_jobs(jobs: Sequence[Job], not_run: Sequence[NotRun], executor_name: str, workers: int,
             registry: Registry | None = None, progress: bool = True, *, timeout: float | None = DEFAULT_TIMEOUT,
             max_memory_mb: float | None = None, executor_options: dict[str, Any] | None = None) -> Summary:
    """Run the jobs not already done and write their records. ``timeout`` (seconds) and ``max_memory_mb`` are per
    job; a job past them is ended and recorded as failed. Jobs another run into the same folder holds are left to
    it (``Summary.elsewhere``)."""
    registry = registry or get_registry()
    summary = Summary()
    for item in not_run:
        if item.status == "skipped" and _up_to_date(item.record_path, item.info.config_hash):
            summary.cached += 1
            continue
        _write_not_run(item)
        summary.count(item.status, f"{item.info.detector} on {item.info.dataset} ({item.info.setting}): {item.reason}")
    todo = []
    for job in _fold_duplicates(jobs, summary):
        if _up_to_date(job.record_path, job.config_hash):
            summary.cached += 1
        else:
            todo.append(job)
    if not todo:
        return summary
    todo = largest_first(todo)
    set_thread_env(todo[0].threads)
    executor = build_executor(registry, executor_name, workers, executor_options)
    executor.timeout, executor.max_memory_mb = timeout, max_memory_mb
    if not executor.enforces_limits and (max_memory_mb or timeout != DEFAULT_TIMEOUT):
        summary.notes.append(f"executor {executor_name} does not enforce --timeout or --max-memory")
    answers = answers_for(registry, sorted({job.dataset for job in todo}),
                          isolate=registry.get("executors", executor_name).isolates_jobs)
    claims = Claims()
    blinded: dict[str, Job] = {}  # record path -> the blinded job sent to its worker
    bar = _progress(len(todo), progress)

    def claimed() -> Iterator[Job]:
        """Jobs as the executor takes them, each claimed first; one done or claimed meanwhile is passed over."""
        for job in todo:
            if not claims.take(job.record_path):
                summary.elsewhere += 1
                bar.update(1)
                continue
            if _up_to_date(job.record_path, job.config_hash):  # finished by another run since planning
                claims.release(job.record_path)
                summary.cached += 1
                bar.update(1)
                continue
            try:
                sent = answers.blind(job, _inputs_parent())
            except Exception as exc:  # noqa: BLE001 - unreadable test data fails this job, not the run
                record = make_record(job, "failed", error=ErrorInfo(type=type(exc).__name__, message=str(exc),
                                                                  traceback=traceback.format_exc()))
                write_record(record, job.record_path)
                claims.release(job.record_path)
                summary.count("failed", _failure_line(job, record))
                bar.update(1)
                continue
            blinded[job.record_path] = sent
            yield sent

    try:
        with _stop_on_signals(), closing(executor.run(claimed(), execute_job)) as ended:
            for sent, result, crash in ended:
                job = blinded.pop(sent.record_path)
                if crash is not None:
                    answers.forget(job)
                    record = _crash_record(job, crash)
                else:
                    record = job_record(job, result, answers)
                write_record(record, job.record_path)
                claims.release(job.record_path)
                summary.count(record.status, _failure_line(job, record))
                bar.update(1)
                bar.set_postfix(ok=summary.ok, failed=summary.failed, skipped=summary.skipped, refresh=False)
    finally:
        for job in blinded.values():  # stopped early: inputs of jobs that never ended
            remove_inputs(job.inputs)
        answers.close()
        claims.release_all()
        bar.close()
    if summary.elsewhere:
        summary.notes.append(f"{summary.elsewhere} job(s) left to another run writing into the same results folder")
    return summary


def _failure_line(job: Job, record: Record) -> str:
    err = record.error
    message = f"{err.type}: {err.message}" if err else "unknown error"
    first = message.strip().splitlines()[0] if message.strip() else message
    return f"{job.describe()}: {first}"


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    from benchkit.terminal import progress_stream

    return tqdm(total=total, desc="jobs", unit="job", disable=not enabled, dynamic_ncols=True, file=progress_stream())


def iter_variant_names(registry: Registry) -> Iterator[str]:
    for spec in registry.detectors.values():
        yield from spec.variant_names()
