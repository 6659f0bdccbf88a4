"""Exact nearest neighbours: a scipy KD-tree for 3-D points (exact in float64, fast for low dimensions, queries on
all the job's threads) and, for feature banks, faiss's exact ``IndexFlatL2`` or a brute-force search with numpy's
BLAS. Distances are squared Euclidean everywhere.

Why two engines for banks: faiss-cpu 1.15 takes a slower code path for fewer than 4,096 queries, the size of one
cloud's query set here (measured, one thread, 33-d FPFH against a 10,000-entry bank: 65 us per query with
1,000-4,095 queries, 18-22 us from 4,096 on; the numpy block search: 19-24 us at every count; 768-d features: about
equal). So query sets from `FAISS_FROM_QUERIES` on (a full-size scan, a whole test set) go to faiss, smaller ones to
numpy. A bank of points (3 columns or fewer, PatchCore(FPFH+Raw)'s xyz bank) is ranked by the KD-tree instead. All
find the same neighbours (tested); the returned distances are recomputed directly as |q - b|^2 for the
neighbours found rather than taken as |q|^2 + |b|^2 - 2 q.b, so they are the same whichever engine ranked them, and
free of that formula's cancellation.
"""

from __future__ import annotations

import os

import numpy as np

#: Query sets at least this large are ranked by faiss (its fast path), smaller ones by numpy (see the module docstring).
FAISS_FROM_QUERIES = 4096


def cpu_threads() -> int:
    """Threads a job may use: the harness's count (it sets ``OMP_NUM_THREADS`` for the job's process), else every
    core. Used for the libraries that take a thread count per call (scipy's KD-tree)."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else (os.cpu_count() or 1)


class NearestNeighbors:
    """Exact nearest neighbours in a fixed bank (squared Euclidean distances), brute force in blocks of queries."""

    def __init__(self, bank: np.ndarray):
        self.bank = np.ascontiguousarray(bank, dtype=np.float32)
        if self.bank.ndim != 2 or len(self.bank) == 0:
            raise ValueError(f"memory bank must be a non-empty 2-d array, got shape {self.bank.shape}")
        # A bank far from the origin next to its spread (histograms, a scan's coordinates in millimetres) is ranked
        # on a centred copy: |q|^2 and |b|^2 then stay near |q - b|^2, so float32 still tells neighbours apart.
        centre = self.bank.mean(axis=0, dtype=np.float64)
        if centre @ centre > self.bank.var(axis=0, dtype=np.float64).sum():
            self._centre = centre.astype(np.float32)
            self._centred = self.bank - self._centre
        else:
            self._centre = np.zeros(self.bank.shape[1], dtype=np.float32)
            self._centred = self.bank
        self._squared_norms = np.einsum("ij,ij->i", self._centred, self._centred)
        # Queries per block: the block's distances stay in cache (~2 MB) for narrow features; for wide ones the
        # product dominates and bigger blocks multiply faster.
        width = self.bank.shape[1]
        self._block_rows = max(16, min(2**19 * max(1, width // 32), 2**23) // len(self.bank))
        self._faiss_index = None  # built on the first large query set
        self._tree = None  # for banks of points, built on the first search

    def _ranked_by_faiss(self, queries: np.ndarray, k: int) -> np.ndarray:
        """Indices of the ``k`` nearest entries of each query, ranked by faiss on the centred bank."""
        if self._faiss_index is None:
            import faiss

            self._faiss_index = faiss.IndexFlatL2(self.bank.shape[1])
            self._faiss_index.add(self._centred)
        return self._faiss_index.search(np.ascontiguousarray(queries - self._centre), k)[1]

    def _ranked_by_tree(self, queries: np.ndarray, k: int) -> np.ndarray:
        """Indices of the ``k`` nearest entries of each query, ranked by a KD-tree (scipy) of the bank."""
        from scipy.spatial import cKDTree

        if self._tree is None:
            self._tree = cKDTree(self.bank)
        return self._tree.query(queries, k=k, workers=cpu_threads())[1].reshape(len(queries), k)

    def search(self, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Squared L2 distances and indices (int64) of the ``k`` nearest bank entries, each Q x k, nearest first."""
        from benchkit_components.jit import blas_threads  # here: jit imports this module

        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.bank.shape[1]:
            raise ValueError(f"queries must be Q x {self.bank.shape[1]}, got shape {queries.shape}")
        k = min(int(k), len(self.bank))
        distances = np.empty((len(queries), k), dtype=np.float32)
        indices = np.empty((len(queries), k), dtype=np.int64)
        if self.bank.shape[1] <= 3:  # points: a KD-tree ranks them far faster than a product with 3 columns
            ranked = self._ranked_by_tree(queries, k)
        else:
            ranked = self._ranked_by_faiss(queries, k) if len(queries) >= FAISS_FROM_QUERIES else None
        for start in range(0, len(queries), self._block_rows):
            block = queries[start:start + self._block_rows]
            if ranked is not None:
                found = ranked[start:start + len(block)]
            else:
                # |b|^2 - 2 q.b ranks the bank like |q - b|^2 does (|q|^2 is the same for every entry)
                with blas_threads(len(queries) * self.bank.size):  # small searches: one thread (see there)
                    key = (block - self._centre) @ self._centred.T
                key *= -2.0
                key += self._squared_norms
                if k == 1:
                    found = key.argmin(axis=1)[:, None]
                else:
                    found = np.argpartition(key, k - 1, axis=1)[:, :k]
            exact = np.square(block[:, None, :] - self.bank[found]).sum(axis=2)
            order = np.argsort(exact, axis=1, kind="stable")
            distances[start:start + len(block)] = np.take_along_axis(exact, order, axis=1)
            indices[start:start + len(block)] = np.take_along_axis(found, order, axis=1)
        return distances, indices

    @property
    def nbytes(self) -> int:
        return int(self.bank.nbytes + (self._centred.nbytes if self._centred is not self.bank else 0))


def knn(reference: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of ``reference`` for each query, exactly: (squared distances, int64 indices), each
    Q x k, nearest first; k is clipped to the reference size. Points (3 columns or fewer) go through a KD-tree,
    wider features through `NearestNeighbors`."""
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
