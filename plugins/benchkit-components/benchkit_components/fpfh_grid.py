"""open3d's FPFH of an organized cloud, with the neighbours found through the pixel grid.

Why it exists: on MVTec 3D-AD style scans BTF's FPFH radius (0.25 m) covers the whole object, so open3d's hybrid
search is a 100-nearest-neighbour search, and open3d runs it twice per point (once for the point's SPFH, once to
weight its neighbours' SPFH); those KD-tree searches are nearly all of BTF's cost. In an organized cloud a point's
nearest neighbours in space are almost always its neighbours on the pixel grid, so here

1. `grid_neighbours` finds each valid pixel's ``max_nn`` nearest points within ``radius`` (open3d's
   ``KDTreeSearchParamHybrid`` rule: the ``max_nn`` nearest, then those strictly closer than the radius) among the
   pixels of a disc around it on the grid (compiled loop). The result is exact, not a guess: the queries of a
   small tile of pixels have their balls in one ball around the tile's first point, and an exact count of all the
   points in that ball (`_BallCounter`, over a 3-D grid of cells) proves that it holds no point outside the pixels
   every query of the tile scanned. Tiles where it does
   (depth edges, sparse borders) are scanned again with a larger disc, and those that one cannot prove either are
   searched with the KD-tree. Discs, not squares: a point's neighbours on a surface seen by the camera fill a disc
   of pixels, so a disc scans fewer candidates than a square that proves as many tiles.
2. `fpfh_from_neighbours` computes open3d's SPFH histograms and their distance-weighted FPFH combination
   (``pipelines/registration/Feature.cpp``: ``ComputePairFeatures``, ``ComputeSPFHFeature``,
   ``ComputeFPFHFeature``) from that one neighbour list, vectorised.

Normals stay open3d's (``estimate_normals``), so their orientation is open3d's. The result equals
``open3d.pipelines.registration.compute_fpfh_feature`` up to floating-point summation order, except where several
points lie at exactly the k-th distance (a tie open3d breaks by its tree's traversal order); the tests compare the
two on the same clouds.
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
from benchkit_components.neighbours import cpu_threads

#: Plain functions the compiled kernels call (compiled with them).
_DEVICE_FUNCTIONS = ("_cross", "_unit_pair", "_eigenvector_of", "_second_eigenvector", "_smallest_eigenvector")
#: Side of the square pixel tiles whose queries share one candidate window and one exactness proof.
TILE = 2


def _window_margin(max_nn: int, duplication: float, slack: int) -> int:
    """Radius in pixels of each query's disc: that of a disc of ``max_nn`` distinct points (scaled by how often the
    grid repeats a point, as nearest up-sampling does) plus the tile's diagonal and ``slack`` pixels."""
    return int(math.ceil(math.sqrt(max_nn * duplication / math.pi) + TILE * math.sqrt(2))) + slack


#: Slack of the two discs `grid_neighbours` scans: every tile with the small one first, then the tiles it could not
#: prove with the large one. On synthetic-rgbd scans at 224 x 224 (BTF's 100 neighbours) the small disc leaves 1.9 %
#: of the tiles unproven and the large one 0.19 % (one disc of slack 3 left 0.5 %), and the search takes about 5 %
#: less time than with that one disc (220-228 against 231-237 ms per scan, 2 threads).
SMALL_SLACK, LARGE_SLACK = 2, 4


def _duplication(xyz: np.ndarray, valid: np.ndarray) -> float:
    """How many pixels show each distinct point, about: nearest up-sampling repeats rows and columns."""
    same_as_left = (xyz[:, 1:] == xyz[:, :-1]).all(-1) & valid[:, 1:] & valid[:, :-1]
    same_as_above = (xyz[1:] == xyz[:-1]).all(-1) & valid[1:] & valid[:-1]
    count = max(1, int(valid.sum()))
    return 1.0 / max(1e-3, (1 - same_as_left.sum() / count) * (1 - same_as_above.sum() / count))


def _tile_knn_kernel(points, number, grid_x, grid_y, grid_z, tile_rows, tile_cols, tile, margin, scan_offsets,
                     shared_rows, shared_cols, k, squared_radius, out_index, out_d2, centre_of, rho, in_window):
    """For each tile: every query pixel's k nearest points of its disc strictly within the radius (insertion into
    a sorted buffer, scanning nearest pixels first so that far points are rejected at once; ties keep the earlier
    pixel; unfilled slots -1 and inf), the ball B(centre, rho) holding all the tile's query balls, and how many
    points of the pixels every query scanned (``shared_*``) lie in it. ``scan_offsets``: each query position's
    disc as offsets into the flattened ``number`` grid from the tile's window corner."""
    radius = math.sqrt(squared_radius)
    row_length = number.shape[1]
    flat_number, flat_x, flat_y, flat_z = number.ravel(), grid_x.ravel(), grid_y.ravel(), grid_z.ravel()
    for t in prange(len(tile_rows)):  # noqa: F821 (numba's prange, injected below)
        r0, c0 = tile_rows[t], tile_cols[t]
        centre = -1
        reach = 0.0
        distance = np.empty(scan_offsets.shape[1])
        for qi in range(tile):
            for qj in range(tile):
                q = number[r0 + margin + qi, c0 + margin + qj]
                if q < 0:
                    continue
                if centre < 0:
                    centre = q
                qx, qy, qz = points[q, 0], points[q, 1], points[q, 2]
                found = 0
                limit = squared_radius  # a candidate at this distance or farther is rejected (ties: earlier wins)
                offsets = scan_offsets[qi * tile + qj]
                base = r0 * row_length + c0
                for s in range(len(offsets)):  # vectorised: every candidate's distance, empty pixels far away
                    dx = qx - flat_x[base + offsets[s]]
                    dy = qy - flat_y[base + offsets[s]]
                    dz = qz - flat_z[base + offsets[s]]
                    distance[s] = dx * dx + dy * dy + dz * dz
                for s in range(len(offsets)):
                    d = distance[s]
                    if d >= limit:
                        continue
                    j = flat_number[base + offsets[s]]
                    pos = found if found < k else k - 1
                    while pos > 0 and out_d2[q, pos - 1] > d:
                        out_d2[q, pos] = out_d2[q, pos - 1]
                        out_index[q, pos] = out_index[q, pos - 1]
                        pos -= 1
                    out_d2[q, pos] = d
                    out_index[q, pos] = j
                    if found < k:
                        found += 1
                    if found == k:
                        limit = min(squared_radius, out_d2[q, k - 1])
                for a in range(found, out_index.shape[1]):
                    out_index[q, a] = -1
                    out_d2[q, a] = math.inf
                ball = math.sqrt(out_d2[q, k - 1]) if found == k else radius
                cx, cy, cz = qx - points[centre, 0], qy - points[centre, 1], qz - points[centre, 2]
                reach = max(reach, math.sqrt(cx * cx + cy * cy + cz * cz) + ball)
        centre_of[t] = centre
        rho[t] = reach * (1 + 1e-9)
        if centre < 0:
            continue
        # vectorised count (empty pixels lie far away), with the same arithmetic as `_ball_count_kernel`'s, so the
        # two counts agree exactly when no point outside the window lies in the ball
        ox, oy, oz, squared_rho = points[centre, 0], points[centre, 1], points[centre, 2], rho[t] * rho[t]
        inside = 0
        for s in range(len(shared_rows)):
            at = (r0 + shared_rows[s]) * row_length + c0 + shared_cols[s]
            dx, dy, dz = flat_x[at] - ox, flat_y[at] - oy, flat_z[at] - oz
            inside += 1 if dx * dx + dy * dy + dz * dz <= squared_rho else 0
        in_window[t] = inside


def _ball_count_kernel(sorted_x, sorted_y, sorted_z, cell_start, lower, cell, dims, centres_x, centres_y,
                       centres_z, radii, out):
    """How many points lie in each ball (squared distance <= radius squared), from the points sorted by the cell of
    a 3-D grid that holds them (``cell_start``: each cell's first point, one entry more than cells); only the cells
    the ball's bounding box touches are read."""
    nx, ny, nz = dims[0], dims[1], dims[2]
    for b in prange(len(radii)):  # noqa: F821
        ox, oy, oz, r = centres_x[b], centres_y[b], centres_z[b], radii[b]
        squared = r * r
        x0 = max(0, int(math.floor((ox - r - lower[0]) / cell)))
        x1 = min(nx - 1, int(math.floor((ox + r - lower[0]) / cell)))
        y0 = max(0, int(math.floor((oy - r - lower[1]) / cell)))
        y1 = min(ny - 1, int(math.floor((oy + r - lower[1]) / cell)))
        z0 = max(0, int(math.floor((oz - r - lower[2]) / cell)))
        z1 = min(nz - 1, int(math.floor((oz + r - lower[2]) / cell)))
        inside = 0
        for ix in range(x0, x1 + 1):
            for iy in range(y0, y1 + 1):
                first = (ix * ny + iy) * nz
                for j in range(cell_start[first + z0], cell_start[first + z1 + 1]):
                    dx, dy, dz = sorted_x[j] - ox, sorted_y[j] - oy, sorted_z[j] - oz
                    inside += 1 if dx * dx + dy * dy + dz * dz <= squared else 0
        out[b] = inside


class _BallCounter:
    """Exact counts of points in balls of about one size, for the proof. Why not scipy's KD-tree: its ball counts
    were an eighth of BTF's FPFH time (thread start-up per call, generic traversal); a grid of cells as wide as the
    typical ball reads a few cells of sorted points per ball, in a compiled parallel loop."""

    def __init__(self, points: np.ndarray, typical_radius: float, max_cells_per_axis: int = 256) -> None:
        self.lower = points.min(axis=0)
        extent = float((points.max(axis=0) - self.lower).max())
        self.cell = max(float(typical_radius), extent / max_cells_per_axis, 1e-12)
        self.dims = (np.floor((points.max(axis=0) - self.lower) / self.cell).astype(np.int64) + 1)
        ijk = np.minimum(np.floor((points - self.lower) / self.cell).astype(np.int64), self.dims - 1)
        key = (ijk[:, 0] * self.dims[1] + ijk[:, 1]) * self.dims[2] + ijk[:, 2]
        order = np.argsort(key, kind="stable")
        self.sorted = [np.ascontiguousarray(points[order, axis]) for axis in range(3)]
        self.cell_start = np.zeros(int(self.dims.prod()) + 1, dtype=np.int64)
        np.cumsum(np.bincount(key, minlength=int(self.dims.prod())), out=self.cell_start[1:])

    def count(self, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
        out = np.zeros(len(radii), dtype=np.int64)
        if len(radii):
            _ball_count(*self.sorted, self.cell_start, self.lower, self.cell, self.dims,
                        *(np.ascontiguousarray(centres[:, axis]) for axis in range(3)),
                        np.ascontiguousarray(radii, dtype=np.float64), out)
        return out


def grid_neighbours(xyz: np.ndarray, valid: np.ndarray, max_nn: int, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Each valid pixel's ``max_nn`` nearest valid points strictly within ``radius``, nearest first.

    Points are numbered in row-major order of the valid pixels. Returns (indices, squared distances), each
    N x max_nn; missing entries are -1 and inf. Squared distances are summed in float64 in open3d's order.
    ``grid_neighbours.last_rescan_fraction`` and ``last_fallback_fraction`` tell which share of tiles the last call
    scanned again with the larger disc and searched with the KD-tree.
    """
    from scipy.spatial import cKDTree

    xyz = np.asarray(xyz, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    height, width = valid.shape
    points = np.ascontiguousarray(xyz[valid])
    n = len(points)
    k = max(1, min(int(max_nn), n))
    if n == 0:
        return np.full((0, int(max_nn)), -1, dtype=np.int64), np.full((0, int(max_nn)), np.inf)
    out_index = np.empty((n, int(max_nn)), dtype=np.int64)  # every row is filled by the kernel
    out_d2 = np.empty((n, int(max_nn)))
    duplication = _duplication(xyz, valid)
    pad = _window_margin(k, duplication, LARGE_SLACK)

    tiles_h, tiles_w = -(-height // TILE), -(-width // TILE)
    number = np.full((tiles_h * TILE + 2 * pad, tiles_w * TILE + 2 * pad), -1, dtype=np.int64)
    number[pad:pad + height, pad:pad + width][valid] = np.arange(n)
    # the coordinates laid on the same grid, so that the scan reads them directly; an empty pixel lies at 1e30,
    # farther than any radius (its squared distance, 1e60, stays finite)
    grid_x, grid_y, grid_z = (np.full(number.shape, 1e30) for _ in range(3))
    for axis, grid in enumerate((grid_x, grid_y, grid_z)):
        grid[pad:pad + height, pad:pad + width][valid] = points[:, axis]
    tile_rows, tile_cols = (np.divmod(np.arange(tiles_h * tiles_w), tiles_w)[i] * TILE for i in (0, 1))
    counter = None  # built from the first pass's balls

    def scan(tiles: np.ndarray, margin: int) -> tuple[np.ndarray, int]:
        """Fill the rows of ``tiles``' queries from discs of ``margin`` pixels: the tiles the KD-tree cannot prove,
        and how many tiles held a query."""
        centre = np.full(len(tiles), -1, dtype=np.int64)
        rho = np.zeros(len(tiles))
        in_window = np.zeros(len(tiles), dtype=np.int64)
        span = TILE + 2 * margin
        window_r, window_c = np.divmod(np.arange(span * span), span)
        # each query's disc (the same shape for every query of the tile, so the scans are equally long), nearest first
        squared = np.stack([(window_r - margin - qi) ** 2 + (window_c - margin - qj) ** 2
                            for qi in range(TILE) for qj in range(TILE)])
        in_disc = squared <= margin**2
        order = np.stack([np.flatnonzero(inside)[np.argsort(d[inside], kind="stable")]
                          for d, inside in zip(squared, in_disc)])
        shared = np.flatnonzero(in_disc.all(axis=0))
        shift = pad - margin  # the window's corner in the padded grid
        _tile_knn(points, number, grid_x, grid_y, grid_z, tile_rows[tiles] + shift, tile_cols[tiles] + shift, TILE,
                  margin, window_r[order] * number.shape[1] + window_c[order], window_r[shared], window_c[shared], k,
                  float(radius) ** 2, out_index, out_d2, centre, rho, in_window)
        # the proof: a count of all points in each tile's ball equals the count of its window points there
        nonlocal counter
        used = centre >= 0
        if counter is None:
            counter = _BallCounter(points, float(np.median(rho[used])) if used.any() else 1.0)
        in_space = np.zeros(len(tiles), dtype=np.int64)
        in_space[used] = counter.count(points[centre[used]], rho[used])
        return tiles[used & (in_space != in_window)], int(used.sum())

    unproven, used = scan(np.arange(len(tile_rows)), _window_margin(k, duplication, SMALL_SLACK))
    grid_neighbours.last_rescan_fraction = float(len(unproven) / max(1, used))
    if len(unproven):
        unproven, _ = scan(unproven, pad)
    if len(unproven):
        queries = [number[r + pad:r + pad + TILE, c + pad:c + pad + TILE].ravel()
                   for r, c in zip(tile_rows[unproven], tile_cols[unproven])]
        queries = np.concatenate(queries)
        queries = queries[queries >= 0]
        _, found = cKDTree(points).query(points[queries], k=k, workers=cpu_threads())
        found = found.reshape(len(queries), k)
        out_index[queries, :k] = found
        out_d2[queries, :k] = ((points[queries, None, :] - points[found]) ** 2).sum(-1)
        beyond = ~(out_d2[queries] < float(radius) ** 2)  # open3d keeps distances strictly below the radius
        out_index[queries] = np.where(beyond, -1, out_index[queries])
        out_d2[queries] = np.where(beyond, np.inf, out_d2[queries])
    grid_neighbours.last_fallback_fraction = float(len(unproven) / max(1, used))
    return out_index, out_d2


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
    out = np.zeros((n, 33))
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


_tile_knn = jit(_tile_knn_kernel)
_ball_count = jit(_ball_count_kernel)
_count = jit(_count_kernel)
_normals = jit(_normals_kernel, helpers=_DEVICE_FUNCTIONS)
_spfh = jit(_spfh_kernel)
_fpfh = jit(_fpfh_kernel)


def fpfh_from_neighbours(points: np.ndarray, normals: np.ndarray, index: np.ndarray, d2: np.ndarray) -> np.ndarray:
    """open3d's FPFH (N x 33 float32) from per-point neighbour lists as `grid_neighbours` gives them (nearest
    first, the first entry the point itself or a copy of it, missing entries -1 at the end)."""
    points = np.ascontiguousarray(points, dtype=np.float64)
    normals = np.ascontiguousarray(normals, dtype=np.float64)
    index = np.ascontiguousarray(index, dtype=np.int64)
    count = _count(index)
    spfh = _spfh(points, normals, index, count)
    return _fpfh(spfh, index, np.ascontiguousarray(d2, dtype=np.float64), count).astype(np.float32)


def normals_from_neighbours(points: np.ndarray, index: np.ndarray, d2: np.ndarray, max_nn: int,
                            radius: float) -> np.ndarray:
    """open3d's normals (N x 3, its orientation) from sorted neighbour lists that hold at least the first
    ``max_nn`` neighbours within ``radius`` (a list made for a larger count and radius serves)."""
    return _normals(np.ascontiguousarray(points, dtype=np.float64), np.ascontiguousarray(index, dtype=np.int64),
                    np.ascontiguousarray(d2, dtype=np.float64), int(max_nn), float(radius) ** 2)
