"""Global rigid registration of one cloud onto a template with open3d's feature-matching RANSAC, the way
Real3D-AD's PatchCore baselines align every cloud to the first training cloud before computing features.

Recipe (Real3D-AD, in its units): voxel-down-sample both clouds (voxel 0.5), normals radius 2 x voxel (30
neighbours), FPFH radius 5 x voxel (100 neighbours), mutual-filtered correspondences, 3-point RANSAC with the
edge-length (0.9) and distance (1.5 x voxel) checkers, at most 100,000 iterations at confidence 0.999. The
reference first applies a fixed axis permutation to the source; a global registration does not need it, so
benchkit leaves it out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchkit_baselines.features import _o3d, estimate_normals, to_open3d


@dataclass
class DownsampledWithFeatures:
    """A voxel-down-sampled open3d cloud with its FPFH, ready to be a registration source or target."""

    cloud: object
    features: object


def prepare(points: np.ndarray, voxel_size: float) -> DownsampledWithFeatures:
    o3d = _o3d()
    down = to_open3d(points).voxel_down_sample(voxel_size)
    estimate_normals(down, 2 * voxel_size, 30)
    feature = o3d.pipelines.registration.compute_fpfh_feature(
        down, o3d.geometry.KDTreeSearchParamHybrid(radius=5 * voxel_size, max_nn=100)
    )
    return DownsampledWithFeatures(down, feature)


def register(
    source: np.ndarray,
    target: DownsampledWithFeatures,
    voxel_size: float,
    seed: int = 0,
    max_iterations: int = 100_000,
    confidence: float = 0.999,
) -> np.ndarray:
    """``source`` (N x 3) moved onto ``target`` by RANSAC over FPFH matches; returns the moved N x 3 points.

    open3d's RANSAC draws from its global generator, seeded here with ``seed`` so a run is repeatable.
    """
    o3d = _o3d()
    reg = o3d.pipelines.registration
    prepared = prepare(source, voxel_size)
    distance = 1.5 * voxel_size
    o3d.utility.random.seed(int(seed))
    result = reg.registration_ransac_based_on_feature_matching(
        prepared.cloud,
        target.cloud,
        prepared.features,
        target.features,
        True,
        distance,
        reg.TransformationEstimationPointToPoint(False),
        3,
        [reg.CorrespondenceCheckerBasedOnEdgeLength(0.9), reg.CorrespondenceCheckerBasedOnDistance(distance)],
        reg.RANSACConvergenceCriteria(max_iterations, confidence),
    )
    transform = np.asarray(result.transformation)
    points = np.asarray(source, dtype=np.float64)
    return points @ transform[:3, :3].T + transform[:3, 3]
