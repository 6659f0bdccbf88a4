"""Test plugins whose samples say where they came from, to prove which samples reach a detector's ``fit`` (the
zero-shot guarantee: no target-category or target-dataset sample is fitted). The harness passes a detector no
metadata, so each dataset's clouds sit at their own x offset and `traced_origin` reads the origin back.

Use in a plugin's tests: a module ``my_fixtures.py`` with ``register_datasets = traced_datasets({"a": 1e3, "b":
2e3})``, registered for one test with ``add_test_plugins(monkeypatch, folder, "my_fixtures")``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchkit.datasets import DatasetSpec
from benchkit.sample import Sample, SampleRef
from benchkit.testing import CATEGORIES, TinyPoints

_TRACED_OFFSETS: dict[str, float] = {}  # dataset name -> x offset, filled by `traced_datasets`


class TracedPoints(TinyPoints):
    """`TinyPoints` shifted along x by its dataset's offset (see `traced_datasets`)."""

    def load(self, ref: SampleRef) -> Sample:
        import dataclasses

        sample = super().load(ref)
        return dataclasses.replace(sample, points=sample.points + np.float32([_TRACED_OFFSETS[self.name], 0, 0]))


def traced_datasets(offsets: dict[str, float], zero_shot_train_categories: tuple[str, ...] = ("egg",)):
    """A ``register_datasets`` hook for a test plugin module: one `TracedPoints` dataset per name in ``offsets``,
    whose clouds sit at the dataset's x offset, so `traced_origin` reads back where a sample came from (the harness
    passes a detector no metadata). Use: ``register_datasets = traced_datasets({"a": 1e3, "b": 2e3})`` in a module
    named through ``BENCHKIT_PLUGINS`` (see `add_test_plugins`)."""
    from benchkit.hookspecs import hookimpl

    _TRACED_OFFSETS.update(offsets)

    @hookimpl
    def register_datasets(register):
        for name in offsets:
            register(DatasetSpec(name, "1", "Test: tiny clouds that say where they came from", TracedPoints,
                                 frozenset({"points"}), embedded=True, categories=CATEGORIES,
                                 zero_shot_train_categories=zero_shot_train_categories))

    return register_datasets


def traced_origin(sample: Sample, offsets: dict[str, float]) -> str:
    """The dataset of `traced_datasets` a (visible) sample was loaded from, read from where its cloud sits."""
    x = float(np.mean(sample.point_cloud()[:, 0]))
    return min(offsets, key=lambda name: abs(offsets[name] - x))


def add_test_plugins(monkeypatch, folder: str | Path, *modules: str) -> None:
    """Register the plugin modules in ``folder`` for one test (through ``BENCHKIT_PLUGINS``; the registry is rebuilt
    on next use). Pair with the ``benchkit_env`` fixture, which resets the registry afterwards."""
    import os

    from benchkit.plugins import set_registry

    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("BENCHKIT_PLUGINS", ",".join(filter(None, [os.environ.get("BENCHKIT_PLUGINS"), *modules])))
    set_registry(None)
