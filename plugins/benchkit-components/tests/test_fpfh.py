"""FPFH layout, spatial order and point spacing checks for benchkit_components.fpfh (and the grid resize)."""

import numpy as np
import pytest

from benchkit_components.fpfh import FPFH_DIM, fpfh, mean_spacing, organized_fpfh, spatial_order
from benchkit_components.grid import resize_nearest


def _sphere(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(n, 3))
    return p / np.linalg.norm(p, axis=1, keepdims=True)


def test_fpfh_is_one_33d_histogram_triple_per_point():
    f = fpfh(_sphere(800), normal_radius=0.3, normal_max_nn=30, fpfh_radius=0.5, fpfh_max_nn=50)
    assert f.shape == (800, FPFH_DIM) and f.dtype == np.float32
    # open3d: three 11-bin histograms; each is the point's own (sum 100) plus its neighbours' weighted mean (sum 100)
    np.testing.assert_allclose(f.reshape(800, 3, 11).sum(axis=2), 200.0, rtol=1e-4)


def test_fpfh_of_empty_cloud():
    assert fpfh(np.zeros((0, 3))).shape == (0, FPFH_DIM)


def test_organized_fpfh_layout_matches_the_unorganized_features_of_the_valid_points():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:20, 0:24] / 20.0
    xyz = np.stack([xx, yy, 0.1 * np.sin(3 * xx) + 0.01 * rng.random(xx.shape)], axis=-1)
    xyz[:3] = 0.0  # three empty rows: no points there
    valid = np.any(xyz != 0, axis=-1)
    params = dict(normal_radius=0.2, normal_max_nn=30, fpfh_radius=0.3, fpfh_max_nn=60)
    feature_image = organized_fpfh(xyz, **params)
    assert feature_image.shape == (FPFH_DIM, 20, 24)
    assert not feature_image[:, :3].any()  # no point, zero feature
    expected = fpfh(xyz[valid], **params)  # row-major order of the valid pixels
    np.testing.assert_allclose(feature_image[:, valid].T, expected, rtol=1e-5, atol=1e-5)


def test_organized_fpfh_rejects_unorganized_input():
    with pytest.raises(ValueError, match="H x W x 3"):
        organized_fpfh(np.zeros((10, 3)))


def test_resize_nearest_follows_torch_nearest_rule():
    torch = pytest.importorskip("torch")
    image = np.arange(7 * 5 * 3, dtype=np.float32).reshape(7, 5, 3)
    ours = resize_nearest(image, (11, 4))
    theirs = torch.nn.functional.interpolate(torch.from_numpy(image).permute(2, 0, 1)[None], size=(11, 4),
                                             mode="nearest")[0].permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(ours, theirs)


def test_mean_spacing_of_a_regular_grid():
    yy, xx = np.mgrid[0:30, 0:30] * 0.5
    grid = np.stack([xx.ravel(), yy.ravel(), np.zeros(900)], axis=1)
    assert mean_spacing(grid) == pytest.approx(0.5)


def test_mean_spacing_is_exact_on_a_large_cloud():
    # a 500 x 500 grid (250k points) in random order: a subsample would read the spacing far too wide
    yy, xx = np.mgrid[0:500, 0:500] * 0.2
    grid = np.stack([xx.ravel(), yy.ravel(), np.zeros(xx.size)], axis=1)
    grid = grid[np.random.default_rng(0).permutation(len(grid))]
    assert mean_spacing(grid) == pytest.approx(0.2, rel=1e-9)


def test_spatial_order_is_a_permutation_that_keeps_neighbours_close():
    points = np.random.default_rng(3).random((5000, 3))
    order = spatial_order(points)
    assert sorted(order.tolist()) == list(range(5000))
    step = np.linalg.norm(np.diff(points[order], axis=0), axis=1).mean()
    assert step < 0.25 * np.linalg.norm(np.diff(points, axis=0), axis=1).mean()


def test_spatially_sorted_fpfh_equals_fpfh_in_input_order():
    points = _sphere(3000, seed=5)
    params = dict(normal_radius=0.15, normal_max_nn=30, fpfh_radius=0.3, fpfh_max_nn=100)
    sorted_first = fpfh(points, **params)
    plain = fpfh(points, **params, spatial_sort=False)
    np.testing.assert_allclose(sorted_first, plain, atol=1e-4)  # same neighbourhoods, same features


def test_mean_spacing_ignores_duplicate_points():
    yy, xx = np.mgrid[0:30, 0:30] * 0.5
    grid = np.stack([xx.ravel(), yy.ravel(), np.zeros(900)], axis=1)
    assert mean_spacing(np.concatenate([grid, grid[:100]])) == pytest.approx(0.5)
