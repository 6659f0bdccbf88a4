"""Localized defects on a surface-sampled point cloud, with per-point ground truth.

Every defect works on the clean cloud in the object's own frame (points and outward normals), before pose and sensor
noise are applied, and returns the new points with a label per point (1 = anomalous). Its size is set by a target
fraction of the cloud's points, so that 1-7 % of the points are anomalous as in Real3D-AD and Anomaly-ShapeNet.

A defect's neighbourhood is the set of points near its centre whose normals roughly agree with the centre's normal,
so that a defect on one side of a thin part (a torus tube, a starfish arm) leaves the other side alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Defect names as they appear in file names (Real3D-AD calls a dent a "sink").
PC_DEFECTS = ("bulge", "sink", "hole", "crack", "missing")


@dataclass
class Defected:
    points: np.ndarray
    labels: np.ndarray  # int, 1 = anomalous point
    kind: str


def _neighbourhood(points: np.ndarray, normals: np.ndarray, centre: int, min_cos: float = 0.3):
    """Indices of the points that face the same way as the centre point, sorted by distance, and the distances."""
    offsets = points - points[centre]
    dist = np.linalg.norm(offsets, axis=1)
    facing = normals @ normals[centre] > min_cos
    idx = np.flatnonzero(facing)
    order = idx[np.argsort(dist[idx], kind="stable")]
    return order, dist[order]


def _smooth_bump(points, normals, centre, count, height_ratio, rng):
    """Move the ``count`` nearest same-facing points along the centre normal by a smooth (1 - d^2/r^2)^2 profile."""
    order, dist = _neighbourhood(points, normals, centre)
    region, d = order[:count], dist[:count]
    radius = max(d[-1], 1e-6)
    weight = (1 - (d / radius) ** 2) ** 2
    height = height_ratio * radius
    out = points.copy()
    out[region] += (height * weight)[:, None] * normals[centre]
    labels = np.zeros(len(points), dtype=np.int64)
    labels[region[weight >= 0.1]] = 1  # the flat outer fringe moved less than the sensor noise: not marked
    return out, labels


def bulge(points, normals, centre, fraction, rng) -> Defected:
    out, labels = _smooth_bump(points, normals, centre, int(fraction * len(points) * 1.5), rng.uniform(0.4, 0.55), rng)
    return Defected(out, labels, "bulge")


def sink(points, normals, centre, fraction, rng) -> Defected:
    out, labels = _smooth_bump(points, normals, centre, int(fraction * len(points) * 1.5), -rng.uniform(0.35, 0.45), rng)
    return Defected(out, labels, "sink")


def hole(points, normals, centre, fraction, rng) -> Defected:
    """Remove a disc of points; mark the rim around it, as the real datasets mark a hole's boundary."""
    order, _ = _neighbourhood(points, normals, centre)
    rim_count = int(fraction * len(points))
    removed, rim = order[: int(1.5 * rim_count)], order[int(1.5 * rim_count) : int(2.5 * rim_count)]
    labels = np.zeros(len(points), dtype=np.int64)
    labels[rim] = 1
    keep = np.ones(len(points), dtype=bool)
    keep[removed] = False
    return Defected(points[keep], labels[keep], "hole")


def crack(points, normals, centre, fraction, rng, spacing: float = 1.3) -> Defected:
    """A thin straight groove through the centre, pushed into the surface with a V profile."""
    n = normals[centre]
    helper = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    t = np.cross(n, helper)
    t /= np.linalg.norm(t)
    b = np.cross(n, t)
    angle = rng.uniform(0, np.pi)
    along_dir = np.cos(angle) * t + np.sin(angle) * b
    across_dir = np.cross(n, along_dir)
    half_width = 1.6 * spacing
    offsets = points - points[centre]
    along, across = offsets @ along_dir, offsets @ across_dir
    candidates = np.flatnonzero((np.abs(across) < half_width) & (normals @ n > 0.3) & (np.abs(offsets @ n) < 8 * spacing))
    chosen = candidates[np.argsort(np.abs(along[candidates]), kind="stable")][: int(fraction * len(points))]
    depth = rng.uniform(2.0, 3.0) * half_width
    profile = 1 - np.abs(across[chosen]) / half_width
    out = points.copy()
    out[chosen] -= (depth * profile)[:, None] * n
    labels = np.zeros(len(points), dtype=np.int64)
    labels[chosen] = 1
    return Defected(out, labels, "crack")


def missing(points, normals, centre, fraction, rng) -> Defected:
    """Cut a piece off the object: the points beyond a plane are projected onto it, leaving a flat break.

    The plane is perpendicular to a random direction (not to the surface normal), so on boxes and cans it cuts a
    corner or an edge rather than shaving a flat face by nothing. ``centre`` is unused: the piece is the extreme
    part of the object along that direction, limited to a 12 mm ball so thin shapes lose one piece, not several.
    """
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    height = points @ direction
    tip = int(np.argmax(height))
    nearby = np.flatnonzero(np.linalg.norm(points - points[tip], axis=1) < 12.0)
    cap = nearby[np.argsort(-height[nearby], kind="stable")][: int(fraction * len(points))]
    level = height[cap].min()
    out = points.copy()
    out[cap] -= (height[cap] - level)[:, None] * direction
    labels = np.zeros(len(points), dtype=np.int64)
    labels[cap] = 1
    return Defected(out, labels, "missing")


_MAKERS = {"bulge": bulge, "sink": sink, "hole": hole, "crack": crack, "missing": missing}

#: Target anomalous fraction per defect kind (low, high); a crack is long and thin, so it gets fewer points.
_FRACTIONS = {"bulge": (0.025, 0.05), "sink": (0.025, 0.05), "hole": (0.02, 0.04), "crack": (0.012, 0.022),
              "missing": (0.04, 0.07)}


def apply_defect(kind: str, points: np.ndarray, normals: np.ndarray, rng: np.random.Generator) -> Defected:
    """Put one defect of ``kind`` at a random point of the cloud."""
    centre = int(rng.integers(len(points)))
    fraction = rng.uniform(*_FRACTIONS[kind])
    return _MAKERS[kind](points, normals, centre, fraction, rng)
