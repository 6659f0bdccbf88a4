"""Plugins used by the core tests, loaded through BENCHKIT_PLUGINS exactly as a local plugin would be.

They use only the public API and `benchkit.testing`. ``tiny-points`` (`benchkit.testing.TinyPoints`) is a small
dataset of noisy spheres (anomalies: a bump) built in memory so that core tests need no dataset plugin;
``nn-distance`` is a real (if simple) detector: the distance of each point to the nearest training point. ``raising`` fails in fit when asked to; ``spy`` writes what it saw.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from benchkit import DatasetSpec, Detector, DetectorSpec, Prediction, hookimpl
from benchkit.testing import CATEGORIES, TinyPoints  # noqa: F401 - the samples live where plugin authors get them


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
