"""The harness guarantee, per detector: in zero-shot settings no target-category (one-vs-rest) and no
target-dataset (cross-dataset) sample reaches ``fit``. Each detector runs through the CLI in-process with its real
``fit``; its ``predict`` is replaced by a cheap one that records the categories it was given (test samples reach a
detector without metadata, so the records say which dataset was tested; scores are not at stake here)."""

from __future__ import annotations

import numpy as np
import pytest

from benchkit import Prediction

DETECTORS = {
    "zs-fpfh-rarity": ("benchkit_zeroshot.geometric", "FPFHRarity", []),
    "zs-surface-deviation": ("benchkit_zeroshot.geometric", "SurfaceDeviation", []),
    "pointad-clip": ("benchkit_zeroshot.pointad_clip", "PointADCLIP", ["--param", "clip_model=benchkit-tiny-clip"]),
}


def traced_run(cli, monkeypatch, results, detector, module, cls, params, *args):
    import importlib

    from zs_fixtures import origin  # on sys.path through the traced_env fixture

    seen = {"fit": [], "predict": []}
    klass = getattr(importlib.import_module(module), cls)
    real_fit = klass.fit

    def fit(self, samples):
        seen["fit"].extend(f"{origin(s)}/{s.category}/{s.id}" for s in samples)
        return real_fit(self, samples)

    def predict(self, samples):
        seen["predict"].extend(s.category for s in samples)
        return [Prediction(float(i), np.zeros(s.map_shape, np.float32)) for i, s in enumerate(samples)]

    monkeypatch.setattr(klass, "fit", fit)
    monkeypatch.setattr(klass, "predict", predict)
    code = cli("run", "--detector", detector, *args, *params, "--results", str(results), "--no-site", "--quiet",
               "--executor", "inline")
    assert code == 0
    from benchkit.results import iter_records

    seen["tested"] = {(r.job.dataset, c) for _, r in iter_records(results) for c in r.counts}
    return seen


@pytest.fixture
def tiny_clip(traced_env, monkeypatch):
    from benchkit_clip.plugin import WEIGHTS_FILE
    from benchkit_clip.testing import write_checkpoint

    weights = traced_env.parent / "weights"
    write_checkpoint(weights / WEIGHTS_FILE)
    return traced_env


@pytest.mark.parametrize("detector", sorted(DETECTORS))
def test_one_vs_rest_fits_only_on_the_training_category(tiny_clip, benchkit_cli, monkeypatch, detector):
    seen = traced_run(benchkit_cli, monkeypatch, tiny_clip, detector, *DETECTORS[detector],
                      "--dataset", "zs-clouds-a", "--setting", "zero-shot-one-vs-rest")
    assert sorted(seen["fit"]) == [f"zs-clouds-a/egg/train{i}" for i in range(4)]
    assert set(seen["predict"]) == {"ball", "pill"}
    assert seen["tested"] == {("zs-clouds-a", "ball"), ("zs-clouds-a", "pill")}


@pytest.mark.parametrize("detector", sorted(DETECTORS))
def test_cross_dataset_fits_only_on_the_source_dataset(tiny_clip, benchkit_cli, monkeypatch, detector):
    seen = traced_run(benchkit_cli, monkeypatch, tiny_clip, detector, *DETECTORS[detector],
                      "--dataset", "zs-clouds-b", "--setting", "zero-shot-cross-dataset:zs-clouds-a")
    assert sorted(seen["fit"]) == [f"zs-clouds-a/egg/train{i}" for i in range(4)]
    assert set(seen["predict"]) == {"ball", "egg", "pill"}
    assert seen["tested"] == {("zs-clouds-b", c) for c in ("ball", "egg", "pill")}
