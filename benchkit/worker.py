"""The worker: runs one job in the detector's process and hands back what it produced.

It loads the training samples, builds the detector, fits it, predicts every test sample one at a time (timed, after
one warm-up) and measures efficiency. Test samples arrive without answers: the driver wrote their inputs under
opaque ids, in a shuffled order (`benchkit.blinding`); this process never holds a test label, defect type or
ground truth. It never scores and never writes a record:
it returns a `WorkerResult` to the executor, which returns it to the driver. A job's own failure is part of the
result (status ``failed`` with the traceback), never an exception out of `execute_job`.
"""

from __future__ import annotations

import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any

from benchkit import efficiency, feature_cache
from benchkit.backbones import job_options
from benchkit.blinding import TrainingSamples, read_input
from benchkit.datasets import Dataset
from benchkit.detectors import Detector, Prediction
from benchkit.errors import SkipJob
from benchkit.jobs import Job
from benchkit.plugins import get_registry
from benchkit.sample import Sample
from benchkit.scoring import Predictions


@dataclass
class WorkerResult:
    """What a job produced, returned through the executor to the driver (picklable)."""

    status: str  # "ok", "failed" or "skipped"
    error: dict[str, Any] | None = None  # type, message, traceback
    predictions: Predictions | None = None
    efficiency: dict[str, Any] = field(default_factory=dict)
    backbones: list[dict[str, Any]] = field(default_factory=list)  # what `build_backbone` built (weights, digests)
    device: str = "cpu"
    threads: int | None = None  # thread count the job's libraries actually ran with
    duration_seconds: float = 0.0


def set_threads(threads: int) -> None:
    """The one place thread pools are sized: libraries already imported (e.g. preloaded by the fork server) follow
    the job's count; those imported later read the OMP/MKL/OpenBLAS variables the driver set."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if "faiss" in sys.modules:
        sys.modules["faiss"].omp_set_num_threads(threads)


def threads_in_use(default: int) -> int:
    """What actually ran: torch's pool size when torch was used, else the job's setting."""
    torch = sys.modules.get("torch")
    return int(torch.get_num_threads()) if torch is not None else default


def _open_datasets(job: Job) -> dict[str, Dataset]:
    registry = get_registry()
    roots = {job.dataset: job.dataset_root, **job.extra_datasets}
    return {name: registry.get("datasets", name).open(root, **job.dataset_options.get(name, {}))
            for name, root in roots.items()}


def _predict_one(detector: Detector, sample: Sample, name: str) -> tuple[float, Any]:
    preds = detector.predict([sample])
    if len(preds) != 1:
        raise ValueError(f"detector {name} returned {len(preds)} predictions for 1 sample")
    pred = preds[0]
    if not isinstance(pred, Prediction):
        raise TypeError(f"detector {name} returned {type(pred).__name__} for sample {sample.id}, not a Prediction")
    return float(pred.score), pred.map


def _predict_all(detector: Detector, job: Job, eff: dict[str, Any]) -> Predictions:
    """Predict every test sample one at a time (timed), after one warm-up sample (FLOPs counted there).

    Frozen features reused from the feature cache count as if computed: each timed call gets the stored compute
    seconds of the entries it reused added, and the warm-up's FLOPs those entries' stored FLOPs."""
    import math

    out = Predictions()
    latencies: list[float] = []
    modules = detector.torch_modules()
    if job.inputs is None:
        raise ValueError(f"{job.describe()}: no test inputs; the driver prepares them (benchkit.blinding)")
    for i in range(len(job.inputs)):
        visible = read_input(job.inputs, i)
        if i == 0:
            before = feature_cache.stats()
            with efficiency.flop_counter(modules) as flops:
                detector.predict([visible])
            features = feature_cache.stats() - before
            eff["flops_per_sample"] = flops()
            if eff["flops_per_sample"] is not None:
                eff["flops_per_sample"] += features.flops_reused
                eff["backbone_flops_per_sample"] = features.flops
                eff["head_flops_per_sample"] = max(eff["flops_per_sample"] - features.flops, 0.0)
            eff["flops_counter"] = efficiency.FLOP_COUNTER if eff["flops_per_sample"] is not None else None
            eff["warmup_samples"] = 1
        before = feature_cache.stats()
        (score, values), seconds = efficiency.timed(lambda v=visible: _predict_one(detector, v, job.detector),
                                                    job.device)
        seconds += (feature_cache.stats() - before).seconds_reused
        if not math.isfinite(score):
            raise ValueError(f"detector {job.detector} returned a non-finite score for sample {visible.id}")
        latencies.append(seconds)
        out.scores.append(score)
        out.maps.append(values)
    eff.update(efficiency.latency_summary(latencies))
    return out


def execute_job(job: Job) -> WorkerResult:
    """Run one job; never raises for the job's own failure (that is what the result's status and error are for)."""
    started = time.perf_counter()
    set_threads(job.threads)
    eff: dict[str, Any] = {"baseline_rss_mb": efficiency.current_rss_mb(), "rss_isolated": job.isolated}
    result = WorkerResult(status="ok", device=job.device)
    cache_before = feature_cache.stats()
    with job_options(allow_random_init=job.allow_random_init, device=job.device, seed=job.seed) as options:
        try:
            with warnings.catch_warnings():  # broken plugins were already reported by the driver
                warnings.simplefilter("ignore")
                registry = get_registry()
            datasets = _open_datasets(job)
            det_spec, _ = registry.detector_variant(job.detector)
            detector = det_spec.build(**job.detector_params)
            train = TrainingSamples(datasets, job.plan.train, hide_category=job.plan.hide_category, seed=job.seed,
                                    key=job.config_hash)
            efficiency.reset_gpu_peak(job.device)
            _, eff["fit_seconds"] = efficiency.timed(lambda: detector.fit(train), job.device)
            result.predictions = _predict_all(detector, job, eff)
            modules = detector.torch_modules()
            eff.update(parameters=efficiency.count_parameters(modules),
                       memory_bank_bytes=int(detector.memory_bank_bytes()), peak_gpu_mb=efficiency.gpu_peak_mb(job.device))
        except SkipJob as exc:
            result.status = "skipped"
            result.error = {"type": type(exc).__name__, "message": str(exc)}
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a job's failure is recorded, never propagated
            result.status = "failed"  # SystemExit too: a detector calling sys.exit() must not end the run
            result.predictions = None
            message = str(exc) if not isinstance(exc, SystemExit) else f"the detector called sys.exit({exc.code!r})"
            result.error = {"type": type(exc).__name__, "message": message, "traceback": traceback.format_exc()}
        result.backbones = list(options.built)
    eff["peak_rss_mb"] = efficiency.peak_rss_mb()
    eff["job_rss_mb"] = max(0.0, eff["peak_rss_mb"] - eff["baseline_rss_mb"])
    features = feature_cache.stats() - cache_before
    if features.entries_computed or features.entries_reused:
        eff.update(feature_cache="on" if feature_cache.enabled() else "off",
                   feature_seconds_computed=features.seconds_computed, feature_seconds_reused=features.seconds_reused,
                   feature_entries_computed=features.entries_computed, feature_entries_reused=features.entries_reused)
    result.efficiency = {k: v for k, v in eff.items() if v is not None}
    result.threads = threads_in_use(job.threads)
    result.device = efficiency.device_name(job.device)
    result.duration_seconds = time.perf_counter() - started
    return result
