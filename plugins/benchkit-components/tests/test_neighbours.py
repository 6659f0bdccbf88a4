"""Exact kNN (KD-tree for points, brute force in blocks for feature banks), score spreading and seeded subsampling."""

import numpy as np
import pytest

from benchkit_components.neighbours import cpu_threads, knn, spread_to_points
from benchkit_components.sampling import subsample_indices


def _brute_force(reference, queries, k):
    d = ((queries[:, None, :] - reference[None]) ** 2).sum(axis=2)
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, idx, axis=1), idx


@pytest.mark.parametrize("width", [3, 8])  # 3: KD-tree, 8: NearestNeighbors
def test_knn_is_exact_and_nearest_first(width):
    rng = np.random.default_rng(width)
    reference, queries = rng.normal(size=(400, width)), rng.normal(size=(50, width))
    squared, idx = knn(reference, queries, 5)
    expected_d, expected_idx = _brute_force(reference, queries, 5)
    assert idx.dtype == np.int64 and idx.shape == (50, 5)
    np.testing.assert_array_equal(idx, expected_idx)
    np.testing.assert_allclose(squared, expected_d, rtol=1e-4, atol=1e-5)


def test_knn_clips_k_and_keeps_two_dimensions():
    squared, idx = knn(np.eye(3), np.zeros((2, 3)), 10)
    assert squared.shape == idx.shape == (2, 3)
    assert knn(np.eye(3), np.zeros((2, 3)), 1)[1].shape == (2, 1)
    with pytest.raises(ValueError, match="same width"):
        knn(np.eye(3), np.zeros((2, 2)), 1)


def test_cpu_threads_follows_the_harness(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert cpu_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert cpu_threads() >= 1


def test_spread_gives_every_point_its_nearest_sample_value():
    points = np.array([[0.0, 0, 0], [1, 0, 0], [0.1, 0, 0], [0.9, 0, 0]])
    assert spread_to_points(points[:2], np.array([5.0, 7.0]), points).tolist() == [5.0, 7.0, 5.0, 7.0]


def test_subsampling_is_seeded_per_key():
    assert subsample_indices(10, None, 0).tolist() == list(range(10))
    assert subsample_indices(10, 20, 0).tolist() == list(range(10))
    picked = subsample_indices(1000, 100, 4, "cloud-a")
    assert len(set(picked.tolist())) == 100 and (np.diff(picked) > 0).all()
    np.testing.assert_array_equal(picked, subsample_indices(1000, 100, 4, "cloud-a"))
    assert not np.array_equal(picked, subsample_indices(1000, 100, 4, "cloud-b"))  # each cloud its own draw
    assert not np.array_equal(picked, subsample_indices(1000, 100, 5, "cloud-a"))
    with pytest.raises(ValueError, match="at least 3"):
        subsample_indices(10, 2, 0)


def _exact(bank, queries, k):
    """Float64 brute force over the float32 values the search sees."""
    from scipy.spatial.distance import cdist

    d = cdist(np.float32(queries).astype(np.float64), np.float32(bank).astype(np.float64), "sqeuclidean")
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, idx, axis=1), idx


@pytest.mark.parametrize("k", [1, 4])
def test_bank_search_is_exact_across_query_blocks(k):
    from benchkit_components.neighbours import NearestNeighbors

    rng = np.random.default_rng(k)
    bank, queries = rng.random((2000, 33)) * 100, rng.random((700, 33)) * 100  # FPFH-like; queries span 3 blocks
    nn = NearestNeighbors(bank)
    assert 2 * nn._block_rows < len(queries)
    squared, idx = nn.search(queries, k)
    expected_d, expected_idx = _exact(bank, queries, k)
    np.testing.assert_array_equal(idx, expected_idx)
    np.testing.assert_allclose(squared, expected_d, rtol=1e-6)


@pytest.mark.parametrize("k", [1, 4])
def test_large_query_sets_go_to_faiss_and_find_the_same_neighbours(k, monkeypatch):
    """From FAISS_FROM_QUERIES queries on, faiss ranks the bank (centred like the numpy path); the neighbours and
    the recomputed distances are those of the exact brute force."""
    import benchkit_components.neighbours as neighbours

    monkeypatch.setattr(neighbours, "FAISS_FROM_QUERIES", 500)
    rng = np.random.default_rng(10 + k)
    bank, queries = 1000.0 + rng.random((2000, 33)) * 100, 1000.0 + rng.random((600, 33)) * 100
    nn = neighbours.NearestNeighbors(bank)
    squared, idx = nn.search(queries, k)
    assert nn._faiss_index is not None  # faiss did the ranking
    expected_d, expected_idx = _exact(bank, queries, k)
    np.testing.assert_array_equal(idx, expected_idx)
    np.testing.assert_allclose(squared, expected_d, rtol=1e-6)


@pytest.mark.parametrize("k", [1, 4])
def test_a_bank_of_points_is_ranked_by_a_kd_tree_and_finds_the_same_neighbours(k):
    from benchkit_components.neighbours import NearestNeighbors

    rng = np.random.default_rng(20 + k)
    bank, queries = 500.0 + rng.random((3000, 3)) * 50, 500.0 + rng.random((900, 3)) * 50  # xyz in millimetres
    nn = NearestNeighbors(bank)
    squared, idx = nn.search(queries, k)
    assert nn._tree is not None and nn._faiss_index is None
    expected_d, expected_idx = _exact(bank, queries, k)
    np.testing.assert_array_equal(idx, expected_idx)
    np.testing.assert_allclose(squared, expected_d, rtol=1e-5)


def test_bank_search_tells_close_neighbours_apart_far_from_the_origin():
    """Coordinates in millimetres a metre from the origin, 0.05 mm apart: |q|^2 + |b|^2 - 2 q.b in float32 cannot
    rank those (its rounding is ~0.1 mm^2); the search ranks on centred copies and measures |q - b|^2 directly."""
    from benchkit_components.neighbours import NearestNeighbors

    rng = np.random.default_rng(0)
    bank = 1000.0 + rng.random((2000, 3)) * 10
    queries = bank[:500] + rng.normal(scale=0.05, size=(500, 3))
    squared, idx = NearestNeighbors(bank).search(queries, 1)
    expected_d, expected_idx = _exact(bank, queries, 1)
    np.testing.assert_array_equal(idx, expected_idx)
    np.testing.assert_allclose(squared, expected_d, rtol=1e-3, atol=1e-7)


def test_bank_search_refuses_queries_of_another_width():
    from benchkit_components.neighbours import NearestNeighbors

    with pytest.raises(ValueError, match="queries must be Q x 3"):
        NearestNeighbors(np.eye(3)).search(np.zeros((2, 4)))


def test_small_products_run_on_one_blas_thread_and_large_ones_on_blas_own_count():
    from threadpoolctl import threadpool_info, threadpool_limits

    from benchkit_components.jit import SERIAL_BLAS_BELOW, blas_threads

    np.ones((4, 4)) @ np.ones((4, 4))  # numpy's BLAS loaded

    def blas_counts():  # numpy's own BLAS, which runs the products (scipy may load another copy)
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"
                and "numpy" in lib["filepath"]]

    assert blas_counts(), "numpy's BLAS is not visible to threadpoolctl"
    with threadpool_limits(limits=2, user_api="blas"):  # two threads to start from, whatever the machine or env
        assert set(blas_counts()) == {2}
        with blas_threads(SERIAL_BLAS_BELOW - 1):
            assert set(blas_counts()) == {1}
        assert set(blas_counts()) == {2}
        with blas_threads(SERIAL_BLAS_BELOW):
            assert set(blas_counts()) == {2}
