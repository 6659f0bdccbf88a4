"""Jobs: what one unit of work is (a detector, a dataset, a setting's plan, a seed) and where its record goes.

A `Job` is picklable (names, paths, sample refs and plain values only), so executors can send it to another process
or machine; `NotRun` is a combination that gets a record without running (incompatible, missing weights, bad data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchkit.blinding import BlindInputs
from benchkit.results import JobInfo, config_hash
from benchkit.sample import SampleRef
from benchkit.settings import Plan

DEFAULT_RESULTS = Path("benchkit-results")
ALL = "all"  # the category of a job that evaluates one model on every category


@dataclass
class Job:
    """Everything a worker needs to run one job. Executors receive it and hand it to the worker function."""

    detector: str
    dataset: str
    setting: str
    seed: int
    plan: Plan
    dataset_root: str
    data_root: str | None
    dataset_options: dict[str, dict[str, Any]]
    detector_params: dict[str, Any]  # what the factory is called with (backbone, seed, device, --param values)
    config: dict[str, Any]
    config_hash: str
    record_path: str
    threads: int = 1
    executor: str = "local"
    isolated: bool = True
    incomplete: bool = False
    allow_random_init: bool = False
    device: str = "cpu"
    extra_datasets: dict[str, str] = field(default_factory=dict)  # other datasets the plan trains on -> their roots
    metrics: tuple[str, ...] | None = None  # metric names to score (``--metrics``); None: the scoring defaults
    #: The test inputs as the worker gets them. Set by the driver on the copy it sends (whose plan then has no test
    #: refs: `benchkit.blinding`); None in the driver's own job.
    inputs: BlindInputs | None = None

    @property
    def info(self) -> JobInfo:
        return JobInfo(
            detector=self.detector, detector_version=self.config["detector"]["version"], dataset=self.dataset,
            dataset_version=self.config["dataset"]["version"], setting=self.setting, category=self.plan.category,
            seed=self.seed, config=self.config, config_hash=self.config_hash,
        )

    def describe(self) -> str:
        return f"{self.detector} on {self.dataset}/{self.plan.category} ({self.setting}, seed {self.seed})"


@dataclass
class NotRun:
    """A combination that is not run but still gets a record, so the leaderboard shows it: ``skipped`` (it cannot
    run here: incompatible, weights missing) or ``failed`` (planning itself failed, e.g. on bad data)."""

    info: JobInfo
    reason: str
    record_path: str
    status: str = "skipped"
    error_type: str = "Incompatible"


def _safe(name: str) -> str:
    return name.replace(":", "_").replace("/", "_")


def record_path(results: Path, dataset: str, setting: str, detector: str, category: str, seed: int, *,
                version: str | None = None, weights: str | None = None) -> Path:
    """Where a job's record goes. What produced a result is part of its place: the detector folder carries its
    version (``btf-fpfh@0.2``) and ``+random-init`` for runs with randomly initialised backbones, so neither another
    version nor a random-init run overwrites a record."""
    folder = _safe(detector) + (f"@{_safe(version)}" if version else "") + ("+random-init" if weights == "random-init"
                                                                           else "")
    return Path(results) / dataset / _safe(setting) / folder / f"{_safe(category)}__seed{seed}.json"


def path_of_record(results: Path, record: Any) -> Path:
    """`record_path` of an existing record (its job and its weights kind)."""
    j = record.job
    return record_path(results, j.dataset, j.setting, j.detector, j.category, j.seed, version=j.detector_version,
                       weights=record.weights)


def ids_digest(refs: Sequence[SampleRef]) -> str:
    return config_hash({"ids": [f"{r.dataset}/{r.category}/{r.split}/{r.id}" for r in refs]})


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
