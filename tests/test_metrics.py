"""Edge cases of benchkit.metrics, pinned by hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from benchkit import metrics
from benchkit.metrics import (
    DEFAULT_ORGANIZED,
    DEFAULT_POINTS,
    aupro,
    aupro_legacy,
    auroc,
    average_precision,
    compute_metrics,
    parse_aupro,
)


# -- object level ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("labels", [[0, 0, 0], [1, 1], []])
def test_single_class_is_none(labels):
    scores = np.arange(len(labels), dtype=float)
    assert auroc(labels, scores) is None
    assert average_precision(labels, scores) is None
    assert compute_metrics(labels, scores, organized=False) == {"i_auroc": None, "i_aupr": None}


def test_perfect_and_inverted_scores():
    labels = [0, 0, 1, 1, 1]
    assert auroc(labels, [0.1, 0.2, 0.3, 0.4, 0.5]) == 1.0
    assert average_precision(labels, [0.1, 0.2, 0.3, 0.4, 0.5]) == 1.0
    assert auroc(labels, [0.5, 0.4, 0.3, 0.2, 0.1]) == 0.0
    # inverted: the positives are found at ranks 3, 4, 5 -> precisions 1/3, 2/4, 3/5
    assert average_precision(labels, [0.5, 0.4, 0.3, 0.2, 0.1]) == pytest.approx((1 / 3 + 2 / 4 + 3 / 5) / 3)


def test_ties_count_one_half_and_move_together():
    labels = [0, 1, 0, 1]
    assert auroc(labels, [1, 1, 1, 1]) == 0.5
    assert average_precision(labels, [1, 1, 1, 1]) == 0.5  # one threshold: recall 1 at precision 1/2
    # one positive above everything, one tied with a negative
    labels, scores = [0, 0, 1, 1], [0.0, 0.5, 0.5, 0.9]
    assert auroc(labels, scores) == pytest.approx((2 + 1.5) / 4)
    assert auroc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert average_precision(labels, scores) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)


def test_object_inputs_are_validated():
    with pytest.raises(ValueError, match="sample 2 is NaN"):
        auroc([0, 1, 1], [0.1, 0.2, np.nan])
    with pytest.raises(ValueError, match="label of sample 1"):
        auroc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="equal length"):
        average_precision([0, 1], [0.1])


# -- AU-PRO ----------------------------------------------------------------------------------------------------------
def _one_row(scores, anomalous):
    """One 1 x n map: ground truth 1 at the given columns."""
    gt = np.zeros((1, len(scores)), dtype=np.uint8)
    gt[0, list(anomalous)] = 1
    return [gt], [np.asarray(scores, dtype=np.float64)[None, :]]


def test_aupro_limit_interpolation_without_tie():
    # 10 normal pixels scoring 0.0 .. 0.9, one defect pixel scoring 0.55: it is found once FPR reaches 0.4
    gts, maps = _one_row([*np.arange(10) / 10, 0.55], [10])
    assert aupro(gts, maps, 0.3) == 0.0
    assert aupro(gts, maps, 0.5) == pytest.approx((0.5 - 0.4) / 0.5)
    assert aupro(gts, maps, 1.0) == pytest.approx(0.6)


def test_aupro_tie_is_a_diagonal_cut_by_linear_interpolation():
    # the defect pixel ties with the normal pixel at 0.5: the curve goes straight from (0.4, 0) to (0.5, 1)
    gts, maps = _one_row([*np.arange(10) / 10, 0.5], [10])
    assert aupro(gts, maps, 0.4) == 0.0
    assert aupro(gts, maps, 0.45) == pytest.approx(0.5 * 0.05 * 0.5 / 0.45)  # PRO 0.5 at the limit
    assert aupro(gts, maps, 0.5) == pytest.approx(0.5 * 0.1 * 1.0 / 0.5)
    assert aupro(gts, maps, 1.0) == pytest.approx((0.05 + 0.5) / 1.0)


def test_aupro_all_scores_equal_is_the_diagonal():
    rng = np.random.default_rng(0)
    gts = [(rng.random((8, 8)) > 0.8).astype(np.uint8) for _ in range(3)]
    maps = [np.ones((8, 8), dtype=np.float32) for _ in gts]
    for limit in (0.01, 0.3, 1.0):
        assert aupro(gts, maps, limit) == pytest.approx(limit / 2)


def test_aupro_perfect_inverted_and_undefined():
    gt = np.zeros((6, 6), dtype=np.uint8)
    gt[1:3, 1:3] = 1
    gt[4, 4] = 1
    good = np.zeros((6, 6), dtype=np.uint8)
    perfect = [gt.astype(float), np.zeros((6, 6))]
    assert aupro([gt, good], perfect, 0.3) == 1.0
    assert aupro([gt, good], [-m for m in perfect], 0.3) == 0.0
    assert aupro([good, good], perfect, 0.3) is None  # no region
    assert aupro([np.ones((2, 2))], [np.zeros((2, 2))], 0.3) is None  # no normal pixel
    assert aupro_legacy([good, good], perfect) is None


def test_aupro_regions_are_8_connected_and_weigh_equally():
    # region A = two diagonal pixels (one region under 8-connectivity), region B = one pixel
    gt = np.zeros((5, 5), dtype=np.uint8)
    gt[0, 0] = gt[1, 1] = gt[3, 3] = 1
    scores = np.zeros((5, 5))
    scores[3, 3], scores[0, 0], scores[1, 1] = 2.0, 1.0, -1.0
    # above all normal pixels: B fully, A half -> PRO 0.75 until FPR 1 (4-connectivity would give 2/3)
    assert aupro([gt], [scores], 0.3) == pytest.approx(0.75)
    # a big region does not outweigh a small one: B (1 px) found, A (2 px) not -> PRO 0.5
    scores[0, 0] = -1.0
    assert aupro([gt], [scores], 0.3) == pytest.approx(0.5)


def test_aupro_good_maps_add_false_positives():
    gt = np.zeros((4, 4), dtype=np.uint8)
    gt[0, 0] = 1
    scores = np.linspace(0, 1, 16).reshape(4, 4)
    scores[0, 0] = 0.5  # 8 of 15 normal pixels score above it: found at FPR 8/15
    alone = aupro([gt], [scores], 1.0)
    assert alone == pytest.approx(1 - 8 / 15)
    # a good map scoring low everywhere dilutes the FPR: 8 of 31 normal pixels above
    with_good = aupro([gt, np.zeros((4, 4))], [scores, np.full((4, 4), -1.0)], 1.0)
    assert with_good == pytest.approx(1 - 8 / 31)


def test_legacy_counts_strictly_greater_and_uses_quantile_positions():
    # 4 normal pixels 0, 1, 2, 3 and one defect pixel at 2: with 4 thresholds (every normal pixel) the curve is
    # (0, 0) [t=3], (0.25, 0) [t=2: 2 is not > 2], (0.5, 1) [t=1], (0.75, 1) [t=0], then (1, 1) prepended
    gts, maps = _one_row([0, 1, 2, 3, 2], [4])
    assert aupro_legacy(gts, maps, 1.0, num_thresholds=4) == pytest.approx(0.5 * 0.25 + 0.5)
    # limit 0.375 lies between FPR 0.25 and 0.5: PRO interpolated to 0.5
    assert aupro_legacy(gts, maps, 0.375, num_thresholds=4) == pytest.approx(0.5 * 0.5 * 0.125 / 0.375)
    # with 2 thresholds only positions 0 and 3: (0, 0) [t=3], (0.75, 1) [t=0]
    assert aupro_legacy(gts, maps, 0.3, num_thresholds=2) == pytest.approx(0.5 * 0.3 * (0.3 / 0.75) / 0.3)
    # the exact curve: (0, 0), (0.25, 0), then the tie at 2 -> (0.5, 1), ... -> 0.125 + 0.5
    assert aupro(gts, maps, 1.0) == pytest.approx(0.625)


# -- names and the suite ---------------------------------------------------------------------------------------------
def test_parse_aupro_names():
    assert parse_aupro("aupro@0.3") == metrics.AuproName(0.3, None)
    assert parse_aupro("aupro@0.01/legacy100") == metrics.AuproName(0.01, 100)
    assert parse_aupro("p_auroc") is None
    with pytest.raises(ValueError, match="limit"):
        parse_aupro("aupro@1.5")
    with pytest.raises(ValueError, match="count"):
        parse_aupro("aupro@0.3/legacy1")


def _organized_set(seed=0, n=6, size=12):
    rng = np.random.default_rng(seed)
    gts, maps = [], []
    for i in range(n):
        gt = np.zeros((size, size), dtype=np.uint8)
        if i % 3:
            r, c = rng.integers(0, size - 3, 2)
            gt[r:r + 3, c:c + 2] = 1
        gts.append(gt)
        maps.append((rng.random((size, size)) + gt * rng.random()).astype(np.float32))
    labels = np.array([int(g.any()) for g in gts])
    scores = np.array([m.max() for m in maps])
    return labels, scores, gts, maps


def test_compute_metrics_defaults_and_agreement():
    labels, scores, gts, maps = _organized_set()
    out = compute_metrics(labels, scores, gts, maps, organized=True)
    assert tuple(out) == DEFAULT_ORGANIZED
    truth = np.concatenate([g.ravel() for g in gts])
    pixels = np.concatenate([m.ravel() for m in maps])
    assert out["i_auroc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert out["i_aupr"] == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
    assert out["p_auroc"] == pytest.approx(roc_auc_score(truth, pixels), abs=1e-12)
    assert out["p_aupr"] == pytest.approx(average_precision_score(truth, pixels), abs=1e-12)
    assert out["aupro@0.3"] == aupro(gts, maps, 0.3)
    assert out["aupro@0.01"] == aupro(gts, maps, 0.01)
    legacy = compute_metrics(labels, scores, gts, maps, organized=True, names=["aupro@0.2/legacy7"])
    assert legacy == {"aupro@0.2/legacy7": aupro_legacy(gts, maps, 0.2, 7)}
    assert tuple(compute_metrics(labels, scores, organized=True)) == ("i_auroc", "i_aupr")  # no gts: left out


def test_compute_metrics_points_pool_all_points():
    rng = np.random.default_rng(1)
    gts = [(rng.random(n) > 0.9).astype(np.uint8) for n in (30, 50, 20)]
    maps = [rng.random(len(g)) + g * 0.3 for g in gts]
    labels = np.array([1, 1, 0])
    gts[2][:] = 0
    out = compute_metrics(labels, [m.max() for m in maps], gts, maps, organized=False)
    assert tuple(out) == DEFAULT_POINTS
    truth, points = np.concatenate(gts), np.concatenate(maps)
    assert out["p_auroc"] == pytest.approx(roc_auc_score(truth, points), abs=1e-12)
    assert out["p_aupr"] == pytest.approx(average_precision_score(truth, points), abs=1e-12)
    with pytest.raises(ValueError, match="organized"):
        compute_metrics(labels, labels, gts, maps, organized=False, names=["aupro@0.3"])


def test_compute_metrics_without_anomalous_pixels_is_none():
    gts = [np.zeros((4, 4), np.uint8)] * 2
    maps = [np.random.default_rng(0).random((4, 4))] * 2
    out = compute_metrics([0, 1], [0.1, 0.2], gts, maps, organized=True)
    assert out["i_auroc"] == 1.0
    assert all(out[n] is None for n in ("p_auroc", "p_aupr", "aupro@0.3", "aupro@0.01"))


def test_valid_masks_drop_pixels():
    labels, scores, gts, maps = _organized_set(seed=2)
    valid = [np.ones(g.shape, dtype=bool) for g in gts]
    for v in valid:
        v[:, :3] = False  # a band of missing points
    junk = [np.where(v, m, 1e6).astype(np.float32) for m, v in zip(maps, valid)]
    masked = compute_metrics(labels, scores, gts, junk, organized=True, valid=valid)
    truth = np.concatenate([g[v] for g, v in zip(gts, valid)])
    pixels = np.concatenate([m[v] for m, v in zip(maps, valid)])
    assert masked["p_auroc"] == pytest.approx(roc_auc_score(truth, pixels), abs=1e-12)
    # masking whole columns is the same as cropping them away (the rectangular defects stay connected, and a
    # defect lying wholly inside the band is dropped either way)
    cropped = aupro([g[:, 3:] for g in gts], [m[:, 3:] for m in maps], 0.3)
    assert masked["aupro@0.3"] == pytest.approx(cropped, abs=1e-12)
    assert masked["aupro@0.3"] != compute_metrics(labels, scores, gts, maps, organized=True)["aupro@0.3"]


def test_unknown_metric_and_bad_maps():
    labels, scores, gts, maps = _organized_set()
    with pytest.raises(ValueError, match="unknown metric 'p_iou'"):
        compute_metrics(labels, scores, gts, maps, organized=True, names=["p_iou"])
    bad = [m.copy() for m in maps]
    bad[4][2, 3] = np.nan
    with pytest.raises(ValueError, match="sample 4 contains NaN"):
        compute_metrics(labels, scores, gts, bad, organized=True)
    with pytest.raises(ValueError, match="sample 1 has shape"):
        compute_metrics(labels, scores, gts, [maps[0], maps[1][:5]] + maps[2:], organized=True)
    with pytest.raises(ValueError, match="sample 0 is NaN"):
        compute_metrics(labels, [np.nan] + list(scores[1:]), organized=True)
