"""The harness: turns detectors x datasets x settings x seeds into jobs, runs them, writes one record per job.

Planning happens in the calling process (it needs the dataset indexes); each job then runs through an executor,
by default in a fresh process of its own, and writes its own record atomically. A job's exception becomes a
``failed`` record with its traceback; the other jobs go on. A job whose record already exists with the same config
hash and status ok or skipped is not run again.
"""

from __future__ import annotations

import os
import time
import traceback
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchkit import __version__, efficiency, provenance
from benchkit.datasets import Dataset, DatasetSpec
from benchkit.detectors import Detector, Prediction
from benchkit.paths import cache_dir, data_root, weights_dir
from benchkit.errors import BenchkitError, MissingWeightsError, SkipJob, UsageError
from benchkit.plugins import Registry, get_registry
from benchkit.results import (
    Counts,
    Efficiency,
    ErrorInfo,
    JobInfo,
    Provenance,
    Record,
    RecordError,
    SampleScore,
    config_hash,
    load_record,
    write_record,
)
from benchkit.sample import Sample, SampleRef
from benchkit.settings import Plan
from benchkit.stats import bootstrap_intervals

DEFAULT_RESULTS = Path("benchkit-results")
ALL = "all"


# -- where things are -------------------------------------------------------------------------------------------
def dataset_root(spec: DatasetSpec, root: str | Path | None = None) -> Path:
    """Embedded datasets live in the cache; real ones under the data root, in a folder named like the dataset."""
    if spec.embedded:
        return cache_dir() / spec.name
    base = data_root(root)
    if base is None:
        raise UsageError(f"dataset {spec.name}: no data root; pass --data-root DIR or set BENCHKIT_DATA "
                         f"(a folder holding {spec.name}/ laid out as the original download)")
    return base / spec.name


def open_dataset(spec: DatasetSpec, root: str | Path, **options: Any) -> Dataset:
    dataset = spec.factory(Path(root), **options)
    dataset.name, dataset.version, dataset.modalities = spec.name, spec.version, spec.modalities
    return dataset


def _safe(name: str) -> str:
    return name.replace(":", "_").replace("/", "_")


def record_path(results: Path, dataset: str, setting: str, detector: str, category: str, seed: int) -> Path:
    return results / dataset / _safe(setting) / _safe(detector) / f"{_safe(category)}__seed{seed}.json"


# -- jobs ---------------------------------------------------------------------------------------------------------
@dataclass
class Job:
    """Everything a worker process needs to run one job (picklable: names, paths and sample refs only)."""

    detector: str
    dataset: str
    setting: str
    seed: int
    plan: Plan
    dataset_root: str
    data_root: str | None
    dataset_options: dict[str, dict[str, Any]]
    detector_params: dict[str, Any]
    config: dict[str, Any]
    config_hash: str
    record_path: str
    threads: int = 1
    executor: str = "local"
    isolated: bool = True
    incomplete: bool = False

    @property
    def info(self) -> JobInfo:
        return JobInfo(
            detector=self.detector, detector_version=self.config["detector"]["version"], dataset=self.dataset,
            dataset_version=self.config["dataset"]["version"], setting=self.setting, category=self.plan.category,
            seed=self.seed, config=self.config, config_hash=self.config_hash,
        )


@dataclass
class Skipped:
    """A combination that is not run, with the reason; it still gets a record so the leaderboard shows it."""

    info: JobInfo
    reason: str
    record_path: str
    status: str = "skipped"  # or "failed" when planning itself failed (bad data)
    error_type: str = "Incompatible"


def ids_digest(refs: Sequence[SampleRef]) -> str:
    return config_hash({"ids": [f"{r.dataset}/{r.category}/{r.split}/{r.id}" for r in refs]})


def _accepts(factory: Any, name: str) -> bool:
    import inspect

    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


@dataclass
class Planner:
    """Expands a request into jobs and skipped combinations."""

    registry: Registry
    results: Path
    data_root: Path | None = None
    allow_random_init: bool = False
    dataset_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # dataset name -> reader options
    threads: int = 1
    executor: str = "local"
    isolated: bool = True
    notes: list[str] = field(default_factory=list)  # messages for the user (datasets not found, ...)
    _datasets: dict[str, Dataset] = field(default_factory=dict)
    _unavailable: set[str] = field(default_factory=set)

    def available_datasets(self, names: Iterable[str]) -> dict[str, Dataset]:
        """Open and prepare the named datasets; those without a copy on disk are left out with a note."""
        for name in names:
            if name in self._datasets or name in self._unavailable:
                continue
            self._unavailable.add(name)  # until proven available below
            spec = self.registry.get("datasets", name)
            try:
                root = dataset_root(spec, self.data_root)
            except UsageError:
                self.notes.append(f"skipped dataset {name}: no data root (pass --data-root DIR or set BENCHKIT_DATA "
                                  f"to a folder holding {name}/ as downloaded)")
                continue
            try:
                dataset = open_dataset(spec, root, **self.dataset_options.get(name, {}))
            except (TypeError, ValueError) as exc:
                raise UsageError(f"--dataset-option for {name}: {exc}") from None
            if not dataset.is_available():
                self.notes.append(f"skipped dataset {name}: no copy at {root} (see `benchkit datasets info {name}`)")
                continue
            dataset.prepare()
            self._datasets[name] = dataset
            self._unavailable.discard(name)
        return self._datasets

    def expand(self, detectors: Sequence[str], datasets: Sequence[str], settings: Sequence[str],
               seeds: Sequence[int], category: str | None = None) -> tuple[list[Job], list[Skipped]]:
        sources = [n.partition(":")[2] for n in settings if n.startswith("zero-shot-cross-dataset:")]
        opened = self.available_datasets([*datasets, *(s for s in sources if s in self.registry.datasets)])
        jobs: list[Job] = []
        skipped: list[Skipped] = []
        for dataset_name in datasets:
            if dataset_name not in opened:
                continue
            dataset = opened[dataset_name]
            ds_spec = self.registry.get("datasets", dataset_name)
            if category is not None and category not in dataset.categories():
                raise UsageError(f"dataset {dataset_name} has no category {category!r}; "
                                 f"present: {', '.join(dataset.categories())}")
            for setting_name in settings:
                base, _, arg = setting_name.partition(":")
                setting = self.registry.get("settings", base).factory(arg or None)
                setting.name = setting_name
                if not setting.applies_to(dataset, opened):
                    continue
                for seed in seeds:
                    plans: list[Plan] | None = None
                    plan_error: BenchkitError | None = None
                    for det_name in detectors:
                        det_spec, backbone = self.registry.detector_variant(det_name)
                        reason = setting.incompatibility(det_spec, ds_spec)
                        if reason is not None:
                            skipped.append(self._skip(det_name, ds_spec, setting_name, seed, reason))
                            continue
                        reason = self.missing_weights(det_spec, backbone)
                        if reason is not None:
                            skipped.append(self._skip(det_name, ds_spec, setting_name, seed, reason,
                                                      error_type="MissingWeightsError"))
                            continue
                        if plans is None and plan_error is None:
                            try:
                                plans = setting.plan(dataset, seed=seed, datasets=opened)
                            except BenchkitError as exc:  # bad data: every job of this dataset/setting fails
                                plan_error = exc
                        if plan_error is not None:
                            skipped.append(self._skip(det_name, ds_spec, setting_name, seed, str(plan_error),
                                                      status="failed", error_type=type(plan_error).__name__))
                            continue
                        for plan in plans:
                            if category is None or plan.category in (category, ALL):
                                jobs.append(self._job(det_name, det_spec, backbone, dataset, setting_name, seed, plan))
        return jobs, skipped

    def missing_weights(self, det_spec, backbone: str | None) -> str | None:
        """Why a detector cannot run here for want of pretrained weights (checked before any process starts)."""
        name = backbone or (det_spec.backbones[0] if det_spec.backbones else None)
        spec = self.registry.backbones.get(name) if name else None
        if self.allow_random_init or spec is None or not spec.weights_file:
            return None
        path = weights_dir() / spec.weights_file
        if path.is_file():
            return None
        return str(MissingWeightsError(
            f"{det_spec.name} (backbone {name})", path,
            "or pass --allow-random-init to run it with random weights (flagged in records)"))

    def _skip(self, detector: str, ds_spec: DatasetSpec, setting: str, seed: int, reason: str,
              status: str = "skipped", error_type: str = "Incompatible") -> Skipped:
        det_spec, _ = self.registry.detector_variant(detector)
        config = {"detector": {"name": detector, "version": det_spec.version},
                  "dataset": {"name": ds_spec.name, "version": ds_spec.version}, "setting": {"name": setting},
                  "seed": seed, "reason": reason}
        info = JobInfo(detector=detector, detector_version=det_spec.version, dataset=ds_spec.name,
                       dataset_version=ds_spec.version, setting=setting, category=ALL, seed=seed, config=config,
                       config_hash=config_hash(config))
        path = record_path(self.results, ds_spec.name, setting, detector, ALL, seed)
        return Skipped(info, reason, str(path), status, error_type)

    def _job(self, name: str, det_spec, backbone, dataset: Dataset, setting: str, seed: int, plan: Plan) -> Job:
        params: dict[str, Any] = {}
        if _accepts(det_spec.factory, "seed"):
            params["seed"] = seed
        if self.allow_random_init:
            params["allow_random_init"] = True
        detector = det_spec.build(backbone, **params)
        config = {
            "detector": {"name": name, "version": det_spec.version, "params": jsonable(detector.get_params())},
            "dataset": {"name": dataset.name, "version": dataset.version, "options": jsonable(dataset.config()),
                        "eval_size": dataset.eval_size},
            "setting": {"name": setting, "hide_category": plan.hide_category, **jsonable(plan.config)},
            "category": plan.category,
            "seed": seed,
            "train_ids": ids_digest(plan.train),
            "test_ids": ids_digest(plan.test),
        }
        missing = set(dataset.expected_categories()) - set(dataset.categories())
        return Job(
            detector=name, dataset=dataset.name, setting=setting, seed=seed, plan=plan,
            dataset_root=str(dataset.root),
            data_root=None if self.data_root is None else str(self.data_root),
            dataset_options=self.dataset_options, detector_params=params, config=config, config_hash=config_hash(config),
            record_path=str(record_path(self.results, dataset.name, setting, name, plan.category, seed)),
            threads=self.threads, executor=self.executor, isolated=self.isolated, incomplete=bool(missing),
        )


def jsonable(value: Any) -> Any:
    """Config values as JSON-friendly types (tuples to lists, numpy scalars to Python, paths to strings)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


# -- running one job (in the worker process) -----------------------------------------------------------------------
class LazySamples(Sequence[Sample]):
    """Training samples as a sequence that loads on access, with categories hidden when the plan says so."""

    def __init__(self, dataset: Dataset, refs: Sequence[SampleRef], hide_category: bool,
                 datasets: dict[str, Dataset] | None = None) -> None:
        self.dataset, self.refs, self.hide_category = dataset, list(refs), hide_category
        self.datasets = datasets or {}

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        ref = self.refs[i]
        sample = self.datasets.get(ref.dataset, self.dataset).load(ref)
        return sample.without_category() if self.hide_category else sample


def resize_map(values: np.ndarray, size: tuple[int, int], *, nearest: bool = False) -> np.ndarray:
    """Resize a 2-D map to (H, W): bilinear for scores, nearest for masks (PIL, float32)."""
    from PIL import Image

    if values.shape == tuple(size):
        return values
    mode = Image.NEAREST if nearest else Image.BILINEAR
    image = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32), mode="F")
    return np.asarray(image.resize((size[1], size[0]), mode), dtype=np.float32)


def _check_prediction(pred: Any, sample: Sample, detector: str) -> tuple[float, np.ndarray]:
    if not isinstance(pred, Prediction):
        raise TypeError(f"detector {detector} returned {type(pred).__name__} for sample {sample.id}, not a Prediction")
    score = float(pred.score)
    values = np.asarray(pred.map, dtype=np.float32)
    if not np.isfinite(score) or not np.all(np.isfinite(values)):
        raise ValueError(f"detector {detector} returned a non-finite score or map for sample {sample.id}")
    if sample.organized:
        if values.ndim != 2:
            raise ValueError(f"detector {detector}: map of sample {sample.id} has shape {values.shape}; an organized "
                             f"sample needs a 2-D map (any size, it is resized to the evaluation size)")
    elif values.shape != sample.map_shape:
        raise ValueError(f"detector {detector}: map of sample {sample.id} has shape {values.shape}, expected "
                         f"{sample.map_shape} (one score per point)")
    return score, values


@dataclass
class ScoredSamples:
    """Labels, object scores, ground truth and maps of scored test samples (also built by `benchkit.evaluate`)."""

    labels: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    gts: list[np.ndarray] = field(default_factory=list)
    maps: list[np.ndarray] = field(default_factory=list)


def _predict_all(detector: Detector, dataset: Dataset, job: Job, eff: dict[str, Any]) -> tuple[ScoredSamples, bool]:
    """Predict every test sample one at a time (timed), after one warm-up sample (FLOPs counted there)."""
    scored = ScoredSamples()
    organized = False
    latencies: list[float] = []
    refs = job.plan.test
    modules = detector.torch_modules()
    for i, ref in enumerate(refs):
        sample = dataset.load(ref)
        if sample.label is None:
            raise BenchkitError(f"test sample {ref.id} of {job.dataset}/{ref.category} has no label; "
                                f"unlabelled splits cannot be scored")
        visible = sample.hidden(category=job.plan.hide_category)
        if i == 0:
            with efficiency.flop_counter(modules) as flops:
                detector.predict([visible])
            eff["flops_per_sample"] = flops()
            eff["flops_counter"] = efficiency.FLOP_COUNTER if eff["flops_per_sample"] is not None else None
            eff["warmup_samples"] = 1
        preds, seconds = efficiency.timed(lambda v=visible: detector.predict([v]), detector.device)
        latencies.append(seconds)
        if len(preds) != 1:
            raise ValueError(f"detector {job.detector} returned {len(preds)} predictions for 1 sample")
        score, values = _check_prediction(preds[0], sample, job.detector)
        gt = sample.gt if sample.gt is not None else np.zeros(sample.map_shape, np.uint8)
        if sample.organized:
            organized = True
            size = dataset.eval_size or gt.shape
            values = resize_map(values, size)
            gt = resize_map(gt.astype(np.float32), size, nearest=True) > 0.5
        scored.labels.append(int(sample.label))
        scored.scores.append(score)
        scored.categories.append(sample.category or ref.category)
        scored.ids.append(sample.id)
        scored.gts.append(np.asarray(gt, dtype=np.uint8))
        scored.maps.append(values)
    eff.update(efficiency.latency_summary(latencies))
    return scored, organized


def score_metrics(scored: ScoredSamples, organized: bool) -> dict[str, dict[str, float | None]]:
    from benchkit.metrics import compute_metrics

    cats = sorted(set(scored.categories))
    out: dict[str, dict[str, float | None]] = {}
    for cat in cats:
        idx = [i for i, c in enumerate(scored.categories) if c == cat]
        out[cat] = compute_metrics(
            np.asarray([scored.labels[i] for i in idx]), np.asarray([scored.scores[i] for i in idx]),
            [scored.gts[i] for i in idx], [scored.maps[i] for i in idx], organized=organized,
        )
    if len(cats) > 1:
        names = out[cats[0]].keys()
        out["mean"] = {
            n: (None if any(out[c][n] is None for c in cats) else float(np.mean([out[c][n] for c in cats])))
            for n in names
        }
    return out


def sample_counts(plan: Plan, scored: ScoredSamples) -> dict[str, Counts]:
    counts = {}
    for cat in sorted(set(scored.categories)):
        labels = [lab for lab, c in zip(scored.labels, scored.categories) if c == cat]
        train = sum(r.category == cat for r in plan.train) if plan.category == ALL else len(plan.train)
        counts[cat] = Counts(train=train, test_normal=labels.count(0), test_anomalous=labels.count(1))
    return counts


def make_record(job: Job, status: str, *, error: ErrorInfo | None = None, device: str = "cpu", **fields: Any) -> Record:
    registry = get_registry()
    owners = {registry.owner.get(("detectors", job.detector.partition(":")[0])),
              registry.owner.get(("datasets", job.dataset))}
    prov = provenance.collect(threads=job.threads, device=device, executor=job.executor,
                              extra_packages=tuple(sorted(o for o in owners if o)))
    return Record(benchkit_version=__version__, job=job.info, status=status, error=error,
                  incomplete=job.incomplete, provenance=Provenance(**prov), **fields)


def _limit_threads(threads: int) -> None:
    """Thread pools of libraries already imported (e.g. preloaded by the fork server) follow the job's count."""
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if "faiss" in sys.modules:
        sys.modules["faiss"].omp_set_num_threads(threads)


def execute_job(job: Job) -> str:
    """Run one job and write its record. Never raises for a job's own failure: that is what the record is for."""
    started = time.perf_counter()
    _limit_threads(job.threads)
    eff: dict[str, Any] = {"baseline_rss_mb": efficiency.current_rss_mb(), "rss_isolated": job.isolated}
    device = "cpu"
    try:
        with warnings.catch_warnings():  # broken plugins were already reported by the parent process
            warnings.simplefilter("ignore")
            registry = get_registry()
        dataset = open_dataset(registry.get("datasets", job.dataset), job.dataset_root,
                               **job.dataset_options.get(job.dataset, {}))
        det_spec, backbone = registry.detector_variant(job.detector)
        detector = det_spec.build(backbone, **job.detector_params)
        device = detector.device
        others = {}
        if any(r.dataset != job.dataset for r in job.plan.train):  # cross-dataset plans train elsewhere
            for name in {r.dataset for r in job.plan.train} - {job.dataset}:
                spec = registry.get("datasets", name)
                others[name] = open_dataset(spec, dataset_root(spec, job.data_root),
                                            **job.dataset_options.get(name, {}))
        train = LazySamples(dataset, job.plan.train, job.plan.hide_category, others)
        efficiency.reset_gpu_peak(detector.device)
        _, eff["fit_seconds"] = efficiency.timed(lambda: detector.fit(train), detector.device)
        device = detector.device
        scored, organized = _predict_all(detector, dataset, job, eff)
        metrics = score_metrics(scored, organized)
        intervals = bootstrap_intervals(scored.labels, scored.scores, scored.categories, scored.gts, scored.maps,
                                        seed=job.seed)
        modules = detector.torch_modules()
        eff.update(parameters=efficiency.count_parameters(modules), memory_bank_bytes=int(detector.memory_bank_bytes()),
                   peak_gpu_mb=efficiency.gpu_peak_mb(detector.device), peak_rss_mb=efficiency.peak_rss_mb())
        record = make_record(
            job, "ok", device=device, weights=detector.weights, counts=sample_counts(job.plan, scored), metrics=metrics,
            intervals=intervals, efficiency=Efficiency(**eff), duration_seconds=time.perf_counter() - started,
            samples=[SampleScore(id=i, category=c, label=lab, score=s) for i, c, lab, s in
                     zip(scored.ids, scored.categories, scored.labels, scored.scores)],
        )
    except SkipJob as exc:
        record = make_record(job, "skipped", error=ErrorInfo(type=type(exc).__name__, message=str(exc)), device=device,
                         duration_seconds=time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - a job's failure is recorded, never propagated
        eff["peak_rss_mb"] = efficiency.peak_rss_mb()
        record = make_record(job, "failed", device=device, efficiency=Efficiency(**{k: v for k, v in eff.items() if v is not None}),
                         error=ErrorInfo(type=type(exc).__name__, message=str(exc), traceback=traceback.format_exc()),
                         duration_seconds=time.perf_counter() - started)
    write_record(record, job.record_path)
    return record.status


# -- running many jobs (in the calling process) ----------------------------------------------------------------------
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


def _up_to_date(path: str | Path, digest: str) -> str | None:
    """Status of an existing record for the same config (ok/skipped only), else None."""
    try:
        record = load_record(path)
    except RecordError:
        return None
    if record.job.config_hash == digest and record.status in ("ok", "skipped"):
        return record.status
    return None


def _write_skipped(item: Skipped) -> None:
    prov = provenance.collect(threads=1, device="cpu", executor="none")
    record = Record(benchkit_version=__version__, job=item.info, status=item.status,
                    error=ErrorInfo(type=item.error_type, message=item.reason), provenance=Provenance(**prov))
    write_record(record, item.record_path)


def _set_thread_env(threads: int) -> None:
    """Worker processes inherit these; BLAS/OpenMP read them when they load, before any job code runs."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(threads)


def run_jobs(jobs: Sequence[Job], skipped: Sequence[Skipped], executor_name: str, workers: int,
             registry: Registry | None = None, progress: bool = True) -> Summary:
    registry = registry or get_registry()
    summary = Summary()
    for item in skipped:
        if item.status == "skipped" and _up_to_date(item.record_path, item.info.config_hash):
            summary.cached += 1
            continue
        _write_skipped(item)
        if item.status == "failed":
            summary.failed += 1
            summary.failures.append(f"{item.info.detector} on {item.info.dataset} ({item.info.setting}): {item.reason}")
        else:
            summary.skipped += 1
    todo = []
    for job in jobs:
        if _up_to_date(job.record_path, job.config_hash):
            summary.cached += 1
        else:
            todo.append(job)
    if not todo:
        return summary
    if jobs:
        _set_thread_env(jobs[0].threads)
    executor = registry.get("executors", executor_name).factory(workers=workers)
    bar = _progress(len(todo), progress)
    started = time.time()
    try:
        for job, crash in executor.run(todo, execute_job):
            status = _finish(job, crash, started)
            if status == "failed":
                summary.failed += 1
                summary.failures.append(_failure_line(job))
            elif status == "skipped":
                summary.skipped += 1
            else:
                summary.ok += 1
            bar.update(1)
            bar.set_postfix(ok=summary.ok, failed=summary.failed, skipped=summary.skipped, refresh=False)
    finally:
        bar.close()
    return summary


def _finish(job: Job, crash: str | None, since: float) -> str:
    """Status of a finished job; a worker that died without writing its record (none newer than ``since``, when
    the run started) gets a failed record here."""
    if crash is not None:
        record = None
        try:
            if os.path.getmtime(job.record_path) >= since:
                record = load_record(job.record_path)
        except (OSError, RecordError):
            pass
        if record is None or record.job.config_hash != job.config_hash:
            prov = provenance.collect(threads=job.threads, device="unknown", executor=job.executor)
            write_record(Record(benchkit_version=__version__, job=job.info, status="failed",
                                error=ErrorInfo(type="WorkerCrash", message=crash), incomplete=job.incomplete,
                                provenance=Provenance(**prov)), job.record_path)
            return "failed"
        return record.status
    try:
        return load_record(job.record_path).status
    except RecordError:
        return "failed"


def _failure_line(job: Job) -> str:
    try:
        err = load_record(job.record_path).error
        message = f"{err.type}: {err.message}" if err else "unknown error"
    except RecordError as exc:
        message = str(exc)
    first = message.strip().splitlines()[0] if message.strip() else message
    return f"{job.detector} on {job.dataset}/{job.plan.category} ({job.setting}, seed {job.seed}): {first}"


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="jobs", unit="job", disable=not enabled, dynamic_ncols=True)


def iter_variant_names(registry: Registry) -> Iterator[str]:
    for spec in registry.detectors.values():
        yield from spec.variant_names()
