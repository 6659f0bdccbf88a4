"""Plugins used by the core tests, loaded through BENCHKIT_PLUGINS exactly as a local plugin would be.

They use only the public API. ``tiny-points`` is a small dataset of noisy spheres (anomalies: a bump) built in
memory so that core tests need no dataset plugin; ``nn-distance`` is a real (if simple) detector: the distance of
each point to the nearest training point. ``raising`` fails in fit when asked to; ``spy`` writes what it saw.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from benchkit import Dataset, DatasetSpec, Detector, DetectorSpec, Prediction, Sample, SampleRef, hookimpl

CATEGORIES = ("ball", "egg", "pill")


def _cloud(category: str, index: int, anomalous: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([CATEGORIES.index(category), index, int(anomalous)])
    v = rng.normal(size=(400, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    scale = {"ball": (1, 1, 1), "egg": (1, 1, 1.5), "pill": (0.6, 0.6, 2)}[category]
    pts = v * scale + rng.normal(scale=0.01, size=v.shape)
    gt = np.zeros(len(pts), np.uint8)
    if anomalous:
        centre = v[0]
        near = np.linalg.norm(v - centre, axis=1) < 0.35
        pts[near] += 0.25 * v[near] * np.asarray(scale)
        gt[near] = 1
    return pts.astype(np.float32), gt


class TinyPoints(Dataset):
    """3 categories x (4 train, 3 good + 3 bumped test) clouds, generated on load. Option ``only``: the categories
    this copy holds (a partial download)."""

    def categories(self) -> list[str]:
        only = self.options.get("only")
        return [c for c in CATEGORIES if only is None or c in only]

    def expected_categories(self) -> list[str]:
        return list(CATEGORIES)

    def is_available(self) -> bool:
        return True

    def index(self, category: str, split: str) -> list[SampleRef]:
        if split == "train":
            return [SampleRef(self.name, category, "train", f"train{i}", 0, "good") for i in range(4)]
        if split == "test":
            return [SampleRef(self.name, category, "test", f"test{i}", int(i >= 3), "good" if i < 3 else "bump")
                    for i in range(6)]
        return []

    def load(self, ref: SampleRef) -> Sample:
        index = int(ref.id.lstrip("traines"))
        pts, gt = _cloud(ref.category, index + (100 if ref.split == "test" else 0), bool(ref.label))
        return Sample(id=ref.id, category=ref.category, label=ref.label, points=pts, gt=gt, defect=ref.defect)


class NNDistance(Detector):
    def __init__(self, k: int = 1, seed: int = 0) -> None:
        self.k = k  # score = mean distance to the k nearest training points
        self.seed = seed

    def fit(self, samples):
        self.bank_ = np.concatenate([s.point_cloud() for s in samples])
        return self

    def predict(self, samples):
        from scipy.spatial import cKDTree

        tree = cKDTree(self.bank_)
        out = []
        for s in samples:
            d, _ = tree.query(s.point_cloud(), k=self.k)
            d = d if d.ndim == 1 else d.mean(axis=1)
            out.append(Prediction(float(d.max()), s.scatter(d)))
        return out

    def memory_bank_bytes(self) -> int:
        return int(self.bank_.nbytes)


class Raising(NNDistance):
    """Fails in fit on the category named by $BENCHKIT_TEST_FAIL_ON (or always when it is 'all'); with
    $BENCHKIT_TEST_CRASH set, the worker process dies instead of raising."""

    def fit(self, samples):
        target = os.environ.get("BENCHKIT_TEST_FAIL_ON", "all")
        if target == "all" or any(s.category == target for s in samples):
            if os.environ.get("BENCHKIT_TEST_CRASH"):
                os._exit(7)
            raise RuntimeError("deliberate failure in fit")
        return super().fit(samples)


class Slow(NNDistance):
    """Sleeps $BENCHKIT_TEST_SLEEP seconds in fit (to interrupt a run half-way)."""

    def fit(self, samples):
        import time

        time.sleep(float(os.environ.get("BENCHKIT_TEST_SLEEP", "0")))
        return super().fit(samples)


class Spy(NNDistance):
    """Appends every sample it receives (category, label, has gt) to the JSON-lines file $BENCHKIT_SPY_FILE."""

    def _log(self, phase, samples):
        with open(os.environ["BENCHKIT_SPY_FILE"], "a") as f:
            for s in samples:
                f.write(json.dumps({"phase": phase, "id": s.id, "category": s.category, "label": s.label,
                                    "gt": s.gt is not None}) + "\n")

    def fit(self, samples):
        self._log("fit", samples)
        return super().fit(samples)

    def predict(self, samples):
        self._log("predict", samples)
        return super().predict(samples)


@hookimpl
def register_datasets(register):
    register(DatasetSpec("tiny-points", "1", "Test dataset: noisy spheres with bumps", TinyPoints,
                         frozenset({"points"}), embedded=True))
    register(DatasetSpec("tiny-points-b", "1", "Test dataset: a second copy, for cross-dataset settings", TinyPoints,
                         frozenset({"points"}), embedded=True))


@hookimpl
def register_detectors(register):
    points = frozenset({"points"})
    register(DetectorSpec("nn-distance", "1", "Test detector: distance to nearest training point", NNDistance, points))
    register(DetectorSpec("raising", "1", "Test detector that fails in fit", Raising, points))
    register(DetectorSpec("slow", "1", "Test detector that sleeps in fit", Slow, points))
    register(DetectorSpec("spy", "1", "Test detector that logs what it sees", Spy, points))
    register(DetectorSpec("needs-rgb", "1", "Test detector needing RGB", NNDistance, frozenset({"rgb"})))


FIXTURE_DIR = Path(__file__).parent
