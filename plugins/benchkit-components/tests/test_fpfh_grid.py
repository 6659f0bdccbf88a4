"""benchkit_components.fpfh_grid against open3d: the grid search finds the KD-tree's neighbours (the max_nn nearest,
then those strictly within the radius), and the FPFH computed from them is open3d's compute_fpfh_feature."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from benchkit_components.fpfh import estimate_normals, fpfh_of_cloud, organized_fpfh, to_open3d
from benchkit_components.fpfh_grid import fpfh_from_neighbours, grid_neighbours
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


def test_grid_neighbours_fall_back_to_the_kdtree_where_the_window_is_not_enough():
    xyz, valid = _scan()
    grid_neighbours(xyz, valid, 100, 0.25)
    assert 0 < grid_neighbours.last_fallback_fraction < 0.5  # the borders, hole and step need the KD-tree


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
