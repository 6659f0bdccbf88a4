"""Small helpers the baseline detectors share: reading a sample's geometry and resolving feature radii."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from benchkit import DataError, Sample

RADIUS_UNITS = ("spacing", "absolute")


def geometry_of(sample: Sample) -> np.ndarray:
    """The sample's N x 3 points (valid points of an organized cloud in row-major order), checked."""
    if sample.points is None and sample.xyz is None:
        raise DataError(sample.meta.get("path", sample.id), "sample has no geometry (neither points nor xyz)",
                        "these detectors consume point clouds: run them on a dataset with points or xyz")
    points = np.asarray(sample.point_cloud(), dtype=np.float64)
    if len(points) < 3 or not np.isfinite(points).all():
        raise DataError(sample.meta.get("path", sample.id),
                        f"point cloud has {len(points)} points or non-finite coordinates",
                        "check the file; a cloud needs at least 3 finite points")
    return points


def is_organized(sample: Sample) -> bool:
    return sample.xyz is not None


def check_same_kind(organized: bool, sample: Sample) -> None:
    if is_organized(sample) != organized:
        kinds = ("organized (xyz)", "unorganized (points)")
        trained, given = (kinds[0], kinds[1]) if organized else (kinds[1], kinds[0])
        raise DataError(sample.meta.get("path", sample.id), f"detector was fitted on {trained} samples but got {given}",
                        "train and test on samples of the same dataset")


@dataclass(frozen=True)
class Radii:
    """Feature radii in the cloud's own units, after resolving a scale-relative unit."""

    normal: float
    fpfh: float
    unit: float  # the length one radius unit stands for (1.0 for absolute radii)

    def scaled(self, multiple: float) -> float:
        return multiple * self.unit


def resolve_radii(radius_unit: str, normal_radius: float, fpfh_radius: float, reference_points: np.ndarray) -> Radii:
    """Turn the constructor's radii into lengths: multiples of the reference cloud's mean nearest-neighbour spacing
    (``radius_unit="spacing"``) or taken as they are (``"absolute"``)."""
    if radius_unit not in RADIUS_UNITS:
        raise ValueError(f"radius_unit must be one of {RADIUS_UNITS}, got {radius_unit!r}")
    if radius_unit == "absolute":
        unit = 1.0
    else:
        from benchkit_baselines.features import mean_spacing

        unit = mean_spacing(reference_points)
    return Radii(normal=normal_radius * unit, fpfh=fpfh_radius * unit, unit=unit)


def subsample_indices(n_points: int, max_points: int | None, seed: int) -> np.ndarray:
    """Sorted indices of at most ``max_points`` of ``n_points`` points: all of them when there are few enough,
    else a uniform random choice from a generator seeded with ``seed`` alone (so a cloud gets the same subsample
    whatever was drawn before it). Random rather than farthest-point sampling: open3d's farthest-point sampling costs
    0.17 s for 36k -> 4,096 points (one core) and grows with the product of the two sizes, too slow for Real3D-AD's
    1.6M-point scans; a random choice of a uniformly scanned surface is still spread evenly on average."""
    if max_points is None or n_points <= max_points:
        return np.arange(n_points)
    if max_points < 3:
        raise ValueError(f"max_points must be at least 3 (or None for every point), got {max_points}")
    return np.sort(np.random.default_rng(seed).choice(n_points, size=int(max_points), replace=False))


def spread_to_points(sampled_points: np.ndarray, sampled_values: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Give every point of ``points`` the value of its nearest point in ``sampled_points`` (scipy KD-tree: exact,
    one thread, and much faster than brute force for 3-d queries)."""
    from scipy.spatial import cKDTree

    _, nearest = cKDTree(sampled_points).query(points)
    return np.asarray(sampled_values)[nearest]
