"""Test plugin (loaded through BENCHKIT_PLUGINS): two tiny point-cloud datasets whose clouds say where they came
from. The harness passes no metadata to a detector, so each dataset shifts its clouds along x by its own offset
(`ORIGIN_OFFSET`); `origin(sample)` reads the dataset back from the geometry."""

from __future__ import annotations

import dataclasses

import numpy as np
from benchkit import DatasetSpec, hookimpl
from benchkit.testing import TinyPoints

ORIGIN_OFFSET = {"a3-clouds-a": 1000.0, "a3-clouds-b": 2000.0}


def origin(sample) -> str:
    """The dataset a (visible) sample was loaded from, read from where its cloud sits."""
    x = float(np.mean(sample.point_cloud()[:, 0]))
    return min(ORIGIN_OFFSET, key=lambda name: abs(ORIGIN_OFFSET[name] - x))


class Traced(TinyPoints):
    def load(self, ref):
        sample = super().load(ref)
        return dataclasses.replace(sample, points=sample.points + np.float32([ORIGIN_OFFSET[self.name], 0, 0]))


@hookimpl
def register_datasets(register):
    for name in ORIGIN_OFFSET:
        register(DatasetSpec(name, "1", "Test: tiny clouds that say where they came from", Traced,
                             frozenset({"points"}), embedded=True, categories=("ball", "egg", "pill"),
                             zero_shot_train_categories=("egg",)))
