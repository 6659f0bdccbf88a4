"""open3d's closed-form eigenvectors of a symmetric 3 x 3 matrix (``FastEigen3x3`` in its
``geometry/EstimateNormals.cpp``), written as plain Python for the compiled normals kernel of `benchkit_components.fpfh_grid`, which calls them (they
are compiled with it, see `benchkit_components.jit.jit`'s ``helpers``). Kept apart because they are one concept:
the grid FPFH only needs the smallest eigenvector, and open3d's orientation of it.
"""

from __future__ import annotations

import math


def _cross(a, b):
    return a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]


def _unit_pair(p, q):
    """(p, q) scaled to unit length, dividing by the larger of the two first as open3d does (its rounding)."""
    if abs(p) >= abs(q):
        q /= p
        p = 1 / math.sqrt(1 + q * q)
        return p, q * p
    p /= q
    q = 1 / math.sqrt(1 + p * p)
    return p * q, q


def _eigenvector_of(a00, a01, a02, a11, a12, a22, value):
    """Unit eigenvector of the symmetric matrix for an eigenvalue of multiplicity one: the largest cross product of
    two rows of (A - value I) (Eberly's robust 3 x 3 solver, as open3d's ``ComputeEigenvector0``)."""
    r0 = (a00 - value, a01, a02)
    r1 = (a01, a11 - value, a12)
    r2 = (a02, a12, a22 - value)
    c01, c02, c12 = _cross(r0, r1), _cross(r0, r2), _cross(r1, r2)
    d0 = c01[0] * c01[0] + c01[1] * c01[1] + c01[2] * c01[2]
    d1 = c02[0] * c02[0] + c02[1] * c02[1] + c02[2] * c02[2]
    d2 = c12[0] * c12[0] + c12[1] * c12[1] + c12[2] * c12[2]
    best, size = c01, d0
    if d1 > size:
        best, size = c02, d1
    if d2 > size:
        best, size = c12, d2
    root = math.sqrt(size)
    return best[0] / root, best[1] / root, best[2] / root


def _second_eigenvector(a00, a01, a02, a11, a12, a22, e0, value):
    """The eigenvector for a second eigenvalue, orthogonal to ``e0`` (open3d's ``ComputeEigenvector1``)."""
    if abs(e0[0]) > abs(e0[1]):
        inv = 1 / math.sqrt(e0[0] * e0[0] + e0[2] * e0[2])
        u = (-e0[2] * inv, 0.0, e0[0] * inv)
    else:
        inv = 1 / math.sqrt(e0[1] * e0[1] + e0[2] * e0[2])
        u = (0.0, e0[2] * inv, -e0[1] * inv)
    v = _cross(e0, u)
    au = (a00 * u[0] + a01 * u[1] + a02 * u[2], a01 * u[0] + a11 * u[1] + a12 * u[2],
          a02 * u[0] + a12 * u[1] + a22 * u[2])
    av = (a00 * v[0] + a01 * v[1] + a02 * v[2], a01 * v[0] + a11 * v[1] + a12 * v[2],
          a02 * v[0] + a12 * v[1] + a22 * v[2])
    m00 = u[0] * au[0] + u[1] * au[1] + u[2] * au[2] - value
    m01 = u[0] * av[0] + u[1] * av[1] + u[2] * av[2]
    m11 = v[0] * av[0] + v[1] * av[1] + v[2] * av[2] - value
    if abs(m00) >= abs(m11):
        if max(abs(m00), abs(m01)) <= 0:
            return u
        x, y = _unit_pair(m00, m01)
        a, b = y, x
    else:
        if max(abs(m11), abs(m01)) <= 0:
            return u
        a, b = _unit_pair(m11, m01)
    return a * u[0] - b * v[0], a * u[1] - b * v[1], a * u[2] - b * v[2]


def _smallest_eigenvector(a00, a01, a02, a11, a12, a22):
    """open3d's ``FastEigen3x3``: the eigenvector of the smallest eigenvalue, with open3d's sign (which FPFH's angles
    depend on), from the closed-form eigenvalues of the matrix scaled by its largest entry."""
    scale = max(a00, a01, a02, a11, a12, a22)
    if scale == 0:
        return 0.0, 0.0, 0.0
    a00, a01, a02, a11, a12, a22 = a00 / scale, a01 / scale, a02 / scale, a11 / scale, a12 / scale, a22 / scale
    off = a01 * a01 + a02 * a02 + a12 * a12
    if off <= 0:
        if a00 < a11 and a00 < a22:
            return 1.0, 0.0, 0.0
        if a11 < a00 and a11 < a22:
            return 0.0, 1.0, 0.0
        return 0.0, 0.0, 1.0
    q = (a00 + a11 + a22) / 3
    b00, b11, b22 = a00 - q, a11 - q, a22 - q
    p = math.sqrt((b00 * b00 + b11 * b11 + b22 * b22 + off * 2) / 6)
    c00 = b11 * b22 - a12 * a12
    c01 = a01 * b22 - a12 * a02
    c02 = a01 * a12 - b11 * a02
    half_det = min(max((b00 * c00 - a01 * c01 + a02 * c02) / (p * p * p) * 0.5, -1.0), 1.0)
    angle = math.acos(half_det) / 3.0
    beta2 = math.cos(angle) * 2
    beta0 = math.cos(angle + 2.09439510239319549) * 2
    beta1 = -(beta0 + beta2)
    e0, e1, e2 = q + p * beta0, q + p * beta1, q + p * beta2
    # open3d starts from the eigenvalue farthest from the others: the largest (e2) when half_det >= 0, else e0
    first, other = (e2, e0) if half_det >= 0 else (e0, e2)
    v_first = _eigenvector_of(a00, a01, a02, a11, a12, a22, first)
    if first < other and first < e1:
        return v_first
    v1 = _second_eigenvector(a00, a01, a02, a11, a12, a22, v_first, e1)
    if e1 < e0 and e1 < e2:
        return v1
    return _cross(v1, v_first) if half_det >= 0 else _cross(v_first, v1)
