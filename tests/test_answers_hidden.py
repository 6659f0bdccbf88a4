"""Answers never reach detector code: test inputs under opaque ids, shuffled, stripped, at one coordinate precision;
a training sequence with no handle on the data; and hostile detectors (tests/spy_plugins.py), each scoring one
leak channel, at chance level in unified-agnostic on synthetic-pc and synthetic-rgbd.

The controls show each spy does recover the labels from the unblinded samples, so the end-to-end check can fail.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import spy_plugins  # noqa: E402

from benchkit.blinding import (TrainingSamples, in_plan_order, presentation_order, read_input,  # noqa: E402
                               remove_inputs, visible, write_test_inputs)
from benchkit.metrics import auroc  # noqa: E402
from benchkit.sample import Sample  # noqa: E402
from benchkit.scoring import Predictions  # noqa: E402

DATASETS = ("synthetic-pc", "synthetic-rgbd")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """Both synthetic datasets, generated once into a private cache; (reader, every test ref, training refs)."""
    from benchkit.plugins import get_registry

    cache = tmp_path_factory.mktemp("cache")
    old = os.environ.get("BENCHKIT_CACHE")
    os.environ["BENCHKIT_CACHE"] = str(cache)
    out = {}
    try:
        registry = get_registry()
        for name in DATASETS:
            spec = registry.get("datasets", name)
            ds = spec.open(cache / name) if hasattr(spec, "open") else spec.factory(cache / name)
            ds.prepare()
            test = [r for c in ds.categories() for r in ds.index(c, "test")]
            train = [r for c in ds.categories() for r in ds.index(c, "train")]
            out[name] = (ds, test, train)
    finally:
        if old is None:
            os.environ.pop("BENCHKIT_CACHE", None)
        else:
            os.environ["BENCHKIT_CACHE"] = old
    yield out, cache


def _auroc(labels, scores):
    value = auroc(np.asarray(labels), np.asarray(scores, dtype=float))
    return 0.5 if value is None else value


def _chance_bound(labels, z=3.5):
    """|AUROC - 0.5| a score unrelated to the labels stays within (normal approximation, z standard errors)."""
    n1, n0 = sum(labels), len(labels) - sum(labels)
    return z * np.sqrt((n0 + n1 + 1) / (12.0 * n0 * n1))


# -- the pieces ---------------------------------------------------------------------------------------------------
def test_visible_keeps_inputs_only_and_rounds():
    s = Sample(id="2_missing", category="ashtray0", label=1, points=np.array([[0.1234567, 1.0, 2.0]], np.float32),
               gt=np.ones(1, np.uint8), defect="missing", meta={"files": ["ashtray0/GT/x.txt"]})
    v = visible(s, "ab12", hide_category=True, decimals=6)
    assert (v.id, v.category, v.label, v.defect, v.gt, v.meta) == ("ab12", None, None, None, None, {})
    assert v.points.dtype == np.float32 and v.points[0, 0] == np.float32(0.123457)
    assert visible(s, "x", hide_category=False, decimals=None).category == "ashtray0"


def test_inputs_round_trip_in_a_seeded_shuffled_order(synthetic, tmp_path):
    (data, _) = synthetic
    ds, test, _ = data["synthetic-pc"]
    inputs, order = write_test_inputs(ds, test, seed=3, key="job", hide_category=True, parent=tmp_path)
    try:
        assert sorted(order) == list(range(len(test))) and order != list(range(len(test)))
        again, order2 = write_test_inputs(ds, test, seed=3, key="job", hide_category=True, parent=tmp_path)
        assert order2 == order and again.ids == inputs.ids
        assert write_test_inputs(ds, test, seed=4, key="job", hide_category=True, parent=tmp_path)[1] != order
        assert len(set(inputs.ids)) == len(test) and all(len(i) == 16 for i in inputs.ids)
        for k in (0, len(test) - 1):
            got, raw = read_input(inputs, k), ds.load(test[order[k]])
            assert got.label is None and got.category is None and got.gt is None and got.meta == {}
            assert np.array_equal(got.points, np.round(raw.points.astype(np.float64), 6).astype(np.float32))
        names = sorted(p.name for p in Path(inputs.folder).iterdir())
        assert names == sorted(f"{i}.npz" for i in inputs.ids)  # nothing else in the folder
    finally:
        remove_inputs(inputs)
    assert not Path(inputs.folder).exists()


def test_predictions_go_back_to_plan_order():
    order = [2, 0, 1]
    back = in_plan_order(Predictions(scores=[0.2, 0.0, 0.1], maps=["m2", "m0", "m1"]), order)
    assert back.scores == [0.0, 0.1, 0.2] and back.maps == ["m0", "m1", "m2"]
    short = Predictions(scores=[1.0], maps=["x"])
    assert in_plan_order(short, order) is short  # left for scoring to reject


def test_training_sequence_has_no_handle_and_hides_categories(synthetic):
    (data, _) = synthetic
    ds, _, train = data["synthetic-pc"]
    seq = TrainingSamples({ds.name: ds}, train, hide_category=True, seed=0, key="k")
    assert len(seq) == len(train) and not [a for a in vars(seq) if a not in ("_n", "_load")]
    assert not any(hasattr(seq, a) for a in ("refs", "dataset", "_refs", "_datasets"))
    samples = list(seq)
    assert all(s.category is None and s.meta == {} and len(s.id) == 16 for s in samples)
    cats = [r.category for r in train]
    shown = [next(r.category for r in train if np.allclose(ds.load(r).points, s.points, atol=1e-5)) for s in samples[:6]]
    assert shown != cats[:6]  # shuffled: not grouped by category
    plain = TrainingSamples({ds.name: ds}, train, hide_category=False, seed=0, key="k")
    assert [s.category for s in plain] == cats and [s.id for s in plain] == [r.id for r in train]
    with pytest.raises(IndexError):
        plain[len(train)]


# -- the spies work on unblinded samples (controls) -----------------------------------------------------------------
@pytest.mark.parametrize("dataset", DATASETS)
def test_spies_recover_labels_from_unblinded_samples(synthetic, dataset):
    (data, _) = synthetic
    ds, test, _ = data[dataset]
    raw = [ds.load(r) for r in test]
    labels = [s.label for s in raw]
    assert _auroc(labels, [spy_plugins.id_score(s) for s in raw]) > 0.95
    assert _auroc(labels, [spy_plugins.meta_score(s) for s in raw]) > 0.95
    assert _auroc(labels, list(range(len(raw)))) != 0.5  # the stored order is not random
    if dataset == "synthetic-pc":  # anomalous clouds come from 6-decimal text, normal ones from binary PCD
        assert _auroc(labels, [spy_plugins.precision_score(s) for s in raw]) > 0.95
    held = raw  # an answered copy in this process's memory is found by the frame spy
    assert [spy_plugins.frame_score(s.hidden()) for s in held[:4]] == [float(s.label) for s in held[:4]]

    class Handle:  # a training sequence that exposes its dataset
        dataset = ds
    found = spy_plugins.Spy._labels_from(Handle())
    assert _auroc(labels, [found.get(r.id, 0.5) for r in test]) == 1.0


# -- end to end: every channel at chance level ------------------------------------------------------------------------
@pytest.mark.slow  # twelve jobs (~1-2 min on a busy 2-core machine)
def test_spies_score_at_chance_in_unified_agnostic(synthetic, tmp_path, monkeypatch):
    from benchkit.cli import main
    from benchkit.plugins import set_registry
    from benchkit.results import iter_records

    (_, cache) = synthetic
    monkeypatch.setenv("BENCHKIT_CACHE", str(cache))
    monkeypatch.setenv("BENCHKIT_PLUGINS", "spy_plugins")
    monkeypatch.setenv("BENCHKIT_PRELOAD", "numpy,benchkit.worker")  # the spies need no torch: faster workers
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    set_registry(None)
    try:
        args = ["run", "--setting", "unified-agnostic", "--results", str(tmp_path / "res"), "--no-site", "--quiet",
                "--workers", "2"]
        for name in spy_plugins.SPIES:
            args += ["--detector", name]
        for name in DATASETS:
            args += ["--dataset", name]
        assert main(args) == 0
    finally:
        set_registry(None)
    recs = [r for _, r in iter_records(tmp_path / "res")]
    assert len(recs) == len(spy_plugins.SPIES) * len(DATASETS) and all(r.status == "ok" for r in recs)
    for rec in recs:
        labels = [s.label for s in rec.samples]
        value = _auroc(labels, [s.score for s in rec.samples])
        assert abs(value - 0.5) <= _chance_bound(labels), (rec.job.detector, rec.job.dataset, value)
    assert not list((cache / "inputs").iterdir())  # every job's blinded inputs were removed
