"""How the ray executor picks its cluster and what it sends to the tasks (no cluster started here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from benchkit import BenchkitError
from benchkit_ray.executor import cluster_address, gpus_per_job, portable, task_env


def test_address_precedence(monkeypatch):
    monkeypatch.delenv("BENCHKIT_RAY_ADDRESS", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert cluster_address() is None
    monkeypatch.setenv("RAY_ADDRESS", "ray-head:6379")
    assert cluster_address() == "ray-head:6379"
    monkeypatch.setenv("BENCHKIT_RAY_ADDRESS", "auto")
    assert cluster_address() == "auto"
    assert cluster_address("other:6379") == "other:6379"
    assert cluster_address("local") is None  # `local` forces a private cluster even with the variables set


def test_gpus_per_job(monkeypatch):
    monkeypatch.delenv("BENCHKIT_RAY_GPUS_PER_JOB", raising=False)
    assert gpus_per_job() == 0
    monkeypatch.setenv("BENCHKIT_RAY_GPUS_PER_JOB", "0.5")
    assert gpus_per_job() == 0.5
    for bad in ("one", "-1", "nan"):
        monkeypatch.setenv("BENCHKIT_RAY_GPUS_PER_JOB", bad)
        with pytest.raises(BenchkitError, match="BENCHKIT_RAY_GPUS_PER_JOB"):
            gpus_per_job()


def test_task_env_sends_benchkit_vars_with_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = task_env({"BENCHKIT_CACHE": "cache", "BENCHKIT_WEIGHTS": "/w", "BENCHKIT_PLUGINS": "x",
                    "OMP_NUM_THREADS": "2", "HOME": "/root", "PATH": "/bin"})
    assert env == {"BENCHKIT_CACHE": str(tmp_path / "cache"), "BENCHKIT_WEIGHTS": "/w", "BENCHKIT_PLUGINS": "x",
                   "OMP_NUM_THREADS": "2"}


def test_portable_job_has_absolute_dataset_paths(tmp_path, monkeypatch):
    @dataclass
    class Job:
        dataset_root: str
        data_root: str | None
        record_path: str

    monkeypatch.chdir(tmp_path)
    job = portable(Job("data/mvtec3d", None, "results/r.json"))
    assert job == Job(str(tmp_path / "data/mvtec3d"), None, "results/r.json")  # the record stays on the driver
    assert Path(job.dataset_root).is_absolute()
