"""Coreset, projection and nearest-neighbour checks for benchkit_components.memory_bank."""

import math

import numpy as np
import pytest

from benchkit_components.memory_bank import (
    approximate_greedy_coreset,
    greedy_coreset,
    half_precision_coreset,
    johnson_lindenstrauss_min_dim,
    reduce_for_coreset,
    reweighted_image_score,
    sparse_random_projection,
)
from benchkit_components.neighbours import NearestNeighbors
from benchkit_components.sampling import farthest_point_sampling


def test_greedy_coreset_picks_farthest_points_in_order():
    # points on a line: from 0 the farthest is 10, then the point farthest from {0, 10} is 4 (distance 4 vs 3 for 7)
    x = np.array([[0.0], [1.0], [4.0], [7.0], [10.0], [9.5]])
    assert greedy_coreset(x, 3).tolist() == [0, 4, 2]
    assert greedy_coreset(x, 4).tolist() == [0, 4, 2, 3]  # 7 is 3 away from 4 and from 10; 1 is 1 away from 0
    assert greedy_coreset(x, 2, start_index=4).tolist() == [4, 0]
    assert sorted(greedy_coreset(x, 10).tolist()) == list(range(6))  # never more than N, never twice


def test_greedy_coreset_of_wide_features_matches_a_brute_force_loop():
    x = np.random.default_rng(2).normal(size=(300, 40)).astype(np.float32)
    expected, nearest = [0], np.linalg.norm(x - x[0], axis=1)
    for _ in range(24):
        expected.append(int(np.argmax(nearest)))
        nearest = np.minimum(nearest, np.linalg.norm(x - x[expected[-1]], axis=1))
    assert greedy_coreset(x, 25).tolist() == expected


def test_greedy_coreset_of_duplicated_wide_features_never_picks_twice_and_breaks_ties_low():
    a = np.random.default_rng(5).normal(size=(5, 40)).astype(np.float32)
    picks = greedy_coreset(np.concatenate([a, a]), 8).tolist()
    assert sorted(picks[:5]) == [0, 1, 2, 3, 4]  # of two equal rows, the lower index goes first
    assert len(set(picks)) == 8 and set(picks[5:]) <= {5, 6, 7, 8, 9}  # then the copies, each once


def test_greedy_coreset_on_square_corners_and_centre():
    x = np.array([[0, 0], [1, 1], [0.5, 0.5], [0, 1], [1, 0]], dtype=np.float32)
    picks = greedy_coreset(x, 4)
    assert picks[:2].tolist() == [0, 1]
    assert set(picks[2:].tolist()) == {3, 4}  # the remaining corners are farther than the centre


def test_greedy_selection_with_initial_distances_starts_at_their_argmax():
    x = np.array([[0.0], [1.0], [4.0], [7.0], [10.0]])
    picks = farthest_point_sampling(x, 2, initial_distances=np.array([0.1, 0.2, 9.0, 0.3, 0.4]))
    # first pick: argmax of the initial values (index 2); then the running minimum keeps the small initial values,
    # so index 4 (initial 0.4, 6 away from 4) wins
    assert picks.tolist() == [2, 4]


def test_approximate_coreset_is_deterministic_and_spreads_out():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(500, 33)), rng.normal(size=(5, 33)) + 50])  # a far cluster of five
    a = approximate_greedy_coreset(x, 20, seed=3)
    assert a.tolist() == approximate_greedy_coreset(x, 20, seed=3).tolist()
    assert len(set(a.tolist())) == 20
    assert any(i >= 500 for i in a[:2])  # the far cluster is covered first


def test_jl_dimension_matches_scikit_learn():
    sklearn_rp = pytest.importorskip("sklearn.random_projection")
    for n in (10, 784, 150_000):
        assert johnson_lindenstrauss_min_dim(n, 0.9) == sklearn_rp.johnson_lindenstrauss_min_dim(n, eps=0.9)


def test_sparse_projection_is_seeded_and_roughly_preserves_distances():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 2000)).astype(np.float32)
    p = sparse_random_projection(x, 500, seed=1)
    assert p.shape == (50, 500)
    np.testing.assert_array_equal(p, sparse_random_projection(x, 500, seed=1))
    ratio = np.linalg.norm(p[0] - p[1]) / np.linalg.norm(x[0] - x[1])
    assert 0.8 < ratio < 1.2


def test_reduce_for_coreset_skips_projection_for_narrow_features_like_btf():
    x = np.random.default_rng(0).normal(size=(1000, 33)).astype(np.float32)
    np.testing.assert_array_equal(reduce_for_coreset(x), x)  # JL dimension 227 > 33: no projection
    wide = np.random.default_rng(0).normal(size=(1000, 1536)).astype(np.float32)
    assert reduce_for_coreset(wide).shape == (1000, johnson_lindenstrauss_min_dim(1000, 0.9))


def test_nearest_neighbors_returns_squared_l2():
    bank = NearestNeighbors(np.array([[0.0, 0.0], [3.0, 4.0]]))
    d, i = bank.search(np.array([[3.0, 5.0], [0.0, 0.1]]), k=1)
    assert i[:, 0].tolist() == [1, 0]
    np.testing.assert_allclose(d[:, 0], [1.0, 0.01], rtol=1e-5)
    assert bank.nbytes == 2 * 2 * 4


def test_reweighted_score_follows_the_formula():
    bank_features = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [5.0, 5.0]])
    bank = NearestNeighbors(bank_features)
    queries = np.array([[0.1, 0.0], [0.0, -1.0]])
    d2, idx = bank.search(queries, k=1)
    d = np.sqrt(d2[:, 0])
    score = reweighted_image_score(queries, bank, d, idx[:, 0], n_reweight=3)
    # worst query (0,-1) matched (0,0); its 3 nearest bank entries are (0,0), (1,0), (0,2): reweight with the last two
    s = 1.0
    knn = [math.dist((0, -1), (1, 0)), math.dist((0, -1), (0, 2))]
    expected = (1 - math.exp(s / math.sqrt(2)) / sum(math.exp(k / math.sqrt(2)) for k in knn)) * s
    assert score == pytest.approx(expected, rel=1e-5)


def test_patchcore_linear_projection_lifts_narrow_features():
    from benchkit_components.memory_bank import random_linear_projection

    x = np.random.default_rng(0).normal(size=(100, 33)).astype(np.float32)
    lifted = random_linear_projection(x, 128, seed=1)
    assert lifted.shape == (100, 128)
    np.testing.assert_array_equal(lifted, random_linear_projection(x, 128, seed=1))
    bound = 1 / math.sqrt(33)  # torch.nn.Linear's initial weights: uniform in +-1/sqrt(fan_in)
    matrix = random_linear_projection(np.eye(33, dtype=np.float32), 128, seed=1)
    assert np.abs(matrix).max() <= bound and np.abs(matrix).max() > 0.9 * bound
    np.testing.assert_array_equal(random_linear_projection(lifted, 128, seed=1), lifted)  # already 128-d
    with pytest.raises(ValueError, match="projection"):
        approximate_greedy_coreset(x, 5, projection="pca")


def test_a_lift_is_replaced_by_a_reduction_with_the_same_distances():
    from benchkit_components.memory_bank import distance_preserving_reduction, random_linear_projection

    x = np.random.default_rng(4).normal(size=(200, 33)).astype(np.float32)
    lifted, reduced = random_linear_projection(x, 128, seed=2), distance_preserving_reduction(x, 128, seed=2)
    assert reduced.shape == (200, 33)
    d_lifted = np.linalg.norm(lifted[:, None] - lifted[None], axis=2)
    d_reduced = np.linalg.norm(reduced[:, None] - reduced[None], axis=2)
    np.testing.assert_allclose(d_reduced, d_lifted, rtol=1e-4, atol=1e-4)
    # so the coreset selected on the 33 columns is the one PatchCore selects on the 128-d lift
    def picks(f):
        return farthest_point_sampling(f, 40, initial_distances=np.linalg.norm(f - f[0], axis=1)).tolist()

    assert picks(lifted) == picks(reduced)


def test_half_precision_coreset_rounds_distances_to_float16():
    exact = np.random.default_rng(0).integers(-8, 8, size=(400, 6)).astype(np.float32)  # representable in float16
    assert np.array_equal(half_precision_coreset(exact, 40), greedy_coreset(exact, 40))
    close = 1000 + np.random.default_rng(1).random((400, 6)).astype(np.float32)  # float16 cannot tell these apart
    picks = half_precision_coreset(close, 40)
    assert picks[0] == 0 and len(set(picks.tolist())) == 40
    assert not np.array_equal(picks, greedy_coreset(close, 40))


def _torch_half_coreset(features: np.ndarray, n: int) -> list[int]:
    """3D-ADS's loop (``get_coreset_idx_randomp`` with ``float16=True``) in torch, as the reference runs it."""
    import torch

    bank = torch.from_numpy(features)
    minimum = torch.linalg.norm(bank - bank[0:1], dim=1, keepdim=True).half()
    bank = bank.half()
    last, picks = bank[0:1], [0]
    for _ in range(n - 1):
        minimum = torch.minimum(torch.linalg.norm(bank - last, dim=1, keepdim=True), minimum)
        pick = int(torch.argmax(minimum))
        last, minimum[pick] = bank[pick:pick + 1], 0
        picks.append(pick)
    return picks


@pytest.mark.parametrize("kind", ["fpfh-like", "depth-like", "tiny"])
def test_half_precision_coreset_picks_what_torch_half_arithmetic_picks(kind):
    rng = np.random.default_rng(3)
    if kind == "fpfh-like":  # non-negative, many near-zero histogram bins: float16 ties abound
        x = rng.random((3000, 33)) ** 3 * rng.random((3000, 1)) * 60
    elif kind == "depth-like":  # 64 depths around 0.6 m: differences in float16's subnormal range
        x = 0.6 + 1e-4 * rng.normal(size=(2500, 64))
    else:  # chunks of the kernel (1024 rows) not filled, and more picks than distinct values
        x = rng.integers(0, 3, size=(1500, 2)) * 10.0
    x = x.astype(np.float32)
    assert half_precision_coreset(x, 300).tolist() == _torch_half_coreset(x, 300)
