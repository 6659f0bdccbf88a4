"""Exact nearest neighbours: a scipy KD-tree for 3-D points (exact in float64, fast for low dimensions, queries on
all the job's threads) and faiss ``IndexFlatL2`` for feature banks (brute force, which is what wide features need).
Distances are squared Euclidean everywhere, as faiss gives them.
"""

from __future__ import annotations

import os

import numpy as np


def cpu_threads() -> int:
    """Threads a job may use: the harness's count (it sets ``OMP_NUM_THREADS`` for the job's process), else every
    core. Used for the libraries that take a thread count per call (scipy's KD-tree)."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else (os.cpu_count() or 1)


class NearestNeighbors:
    """Exact nearest neighbours in a fixed bank with faiss ``IndexFlatL2`` (squared Euclidean distances)."""

    def __init__(self, bank: np.ndarray):
        import faiss

        self.bank = np.ascontiguousarray(bank, dtype=np.float32)
        if self.bank.ndim != 2 or len(self.bank) == 0:
            raise ValueError(f"memory bank must be a non-empty 2-d array, got shape {self.bank.shape}")
        self.index = faiss.IndexFlatL2(self.bank.shape[1])
        self.index.add(self.bank)

    def search(self, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Squared L2 distances and indices (int64) of the ``k`` nearest bank entries, each Q x k, nearest first."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        distances, indices = self.index.search(queries, min(k, len(self.bank)))
        return np.maximum(distances, 0.0), indices.astype(np.int64)

    @property
    def nbytes(self) -> int:
        return int(self.bank.nbytes)


def knn(reference: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of ``reference`` for each query, exactly: (squared distances, int64 indices), each
    Q x k, nearest first; k is clipped to the reference size. Points (3 columns or fewer) go through a KD-tree,
    wider features through faiss."""
    reference = np.asarray(reference)
    queries = np.asarray(queries)
    if reference.ndim != 2 or queries.ndim != 2 or reference.shape[1] != queries.shape[1]:
        raise ValueError(f"knn needs two 2-d arrays of the same width, got {reference.shape} and {queries.shape}")
    k = min(int(k), len(reference))
    if reference.shape[1] > 3:
        return NearestNeighbors(reference).search(queries, k)
    from scipy.spatial import cKDTree

    distances, indices = cKDTree(reference).query(queries, k=k, workers=cpu_threads())
    distances, indices = distances.reshape(len(queries), k), indices.reshape(len(queries), k)
    return np.square(distances), indices.astype(np.int64)


def spread_to_points(sampled_points: np.ndarray, sampled_values: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Give every point of ``points`` the value of its nearest point in ``sampled_points`` (how the Real3D-AD
    baselines spread scores of sampled points to the whole cloud)."""
    _, nearest = knn(sampled_points, points, 1)
    return np.asarray(sampled_values)[nearest[:, 0]]
