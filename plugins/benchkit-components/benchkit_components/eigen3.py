"""open3d's closed-form eigenvectors of a symmetric 3 x 3 matrix (``FastEigen3x3`` in its ``geometry/EstimateNormals.cpp``),
written as plain Python for the compiled normals kernel of `benchkit_components.fpfh_grid`, which calls them (they
are compiled with it, see `benchkit_components.jit.jit`'s ``helpers``). Kept apart because they are one concept:
the grid FPFH only needs the smallest eigenvector, and open3d's orientation of it.
"""

from __future__ import annotations

import math



def _eigenvector_of(a00, a01, a02, a11, a12, a22, value):
    """Unit eigenvector of the symmetric matrix for an eigenvalue of multiplicity one: the largest cross product of
    two rows of (A - value I) (Eberly's robust 3 x 3 solver, as open3d's ``ComputeEigenvector0``)."""
    r0 = (a00 - value, a01, a02)
    r1 = (a01, a11 - value, a12)
    r2 = (a02, a12, a22 - value)
    c01 = (r0[1] * r1[2] - r0[2] * r1[1], r0[2] * r1[0] - r0[0] * r1[2], r0[0] * r1[1] - r0[1] * r1[0])
    c02 = (r0[1] * r2[2] - r0[2] * r2[1], r0[2] * r2[0] - r0[0] * r2[2], r0[0] * r2[1] - r0[1] * r2[0])
    c12 = (r1[1] * r2[2] - r1[2] * r2[1], r1[2] * r2[0] - r1[0] * r2[2], r1[0] * r2[1] - r1[1] * r2[0])
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
    v = (e0[1] * u[2] - e0[2] * u[1], e0[2] * u[0] - e0[0] * u[2], e0[0] * u[1] - e0[1] * u[0])
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
        if abs(m00) >= abs(m01):
            m01 /= m00
            m00 = 1 / math.sqrt(1 + m01 * m01)
            m01 *= m00
        else:
            m00 /= m01
            m01 = 1 / math.sqrt(1 + m00 * m00)
            m00 *= m01
        return (m01 * u[0] - m00 * v[0], m01 * u[1] - m00 * v[1], m01 * u[2] - m00 * v[2])
    if max(abs(m11), abs(m01)) <= 0:
        return u
    if abs(m11) >= abs(m01):
        m01 /= m11
        m11 = 1 / math.sqrt(1 + m01 * m01)
        m01 *= m11
    else:
        m11 /= m01
        m01 = 1 / math.sqrt(1 + m11 * m11)
        m11 *= m01
    return (m11 * u[0] - m01 * v[0], m11 * u[1] - m01 * v[1], m11 * u[2] - m01 * v[2])


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
    if half_det >= 0:
        v2 = _eigenvector_of(a00, a01, a02, a11, a12, a22, e2)
        if e2 < e0 and e2 < e1:
            return v2
        v1 = _second_eigenvector(a00, a01, a02, a11, a12, a22, v2, e1)
        if e1 < e0 and e1 < e2:
            return v1
        return (v1[1] * v2[2] - v1[2] * v2[1], v1[2] * v2[0] - v1[0] * v2[2], v1[0] * v2[1] - v1[1] * v2[0])
    v0 = _eigenvector_of(a00, a01, a02, a11, a12, a22, e0)
    if e0 < e1 and e0 < e2:
        return v0
    v1 = _second_eigenvector(a00, a01, a02, a11, a12, a22, v0, e1)
    if e1 < e0 and e1 < e2:
        return v1
    return (v0[1] * v1[2] - v0[2] * v1[1], v0[2] * v1[0] - v0[0] * v1[2], v0[0] * v1[1] - v0[1] * v1[0])
