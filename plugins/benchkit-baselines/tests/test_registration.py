"""RANSAC of `benchkit_baselines.registration` checks several batches of hypotheses at once; these tests hold it to
the plain definition (one batch drawn, checked and counted at a time, stopping rule after each batch): the same
transform and inliers, bit for bit, whether RANSAC stops early or runs every iteration."""

import numpy as np
import pytest
from benchkit import rng

from benchkit_baselines.registration import _three_distinct, kabsch, ransac


def one_batch_at_a_time(source, target, distance, generator, max_iterations, confidence=0.999, edge_similarity=0.9,
                        batch=1000):
    """RANSAC as first written: each batch of 3-point hypotheses on its own."""
    best_inliers, best = np.zeros(len(source), dtype=bool), np.eye(4)
    needed, done = max_iterations, 0
    while done < min(needed, max_iterations):
        picks = _three_distinct(generator, len(source), batch)
        done += batch
        s, t = source[picks], target[picks]
        pairs = [(0, 1), (0, 2), (1, 2)]
        edges_s = np.stack([np.linalg.norm(s[:, a] - s[:, b], axis=1) for a, b in pairs], axis=1)
        edges_t = np.stack([np.linalg.norm(t[:, a] - t[:, b], axis=1) for a, b in pairs], axis=1)
        similar = ((edges_s > edges_t * edge_similarity) & (edges_t > edges_s * edge_similarity)).all(axis=1)
        if not similar.any():
            continue
        transforms = kabsch(s[similar], t[similar])
        moved = s[similar] @ np.swapaxes(transforms[:, :3, :3], 1, 2) + transforms[:, None, :3, 3]
        close = (np.linalg.norm(moved - t[similar], axis=2) < distance).all(axis=1)
        if not close.any():
            continue
        transforms = transforms[close]
        all_moved = source[None] @ np.swapaxes(transforms[:, :3, :3], 1, 2) + transforms[:, None, :3, 3]
        inliers = np.linalg.norm(all_moved - target[None], axis=2) < distance
        winner = int(np.argmax(inliers.sum(axis=1)))
        if inliers[winner].sum() > best_inliers.sum():
            best_inliers, best = inliers[winner], transforms[winner]
            ratio = best_inliers.mean()
            needed = int(np.ceil(np.log(1 - confidence) / np.log(max(1e-12, 1 - ratio**3)))) if ratio < 1 else 0
    if best_inliers.sum() >= 3:
        best = kabsch(source[best_inliers], target[best_inliers])
    return best, best_inliers


def correspondences(n: int, outliers: float, noise: float, seed: int):
    """n source points, their images under a rigid motion (plus noise), a fraction of them replaced by outliers."""
    g = np.random.default_rng(seed)
    source = g.normal(size=(n, 3)) * 10
    rotation = np.linalg.qr(g.normal(size=(3, 3)))[0]
    rotation *= np.sign(np.linalg.det(rotation))
    target = source @ rotation.T + g.normal(size=3) + g.normal(scale=noise, size=(n, 3))
    wrong = g.random(n) < outliers
    target[wrong] = g.normal(size=(int(wrong.sum()), 3)) * 10
    return source, target


@pytest.mark.parametrize("n, outliers, noise, seed, batch, max_iterations", [
    (400, 0.3, 0.05, 3, 1000, 100_000),  # a clear consensus: stops after the first batch
    (400, 0.9, 0.05, 9, 1000, 100_000),  # a weak one: the stop moves as better hypotheses turn up
    (400, 1.0, 0.05, 10, 1000, 30_000),  # none: every iteration runs
    # small batches, noise near the threshold: the stop falls inside a group of batches checked together, and a
    # later batch of that group holds a better hypothesis (counting it anyway would change the result)
    (200, 0.5, 0.25, 14, 10, 100_000),
])
def test_ransac_equals_one_batch_at_a_time(n, outliers, noise, seed, batch, max_iterations):
    source, target = correspondences(n, outliers, noise, seed)
    expected = one_batch_at_a_time(source, target, 0.5, rng(seed, "ransac"), max_iterations, batch=batch)
    transform, inliers = ransac(source, target, 0.5, rng(seed, "ransac"), max_iterations, batch=batch)
    np.testing.assert_array_equal(inliers, expected[1])
    np.testing.assert_array_equal(transform, expected[0])
    if outliers < 1:
        assert inliers.sum() > 0.3 * (1 - outliers) * n  # it found the motion


def test_ransac_with_fewer_than_three_correspondences_is_the_identity():
    transform, inliers = ransac(np.zeros((2, 3)), np.ones((2, 3)), 0.5, rng(0, "ransac"))
    np.testing.assert_array_equal(transform, np.eye(4))
    assert not inliers.any()
