"""benchkit_components.grid_knn and fpfh_grid against open3d: the grid search finds the KD-tree's neighbours (the
max_nn nearest, then those strictly within the radius), and the FPFH computed from them is open3d's
compute_fpfh_feature."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial import cKDTree

from benchkit_components.fpfh import estimate_normals, fpfh_of_cloud, organized_fpfh, to_open3d
from benchkit_components.fpfh_grid import _spfh, fpfh_from_neighbours
from benchkit_components.grid_knn import grid_neighbours
from benchkit_components.grid import resize_nearest


def _scan(size: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A pin-hole scan of a bumpy tilted surface with a raised block (depth edges), a hole and a missing border,
    up-sampled by nearest sampling (repeated pixels, as BTF's resize of a smaller scan gives)."""
    rng = np.random.default_rng(seed)
    v, u = np.mgrid[0:size, 0:size] / size - 0.5
    depth = 0.5 + 0.05 * u + 0.004 * np.sin(9 * v) + 0.0002 * rng.random(u.shape)
    depth[10:18, 22:30] -= 0.01  # a step towards the camera: neighbours across it are far in space
    xyz = np.stack([u * depth * 0.3, v * depth * 0.3, depth], axis=-1)
    xyz[25:29, 5:12] = 0.0  # a hole
    xyz[:, :2] = 0.0  # a missing border
    xyz = resize_nearest(xyz.astype(np.float32), size + size // 6)
    return xyz.astype(np.float64), np.any(xyz != 0, axis=-1)


@pytest.mark.parametrize("max_nn,radius", [(100, 0.25), (30, 0.004), (1, 0.25)])
def test_grid_neighbours_are_the_kdtree_neighbours(max_nn, radius):
    xyz, valid = _scan()
    points = xyz[valid]
    index, d2 = grid_neighbours(xyz, valid, max_nn, radius)
    distances, _ = cKDTree(points).query(points, k=max_nn)
    expected = np.where(distances.reshape(len(points), -1) < radius, distances.reshape(len(points), -1), np.inf)
    np.testing.assert_allclose(np.sqrt(d2), expected, rtol=1e-12)
    found = index >= 0
    assert (found == np.isfinite(expected)).all()
    np.testing.assert_array_equal(d2[found], ((points[index[found]] - np.repeat(points, found.sum(1), 0)) ** 2).sum(1))


@pytest.mark.parametrize("slacks", [(0, 1), (-2, -1, 0)])
def test_grid_neighbours_rescan_and_fall_back_to_the_kdtree_where_a_disc_is_not_enough(monkeypatch, slacks):
    """Discs too small for the scan's borders, hole and step: the larger discs, then the KD-tree, must make up for
    them, and the neighbours stay the KD-tree's."""
    import benchkit_components.grid_knn as grid

    monkeypatch.setattr(grid, "SLACKS", slacks)
    xyz, valid = _scan()
    points = xyz[valid]
    _, d2 = grid_neighbours(xyz, valid, 100, 0.25)
    assert 0 < grid_neighbours.last_fallback_fraction < grid_neighbours.last_rescan_fraction < 1
    distances, _ = cKDTree(points).query(points, k=100)
    np.testing.assert_allclose(np.sqrt(d2), np.where(distances < 0.25, distances, np.inf), rtol=1e-12)


@pytest.mark.parametrize("cloud", ["spread", "one point", "a line"])
def test_the_proofs_ball_counts_are_exact(cloud):
    """The proof's counts equal a brute-force count with the same rule (squared distance <= radius squared) for
    balls smaller and larger than the grid's cells, centred on points, beside them and outside the cloud."""
    from benchkit_components.grid_knn import _BallCounter

    rng = np.random.default_rng(0)
    points = {"spread": rng.normal(size=(3000, 3)) * [1.0, 0.5, 0.01], "one point": np.ones((50, 3)),
              "a line": np.outer(np.linspace(0, 1, 400), [1.0, 2.0, 3.0])}[cloud]
    near = points[rng.integers(len(points), size=200)]
    centres = np.concatenate([near, near + rng.normal(scale=0.05, size=near.shape), [[9.0, 9, 9]]])
    radii = np.concatenate([rng.uniform(0.0, 0.6, size=len(centres) - 1), [1.0]])
    radii[:10] = 0.0  # a ball of radius 0 holds its centre's copies
    squared = ((centres[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    for typical in (0.1, 1e-4):  # cells as wide as the balls, and cells capped at 128 per axis
        counts = _BallCounter(points, typical_radius=typical).count(centres, radii)
        np.testing.assert_array_equal(counts, (squared <= radii[:, None] ** 2).sum(1))


@pytest.mark.parametrize("normal,radius,max_nn", [(0.1, 0.25, 100), (0.003, 0.006, 60)])
def test_fpfh_from_grid_neighbours_is_open3ds_fpfh(normal, radius, max_nn):
    xyz, valid = _scan(seed=1)
    cloud = to_open3d(xyz[valid])
    estimate_normals(cloud, normal, 30)
    expected = fpfh_of_cloud(cloud, radius, max_nn)
    index, d2 = grid_neighbours(xyz, valid, max_nn, radius)
    ours = fpfh_from_neighbours(xyz[valid], np.asarray(cloud.normals), index, d2)
    assert expected.any(axis=1).mean() > 0.9
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-4)


def test_organized_fpfh_is_open3ds_fpfh_of_the_valid_points_laid_on_the_grid():
    xyz, valid = _scan(seed=2)
    image = organized_fpfh(xyz, valid)
    cloud = to_open3d(xyz[valid])
    estimate_normals(cloud, 0.1, 30)
    np.testing.assert_allclose(image[:, valid].T, fpfh_of_cloud(cloud, 0.25, 100), rtol=1e-5, atol=1e-4)
    assert not image[:, ~valid].any()


def test_organized_fpfh_rejects_a_mask_of_another_shape():
    xyz, valid = _scan()
    with pytest.raises(ValueError, match="valid mask"):
        organized_fpfh(xyz, valid[1:])


def _open3d_pair_bins(p1, n1, p2, n2):
    """open3d's ``ComputePairFeatures`` (pipelines/registration/Feature.cpp) and its three 11-bin indices, written
    out plainly with ``math.atan2``."""
    dp = p2 - p1
    length = float(np.linalg.norm(dp))
    features = [0.0, 0.0, 0.0]
    if length != 0.0:
        angle1, angle2 = float(n1 @ dp) / length, float(n2 @ dp) / length
        source, target, line, f3 = n1, n2, dp, angle1
        if math.acos(abs(angle1)) > math.acos(abs(angle2)):
            source, target, line, f3 = n2, n1, -dp, -angle2
        v = np.cross(line, source)
        if np.linalg.norm(v) != 0.0:
            v = v / np.linalg.norm(v)
            w = np.cross(source, v)
            features = [math.atan2(float(w @ target), float(source @ target)), float(v @ target), f3]
    return (min(10, max(0, math.floor(11 * (features[0] + math.pi) / (2 * math.pi)))),
            min(10, max(0, math.floor(11 * (features[1] + 1) * 0.5))),
            min(10, max(0, math.floor(11 * (features[2] + 1) * 0.5))))


def test_spfh_bins_are_open3ds_on_and_beside_the_angle_bins_edges():
    """The kernel bins the angle from a polynomial arctangent and defers to atan2 near bin edges: pairs whose angle
    lies on each edge (and on +-pi with either sign of zero), just beside it, and at random must all land in the
    bins of open3d's formula."""
    rng = np.random.default_rng(0)
    angles = [-math.pi + 2 * math.pi * k / 11 + offset for k in range(12) for offset in (0.0, 1e-12, -1e-12, 1e-7)]
    angles += list(rng.uniform(-math.pi, math.pi, 400))
    p1s, n1s, p2s, n2s = [], [], [], []
    for angle in angles:
        source = rng.normal(size=3)
        source /= np.linalg.norm(source)
        across = np.cross(source, rng.normal(size=3))
        line = 2 * source + 0.1 * across / np.linalg.norm(across)
        v = np.cross(line, source)
        v /= np.linalg.norm(v)
        w = np.cross(source, v)
        tilt = rng.choice([-1, 1]) * rng.uniform(0.1, 0.3)  # |target . line| < |source . line|: no swap
        target = math.sqrt(1 - tilt**2) * (math.cos(angle) * source + math.sin(angle) * w) + tilt * v
        p1 = rng.normal(size=3)
        p1s.append(p1)
        n1s.append(source)
        p2s.append(p1 + line)
        n2s.append(target)
    p1s.append(np.zeros(3))  # a zero-length pair and a pair along the normal: all features zero
    n1s.append(np.array([0.0, 0.0, 1.0]))
    p2s.append(np.zeros(3))
    n2s.append(np.array([0.0, 1.0, 0.0]))
    p1s.append(np.zeros(3))
    n1s.append(np.array([0.0, 0.0, 1.0]))
    p2s.append(np.array([0.0, 0.0, 0.5]))
    n2s.append(np.array([0.0, 0.0, -1.0]))
    pairs = len(p1s)
    points = np.empty((2 * pairs, 3))
    normals = np.empty((2 * pairs, 3))
    points[0::2], points[1::2], normals[0::2], normals[1::2] = p1s, p2s, n1s, n2s
    index = np.full((2 * pairs, 2), -1, dtype=np.int64)
    index[0::2, 0], index[0::2, 1] = np.arange(0, 2 * pairs, 2), np.arange(1, 2 * pairs, 2)
    count = (index >= 0).sum(axis=1)
    histograms = _spfh(points, normals, index, count)[0::2]
    got = [tuple(int(b) for b in np.flatnonzero(h).tolist()) for h in histograms]
    expected = [(b0, 11 + b1, 22 + b2) for b0, b1, b2 in map(_open3d_pair_bins, p1s, n1s, p2s, n2s)]
    assert got == expected
    assert len({e[0] for e in expected}) == 11  # every angle bin is reached
