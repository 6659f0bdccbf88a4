"""Choosing points: farthest-point sampling (in 3-D, and in feature space where it is the greedy k-center coreset of
PatchCore / BTF) and seeded random subsampling.

FPS is written here because the libraries at hand do not return the chosen indices (open3d's
``farthest_point_down_sample`` returns a new cloud) and the CUDA kernel Point-MAE uses (pointnet2_ops) is not
installable here. In torch, the loop keeps the running state on the device: no value is read back to the host until
the end, so on a GPU the picks queue up without a synchronisation each. Wide features on the CPU (the coresets of
PatchCore and BTF) go through numpy instead, on a transposed (D x N) copy: one matrix-vector product per pick that
streams along N, 3.4x (96,000 x 33 features) to 8.8x (16,000 x 33) faster than torch's per pick (measured on one
thread); the same arithmetic, so the same choices up to float32 rounding (on PatchCore's FPFH coresets of
synthetic-pc: the same set of features).
"""

from __future__ import annotations

import numpy as np
from benchkit import rng

from benchkit_components.jit import jit


def farthest_point_sampling(
    points: np.ndarray,
    count: int,
    start_index: int = 0,
    initial_distances: np.ndarray | None = None,
    device: str = "cpu",
) -> np.ndarray:
    """Indices of ``count`` rows of ``points`` (N x D, any D), each the farthest (Euclidean) from those already
    chosen, in selection order.

    The first pick is ``start_index`` (0, as Point-MAE's kernel and BTF's coreset start), unless
    ``initial_distances`` (one value per row) is given: then those values seed the running minimum distances and the
    first pick is their argmax (PatchCore's approximate coreset). Ties go to the lowest index; a row is never picked
    twice, even among exact duplicates. When ``count >= N`` every row is returned in order, then repeated, so the
    result always has ``count`` entries (Point-MAE needs exactly G centres).
    """
    n = len(points)
    if n == 0:
        raise ValueError("farthest point sampling of an empty set")
    if count >= n:
        return np.resize(np.arange(n), count)
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    if str(device) == "cpu" and np.ndim(points) == 2:
        if np.shape(points)[1] > 3:
            return _wide_farthest_point_sampling_cpu(points, count, start_index, initial_distances)
        return _narrow_farthest_point_sampling_cpu(points, count, start_index, initial_distances)
    import torch

    x = torch.as_tensor(np.ascontiguousarray(points, dtype=np.float32), device=device)
    if x.ndim == 1:
        x = x[:, None]
    wide = x.shape[1] > 3
    # Wide features: |x - c|^2 = |x|^2 - 2 x.c + |c|^2 as one fused matrix-vector product per pick (addmv), three
    # times fewer passes over the data than forming x - c. 3-D points: the direct difference, exact near the end of
    # the sampling where distances are small next to the coordinates.
    squared_norms = (x * x).sum(dim=1) if wide else None

    def squared_distances_to(pick: torch.Tensor) -> torch.Tensor:
        centre = x.index_select(0, pick)[0]
        if wide:
            return torch.addmv(squared_norms + squared_norms.index_select(0, pick), x, centre, alpha=-2)
        return ((x - centre) ** 2).sum(dim=1)

    with torch.no_grad():
        if initial_distances is None:
            min_dist = torch.full((n,), float("inf"), device=device)
            pick = torch.tensor([int(start_index)], device=device)
        else:
            min_dist = torch.as_tensor(np.asarray(initial_distances, dtype=np.float32), device=device).square()
            pick = torch.argmax(min_dist).view(1)
        selected = torch.empty(count, dtype=torch.long, device=device)
        for i in range(count):
            selected[i:i + 1] = pick
            torch.minimum(min_dist, squared_distances_to(pick), out=min_dist)
            min_dist.index_fill_(0, pick, -1.0)
            pick = torch.argmax(min_dist).view(1)
    return selected.cpu().numpy()


def _start(n: int, start_index: int, initial_distances: np.ndarray | None) -> tuple[np.ndarray, int]:
    """The running squared minimum distances and the first pick of the compiled and numpy loops."""
    if initial_distances is None:
        return np.full(n, np.inf, dtype=np.float32), int(start_index)
    min_dist = np.square(np.asarray(initial_distances, dtype=np.float32))
    return min_dist, int(np.argmax(min_dist))


def _wide_farthest_point_sampling_cpu(
    features: np.ndarray, count: int, start_index: int, initial_distances: np.ndarray | None
) -> np.ndarray:
    """`farthest_point_sampling` of N x D features (D > 3) in numpy: |x - c|^2 = |x|^2 + |c|^2 - 2 x.c per pick,
    the product taken against a D x N copy scaled by -2 (exact: a power of two)."""
    x = np.ascontiguousarray(features, dtype=np.float32)
    minus_two_xt = np.ascontiguousarray(x.T) * np.float32(-2.0)
    squared_norms = np.einsum("ij,ij->i", x, x)
    min_dist, pick = _start(len(x), start_index, initial_distances)
    distances = np.empty(len(x), dtype=np.float32)
    selected = np.empty(count, dtype=np.int64)
    for i in range(count):
        selected[i] = pick
        np.matmul(x[pick], minus_two_xt, out=distances)
        distances += squared_norms
        distances += squared_norms[pick]
        np.minimum(min_dist, distances, out=min_dist)
        min_dist[pick] = -1.0
        pick = int(np.argmax(min_dist))  # the first of equal maxima: the lowest index, as torch.argmax
    return selected


def _narrow_farthest_point_sampling_cpu(
    points: np.ndarray, count: int, start_index: int, initial_distances: np.ndarray | None
) -> np.ndarray:
    """`farthest_point_sampling` of N x D points (D <= 3) as a compiled loop: torch's arithmetic (float32 squared
    differences summed in column order), so the same picks, without torch's five passes over the points per pick
    (4-7x faster on 5k-100k points on one thread)."""
    x = np.zeros((len(points), 3), dtype=np.float32)  # zero columns add exact zeros to the sums
    x[:, :np.shape(points)[1]] = points
    min_dist, pick = _start(len(x), start_index, initial_distances)
    selected = np.empty(count, dtype=np.int64)
    _narrow_fps(x, min_dist, pick, selected)
    return selected


def _narrow_fps_kernel(x, min_dist, start, selected):
    n = len(x)
    chunk = 4096
    chunks = (n + chunk - 1) // chunk
    best_value = np.zeros(chunks, dtype=np.float32)
    best_index = np.zeros(chunks, dtype=np.int64)
    pick = start
    for p in range(len(selected)):
        selected[p] = pick
        centre = x[pick].copy()
        for c in prange(chunks):  # noqa: F821 (numba's prange, injected by `jit`)
            lo, hi = c * chunk, min(n, (c + 1) * chunk)
            for j in range(lo, hi):  # kept free of branches, so that it vectorises
                dx, dy, dz = x[j, 0] - centre[0], x[j, 1] - centre[1], x[j, 2] - centre[2]
                min_dist[j] = min(min_dist[j], dx * dx + dy * dy + dz * dz)
            if lo <= pick < hi:
                min_dist[pick] = -1.0
            index = lo
            for j in range(lo, hi):
                if min_dist[j] > min_dist[index]:
                    index = j
            best_value[c], best_index[c] = min_dist[index], index
        pick = best_index[0]
        for c in range(1, chunks):  # the first maximum, as torch.argmax gives it
            if best_value[c] > best_value[pick // chunk]:
                pick = best_index[c]


_narrow_fps = jit(_narrow_fps_kernel, parallel=False)


def subsample_indices(n_points: int, max_points: int | None, seed: int, *keys: object) -> np.ndarray:
    """Sorted indices of at most ``max_points`` of ``n_points`` points: all of them when there are few enough, else a
    uniform random choice from ``benchkit.rng(seed, *keys)``. Pass the sample's id as a key: each cloud then gets its
    own draw, which does not depend on what was drawn before it (and two clouds of the same size do not share one).
    """
    if max_points is None or n_points <= max_points:
        return np.arange(n_points)
    if max_points < 3:
        raise ValueError(f"max_points must be at least 3 (or None for every point), got {max_points}")
    return np.sort(rng(seed, *keys).choice(n_points, size=int(max_points), replace=False))
