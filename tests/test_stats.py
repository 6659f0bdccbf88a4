"""benchkit.stats against scipy / scikit-learn on fixed inputs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from benchkit import stats
from benchkit.results import Counts, JobInfo, Provenance, Record


def _record(detector, category, seed, value, metric="i_auroc", status="ok"):
    metrics = {category: {metric: value}} if status == "ok" else {}
    return Record(
        benchkit_version="0.1.0",
        job=JobInfo(detector=detector, detector_version="1", dataset="toy", dataset_version="1", setting="one-model-one-class",
                    category=category, seed=seed, config={}, config_hash="x"),
        status=status, counts={category: Counts(train=1, test_normal=1, test_anomalous=1)}, metrics=metrics,
        provenance=Provenance(python="3", platform="p", cpu="c", threads=1, device="cpu", executor="local",
                              packages={}, timestamp="2026-01-01T00:00:00"),
    )


def test_mean_std_uses_sample_std_and_skips_missing():
    assert stats.mean_std([0.8, 0.9, None]) == pytest.approx((0.85, np.std([0.8, 0.9], ddof=1), 2))
    assert stats.mean_std([0.7]) == (0.7, None, 1)
    assert stats.mean_std([]) == (None, None, 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_metrics_match_sklearn_with_ties_and_weights(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(size=300) + y, 1)  # rounding makes many ties
    w = rng.integers(0, 4, 300).astype(float)
    assert stats.weighted_auroc(y, s, w) == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)
    assert stats.weighted_average_precision(y, s, w) == pytest.approx(
        average_precision_score(y, s, sample_weight=w), abs=1e-12)
    assert stats.weighted_auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_pixel_auroc_pair_counts_match_sklearn_weighted_by_sample():
    rng = np.random.default_rng(3)
    maps = [rng.random(200).round(2) for _ in range(6)]
    gts = [rng.random(200) > 0.85 for _ in range(6)]
    counts = np.array([0, 2, 1, 3, 1, 0], dtype=float)
    pairs = stats._PairCounts(gts, maps)
    expected = roc_auc_score(np.concatenate(gts), np.concatenate(maps), sample_weight=np.repeat(counts, 200))
    assert pairs.auroc(counts) == pytest.approx(expected, abs=1e-12)


def _toy_scores(rng, n=40):
    labels = np.r_[np.zeros(n // 2), np.ones(n // 2)].astype(int)
    scores = rng.normal(size=n) + 1.5 * labels
    return labels, scores


def test_bootstrap_is_seeded_stratified_and_brackets_the_estimate():
    rng = np.random.default_rng(0)
    la, sa = _toy_scores(rng)
    lb, sb = _toy_scores(rng)
    labels, scores = np.r_[la, lb], np.r_[sa, sb]
    cats = ["a"] * len(la) + ["b"] * len(lb)
    iv = stats.bootstrap_intervals(labels, scores, cats, n_boot=300, seed=7)
    assert iv == stats.bootstrap_intervals(labels, scores, cats, n_boot=300, seed=7)
    assert iv != stats.bootstrap_intervals(labels, scores, cats, n_boot=300, seed=8)
    assert set(iv) == {"a", "b", "mean"}
    for cat, lab, sco in (("a", la, sa), ("b", lb, sb)):
        lo, hi = iv[cat]["i_auroc"]
        assert lo <= roc_auc_score(lab, sco) <= hi and hi - lo > 0.02
        lo, hi = iv[cat]["i_aupr"]
        assert lo <= average_precision_score(lab, sco) <= hi
    mean_point = (roc_auc_score(la, sa) + roc_auc_score(lb, sb)) / 2
    lo, hi = iv["mean"]["i_auroc"]
    assert lo <= mean_point <= hi
    # averaging two independent categories narrows the interval
    assert hi - lo < max(iv["a"]["i_auroc"][1] - iv["a"]["i_auroc"][0], iv["b"]["i_auroc"][1] - iv["b"]["i_auroc"][0])


def test_bootstrap_with_maps_gives_pixel_intervals():
    rng = np.random.default_rng(1)
    labels, maps, gts = [], [], []
    for i in range(16):
        gt = np.zeros((8, 8), bool)
        if i % 2:
            gt[2:4, 2:5] = True
        maps.append(rng.random((8, 8)) + 0.8 * gt)
        gts.append(gt)
        labels.append(int(gt.any()))
    scores = [m.max() for m in maps]
    iv = stats.bootstrap_intervals(labels, scores, ["c"] * 16, gts, maps, n_boot=200, n_boot_maps=30, seed=0)
    point = roc_auc_score(np.concatenate([g.ravel() for g in gts]), np.concatenate([m.ravel() for m in maps]))
    lo, hi = iv["c"]["p_auroc"]
    assert lo <= point <= hi
    assert "p_aupr" in iv["c"]
    assert "p_aupr" not in stats.bootstrap_intervals(labels, scores, ["c"] * 16, gts, maps, n_boot=50)["c"]
    with pytest.raises(ValueError):
        stats.bootstrap_intervals(labels, scores, ["c"] * 16, gts, None)
