"""Organized (H x W) grids: the pixel layout of MVTec 3D-AD style scans, and the operations on them that readers and
detectors share (nearest resizing, patch pooling, background-plane removal)."""

from __future__ import annotations

import functools

import numpy as np

from benchkit_components.jit import blas_threads


def resize_nearest(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize the first two axes of an H x W (x C) array with nearest-neighbour sampling (``size``: side or
    (height, width)).

    Source index floor(i * in / out), the rule of torch's ``F.interpolate(mode="nearest")`` that BTF and M3DM use for
    organized clouds (checked equal to torch for every input size up to 1,700 and outputs 28-512); numpy, so callers
    need no torch.
    """
    out_h, out_w = (size, size) if isinstance(size, int) else size
    in_h, in_w = image.shape[:2]
    rows = np.minimum((np.arange(out_h) * in_h) // out_h, in_h - 1)
    cols = np.minimum((np.arange(out_w) * in_w) // out_w, in_w - 1)
    return np.ascontiguousarray(image[rows][:, cols])



def pool_patches(image: np.ndarray, grid: int, box: int = 3) -> np.ndarray:
    """(H, W, C) -> (grid, grid, C) float32: a ``box`` x ``box`` average (stride 1, no padding), then adaptive
    average pooling to ``grid`` x ``grid``: torch's ``avg_pool2d(box, 1)`` then ``adaptive_avg_pool2d``, as BTF and
    M3DM pool patch features. Why not torch: both pools are linear and separable, so one (grid x side) matrix per
    axis does them as two matrix products on the (H, W, C) layout the features come in, 1.6 ms on BTF's
    224 x 224 x 33 FPFH image where torch's pools on the channels-first copy took 27 ms (a tenth of a scan's
    FPFH). Equal to torch's up to float32 rounding (tested). Small products run on one BLAS thread
    (`benchkit_components.jit.blas_threads`)."""
    image = np.asarray(image)
    height, width, channels = image.shape
    if min(height, width) < box or grid < 1:
        raise ValueError(f"cannot pool a {height} x {width} image with a {box} x {box} box to {grid} x {grid}")
    x = np.ascontiguousarray(image, dtype=np.float32).reshape(height, width * channels)
    with blas_threads(grid * (height + grid) * width * channels):
        rows = (_pooling_matrix(height, grid, box) @ x).reshape(grid, width, channels)
        return np.matmul(_pooling_matrix(width, grid, box), rows)


@functools.lru_cache(maxsize=16)
def _pooling_matrix(side: int, grid: int, box: int) -> np.ndarray:
    """Row i averages the box means of adaptive bin i (torch's bins: floor(i L / g) to ceil((i + 1) L / g) over the
    L = side - box + 1 box positions)."""
    positions = side - box + 1
    out = np.zeros((grid, side))
    for i in range(grid):
        start, end = (i * positions) // grid, -(-((i + 1) * positions) // grid)
        for p in range(start, end):
            out[i, p:p + box] += 1.0 / (box * (end - start))
    return out.astype(np.float32)

# BTF recipe (eliahuhorwitz/3D-ADS, utils/preprocessing.py; the same steps in nomewang/M3DM and, before rendering,
# zqhang/PointAD multi_view/preprocess_mvtec3d.py).
PLANE_BORDER = 10
PLANE_RANSAC_THRESHOLD = 0.004
PLANE_RANSAC_N = 50
PLANE_RANSAC_ITERATIONS = 1000
PLANE_REMOVE_DISTANCE = 0.005
DBSCAN_EPS = 0.006
DBSCAN_MIN_POINTS = 30


def remove_background(xyz: np.ndarray, seed: int = 0) -> np.ndarray:
    """Zero out the supporting plane and everything but the largest cluster of an organized cloud (BTF recipe).

    1. RANSAC plane fit (threshold 0.004, ransac_n 50, 1000 iterations) on the non-zero points of a 10-pixel border;
    2. points within 0.005 of that plane become (0, 0, 0);
    3. DBSCAN (eps 0.006, min 30 points) on the remaining points; only the largest cluster is kept.
    ``seed`` fixes open3d's RANSAC sampling so the result is reproducible.
    """
    import open3d as o3d

    out = np.array(xyz, dtype=np.float32, copy=True)
    h, w, _ = out.shape
    border = np.zeros((h, w), dtype=bool)
    b = min(PLANE_BORDER, h // 2, w // 2)
    border[:b, :] = border[-b:, :] = border[:, :b] = border[:, -b:] = True
    valid = np.any(out != 0, axis=-1)
    border_points = out[border & valid].astype(np.float64)
    if len(border_points) >= PLANE_RANSAC_N:
        o3d.utility.random.seed(int(seed))
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(border_points))
        plane, _ = cloud.segment_plane(distance_threshold=PLANE_RANSAC_THRESHOLD, ransac_n=PLANE_RANSAC_N,
                                       num_iterations=PLANE_RANSAC_ITERATIONS)
        a, b_, c, d = plane
        norm = np.sqrt(a * a + b_ * b_ + c * c)
        distance = np.abs(out.reshape(-1, 3).astype(np.float64) @ np.array([a, b_, c]) + d) / norm
        on_plane = (distance < PLANE_REMOVE_DISTANCE).reshape(h, w) & valid
        out[on_plane] = 0
        valid &= ~on_plane
    if valid.sum() >= DBSCAN_MIN_POINTS:
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(out[valid].astype(np.float64)))
        labels = np.asarray(cloud.cluster_dbscan(eps=DBSCAN_EPS, min_points=DBSCAN_MIN_POINTS))
        clustered = labels >= 0
        if clustered.any():
            largest = np.bincount(labels[clustered]).argmax()
            keep = np.zeros((h, w), dtype=bool)
            keep[valid] = labels == largest
            out[valid & ~keep] = 0
        else:  # nothing dense enough: no object found, keep what plane removal left
            pass
    return out
