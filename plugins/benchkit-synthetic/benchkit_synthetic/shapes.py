"""The object shapes of synthetic-pc, as triangle meshes, and seeded surface sampling.

Each category is one fixed shape (a normal object never changes shape; only its pose, scale and sensor noise do),
about 30-45 mm across, in millimetres like Real3D-AD. Meshes come from open3d's primitives, some deformed by a
radial map of a sphere (superquadric "soap bar", potato-like blob, flat starfish).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _sphere(resolution: int = 40):
    import open3d as o3d

    return o3d.geometry.TriangleMesh.create_sphere(radius=1.0, resolution=resolution)


def _arrays(mesh) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(mesh.vertices, dtype=np.float64).copy(), np.asarray(mesh.triangles, dtype=np.int64).copy()


def blob() -> tuple[np.ndarray, np.ndarray]:
    """A potato: an ellipsoid with two gentle lumps."""
    v, t = _arrays(_sphere())
    lumps = 1.0 + 0.12 * np.exp(-8 * np.sum((v - [0.6, 0.5, 0.6]) ** 2, 1)) + 0.08 * np.exp(
        -6 * np.sum((v - [-0.7, -0.3, -0.6]) ** 2, 1)
    )
    return v * lumps[:, None] * [21.0, 15.0, 12.0], t


def torus() -> tuple[np.ndarray, np.ndarray]:
    """A ring (bagel-like), ring radius 14 mm, tube radius 6 mm."""
    import open3d as o3d

    return _arrays(o3d.geometry.TriangleMesh.create_torus(torus_radius=14.0, tube_radius=6.0, radial_resolution=48,
                                                          tubular_resolution=24))


def can() -> tuple[np.ndarray, np.ndarray]:
    """A closed cylinder, radius 12 mm, height 34 mm."""
    import open3d as o3d

    return _arrays(o3d.geometry.TriangleMesh.create_cylinder(radius=12.0, height=34.0, resolution=48, split=12))


def soap() -> tuple[np.ndarray, np.ndarray]:
    """A box with rounded edges: the superquadric |x|^6 + |y|^6 + |z|^6 = 1, stretched to 40 x 26 x 16 mm."""
    v, t = _arrays(_sphere(48))
    norm = np.sum(np.abs(v) ** 6, axis=1) ** (1 / 6)
    return v / norm[:, None] * [20.0, 13.0, 8.0], t


def cone() -> tuple[np.ndarray, np.ndarray]:
    """A closed cone, base radius 15 mm, height 34 mm."""
    import open3d as o3d

    return _arrays(o3d.geometry.TriangleMesh.create_cone(radius=15.0, height=34.0, resolution=48, split=12))


def starfish() -> tuple[np.ndarray, np.ndarray]:
    """A flat five-armed star: a sphere whose horizontal radius follows 13 + 8 cos(5 theta), 12 mm thick."""
    v, t = _arrays(_sphere(64))
    theta = np.arctan2(v[:, 1], v[:, 0])
    radius = 13.0 + 8.0 * np.cos(5 * theta)
    return np.column_stack([v[:, 0] * radius, v[:, 1] * radius, v[:, 2] * 6.0]), t


#: Category name -> mesh builder. The order is the category order of the dataset.
SHAPES: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
    "blob": blob,
    "torus": torus,
    "can": can,
    "soap": soap,
    "cone": cone,
    "starfish": starfish,
}


class Surface:
    """A mesh ready for area-weighted sampling.

    Hand-written because the sampling must follow our own seeded generator bit for bit (open3d's samplers use a
    global random state); it is three lines of barycentric sampling.
    """

    def __init__(self, vertices: np.ndarray, triangles: np.ndarray) -> None:
        corners = vertices[triangles]  # T x 3 x 3
        cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        doubled_area = np.linalg.norm(cross, axis=1)
        keep = doubled_area > 1e-12  # degenerate triangles at the sphere poles
        self.corners = corners[keep]
        self.normals = cross[keep] / doubled_area[keep, None]
        self.area = float(doubled_area[keep].sum() / 2)
        self._cdf = np.cumsum(doubled_area[keep]) / doubled_area[keep].sum()

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points uniformly distributed over the surface, with their outward unit normals."""
        tri = np.minimum(np.searchsorted(self._cdf, rng.random(n)), len(self._cdf) - 1)
        u, v = rng.random(n), rng.random(n)
        flip = u + v > 1
        u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
        c = self.corners[tri]
        points = c[:, 0] + u[:, None] * (c[:, 1] - c[:, 0]) + v[:, None] * (c[:, 2] - c[:, 0])
        return points, self.normals[tri]


def surface(category: str) -> Surface:
    try:
        builder = SHAPES[category]
    except KeyError:
        raise ValueError(f"unknown synthetic-pc category {category!r}; known: {sorted(SHAPES)}") from None
    return Surface(*builder())
