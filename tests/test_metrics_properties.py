"""benchkit.metrics against slow, obviously correct references on small random inputs (hypothesis)."""

from __future__ import annotations

import bisect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage
from sklearn.metrics import average_precision_score, roc_auc_score

from benchkit.metrics import aupro, aupro_legacy, auroc, average_precision, compute_metrics

QUICK = settings(max_examples=80, deadline=None)


@st.composite
def labelled_scores(draw):
    """0/1 labels and scores, with many ties (small integers) or few (floats)."""
    n = draw(st.integers(1, 30))
    labels = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    if draw(st.booleans()):
        scores = draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
    else:
        scores = draw(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=n, max_size=n))
    return np.array(labels), np.array(scores, dtype=np.float64)


@st.composite
def organized_set(draw):
    """1-4 small maps with random ground truth and scores (tied or not)."""
    count = draw(st.integers(1, 4))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    tied = draw(st.booleans())
    gts, maps = [], []
    for _ in range(count):
        gts.append(np.array(draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))).reshape(h, w))
        if tied:
            values = draw(st.lists(st.integers(0, 4), min_size=h * w, max_size=h * w))
        else:
            values = draw(st.lists(st.floats(0, 1, allow_nan=False), min_size=h * w, max_size=h * w))
        maps.append(np.array(values, dtype=np.float64).reshape(h, w))
    return [g.astype(np.uint8) for g in gts], maps


limits = st.one_of(st.sampled_from([0.01, 0.05, 0.3, 0.5, 1.0]), st.floats(0.001, 1.0))


# -- references ------------------------------------------------------------------------------------------------------
def auroc_by_pairs(labels, scores):
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def ap_by_enumeration(labels, scores):
    """Sum over distinct thresholds (descending) of recall increase x precision."""
    n_pos = int(labels.sum())
    if n_pos == 0 or n_pos == len(labels):
        return None
    total, previous_recall = 0.0, 0.0
    for t in sorted(set(scores.tolist()), reverse=True):
        chosen = scores >= t
        recall = labels[chosen].sum() / n_pos
        total += (recall - previous_recall) * labels[chosen].mean()
        previous_recall = recall
    return total


def integrate(x, y, limit):
    """Trapezoid of the polyline (x ascending) from x[0] to ``limit``, linear interpolation at the limit."""
    area = 0.0
    for i in range(1, len(x)):
        if x[i - 1] >= limit:
            break
        x1, y1 = x[i], y[i]
        if x1 > limit:
            y1 = y[i - 1] + (y[i] - y[i - 1]) * (limit - x[i - 1]) / (x[i] - x[i - 1])
            x1 = limit
        area += 0.5 * (y[i - 1] + y1) * (x1 - x[i - 1])
    return area


def aupro_by_every_threshold(gts, maps, limit):
    """Evaluate FPR and PRO at every distinct score t (pixels >= t are called anomalous), curve from (0, 0)."""
    regions = []
    for gt, m in zip(gts, maps):
        labeled, count = ndimage.label(gt, structure=np.ones((3, 3)))
        regions += [m[labeled == k] for k in range(1, count + 1)]
    normal = np.concatenate([m[gt == 0] for gt, m in zip(gts, maps)])
    if not regions or not normal.size:
        return None
    fprs, pros = [0.0], [0.0]
    for t in sorted(set(np.concatenate([m.ravel() for m in maps]).tolist()), reverse=True):
        fprs.append(float(np.mean(normal >= t)))
        pros.append(float(np.mean([np.mean(r >= t) for r in regions])))
    return integrate(fprs, pros, limit) / limit


class _Component:
    """A ground-truth component of the legacy utility: its sorted scores and a cursor moving with the threshold."""

    def __init__(self, scores):
        self.scores = np.sort(scores)
        self.index = 0

    def overlap(self, threshold):
        while self.index < len(self.scores) and self.scores[self.index] <= threshold:
            self.index += 1
        return 1.0 - self.index / len(self.scores)


def legacy_by_steps(gts, maps, limit, num_thresholds):
    """FACTS.md section 2, step by step, as the copied utility does it."""
    components, ok = [], []
    for gt, m in zip(gts, maps):
        labeled, count = ndimage.label(gt, structure=np.ones((3, 3), dtype=int))
        ok.extend(m[labeled == 0].tolist())
        components += [_Component(m[labeled == k]) for k in range(1, count + 1)]
    if not components or not ok:
        return None
    ok = np.sort(np.array(ok))
    fprs, pros = [1.0], [1.0]
    for pos in np.linspace(0, len(ok) - 1, num=num_thresholds, dtype=int):
        threshold = ok[pos]
        fprs.append(1.0 - (pos + 1) / len(ok))
        pros.append(sum(c.overlap(threshold) for c in components) / len(components))
    x, y = np.array(fprs[::-1]), np.array(pros[::-1])
    correction = 0.0
    if limit not in x:
        ins = bisect.bisect(x, limit)
        y_at = y[ins - 1] + (y[ins] - y[ins - 1]) * (limit - x[ins - 1]) / (x[ins] - x[ins - 1])
        correction = 0.5 * (y_at + y[ins - 1]) * (limit - x[ins - 1])
    keep = x <= limit
    x, y = x[keep], y[keep]
    return (np.sum(0.5 * (y[1:] + y[:-1]) * (x[1:] - x[:-1])) + correction) / limit


def _close(value, expected, tol=1e-12):
    if expected is None:
        return value is None
    return value is not None and abs(value - expected) <= tol


# -- properties ------------------------------------------------------------------------------------------------------
@QUICK
@given(labelled_scores())
def test_auroc_equals_pair_counting_and_sklearn(data):
    labels, scores = data
    value = auroc(labels, scores)
    assert _close(value, auroc_by_pairs(labels, scores))
    if value is not None:
        assert abs(value - roc_auc_score(labels, scores)) <= 1e-12


@QUICK
@given(labelled_scores())
def test_average_precision_equals_enumeration_and_sklearn(data):
    labels, scores = data
    value = average_precision(labels, scores)
    assert _close(value, ap_by_enumeration(labels, scores))
    if value is not None:
        assert abs(value - average_precision_score(labels, scores)) <= 1e-12


@QUICK
@given(organized_set(), limits)
def test_exact_aupro_equals_every_threshold_reference(data, limit):
    gts, maps = data
    assert _close(aupro(gts, maps, limit), aupro_by_every_threshold(gts, maps, limit), 1e-12)


@QUICK
@given(organized_set(), st.sampled_from([0.01, 0.1, 0.3, 1.0]), st.integers(2, 60))
def test_legacy_aupro_equals_step_by_step_reference(data, limit, count):
    gts, maps = data
    expected = legacy_by_steps(gts, maps, limit, count)
    assert _close(aupro_legacy(gts, maps, limit, count), None if expected is None else min(expected, 1.0), 1e-12)


@QUICK
@given(organized_set())
def test_pixel_metrics_equal_sklearn_on_the_concatenation(data):
    gts, maps = data
    labels = np.array([int(g.any()) for g in gts])
    out = compute_metrics(labels, [m.max() for m in maps], gts, maps, organized=True, names=["p_auroc", "p_aupr"])
    truth = np.concatenate([g.ravel() for g in gts])
    pixels = np.concatenate([m.ravel() for m in maps])
    if truth.min() == truth.max():
        assert out == {"p_auroc": None, "p_aupr": None}
    else:
        assert abs(out["p_auroc"] - roc_auc_score(truth, pixels)) <= 1e-12
        assert abs(out["p_aupr"] - average_precision_score(truth, pixels)) <= 1e-12


@pytest.mark.parametrize("seed", range(5))
def test_sklearn_agreement_on_larger_random_inputs(seed):
    rng = np.random.default_rng(seed)
    labels = (rng.random(5000) < 0.1).astype(int)
    tied = np.round(rng.random(5000) * 50) / 50 + labels * 0.1
    distinct = rng.standard_normal(5000) + labels
    for scores in (tied, distinct, distinct.astype(np.float32)):
        assert abs(auroc(labels, scores) - roc_auc_score(labels, scores)) <= 1e-12
        assert abs(average_precision(labels, scores) - average_precision_score(labels, scores)) <= 1e-12
