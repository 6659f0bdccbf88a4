"""The answer process: the one place a run loads test samples with their answers, and scores predictions.

Everything that touches a test sample's answers (labels, defect types, ground truth) happens in `Answers`: writing
a job's blinded test inputs before its worker starts (`benchkit.blinding`) and, when the worker has returned,
scoring its predictions (`benchkit.scoring`) and drawing the job's thumbnails. The driver imports every plugin,
detector plugins included, to plan, so code a detector plugin runs at import time (patching `benchkit.metrics`,
say) would run beside the answers if they were scored there. `IsolatedAnswers` therefore runs `Answers` in a
process of its own, started by *spawn* (a fresh interpreter, not a fork of the driver) with a registry of only the
plugins that register the run's datasets (`build_registry(only=...)`), reused for every job of the run. The driver
gets back plain values (`JobScore`) and writes the record. The inline executor, which runs detectors in the
driver's process anyway, scores there (`Answers` itself); records say which (``provenance.scored_in``).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import pickle
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchkit.blinding import in_plan_order, remove_inputs, write_test_inputs
from benchkit.datasets import Dataset
from benchkit.errors import BenchkitError
from benchkit.jobs import Job
from benchkit.plugins import Registry, build_registry, plugin_modules
from benchkit.results import Counts, SampleScore
from benchkit.sample import SampleRef
from benchkit.scoring import Predictions, ScoredSamples, sample_counts, score_metrics, score_predictions
from benchkit.settings import Plan


class ScoringProcessDied(BenchkitError):
    """The answer process ended while it was working on a job (killed, out of memory)."""


@dataclass
class JobScore:
    """What scoring hands the driver for one job's record (plain, picklable values)."""

    counts: dict[str, Counts]
    metrics: dict[str, dict[str, float | None]]
    intervals: dict[str, Any]
    samples: list[SampleScore]

    @classmethod
    def of(cls, plan: Plan, scored: ScoredSamples, metrics: Sequence[str] | None, seed: int) -> JobScore:
        """The score of a job's answered test samples: counts, metrics, bootstrap intervals, per-sample scores."""
        from benchkit.stats import bootstrap_intervals

        return cls(
            counts=sample_counts(plan, scored), metrics=score_metrics(scored, metrics),
            intervals=bootstrap_intervals(scored.labels, scored.scores, scored.categories, scored.gts, scored.maps,
                                          seed=seed),
            samples=[SampleScore(id=i, category=c, label=lab, score=s)
                     for i, c, lab, s in zip(scored.ids, scored.categories, scored.labels, scored.scores)])


class Answers:
    """Blinds jobs and scores them; keeps each dataset reader open, and each blinded job's test refs and
    presentation order only until the job is scored (or forgotten)."""

    where = "driver"  # what records say in ``provenance.scored_in`` when this runs in the driver's process

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._readers: dict[tuple[str, str], Dataset] = {}
        self._pending: dict[str, tuple[list[SampleRef], list[int]]] = {}  # record path -> (test refs, order)

    def reader(self, job: Job) -> Dataset:
        key = (job.dataset, job.dataset_root)
        if key not in self._readers:
            spec = self.registry.get("datasets", job.dataset)
            self._readers[key] = spec.open(job.dataset_root, **job.dataset_options.get(job.dataset, {}))
        return self._readers[key]

    def blind(self, job: Job, parent: str | Path | None = None) -> Job:
        """The job as its worker gets it: test inputs written under opaque ids in a seeded shuffled order (in a new
        folder under ``parent``) and no test refs in its plan."""
        inputs, order = write_test_inputs(self.reader(job), job.plan.test, seed=job.seed, key=job.config_hash,
                                          hide_category=job.plan.hide_category, parent=parent)
        self._pending[job.record_path] = (list(job.plan.test), order)
        return dataclasses.replace(job, plan=dataclasses.replace(job.plan, test=[]), inputs=inputs)

    def forget(self, job: Job) -> None:
        """Drop what `blind` kept for a job that ended without predictions, and its inputs."""
        self._pending.pop(job.record_path, None)
        remove_inputs(job.inputs)

    def score(self, job: Job, predictions: Predictions) -> JobScore:
        """Score the predictions of a blinded job (made in presentation order) and draw its thumbnails. ``job`` is
        the job `blind` returned."""
        from benchkit.thumbnails import save_job_thumbnails

        if job.record_path not in self._pending:
            raise BenchkitError(f"{job.describe()}: the scoring process was restarted after this job's inputs were "
                                f"written, so its presentation order is lost; run again to score it")
        refs, order = self._pending.pop(job.record_path)
        remove_inputs(job.inputs)
        predictions = in_plan_order(predictions, order)
        reader = self.reader(job)
        scored = score_predictions(job, reader, refs, predictions)
        save_job_thumbnails(job.record_path, reader, refs, predictions.maps)
        return JobScore.of(dataclasses.replace(job.plan, test=refs), scored, job.metrics, job.seed)

    def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(registry, *args)`` with this process's registry: scoring that is not a blinded job's, such as
        `benchkit evaluate`'s. ``function`` is module-level, so that it reaches an isolated process by name."""
        return function(self.registry, *args)

    def close(self) -> None:
        self._pending.clear()


_answers: Answers | None = None  # the answer process's own `Answers`


def _start(modules: tuple[str, ...]) -> None:
    global _answers
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the driver ends this process
    _answers = Answers(build_registry(only=modules))
    threading.Thread(target=_exit_with_parent, daemon=True).start()


def _exit_with_parent() -> None:
    """End this process when the driver dies, even by SIGKILL (its sentinel then becomes ready): no answer process
    outlives its run."""
    from multiprocessing.connection import wait

    wait([multiprocessing.parent_process().sentinel])
    os._exit(1)


def _call(method: str, *args: Any) -> Any:
    try:
        return getattr(_answers, method)(*args)
    except Exception as exc:
        try:  # an exception the driver could not unpickle would break the pool: sent as its type and message
            pickle.loads(pickle.dumps(exc))
        except Exception:  # noqa: BLE001
            raise BenchkitError(f"{type(exc).__name__}: {exc}") from exc
        raise


class IsolatedAnswers:
    """`Answers` in a spawned process whose registry holds only ``modules`` (the plugins of the run's datasets)."""

    where = "isolated"

    def __init__(self, modules: Sequence[str]) -> None:
        self.modules = tuple(modules)
        self._pool: ProcessPoolExecutor | None = None

    def _run(self, method: str, *args: Any) -> Any:
        if self._pool is None:  # started on first use; again after a crash
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                                             initargs=(self.modules,))
        try:
            return self._pool.submit(_call, method, *args).result()
        except BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            raise ScoringProcessDied("the scoring process died while working on this job (killed or out of "
                                     "memory); run again to score it") from None

    def blind(self, job: Job, parent: str | Path | None = None) -> Job:
        return self._run("blind", job, parent)

    def forget(self, job: Job) -> None:
        if self._pool is not None:
            self._run("forget", job)
        remove_inputs(job.inputs)

    def score(self, job: Job, predictions: Predictions) -> JobScore:
        return self._run("score", job, predictions)

    def run(self, function: Callable[..., Any], *args: Any) -> Any:
        return self._run("run", function, *args)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def answers_for(registry: Registry, datasets: Sequence[str], *, isolate: bool) -> Answers | IsolatedAnswers:
    """Where a run's answers are handled: in an isolated process (``isolate``, and every dataset registered by a
    plugin that process can import by name), else in this one."""
    owners = [set(plugin_modules(registry, "datasets", name)) for name in datasets]
    modules = set().union(*owners)
    if isolate and all(owners) and modules <= registry.importable:
        return IsolatedAnswers(sorted(modules))
    return Answers(registry)
