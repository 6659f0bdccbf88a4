"""The feature cache: keys, reuse counters, the off switch, LRU eviction, atomic entries shared across processes."""

from __future__ import annotations

import multiprocessing
import os
import time

import numpy as np
import pytest

from benchkit import Backbone, Tokens, feature_cache
from benchkit.feature_cache import cached_features


class Doubling(Backbone):
    """Counts its calls; sleeps so that stored compute seconds are measurable."""

    def __init__(self, version: str = "1", sleep: float = 0.0, tokens: bool = False) -> None:
        self.identity = {"name": "doubling", "version": version, "weights": "none", "sha256": None, "params": {}}
        self.calls = 0
        self.sleep = sleep
        self.tokens = tokens

    def encode(self, image, scale: float = 2.0):
        self.calls += 1
        time.sleep(self.sleep)
        out = np.asarray(image, dtype=np.float32) * scale
        if self.tokens:
            return Tokens(features=out, centers=np.zeros((len(out), 3), np.float32), groups=None)
        return out


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHKIT_CACHE", str(tmp_path))
    monkeypatch.delenv("BENCHKIT_FEATURE_CACHE", raising=False)
    monkeypatch.delenv("BENCHKIT_FEATURE_CACHE_MB", raising=False)
    return tmp_path


def test_second_call_reuses_the_entry_and_counts_its_stored_seconds(cache):
    backbone = Doubling(sleep=0.05)
    image = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    before = feature_cache.stats()
    first = cached_features(backbone, image)
    second = cached_features(backbone, image)
    delta = feature_cache.stats() - before
    np.testing.assert_array_equal(first, second)
    assert backbone.calls == 1
    assert (delta.entries_computed, delta.entries_reused) == (1, 1)
    assert delta.seconds_computed >= 0.05
    assert delta.seconds_reused == pytest.approx(delta.seconds_computed)  # the stored compute time, not the load time


def test_key_changes_with_content_options_and_backbone_identity(cache):
    image = np.zeros((2, 2, 3), np.uint8)
    backbone = Doubling()
    cached_features(backbone, image)
    cached_features(backbone, image + 1)  # other content
    cached_features(backbone, image, scale=3.0)  # other options
    cached_features(backbone, image.astype(np.float32))  # same values, other dtype
    assert backbone.calls == 4
    other = Doubling(version="2")
    cached_features(other, image)
    assert other.calls == 1
    again = Doubling()
    out = cached_features(again, image, scale=3.0)
    assert again.calls == 0 and out.max() == 0


def test_tokens_round_trip(cache):
    backbone = Doubling(tokens=True)
    points = np.random.default_rng(0).normal(size=(5, 3))
    first = cached_features(backbone, points)
    second = cached_features(backbone, points)
    assert isinstance(second, Tokens) and second.groups is None
    np.testing.assert_array_equal(first.features, second.features)
    np.testing.assert_array_equal(first.centers, second.centers)


def test_off_switch_computes_every_time_and_still_counts(cache, monkeypatch):
    monkeypatch.setenv("BENCHKIT_FEATURE_CACHE", "off")
    backbone = Doubling()
    before = feature_cache.stats()
    for _ in range(2):
        cached_features(backbone, np.ones(3))
    delta = feature_cache.stats() - before
    assert backbone.calls == 2 and (delta.entries_computed, delta.entries_reused) == (2, 0)
    assert not (cache / "features").exists()


def test_eviction_drops_least_recently_used_first(cache, monkeypatch):
    backbone = Doubling()
    arrays = [np.full(10_000, i, np.float32) for i in range(3)]  # ~40 kB per entry
    for i, a in enumerate(arrays):
        cached_features(backbone, a)
        for path in (cache / "features").rglob("*.npz"):  # make the order of use unambiguous on coarse clocks
            os.utime(path, (path.stat().st_atime, path.stat().st_mtime - 10))
    cached_features(backbone, arrays[0])  # a hit: entry 0 becomes the most recently used
    monkeypatch.setenv("BENCHKIT_FEATURE_CACHE_MB", str(100_000 / 2**20))  # room for two entries
    cached_features(backbone, np.full(10_000, 9, np.float32))  # the write evicts
    calls = backbone.calls
    cached_features(backbone, arrays[0])
    assert backbone.calls == calls  # kept (recently used)
    cached_features(backbone, arrays[1])
    assert backbone.calls == calls + 1  # evicted (least recently used)
    assert sum(p.stat().st_size for p in (cache / "features").rglob("*.npz")) <= 100_000


def test_damaged_entry_is_recomputed_and_no_temporary_files_remain(cache):
    backbone = Doubling()
    cached_features(backbone, np.ones(4))
    (entry,) = (cache / "features").rglob("*.npz")
    entry.write_bytes(b"not an npz")
    np.testing.assert_array_equal(cached_features(backbone, np.ones(4)), 2 * np.ones(4))
    assert backbone.calls == 2
    assert not list((cache / "features").rglob("*.tmp"))


def _fill(args):
    cache_root, index = args
    os.environ["BENCHKIT_CACHE"] = cache_root
    backbone = Doubling()
    for _ in range(3):
        cached_features(backbone, np.arange(50_000, dtype=np.float32) % (index % 2 + 2))
    return backbone.calls


def test_concurrent_workers_share_entries(cache):
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        calls = pool.map(_fill, [(str(cache), i) for i in range(4)])
    assert all(c <= 1 for c in calls)  # each process computed its entry at most once
    assert len(list((cache / "features").rglob("*.npz"))) == 2
    assert not list((cache / "features").rglob("*.tmp"))


def test_a_backbone_without_identity_is_computed_every_time(cache):
    backbone = Doubling()
    backbone.identity = {}
    before = feature_cache.stats()
    cached_features(backbone, np.ones(3))
    cached_features(backbone, np.ones(3))
    assert backbone.calls == 2 and (feature_cache.stats() - before).entries_computed == 2
