"""``fpfh(..., cached=True)``: the same FPFH of the same cloud is computed once and shared through the feature
cache; the values are those of the uncached computation, and other parameters or another cloud are other entries."""

from __future__ import annotations

import numpy as np

from benchkit import feature_cache
from benchkit_components.fpfh import fpfh


def test_cached_fpfh_is_computed_once_per_cloud_and_parameters(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHKIT_CACHE", str(tmp_path))
    points = np.random.default_rng(0).normal(size=(500, 3))
    before = feature_cache.stats()
    first = fpfh(points, 0.5, 30, 1.0, 100, cached=True)
    again = fpfh(points.copy(), 0.5, 30, 1.0, 100, cached=True)
    other = fpfh(points, 0.6, 30, 1.0, 100, cached=True)
    after = feature_cache.stats()
    assert np.array_equal(first, fpfh(points, 0.5, 30, 1.0, 100)) and np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert after.entries_computed - before.entries_computed == 2
    assert after.entries_reused - before.entries_reused == 1
