"""Memory-bank building blocks of PatchCore-style detectors: random projection, coresets, and PatchCore's
re-weighted image score. Nearest-neighbour search in a bank is `benchkit_components.neighbours.NearestNeighbors`.

The greedy coreset (k-center greedy) is farthest-point sampling in feature space:
`benchkit_components.sampling.farthest_point_sampling`. No installed library offers it (scikit-learn has no k-center
greedy; the references all carry their own copy). The sparse random projection is a few lines of numpy so that
scikit-learn stays a test-only dependency; it follows the construction of scikit-learn's ``SparseRandomProjection``
(Li et al. 2006, density 1/sqrt(n_features)).
"""

from __future__ import annotations

import math

import numpy as np
from benchkit import rng

from benchkit_components.jit import bit_casts, jit
from benchkit_components.neighbours import NearestNeighbors
from benchkit_components.sampling import farthest_point_sampling


def johnson_lindenstrauss_min_dim(n_samples: int, eps: float) -> int:
    """Smallest dimension that keeps pairwise distances of ``n_samples`` points within a factor (1 +- eps), by the
    Johnson-Lindenstrauss lemma (the formula scikit-learn's ``johnson_lindenstrauss_min_dim`` uses)."""
    denominator = (eps**2 / 2) - (eps**3 / 3)
    return int(4 * math.log(n_samples) / denominator)


def sparse_random_projection(features: np.ndarray, n_components: int, seed: int) -> np.ndarray:
    """Project ``features`` (N x D) to ``n_components`` dimensions with a seeded sparse random matrix.

    Each matrix entry is +-sqrt(1/density)/sqrt(n_components) with probability density/2 each and 0 otherwise,
    density = 1/sqrt(D).
    """
    n_features = features.shape[1]
    density = 1.0 / math.sqrt(n_features)
    draw = rng(seed, "sparse-random-projection").random((n_features, n_components))
    signs = np.where(draw < density / 2, -1.0, np.where(draw < density, 1.0, 0.0))
    matrix = (signs * math.sqrt(1.0 / density) / math.sqrt(n_components)).astype(np.float32)
    return np.asarray(features, dtype=np.float32) @ matrix


def random_linear_matrix(n_features: int, n_components: int, seed: int) -> np.ndarray:
    """PatchCore's projection before its approximate coreset: a random dense D x n_components matrix (what a freshly
    initialised ``torch.nn.Linear(D, n_components, bias=False)`` holds: entries uniform in +-1/sqrt(D)). Seeded
    here; the reference draws it from torch's global generator."""
    bound = 1.0 / math.sqrt(n_features)
    return rng(seed, "linear-projection").uniform(-bound, bound, size=(n_features, n_components))


def random_linear_projection(features: np.ndarray, n_components: int, seed: int) -> np.ndarray:
    """``features`` mapped by `random_linear_matrix`, for any width D other than ``n_components`` (so 33-d FPFH is
    lifted to 128-d, as PatchCore does)."""
    features = np.asarray(features, dtype=np.float32)
    if features.shape[1] == n_components:
        return features
    return features @ random_linear_matrix(features.shape[1], n_components, seed).astype(np.float32)


def distance_preserving_reduction(features: np.ndarray, n_components: int, seed: int) -> np.ndarray:
    """D-dimensional features whose Euclidean distances equal those after `random_linear_projection` to
    ``n_components`` > D dimensions: with W^T = QR, |(x - y) W| = |(x - y) R^T|. A lift to 128-d then costs the
    coreset loop nothing: it runs on 33 columns instead of 128 (3.9x less work per pick) and picks the same features
    up to floating-point rounding."""
    features = np.asarray(features, dtype=np.float32)
    matrix = random_linear_matrix(features.shape[1], n_components, seed)
    r = np.linalg.qr(matrix.T, mode="r")  # D x D upper triangular
    return features @ r.T.astype(np.float32)


def reduce_for_coreset(features: np.ndarray, eps: float = 0.9, seed: int = 0) -> np.ndarray:
    """BTF's projection before coreset selection: a sparse random projection to the Johnson-Lindenstrauss
    dimension for ``eps``, applied only when that dimension is smaller than the feature dimension. (BTF's
    scikit-learn call raises for low-dimensional features, such as FPFH or raw depth patches, and the reference
    then selects on the unprojected features; this reproduces that.)"""
    target = johnson_lindenstrauss_min_dim(len(features), eps)
    if target >= features.shape[1]:
        return np.asarray(features, dtype=np.float32)
    return sparse_random_projection(features, target, seed)


def greedy_coreset(features: np.ndarray, n: int, start_index: int = 0, device: str = "cpu") -> np.ndarray:
    """BTF's coreset: ``min(n, N)`` distinct indices chosen by k-center greedy from ``start_index``."""
    return farthest_point_sampling(features, min(int(n), len(features)), start_index=start_index, device=device)


PROJECTIONS = ("linear", "sparse", "none")


def coreset_starts(n_rows: int, seed: int, n_starting_points: int = 10) -> np.ndarray:
    """The distinct rows whose mean distance starts `approximate_greedy_coreset`'s running minima (the reference
    draws them with numpy's global generator)."""
    return rng(seed, "coreset-starts").choice(n_rows, size=min(n_starting_points, n_rows), replace=False)


def approximate_greedy_coreset(
    features: np.ndarray,
    n: int,
    seed: int = 0,
    projection_dim: int = 128,
    projection: str = "linear",
    n_starting_points: int = 10,
    device: str = "cpu",
) -> np.ndarray:
    """PatchCore's approximate greedy coreset (as Real3D-AD uses it): ``min(n, N)`` distinct indices.

    Selection runs on projected features: ``projection="linear"`` is PatchCore's random dense map to
    ``projection_dim`` for any other width (`random_linear_projection`); ``"sparse"`` projects only features wider
    than ``projection_dim`` (sparse random projection) and keeps narrower ones as they are; ``"none"`` never
    projects. The running minimum distances start as the mean distance to ``n_starting_points`` seeded random
    features, so no N x N matrix is needed; then the greedy k-center loop runs.
    """
    features = np.asarray(features, dtype=np.float32)
    if projection not in PROJECTIONS:
        raise ValueError(f"projection must be one of {PROJECTIONS}, got {projection!r}")
    if projection == "linear" and features.shape[1] < projection_dim:  # a lift: same distances in D dimensions
        features = distance_preserving_reduction(features, projection_dim, seed)
    elif projection == "linear":
        features = random_linear_projection(features, projection_dim, seed)
    elif projection == "sparse" and features.shape[1] > projection_dim:
        features = sparse_random_projection(features, projection_dim, seed)
    starts = coreset_starts(len(features), seed, n_starting_points)
    anchor = np.zeros(len(features), dtype=np.float64)
    for start in starts:
        anchor += np.linalg.norm(features - features[start], axis=1)
    return farthest_point_sampling(features, min(int(n), len(features)),
                                   initial_distances=(anchor / len(starts)).astype(np.float32), device=device)


def reweighted_image_score(
    queries: np.ndarray, bank: NearestNeighbors, distances: np.ndarray, indices: np.ndarray, n_reweight: int = 3
) -> float:
    """PatchCore's image score as BTF computes it (Roth et al. 2022, eq. 7).

    ``distances`` (Euclidean) and ``indices`` are each query's nearest bank entry. With s* the largest of those
    distances, m_test its query and m* the bank entry it matched: take the ``n_reweight`` bank entries nearest to
    m* (the first being m* itself), drop the first, and weight s* by
    1 - exp(s*/sqrt(D)) / sum_j exp(|m_test - m_j| / sqrt(D)).
    """
    worst = int(np.argmax(distances))
    s_star = float(distances[worst])
    m_test = np.asarray(queries[worst], dtype=np.float64)
    m_star = bank.bank[int(indices[worst])]
    _, neighbours = bank.search(m_star[None], k=n_reweight)
    knn = bank.bank[neighbours[0, 1:]].astype(np.float64)
    scale = math.sqrt(queries.shape[1])
    denominator = np.exp(np.linalg.norm(m_test - knn, axis=1) / scale).sum()
    weight = 1.0 - math.exp(s_star / scale) / denominator
    return weight * s_star


def half_precision_coreset(features: np.ndarray, n: int) -> np.ndarray:
    """BTF's greedy coreset as 3D-ADS runs it by default (``get_coreset_idx_randomp``, ``float16=True``): ``n``
    indices by k-center greedy from index 0, the first distances in float32, then features, distances and running
    minima in float16 (torch's half-precision norm, minimum and first-maximum argmax).

    Rounding to float16 makes distances tie and changes picks (on synthetic-rgbd donut 680 of 784 picks agree with
    float32 selection), so this reproduces torch's arithmetic exactly rather than approximating it: on the CPU torch
    computes a half difference in float32 and rounds it to half, sums the squares in float32 in column order and
    rounds the square root to half. `_half_coreset_kernel` does the same in numba: 5-13x faster than torch's half
    kernels on one thread (33- and 64-d banks of 7,840 to 39,200 features); a test checks that both pick the same
    indices.
    """
    import torch

    features = np.ascontiguousarray(features, dtype=np.float32)
    count = max(1, min(int(n), len(features)))
    with torch.no_grad():
        bank = torch.from_numpy(features)
        minimum = torch.linalg.norm(bank - bank[0:1], dim=1).half().float().numpy()
        bank_t = np.ascontiguousarray(bank.half().float().numpy().T)
    picks = np.zeros(count, dtype=np.int64)
    _half_coreset(bank_t, np.ascontiguousarray(minimum), count, picks)
    return picks


#: float32 bit patterns: the smallest normal float16 (2^-14) and the least magnitude that rounds to float16's inf
_HALF_NORMAL_BITS, _HALF_INF_BITS = 0x38800000, 0x477FF000


def _to_half(x):
    """The float16 nearest to float32 ``x`` (ties to even), as a float32; branch-free so that loops vectorise."""
    bits = float32_bits(x)  # noqa: F821 (injected by `jit`: benchkit_components.jit.bit_casts)
    magnitude = bits & 0x7FFFFFFF
    # normal range: keep 10 of float32's 23 fraction bits, the 13 dropped ones rounded to nearest, ties to even
    normal = bits_float32((bits + 0xFFF + ((bits >> 13) & 1)) & ~0x1FFF)  # noqa: F821
    # subnormal range, multiples of 2^-24: float32 spacing at 0.5 is 2^-24, so the addition rounds (ties to even)
    small = np.float32(math.copysign((abs(x) + np.float32(0.5)) - np.float32(0.5), x))
    large = np.float32(math.copysign(np.inf, x))
    return large if magnitude >= _HALF_INF_BITS else (small if magnitude < _HALF_NORMAL_BITS else normal)


def _half_coreset_kernel(bank_t, minimum, count, picks):
    """The k-center loop of `half_precision_coreset` on a D x N bank of float16 values (stored as float32)."""
    dims, n = bank_t.shape
    chunk = 1024
    chunks = (n + chunk - 1) // chunk
    best_value = np.zeros(chunks, dtype=np.float32)
    best_index = np.zeros(chunks, dtype=np.int64)
    for p in range(1, count):
        last = bank_t[:, picks[p - 1]].copy()
        for c in prange(chunks):  # noqa: F821 (numba's prange, injected by `jit`)
            lo = c * chunk
            size = min(n, lo + chunk) - lo
            total = np.zeros(size, dtype=np.float32)
            for d in range(dims):
                row = bank_t[d, lo:lo + size]
                centre = last[d]
                for i in range(size):
                    half = _to_half(row[i] - centre)
                    total[i] += half * half
            value, index = np.float32(-1.0), -1
            for i in range(size):
                m = min(_to_half(np.sqrt(total[i])), minimum[lo + i])
                minimum[lo + i] = m
                if m > value:
                    value, index = m, lo + i
            best_value[c], best_index[c] = value, index
        pick = best_index[0]
        for c in range(1, chunks):  # the first maximum, as torch.argmax gives it
            if best_value[c] > best_value[pick // chunk]:
                pick = best_index[c]
        minimum[pick] = 0.0
        picks[p] = pick


_half_coreset = jit(_half_coreset_kernel, helpers=("_to_half",), intrinsics=bit_casts)
