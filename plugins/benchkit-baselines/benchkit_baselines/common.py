"""Small helpers the baseline detectors share: reading a sample's geometry and resolving feature radii. Point
operations (sampling, neighbours, FPFH, coresets) come from `benchkit_components`."""

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
        from benchkit_components.fpfh import mean_spacing

        unit = mean_spacing(reference_points)
    return Radii(normal=normal_radius * unit, fpfh=fpfh_radius * unit, unit=unit)
