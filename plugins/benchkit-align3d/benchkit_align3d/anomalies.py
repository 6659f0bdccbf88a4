"""Synthetic anomalies on normal training clouds, Align3D-AD's supervision for its prompts (the abstract: prompts are
learned on auxiliary data; real defects of auxiliary categories are not available in zero-shot settings, so, as
PointAD trains on auxiliary classes' annotated test anomalies only where they exist, benchkit makes them).

A bump or a dent: points within ``radius`` (a fraction of the object's size) of a random surface point move along
the local normal by a smooth (cosine) profile of height ``depth`` times the radius; those points are the anomaly.
"""

from __future__ import annotations

import numpy as np


def bump_or_dent(points: np.ndarray, rng: np.random.Generator, radius: float = 0.12,
                 depth: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """(deformed points, boolean anomaly mask)."""
    from benchkit_components.neighbours import knn

    points = np.asarray(points, dtype=np.float64)
    size = float(np.linalg.norm(points.max(axis=0) - points.min(axis=0)))
    r = radius * size
    centre = points[rng.integers(len(points))]
    distance = np.linalg.norm(points - centre, axis=1)
    mask = distance < r
    _, near = knn(points, centre[None], min(len(points), 64))
    local = points[near[0]] - points[near[0]].mean(axis=0)
    normal = np.linalg.svd(local, full_matrices=False)[2][-1]
    if np.dot(normal, centre - points.mean(axis=0)) < 0:
        normal = -normal  # outwards
    sign = 1.0 if rng.random() < 0.5 else -1.0
    profile = 0.5 * (1 + np.cos(np.pi * np.clip(distance / r, 0, 1)))
    out = points + sign * depth * r * profile[:, None] * normal
    return out, mask & (profile > 0.1)
