"""Preprocessing the community applies to these datasets; each step is an explicit dataset option (off by default,
so a result says exactly what was done to the data).

Organized clouds (MVTec 3D-AD, Eyecandies): background plane removal as in BTF (Horwitz & Hoshen), zero-padding to a
square, nearest-neighbour resizing. Unorganized clouds (Real3D-AD, Anomaly-ShapeNet): voxel down-sampling that keeps
per-point ground truth, mean centring. open3d does the geometry (RANSAC, DBSCAN, voxel grid).
"""

from __future__ import annotations

import numpy as np
from benchkit_components.grid import resize_nearest  # noqa: F401 - the one nearest resize, used below

# BTF recipe (eliahuhorwitz/3D-ADS, utils/preprocessing.py; the same steps in nomewang/M3DM).
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


def pad_to_square(array: np.ndarray, multiple: int = 100) -> np.ndarray:
    """Zero-pad (bottom and right) to a square whose side is rounded up to ``multiple`` (BTF pads before resizing)."""
    h, w = array.shape[:2]
    side = int(np.ceil(max(h, w) / multiple) * multiple)
    pad = [(0, side - h), (0, side - w)] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, pad)


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic resize of an RGB image (what BTF/M3DM do to the colour image)."""
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).resize((size[1], size[0]), Image.BICUBIC))


def voxel_down_sample(points: np.ndarray, gt: np.ndarray | None, voxel_size: float):
    """Average the points in each voxel (open3d); a voxel is anomalous when any of its points is.

    Returns (points M x 3 float32, gt (M,) uint8 or None).
    """
    import open3d as o3d

    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points.astype(np.float64)))
    down, _, members = cloud.voxel_down_sample_and_trace(
        voxel_size, cloud.get_min_bound(), cloud.get_max_bound(), False
    )
    new_points = np.asarray(down.points, dtype=np.float32)
    if gt is None:
        return new_points, None
    new_gt = np.fromiter((gt[np.asarray(m)].max() for m in members), dtype=np.uint8, count=len(members))
    return new_points, new_gt


def center(points: np.ndarray) -> np.ndarray:
    return (points - points.mean(axis=0, dtype=np.float64)).astype(np.float32)
