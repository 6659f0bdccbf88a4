"""Planning: a request (detectors x datasets x settings x seeds) becomes jobs and not-run combinations.

Planning happens in the calling process, before any job starts, so that every mistake a user can make (an unknown
detector parameter, a missing weights file, a dataset without a copy) is reported at once. Each job's config holds
everything that determines its result (detector and parameters, dataset and options, setting, category, seed, the
digests of the train and test sample lists); its hash decides whether an existing record is up to date.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchkit.datasets import Dataset, DatasetSpec
from benchkit.detector_memo import describe
from benchkit.errors import BenchkitError, DataError, MissingWeightsError, UsageError
from benchkit.jobs import ALL, Job, NotRun, ids_digest, jsonable, record_path
from benchkit.plugins import Registry, accepts_param
from benchkit.results import JobInfo, config_hash
from benchkit.settings import Plan

#: Parameters the harness itself passes to factories that declare them; not settable with --param.
HARNESS_PARAMS = ("seed", "device", "backbone")


@dataclass
class Planner:
    """Expands a request into jobs and not-run combinations."""

    registry: Registry
    results: Path
    data_root: Path | None = None
    allow_random_init: bool = False
    dataset_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # dataset name -> reader options
    detector_params: dict[str, Any] = field(default_factory=dict)  # --param / --config values, for every detector
    threads: int = 1
    executor: str = "local"
    isolated: bool = True
    device: str = "cpu"
    metrics: tuple[str, ...] | None = None  # --metrics: the metric names to score (None: the defaults)
    notes: list[str] = field(default_factory=list)  # messages for the user (datasets not found, ...)
    _datasets: dict[str, Dataset] = field(default_factory=dict)
    _unavailable: set[str] = field(default_factory=set)
    _backbones: dict[tuple[str, str | None], list[str]] = field(default_factory=dict)  # backbones_needed, per variant

    def available_datasets(self, names: Iterable[str]) -> dict[str, Dataset]:
        """Open and prepare the named datasets; those without a copy on disk are left out with a note."""
        for name in names:
            if name in self._datasets or name in self._unavailable:
                continue
            self._unavailable.add(name)  # until proven available below
            spec = self.registry.get("datasets", name)
            try:
                root = spec.root(self.data_root)
            except UsageError:
                self.notes.append(f"skipped dataset {name}: no data root (pass --data-root DIR or set BENCHKIT_DATA "
                                  f"to a folder holding {name}/ as downloaded)")
                continue
            try:
                dataset = spec.open(root, **self.dataset_options.get(name, {}))
            except (TypeError, ValueError) as exc:
                raise UsageError(f"--dataset-option for {name}: {exc}") from None
            if not dataset.is_available():
                self.notes.append(f"skipped dataset {name}: no copy at {root} (see `benchkit datasets info {name}`)")
                continue
            dataset.prepare()
            self.notes.extend(f"{name}: {notice}" for notice in dataset.notices())
            self._datasets[name] = dataset
            self._unavailable.discard(name)
        return self._datasets

    def expand(self, detectors: Sequence[str], datasets: Sequence[str], settings: Sequence[str],
               seeds: Sequence[int], category: str | None = None) -> tuple[list[Job], list[NotRun]]:
        # a name or seed given twice is one job, not two
        detectors, datasets, settings, seeds = (list(dict.fromkeys(x)) for x in (detectors, datasets, settings, seeds))
        built = {name: self._setting(name) for name in settings}
        sources = [s for setting in built.values() for s in setting.sources() if s in self.registry.datasets]
        opened = self.available_datasets([*datasets, *sources])
        for name in detectors:
            self.check_params(name)
        jobs: list[Job] = []
        not_run: list[NotRun] = []
        for dataset_name in datasets:
            if dataset_name not in opened:
                continue
            dataset = opened[dataset_name]
            ds_spec = self.registry.get("datasets", dataset_name)
            if category is not None and category not in dataset.categories():
                raise UsageError(f"dataset {dataset_name} has no category {category!r}; "
                                 f"present: {', '.join(dataset.categories())}")
            readable, broken = self._readable(dataset)
            for setting_name, setting in built.items():
                if not setting.applies_to(dataset, opened):
                    continue
                for seed in seeds:
                    plans: list[tuple[Plan, BenchkitError | None]] | None = None
                    plan_error: BenchkitError | None = None
                    for det_name in detectors:
                        det_spec, backbone = self.registry.detector_variant(det_name)
                        reason = setting.incompatibility(det_spec, ds_spec)
                        if reason is not None:
                            not_run.append(self._not_run(det_name, ds_spec, setting_name, seed, reason))
                            continue
                        reason = self.missing_weights(det_spec, backbone)
                        if reason is not None:
                            not_run.append(self._not_run(det_name, ds_spec, setting_name, seed, reason,
                                                         error_type="MissingWeightsError"))
                            continue
                        if plans is None and plan_error is None:
                            try:
                                plans = self._checked_plans(setting, readable, broken, seed, opened)
                            except BenchkitError as exc:  # bad data: every job of this dataset/setting fails
                                plan_error = exc
                        if plan_error is not None:
                            not_run.append(self._not_run(det_name, ds_spec, setting_name, seed, str(plan_error),
                                                         status="failed", error_type=type(plan_error).__name__))
                            continue
                        for plan, error in plans:
                            if category is not None and plan.category not in (category, ALL):
                                continue
                            if error is not None:
                                not_run.append(self._not_run(det_name, ds_spec, setting_name, seed, str(error),
                                                             status="failed", error_type=type(error).__name__,
                                                             category=plan.category))
                            else:
                                jobs.append(self._job(det_name, det_spec, backbone, dataset, setting_name, seed, plan,
                                                      opened))
        return jobs, not_run

    def _readable(self, dataset: Dataset) -> tuple[_Readable, dict[str, BenchkitError]]:
        """The dataset as settings see it: only the categories whose train and test splits can be indexed; the
        others with the error naming their file."""
        broken: dict[str, BenchkitError] = {}
        splits: dict[tuple[str, str], list] = {}
        for cat in dataset.categories():
            try:
                for split in ("train", "test"):
                    splits[cat, split] = dataset.index(cat, split)
            except BenchkitError as exc:
                broken[cat] = exc
        return _Readable(dataset, [c for c in dataset.categories() if c not in broken], splits), broken

    @staticmethod
    def _checked_plans(setting, readable: _Readable, broken: dict[str, BenchkitError], seed: int,
                       opened: dict[str, Dataset]) -> list[tuple[Plan, BenchkitError | None]]:
        """A setting's plans over the readable categories, each with the error that stops it, if any.

        A broken category fails its own job (a plan per category); a plan that spans categories (unified,
        zero-shot) fails when one of them is broken, naming the file. A plan whose test split lacks normal or
        anomalous samples fails too: its metrics would be undefined.
        """
        plans = setting.plan(readable, seed=seed, datasets={**opened, readable.name: readable})
        out: list[tuple[Plan, BenchkitError | None]] = []
        per_category = not plans
        for plan in plans:
            target = {r.category for r in plan.train + plan.test if r.dataset == readable.name}
            spans = plan.category == ALL or bool(target - {plan.category})
            per_category = per_category or not spans
            error = None
            if spans and broken:
                cat, exc = next(iter(broken.items()))
                error = DataError(getattr(exc, "path", None), f"this job covers category {cat!r}, which cannot "
                                  f"be read: {getattr(exc, 'problem', exc)}", getattr(exc, "fix", ""))
            out.append((plan, error or _one_class_error(plan, readable)))
        if per_category:
            out += [(Plan(cat, [], []), exc) for cat, exc in broken.items()]
        return out

    def _setting(self, name: str):
        base = name.partition(":")[0]
        return self.registry.get("settings", base).build(name)

    def check_params(self, detector: str) -> None:
        """Refuse --param names the detector's constructor does not take, naming the valid ones."""
        if not self.detector_params:
            return
        det_spec, backbone = self.registry.detector_variant(detector)
        valid = set(self._default_params(det_spec, backbone)) - set(HARNESS_PARAMS)
        unknown = sorted(set(self.detector_params) - valid)
        if unknown:
            raise UsageError(f"--param {', '.join(unknown)}: not a parameter of detector {detector}; "
                             f"valid: {', '.join(sorted(valid)) or 'none'}")

    def _default_params(self, det_spec, backbone: str | None) -> dict[str, Any]:
        return describe(det_spec, self._build_params(det_spec, backbone, seed=0, with_user=False))[0]

    def _build_params(self, det_spec, backbone: str | None, seed: int, with_user: bool = True) -> dict[str, Any]:
        """The keyword arguments a job's detector is built with."""
        params = {**self._harness_params(det_spec, seed), **(self.detector_params if with_user else {})}
        if backbone is not None and det_spec.backbones:
            params["backbone"] = backbone
        return params

    def _harness_params(self, det_spec, seed: int) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if accepts_param(det_spec.factory, "seed"):
            params["seed"] = seed
        if self.device != "cpu":  # detectors default to the CPU; only a request for another device is passed on
            if not accepts_param(det_spec.factory, "device"):
                raise UsageError(f"--device {self.device}: detector {det_spec.name} takes no device (CPU only)")
            params["device"] = self.device
        return params

    def backbones_needed(self, det_spec, backbone: str | None) -> list[str]:
        """Every registered backbone the detector's job will build: the variant's (or the spec's default) and those
        the detector, built with this run's parameters, names (`Detector.backbone_names`)."""
        key = (det_spec.name, backbone)
        if key not in self._backbones:
            named = describe(det_spec, self._build_params(det_spec, backbone, seed=0))[1]
            default = backbone or (det_spec.backbones[0] if det_spec.backbones else None)
            self._backbones[key] = [n for n in dict.fromkeys([default, *named]) if n in self.registry.backbones]
        return self._backbones[key]

    def _weights_files(self, det_spec, backbone: str | None) -> list[tuple[str, Path]]:
        """(backbone, weights file) of each needed backbone that loads pretrained weights; a file two backbones share
        (CLIP's image and text towers) once."""
        files: dict[Path, str] = {}
        for name in self.backbones_needed(det_spec, backbone):
            path = self.registry.backbones[name].weights_path()
            if path is not None:
                files.setdefault(path, name)
        return [(name, path) for path, name in files.items()]

    def missing_weights(self, det_spec, backbone: str | None) -> str | None:
        """Why a detector cannot run here for want of pretrained weights (checked before any process starts): every
        missing file of every backbone it will build, each with where to get it."""
        if self.allow_random_init:
            return None
        missing = [(name, path) for name, path in self._weights_files(det_spec, backbone) if not path.is_file()]
        if not missing:
            return None
        hints = {name: self.registry.backbones[name].weights_hint for name, _ in missing}
        problems = [str(MissingWeightsError(f"{det_spec.name} (backbone {name})", path, hints[name]))
                    for name, path in missing]
        message = ". ".join(problems)
        if "--allow-random-init" not in message:  # most hints say it already
            message += "; or pass --allow-random-init to run it with random weights (flagged in records)"
        return message

    def planned_weights(self, det_spec, backbone: str | None) -> str:
        """The weights kind a job will record when it runs as planned (the driver's rule over every backbone built:
        random-init over pretrained over none); its record's place depends on it, so that a random-init run never
        overwrites a pretrained one."""
        present = [path.is_file() for _, path in self._weights_files(det_spec, backbone)]
        if not present:
            return "none"
        return "pretrained" if all(present) else "random-init"

    def _not_run(self, detector: str, ds_spec: DatasetSpec, setting: str, seed: int, reason: str,
                 status: str = "skipped", error_type: str = "Incompatible", category: str = ALL) -> NotRun:
        det_spec, _ = self.registry.detector_variant(detector)
        config = {"detector": {"name": detector, "version": det_spec.version},
                  "dataset": {"name": ds_spec.name, "version": ds_spec.version}, "setting": {"name": setting},
                  "seed": seed, "reason": reason}
        if category != ALL:
            config["category"] = category
        info = JobInfo(detector=detector, detector_version=det_spec.version, dataset=ds_spec.name,
                       dataset_version=ds_spec.version, setting=setting, category=category, seed=seed, config=config,
                       config_hash=config_hash(config))
        path = record_path(self.results, ds_spec.name, setting, detector, category, seed, version=det_spec.version)
        return NotRun(info, reason, str(path), status, error_type)

    def _job(self, name: str, det_spec, backbone, dataset: Dataset, setting: str, seed: int, plan: Plan,
             opened: dict[str, Dataset]) -> Job:
        params = self._build_params(det_spec, backbone, seed)
        config = {
            "detector": {"name": name, "version": det_spec.version, "params": describe(det_spec, params)[0]},
            "dataset": {"name": dataset.name, "version": dataset.version, "options": jsonable(dataset.config()),
                        "eval_size": dataset.eval_size},
            "setting": {"name": setting, "hide_category": plan.hide_category, **jsonable(plan.config)},
            "category": plan.category,
            "seed": seed,
            "train_ids": ids_digest(plan.train),
            "test_ids": ids_digest(plan.test),
        }
        if self.allow_random_init:
            config["allow_random_init"] = True
        if self.metrics is not None:
            config["metrics"] = list(self.metrics)
        others = {r.dataset for r in plan.train} - {dataset.name}
        missing = set(dataset.expected_categories()) - set(dataset.categories())
        return Job(
            detector=name, dataset=dataset.name, setting=setting, seed=seed, plan=plan,
            dataset_root=str(dataset.root),
            data_root=None if self.data_root is None else str(self.data_root),
            dataset_options=self.dataset_options, detector_params=params, config=config,
            config_hash=config_hash(config),
            record_path=str(record_path(self.results, dataset.name, setting, name, plan.category, seed,
                                        version=det_spec.version, weights=self.planned_weights(det_spec, backbone))),
            metrics=self.metrics,
            threads=self.threads, executor=self.executor, isolated=self.isolated, incomplete=bool(missing),
            allow_random_init=self.allow_random_init, device=self.device,
            extra_datasets={n: str(opened[n].root) for n in sorted(others)},
        )


class _Readable:
    """A dataset with its unreadable categories left out, its train/test indexes read once (what settings plan on).
    Everything else is the dataset's own."""

    def __init__(self, dataset: Dataset, keep: list[str], splits: dict[tuple[str, str], list]) -> None:
        self._dataset, self._keep, self._splits = dataset, keep, splits

    def categories(self) -> list[str]:
        return list(self._keep)

    def index(self, category: str, split: str):
        if (category, split) in self._splits:
            return list(self._splits[category, split])
        return self._dataset.index(category, split)

    def __getattr__(self, name: str):
        return getattr(self._dataset, name)


def _one_class_error(plan: Plan, dataset: _Readable) -> DataError | None:
    """The test split of a category holds only normal or only anomalous samples: nothing to rank."""
    for cat in sorted({r.category for r in plan.test}):
        labels = {r.label for r in plan.test if r.category == cat}
        if len(labels) < 2:
            kind = "anomalous" if labels == {0} else "normal"
            return DataError(dataset.root / cat, f"the test split of category {cat!r} has no {kind} samples, so no "
                                                 f"detection metric is defined", "the copy is incomplete; re-extract "
                                                 "this category")
    return None
