"""Preprocessing the community applies to these datasets; each step is an explicit dataset option (off by default,
so a result says exactly what was done to the data).

Organized clouds (MVTec 3D-AD, Eyecandies): background plane removal as in BTF (Horwitz & Hoshen), zero-padding to a
square, nearest-neighbour resizing. Unorganized clouds (Real3D-AD, Anomaly-ShapeNet): voxel down-sampling that keeps
per-point ground truth, mean centring. open3d does the geometry (RANSAC, DBSCAN, voxel grid).
"""

from __future__ import annotations

import numpy as np
from benchkit_components.grid import remove_background, resize_nearest  # noqa: F401 - the one home of each; re-exported

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
