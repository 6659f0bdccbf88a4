"""Geometric cues per point group for the geometry-guided decoder: a surface normal and a curvature.

Normals come from open3d (PCA over each point's k nearest neighbours); curvature is the surface variation
lambda_min / (lambda_0 + lambda_1 + lambda_2) of the same neighbourhood's covariance (open3d computes the
covariances, numpy the eigenvalues). A group takes its centre point's normal and the mean curvature of its points.
"""

from __future__ import annotations

import numpy as np


def point_normals_and_curvature(points: np.ndarray, k: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) unit normals (unoriented) and (N,) curvature in [0, 1/3] from each point's k-neighbourhood."""
    import open3d as o3d

    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points, dtype=np.float64)))
    search = o3d.geometry.KDTreeSearchParamKNN(knn=k)
    cloud.estimate_normals(search)
    cloud.estimate_covariances(search)
    eig = np.linalg.eigvalsh(np.asarray(cloud.covariances))  # ascending
    curvature = eig[:, 0] / np.maximum(eig.sum(axis=1), 1e-12)
    return np.asarray(cloud.normals, dtype=np.float32), curvature.astype(np.float32)


def group_geometry(points: np.ndarray, groups: np.ndarray, k: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(G, 3) normals and (G,) curvatures of point groups given as (G, K) indices whose first column is the centre
    (as `benchkit_components.groups.make_groups` lays them out)."""
    normals, curvature = point_normals_and_curvature(points, k)
    return normals[groups[:, 0]], curvature[groups].mean(axis=1)
