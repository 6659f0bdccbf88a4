"""open3d's FPFH of an organized cloud, with the neighbours found through the pixel grid.

Why it exists: on MVTec 3D-AD style scans BTF's FPFH radius (0.25 m) covers the whole object, so open3d's hybrid
search is a 100-nearest-neighbour search, and open3d runs it twice per point (once for the point's SPFH, once to
weight its neighbours' SPFH); those KD-tree searches are nearly all of BTF's cost. In an organized cloud a point's
nearest neighbours in space are almost always its neighbours on the pixel grid, so here

1. `benchkit_components.grid_knn.grid_neighbours` finds each valid pixel's exact neighbours once, through the grid;
2. `fpfh_from_neighbours` computes open3d's SPFH histograms and their distance-weighted FPFH combination
   (``pipelines/registration/Feature.cpp``: ``ComputePairFeatures``, ``ComputeSPFHFeature``,
   ``ComputeFPFHFeature``) from that one neighbour list, and `normals_from_neighbours` open3d's normals
   (``estimate_normals``' formula and orientation) from a prefix of it, in compiled loops.

The result equals ``open3d.pipelines.registration.compute_fpfh_feature`` up to floating-point summation order,
except where several points lie at exactly the k-th distance (a tie open3d breaks by its tree's traversal order);
the tests compare the two on the same clouds.
"""

from __future__ import annotations

import math

import numpy as np

from benchkit_components.eigen3 import (  # noqa: F401 (compiled helpers of the normals kernel)
    _cross,
    _eigenvector_of,
    _second_eigenvector,
    _smallest_eigenvector,
    _unit_pair,
)
from benchkit_components.jit import jit

#: Plain functions the compiled kernels call (compiled with them).
_DEVICE_FUNCTIONS = ("_cross", "_unit_pair", "_eigenvector_of", "_second_eigenvector", "_smallest_eigenvector")
def _normals_kernel(points, index, d2, max_nn, squared_radius):
    """open3d's ``estimate_normals`` from sorted neighbour lists: the covariance (from raw moments, in list order) of
    the first ``max_nn`` neighbours strictly within the radius, identity with fewer than 3; its smallest eigenvector
    as ``FastEigen3x3`` gives it; (0, 0, 1) where that is zero."""
    n = len(points)
    out = np.zeros((n, 3))
    for i in prange(n):  # noqa: F821
        m = 0
        s = np.zeros(9)
        for a in range(min(max_nn, index.shape[1])):
            j = index[i, a]
            if j < 0 or not d2[i, a] < squared_radius:
                break
            x, y, z = points[j, 0], points[j, 1], points[j, 2]
            s[0] += x
            s[1] += y
            s[2] += z
            s[3] += x * x
            s[4] += x * y
            s[5] += x * z
            s[6] += y * y
            s[7] += y * z
            s[8] += z * z
            m += 1
        if m >= 3:
            for c in range(9):
                s[c] /= m
            normal = _smallest_eigenvector(s[3] - s[0] * s[0], s[4] - s[0] * s[1], s[5] - s[0] * s[2],
                                           s[6] - s[1] * s[1], s[7] - s[1] * s[2], s[8] - s[2] * s[2])
        else:
            normal = _smallest_eigenvector(1.0, 0.0, 0.0, 1.0, 0.0, 1.0)
        if normal[0] == 0.0 and normal[1] == 0.0 and normal[2] == 0.0:
            normal = (0.0, 0.0, 1.0)
        out[i, 0], out[i, 1], out[i, 2] = normal
    return out


#: Abramowitz & Stegun 4.4.49: atan(t) = t (1 + a2 t^2 + ... + a16 t^16) on [0, 1], absolute error below 2e-8.
_ATAN_COEFFICIENTS = (-0.3333314528, 0.1999355085, -0.1420889944, 0.1065626393, -0.0752896400, 0.0429096138,
                      -0.0161657367, 0.0028662257)
#: How close (in bins) to a bin edge the polynomial angle may fall before the bin is taken from ``math.atan2``: 30
#: times the polynomial's error in bins, 11 / (2 pi) x 2e-8.
_EDGE_MARGIN = 1e-6


def _spfh_kernel(points, normals, index, count):
    """open3d's SPFH: per point with m > 1 neighbours, its pair features with neighbours 2..m in three 11-bin
    histograms, each pair adding 100 / (m - 1).

    Why two loops: the pair features are written without branches (selects) so that the compiler vectorises them;
    the angle's bin comes from a polynomial arctangent, since ``atan2`` is a call that no compiler vectorises and was
    half of the kernel's time. The polynomial is exact to 2e-8, so its bin is ``atan2``'s wherever the angle lies
    farther than `_EDGE_MARGIN` from a bin edge; the few pairs nearer an edge (or with a zero vector) take their bin
    from ``math.atan2`` in the second, scalar loop, which fills the histograms. The bins are therefore those of
    open3d's formula for every pair, not an approximation of them."""
    n, width = index.shape
    out = np.zeros((n, 33))
    c2, c4, c6, c8, c10, c12, c14, c16 = _ATAN_COEFFICIENTS
    for i in prange(n):  # noqa: F821
        m = count[i]
        if m <= 1:
            continue
        angle_bin = np.empty(width)  # the f0 bin, or -1 where math.atan2 decides
        along, across = np.empty(width), np.empty(width)  # atan2's arguments, for those
        f1s, f2s = np.empty(width), np.empty(width)
        px, py, pz = points[i, 0], points[i, 1], points[i, 2]
        nx, ny, nz = normals[i, 0], normals[i, 1], normals[i, 2]
        for a in range(1, m):
            j = index[i, a]
            dx, dy, dz = points[j, 0] - px, points[j, 1] - py, points[j, 2] - pz
            mx, my, mz = normals[j, 0], normals[j, 1], normals[j, 2]
            length = math.sqrt(dx * dx + dy * dy + dz * dz)
            angle1 = (nx * dx + ny * dy + nz * dz) / length
            angle2 = (mx * dx + my * dy + mz * dz) / length
            swap = abs(angle1) < abs(angle2)  # the source is the point whose normal is more aligned with the line
            # one select per value (a select of tuples is a branch, which stops vectorisation)
            sx, sy, sz = mx if swap else nx, my if swap else ny, mz if swap else nz
            tx, ty, tz = nx if swap else mx, ny if swap else my, nz if swap else mz
            ex, ey, ez = -dx if swap else dx, -dy if swap else dy, -dz if swap else dz
            vx, vy, vz = ey * sz - ez * sy, ez * sx - ex * sz, ex * sy - ey * sx
            v_norm = math.sqrt(vx * vx + vy * vy + vz * vz)
            vx, vy, vz = vx / v_norm, vy / v_norm, vz / v_norm
            wx, wy, wz = sy * vz - sz * vy, sz * vx - sx * vz, sx * vy - sy * vx
            zero = (length == 0.0) | (v_norm == 0.0)  # open3d's features are then all zero
            f2 = -angle2 if swap else angle1
            f2s[a] = 0.0 if zero else f2
            f1s[a] = 0.0 if zero else vx * tx + vy * ty + vz * tz
            y = 0.0 if zero else wx * tx + wy * ty + wz * tz
            x = 1.0 if zero else sx * tx + sy * ty + sz * tz
            across[a], along[a] = y, x
            # atan2(y, x) from the arctangent of the smaller over the larger of |x|, |y|, put in its octant
            larger = max(abs(x), abs(y))
            t = min(abs(x), abs(y)) / larger
            t2 = t * t
            angle = t * (1.0 + t2 * (c2 + t2 * (c4 + t2 * (c6 + t2 * (c8 + t2 * (c10 + t2 * (c12 + t2 * (
                c14 + t2 * c16))))))))
            angle = 0.5 * math.pi - angle if abs(y) > abs(x) else angle
            angle = math.pi - angle if x < 0.0 else angle
            angle = -angle if y < 0.0 else angle  # (y = -0, x < 0 lands on the edge at -pi: atan2 decides)
            position = 11 * (angle + math.pi) / (2.0 * math.pi)
            near_edge = abs(position - math.floor(position + 0.5)) < _EDGE_MARGIN
            angle_bin[a] = -1.0 if near_edge | (larger == 0.0) else math.floor(position)
        increment = 100.0 / (m - 1)
        for a in range(1, m):
            b0 = angle_bin[a]
            if b0 < 0.0:
                b0 = math.floor(11 * (math.atan2(across[a], along[a]) + math.pi) / (2.0 * math.pi))
            out[i, min(10, max(0, int(b0)))] += increment
            out[i, 11 + min(10, max(0, int(math.floor(11 * (f1s[a] + 1.0) * 0.5))))] += increment
            out[i, 22 + min(10, max(0, int(math.floor(11 * (f2s[a] + 1.0) * 0.5))))] += increment
    return out


def _fpfh_kernel(spfh, index, d2, count):
    """open3d's FPFH from SPFH: neighbours 2..m at non-zero distance weighted by 1 / squared distance, each 11-bin
    block rescaled to sum 100, plus the point's own SPFH; zero for points with m <= 1. (open3d divides each of the
    33 values by the distance and sums the block as it goes; this multiplies by the inverse and sums the block from
    the neighbour's block total, the same numbers up to rounding in the last bits.)"""
    n = len(spfh)
    out = np.zeros((n, 33), dtype=np.float32)  # stored rounded, as the caller's float32 would round them
    block_total = np.zeros((n, 3))
    for i in prange(n):  # noqa: F821
        for b in range(33):
            block_total[i, b // 11] += spfh[i, b]
    for i in prange(n):  # noqa: F821
        m = count[i]
        if m <= 1:
            continue
        weighted = np.zeros(33)  # a fresh array: the compiler knows it aliases neither input and vectorises
        sums = np.zeros(3)
        for a in range(1, m):
            dist = d2[i, a]
            if dist == 0.0:
                continue
            j = index[i, a]
            weight = 1.0 / dist
            for b in range(33):
                weighted[b] += spfh[j, b] * weight
            for c in range(3):
                sums[c] += block_total[j, c] * weight
        for c in range(3):
            if sums[c] != 0.0:
                sums[c] = 100.0 / sums[c]
        for b in range(33):
            out[i, b] = weighted[b] * sums[b // 11] + spfh[i, b]
    return out


def _count_kernel(index):
    """How many neighbours each list holds (entries >= 0): numpy's ``(index >= 0).sum(1)`` on one thread was 2 % of
    BTF's FPFH."""
    n, width = index.shape
    out = np.empty(n, dtype=np.int64)
    for i in prange(n):  # noqa: F821
        found = 0
        for a in range(width):
            found += 1 if index[i, a] >= 0 else 0
        out[i] = found
    return out


_count = jit(_count_kernel)
_normals = jit(_normals_kernel, helpers=_DEVICE_FUNCTIONS)
_spfh = jit(_spfh_kernel)
_fpfh = jit(_fpfh_kernel)


def _index_array(index: np.ndarray) -> np.ndarray:
    """Neighbour indices as the kernels read them: int32 as `grid_neighbours` gives them (half the memory traffic of
    int64), or int64."""
    index = np.asarray(index)
    return np.ascontiguousarray(index, dtype=index.dtype if index.dtype in (np.int32, np.int64) else np.int64)


def fpfh_from_neighbours(points: np.ndarray, normals: np.ndarray, index: np.ndarray, d2: np.ndarray) -> np.ndarray:
    """open3d's FPFH (N x 33 float32) from per-point neighbour lists as `grid_neighbours` gives them (nearest
    first, the first entry the point itself or a copy of it, missing entries -1 at the end)."""
    points = np.ascontiguousarray(points, dtype=np.float64)
    normals = np.ascontiguousarray(normals, dtype=np.float64)
    index = _index_array(index)
    count = _count(index)
    spfh = _spfh(points, normals, index, count)
    return _fpfh(spfh, index, np.ascontiguousarray(d2, dtype=np.float64), count)


def normals_from_neighbours(points: np.ndarray, index: np.ndarray, d2: np.ndarray, max_nn: int,
                            radius: float) -> np.ndarray:
    """open3d's normals (N x 3, its orientation) from sorted neighbour lists that hold at least the first
    ``max_nn`` neighbours within ``radius`` (a list made for a larger count and radius serves)."""
    return _normals(np.ascontiguousarray(points, dtype=np.float64), _index_array(index),
                    np.ascontiguousarray(d2, dtype=np.float64), int(max_nn), float(radius) ** 2)
