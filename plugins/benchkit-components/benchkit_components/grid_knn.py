"""Exact k-nearest neighbours of an organized cloud's points, found through its pixel grid.

`grid_neighbours` finds each valid pixel's ``max_nn`` nearest points within ``radius`` (open3d's
``KDTreeSearchParamHybrid`` rule: the ``max_nn`` nearest, then those strictly closer than the radius) among the
pixels of a disc around it on the grid (compiled loop). The result is exact, not a guess: the queries of a small
tile of pixels have their balls in one ball around the tile's first point, and an exact count of all the points in
that ball (`_BallCounter`, over a 3-D grid of cells) proves that it holds no point outside the pixels every query of
the tile scanned. Tiles where it does (depth edges, sparse borders) are scanned again with larger discs, and those
that the largest cannot prove either are searched with a KD-tree. Discs, not squares: a point's neighbours on a
surface seen by the camera fill a disc of pixels, so a disc scans fewer candidates than a square that proves as many
tiles. Ties (several points at exactly the k-th distance, as the duplicates of nearest up-sampling make) go to the
pixel scanned first; the KD-tree breaks them its own way, so which path proves a tile can change which of the tied
points is listed, never a distance.
`benchkit_components.fpfh_grid` computes BTF's normals and FPFH from these lists.
"""

from __future__ import annotations

import math

import numpy as np

from benchkit_components.jit import jit
from benchkit_components.neighbours import cpu_threads

#: Side of the square pixel tiles whose queries share one candidate window and one exactness proof.
TILE = 2


def _window_margin(max_nn: int, duplication: float, slack: int) -> int:
    """Radius in pixels of each query's disc: that of a disc of ``max_nn`` distinct points (scaled by how often the
    grid repeats a point, as nearest up-sampling does) plus the tile's diagonal and ``slack`` pixels."""
    return int(math.ceil(math.sqrt(max_nn * duplication / math.pi) + TILE * math.sqrt(2))) + slack


#: Slack of the discs `grid_neighbours` scans: every tile with the first, then the tiles it could not prove with
#: the next, and so on. On synthetic-rgbd scans at 224 x 224 (BTF's 100 neighbours) the first disc leaves 1.9 % of
#: the tiles unproven, the second 0.2 %, and the third none on 15 training scans, where the KD-tree had built its
#: tree for those 0.2 % (about 18 ms per scan): the search took 167 against 175 ms per scan (best of 4 runs).
SLACKS = (2, 4, 8)


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
        if x0 > x1 or y0 > y1 or z0 > z1:  # the ball misses the grid (z0 would index past the cells)
            out[b] = 0
            continue
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
    typical ball reads a few cells of sorted points per ball, in a compiled parallel loop. At most
    ``max_cells_per_axis`` cells per axis (2.1 million cells, 17 MB of offsets), so that a few far outliers cannot
    make the grid huge; balls then read more points per cell, and the counts stay exact."""

    def __init__(self, points: np.ndarray, typical_radius: float, max_cells_per_axis: int = 128) -> None:
        self.lower = points.min(axis=0)
        extent = float((points.max(axis=0) - self.lower).max())
        self.cell = max(float(typical_radius), extent / max_cells_per_axis, 1e-12)
        self.dims = (np.floor((points.max(axis=0) - self.lower) / self.cell).astype(np.int64) + 1)
        ijk = np.minimum(np.floor((points - self.lower) / self.cell).astype(np.int64), self.dims - 1)
        key = (ijk[:, 0] * self.dims[1] + ijk[:, 1]) * self.dims[2] + ijk[:, 2]
        order = np.argsort(key)  # the order within a cell does not change a count (a stable sort was 3 ms a scan)
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
    N x max_nn, int32 (half the memory traffic of int64 for the FPFH kernels that read them) and float64; missing
    entries are -1 and inf. Squared distances are summed in float64 in open3d's order.
    ``grid_neighbours.last_rescan_fraction`` and ``last_fallback_fraction`` tell which share of tiles the last call
    scanned again with a larger disc and searched with the KD-tree.
    """
    from scipy.spatial import cKDTree

    xyz = np.asarray(xyz, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    height, width = valid.shape
    points = np.ascontiguousarray(xyz[valid])
    n = len(points)
    k = max(1, min(int(max_nn), n))
    if n == 0:
        return np.full((0, int(max_nn)), -1, dtype=np.int32), np.full((0, int(max_nn)), np.inf)
    out_index = np.empty((n, int(max_nn)), dtype=np.int32)  # every row is filled by the kernel
    out_d2 = np.empty((n, int(max_nn)))
    duplication = _duplication(xyz, valid)
    pad = _window_margin(k, duplication, max(SLACKS))

    tiles_h, tiles_w = -(-height // TILE), -(-width // TILE)
    number = np.full((tiles_h * TILE + 2 * pad, tiles_w * TILE + 2 * pad), -1, dtype=np.int32)
    number[pad:pad + height, pad:pad + width][valid] = np.arange(n)
    # the coordinates laid on the same grid, so that the scan reads them directly; an empty pixel lies at 1e30,
    # farther than any radius (its squared distance, 1e60, stays finite)
    grid_x, grid_y, grid_z = (np.full(number.shape, 1e30) for _ in range(3))
    for axis, grid in enumerate((grid_x, grid_y, grid_z)):
        grid[pad:pad + height, pad:pad + width][valid] = points[:, axis]
    tile_rows, tile_cols = (np.divmod(np.arange(tiles_h * tiles_w), tiles_w)[i] * TILE for i in (0, 1))
    counter = None  # built from the first pass's balls

    def scan(tiles: np.ndarray, margin: int) -> tuple[np.ndarray, int]:
        """Fill the rows of ``tiles``' queries from discs of ``margin`` pixels: the tiles the ball count cannot
        prove, and how many tiles held a query."""
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

    unproven, used = scan(np.arange(len(tile_rows)), _window_margin(k, duplication, SLACKS[0]))
    grid_neighbours.last_rescan_fraction = float(len(unproven) / max(1, used))
    for slack in SLACKS[1:]:
        if len(unproven):
            unproven, _ = scan(unproven, _window_margin(k, duplication, slack))
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


_tile_knn = jit(_tile_knn_kernel)
_ball_count = jit(_ball_count_kernel)
