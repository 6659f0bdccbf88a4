import numpy as np
import pytest

from benchkit_components.groups import make_groups, reproject_scores, smooth_scores
from benchkit_components.sampling import farthest_point_sampling


def test_fps_starts_at_point_zero_and_takes_the_extremes():
    line = np.stack([np.linspace(0, 1, 11), np.zeros(11), np.zeros(11)], axis=1)
    line = line[[5, 0, 3, 10, 7, 1, 2, 4, 6, 8, 9]]  # point 0 is x=0.5
    chosen = farthest_point_sampling(line, 3)
    assert chosen[0] == 0
    assert sorted(line[chosen[1:], 0].tolist()) == [0.0, 1.0]


def test_fps_of_a_small_cloud_repeats_points():
    assert farthest_point_sampling(np.eye(3), 5).tolist() == [0, 1, 2, 0, 1]


@pytest.mark.parametrize("dims,ties,initial", [(3, False, False), (3, True, False), (2, False, False),
                                                (1, True, False), (3, False, True)])
def test_fps_compiled_on_the_cpu_picks_what_the_torch_loop_picks(dims, ties, initial):
    rng = np.random.default_rng(dims)
    x = (rng.normal(size=(9000, dims)) * [10.0, 1.0, 0.1][:dims]).astype(np.float32)  # spans three chunks
    if ties:
        x = np.round(x, 1)
    start = rng.random(len(x)).astype(np.float32) if initial else None
    torch_loop = farthest_point_sampling(x, 700, initial_distances=start, device="cpu:0")  # not "cpu": torch
    assert farthest_point_sampling(x, 700, initial_distances=start).tolist() == torch_loop.tolist()


def test_groups_are_the_nearest_points_of_each_centre():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(500, 3)).astype(np.float32)
    g = make_groups(pts, num_group=16, group_size=8)
    assert g.index.shape == (16, 8) and g.centers.shape == (16, 3)
    assert (g.index[:, 0] == g.center_index).all()  # a centre is its own nearest point
    d = np.linalg.norm(pts[None] - g.centers[:, None], axis=2)
    np.testing.assert_array_equal(np.sort(g.index, axis=1), np.sort(np.argsort(d, axis=1)[:, :8], axis=1))
    np.testing.assert_allclose(g.neighbourhoods(pts)[:, 0], 0)


def test_reprojection_toy_case():
    # 6 points on a line; group A = {0, 1, 2} score 1, group B = {2, 3} score 3; points 4 and 5 in no group.
    points = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0], [4, 0, 0], [9, 0, 0]], dtype=np.float32)
    groups = np.array([[0, 1, 2], [2, 3, 3]])
    centers = np.array([[1, 0, 0], [8, 0, 0]], dtype=np.float32)  # point 4 is nearer A's centre, point 5 B's
    scores = np.array([1.0, 3.0])
    np.testing.assert_allclose(reproject_scores(scores, groups, points, centers, "max"), [1, 1, 3, 3, 1, 3])
    # mean counts group membership: point 2 is in A once and B once, point 3 in B twice
    np.testing.assert_allclose(reproject_scores(scores, groups, points, centers, "mean"), [1, 1, 2, 3, 1, 3])
    with pytest.raises(ValueError, match="reduce"):
        reproject_scores(scores, groups, points, centers, "median")
    with pytest.raises(ValueError, match="group scores"):
        reproject_scores(scores[:1], groups, points, centers)


def test_smoothing_spreads_a_spike_over_its_neighbours():
    points = np.stack([np.arange(10.0), np.zeros(10), np.zeros(10)], axis=1)
    spike = np.zeros(10)
    spike[5] = 3.0
    out = smooth_scores(points, spike, k=3)
    assert out[5] == pytest.approx(1.0) and out.sum() == pytest.approx(3.0)
    np.testing.assert_array_equal(smooth_scores(points, spike, k=1), spike)
