"""Synthetic anomalies on normal training clouds, Align3D-AD's supervision for its prompts (the abstract: prompts are
learned on auxiliary data; real defects of auxiliary categories are not available in zero-shot settings, so, as
PointAD trains on auxiliary classes' annotated test anomalies only where they exist, benchkit makes them).

A bump or a dent: the points nearest to a random surface point, a ``fraction`` of the cloud (drawn from a range, by
default 1-5 %, the share of anomalous points in Real3D-AD and MVTec 3D-AD scans), move along the local normal by a
smooth (cosine) profile of height ``depth`` times the patch radius; those points are the anomaly. Sizing by a share
of the points rather than of the bounding box keeps the defects object-sized on a scan whose background plane
fills the box.
"""

from __future__ import annotations

import numpy as np


def bump_or_dent(points: np.ndarray, rng: np.random.Generator, fraction: tuple[float, float] = (0.01, 0.05),
                 depth: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """(deformed points, boolean anomaly mask)."""
    from benchkit_components.neighbours import knn

    points = np.asarray(points, dtype=np.float64)
    centre = points[rng.integers(len(points))]
    distance = np.linalg.norm(points - centre, axis=1)
    count = int(np.clip(round(rng.uniform(*fraction) * len(points)), 8, len(points)))
    r = max(float(np.partition(distance, count - 1)[count - 1]), 1e-9)
    mask = distance < r
    _, near = knn(points, centre[None], min(len(points), max(16, count)))
    local = points[near[0]] - points[near[0]].mean(axis=0)
    normal = np.linalg.svd(local, full_matrices=False)[2][-1]
    if np.dot(normal, centre - points.mean(axis=0)) < 0:
        normal = -normal  # outwards
    sign = 1.0 if rng.random() < 0.5 else -1.0
    profile = 0.5 * (1 + np.cos(np.pi * np.clip(distance / r, 0, 1)))
    out = points + sign * depth * r * profile[:, None] * normal
    return out, mask & (profile > 0.1)
