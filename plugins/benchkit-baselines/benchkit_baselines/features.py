"""Weight-free geometric features: FPFH (Fast Point Feature Histograms) computed with open3d.

Two entry points:

- `fpfh(points, ...)`: per-point 33-d FPFH for an unorganized N x 3 cloud (Real3D-AD style).
- `organized_fpfh(xyz, valid, ...)`: FPFH on the valid points of an organized H x W x 3 cloud, laid out as a
  33 x H x W feature image with zeros where there is no point (BTF style on MVTec 3D-AD).

Radii are in the cloud's own units. BTF's MVTec 3D-AD values (normals 0.1 / 30 neighbours, FPFH 0.25 / 100
neighbours) are the defaults; there the radius is so large that the neighbour cap does the limiting.
`mean_spacing` gives a cloud's typical point spacing so callers can pick radii relative to the data instead.

open3d is imported inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

import numpy as np

FPFH_DIM = 33

#: BTF (3D-ADS) values for MVTec 3D-AD, in that dataset's units.
BTF_NORMAL_RADIUS = 0.1
BTF_NORMAL_MAX_NN = 30
BTF_FPFH_RADIUS = 0.25
BTF_FPFH_MAX_NN = 100


def _o3d():
    import open3d as o3d

    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    return o3d


def to_open3d(points: np.ndarray):
    """An open3d PointCloud from an N x 3 array (float64 copy, as open3d needs)."""
    o3d = _o3d()
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"expected an N x 3 point array, got shape {points.shape}")
    return o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.ascontiguousarray(points)))


def estimate_normals(cloud, radius: float, max_nn: int) -> None:
    """Estimate normals in place with a hybrid (radius, max_nn) search; orientation is left as open3d gives it,
    as the BTF and Real3D-AD references do."""
    o3d = _o3d()
    cloud.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=radius, max_nn=max_nn))


def fpfh_of_cloud(cloud, radius: float, max_nn: int) -> np.ndarray:
    """FPFH of an open3d cloud that already has normals, as an N x 33 float32 array."""
    o3d = _o3d()
    feature = o3d.pipelines.registration.compute_fpfh_feature(
        cloud, o3d.geometry.KDTreeSearchParamHybrid(radius=radius, max_nn=max_nn)
    )
    return np.asarray(feature.data, dtype=np.float32).T.copy()


def fpfh(
    points: np.ndarray,
    normal_radius: float = BTF_NORMAL_RADIUS,
    normal_max_nn: int = BTF_NORMAL_MAX_NN,
    fpfh_radius: float = BTF_FPFH_RADIUS,
    fpfh_max_nn: int = BTF_FPFH_MAX_NN,
) -> np.ndarray:
    """Per-point FPFH of an N x 3 cloud: an N x 33 float32 array, row i describing point i."""
    points = np.asarray(points)
    if len(points) == 0:
        return np.zeros((0, FPFH_DIM), dtype=np.float32)
    cloud = to_open3d(points)
    estimate_normals(cloud, normal_radius, normal_max_nn)
    return fpfh_of_cloud(cloud, fpfh_radius, fpfh_max_nn)


def organized_fpfh(
    xyz: np.ndarray,
    valid: np.ndarray | None = None,
    normal_radius: float = BTF_NORMAL_RADIUS,
    normal_max_nn: int = BTF_NORMAL_MAX_NN,
    fpfh_radius: float = BTF_FPFH_RADIUS,
    fpfh_max_nn: int = BTF_FPFH_MAX_NN,
) -> np.ndarray:
    """FPFH of an organized H x W x 3 cloud as a 33 x H x W float32 feature image.

    Features are computed on the valid points only (default: the non-zero ones); pixels without a point get zero
    features, as in BTF.
    """
    xyz = np.asarray(xyz)
    if xyz.ndim != 3 or xyz.shape[2] != 3:
        raise ValueError(f"expected an organized H x W x 3 cloud, got shape {xyz.shape}")
    if valid is None:
        valid = np.any(xyz != 0, axis=-1)
    height, width = xyz.shape[:2]
    out = np.zeros((height * width, FPFH_DIM), dtype=np.float32)
    flat_valid = valid.reshape(-1)
    out[flat_valid] = fpfh(xyz.reshape(-1, 3)[flat_valid], normal_radius, normal_max_nn, fpfh_radius, fpfh_max_nn)
    return out.T.reshape(FPFH_DIM, height, width)


def resize_nearest(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize the first two axes of an H x W (x C) array with nearest-neighbour sampling.

    Uses the source index floor(i * in / out), the rule of torch's ``F.interpolate(mode="nearest")`` that BTF uses
    for organized clouds; written with numpy so features need no torch.
    """
    out_h, out_w = (size, size) if isinstance(size, int) else size
    in_h, in_w = image.shape[:2]
    rows = np.minimum((np.arange(out_h) * in_h) // out_h, in_h - 1)
    cols = np.minimum((np.arange(out_w) * in_w) // out_w, in_w - 1)
    return image[rows][:, cols]


def mean_spacing(points: np.ndarray, max_points: int = 20000, seed: int = 0) -> float:
    """Mean distance from a point to its nearest neighbour, the natural unit for scale-free radii.

    Duplicate points (an organized cloud up-sampled with nearest sampling has many) are dropped first, as they
    would count as zero spacing. Clouds larger than ``max_points`` are measured on a seeded random subsample
    (which spaces points out a little; callers only need the order of magnitude).
    """
    points = np.unique(np.asarray(points, dtype=np.float64), axis=0)
    if len(points) < 2:
        raise ValueError("need at least two points to measure point spacing")
    rng = np.random.default_rng(seed)
    if len(points) > max_points:
        points = points[np.sort(rng.choice(len(points), size=max_points, replace=False))]
    distances = np.asarray(to_open3d(points).compute_nearest_neighbor_distance())
    return float(distances.mean())
