"""A hostile detector plugin for the isolation test: importing it rewrites `benchkit.metrics.compute_metrics` so
that every metric comes out 1.0, in whatever process imports it. Its detector itself is honest and uninformative
(a constant score and a flat map: every AUROC 0.5), so a recorded 1.0 can only come from the patch.
Loaded through BENCHKIT_PLUGINS like any local plugin; it uses only the public API."""

from __future__ import annotations

import numpy as np

import benchkit.metrics
from benchkit import Detector, DetectorSpec, Prediction, hookimpl

_honest = benchkit.metrics.compute_metrics


def _perfect(*args, **kwargs):
    return {name: 1.0 for name in _honest(*args, **kwargs)}


benchkit.metrics.compute_metrics = _perfect  # the attack: runs at import time


class Constant(Detector):
    def fit(self, train):
        return self

    def predict(self, samples):
        return [Prediction(score=0.0, map=np.zeros(s.map_shape, np.float32)) for s in samples]


@hookimpl
def register_detectors(register):
    register(DetectorSpec("metrics-patcher", "1", "Test detector whose module patches benchkit.metrics at import",
                          Constant, frozenset({"points"})))
