"""Multi-view rendering of point clouds for zero-shot 3D methods (PointAD, MVP-PCLIP), with the pixel-to-point
correspondence that carries 2-D anomaly maps back to the points.

PointAD (zqhang/PointAD, multi_view/multiview_mvtec.py) renders with open3d's ``Visualizer`` in a 1024 x 1024
window: uniform grey 0.7 points with estimated normals, lit, white background, drawn as squares of a per-category
point size, then resized to 336 x 336; each point's pixel comes from ``cv2.projectPoints`` with the visualizer's
pinhole camera, and a z-buffer over point centres decides which points a view sees. ``Visualizer`` needs a display,
which benchkit's machines do not have, so this module is a documented z-buffered projection with the same
ingredients, in numpy:

- Camera: pinhole with open3d ``ViewControl``'s default 60 degree field of view, looking at the cloud's
  bounding-box centre from +z, at the distance where the bounding sphere just fills the image.
- Views: rotations of the cloud about that centre (`POINTAD_VIEWS`: the paper's 9 angles per dataset).
- Shading: Lambert with a head light, ``grey * (ambient + (1 - ambient) * |n . view|)``, white background.
- Splats: each point covers a ``point_size`` x ``point_size`` square of pixels. ``splats="square"`` is
  PointAD's: the square sits at the point's depth and the nearest splat wins a pixel; its point sizes (6-12 px in
  a 1024 window) suit its dense clouds. On sparse clouds (synthetic-pc's 3,000 points) squares small enough to keep
  detail leave gaps through which the back of the object shows (at 2 spacings wide, half the pixels inside the
  silhouette of 3,000 random points on a sphere at 128 px), and that speckle swamps shading and depth. So the default,
  ``splats="tangent"``, lays each square in the point's tangent plane (its depth changes across the square as the
  normal says), makes it `SPLAT_SPACINGS` spacings wide, and gives a pixel to the splat whose centre is nearest
  among those within one spacing of the front-most depth there (a depth-tolerant z-buffer, as in the visibility
  pass of surface splatting, Zwicker et al. 2001): one surface's splats share its pixels like a Voronoi diagram of
  its points, and the depth map follows the surface instead of stepping from splat to splat. ``point_size=None``
  chooses the size from the cloud's point spacing. Rendering happens at the output size directly, not at 1024 then
  resized.
- Visibility (`Views.visible`): a point is seen in a view when its depth is within reach of the rendered depth at
  its pixel: ``visibility_tolerance`` (default one point spacing) plus, for tangent splats, the surface's depth
  change over one pixel, and for squares a splat's reach times that change, since a neighbour's splat may hold
  the pixel. PointAD's z-buffer holds point centres only, which is the same on its dense clouds; on sparse ones
  most centres have a pixel of their own and the back of the object would count as seen, so the splatted surface
  is used.
- Back-projection (`Views.back_project`): a point's value is the mean, over the views that see it, of the map at its
  pixel. A point seen by no view borrows the visibility flags of its nearest seen point and reads the maps at its
  own pixels (PointAD's ``generate_is_seen_for_point_in_each_view``, there by flattened grid index, here by
  3-D distance, which also serves unorganized clouds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchkit_components.jit import jit

#: Side of a tangent splat in mean point spacings when the renderer chooses it. Why 4.5: on a surface sampled at
#: random, a splat of side ``a`` spacings leaves a pixel without a front-surface splat with probability
#: exp(-a^2 / 4) (the mean nearest-neighbour spacing of a Poisson sample is 1 / (2 sqrt(density))): 37 % at the
#: squares' 2, where the back of the object shows through the front in speckles; 0.6 % at 4.5.
SPLAT_SPACINGS = 4.5
#: Steepest depth change per lateral unit a tangent splat takes (about 72 degrees from the view axis).
_MAX_SLOPE = 3.0

#: (x, y, z) rotation angles in degrees of PointAD's 9 views per dataset (zqhang/PointAD multi_view/ scripts).
def _xy_views(xs: Sequence[float], ys: Sequence[float]) -> tuple[tuple[float, float, float], ...]:
    return tuple((float(x), 0.0, 0.0) for x in xs) + tuple((0.0, float(y), 0.0) for y in ys)


POINTAD_VIEWS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "mvtec3d": _xy_views((-45, -15, 0, 15, 45), (-30, -15, 15, 30)),
    "eyecandies": _xy_views((-30, -15, 0, 10, 20), (-30, -15, 15, 30)),
    "real3d-ad": _xy_views((-144, -108, -72, -36, 0, 36, 72, 108, 144), ()),
}
#: PointAD's rendered image size (CLIP ViT-L/14@336px input).
POINTAD_IMAGE_SIZE = 336
#: open3d ViewControl's default field of view.
DEFAULT_FOV_DEG = 60.0


def rotation_matrix(x_deg: float, y_deg: float, z_deg: float = 0.0) -> np.ndarray:
    """R = Rz @ Ry @ Rx for angles in degrees (open3d's ``get_rotation_matrix_from_xyz`` order)."""
    x, y, z = np.radians([x_deg, y_deg, z_deg])
    rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    return rz @ ry @ rx


def view_rotations(angles: Sequence[Sequence[float]]) -> np.ndarray:
    """(V, 3, 3) rotations from (x, y[, z]) angle triples in degrees."""
    return np.stack([rotation_matrix(*a) for a in angles])


@dataclass
class Views:
    """V renderings of one N-point cloud and how they map to its points."""

    images: np.ndarray  # (V, S, S) float32 shaded grey in [0, 1]; background 1 (white)
    depth: np.ndarray  # (V, S, S) float32 distance along the view axis; inf on the background
    point_index: np.ndarray  # (V, S, S) int64 index of the point whose splat holds the pixel; -1 on the background
    pixels: np.ndarray  # (V, N, 2) int64 (row, column) of each point's centre, clipped to the image
    visible: np.ndarray  # (V, N) bool: the view sees the point (see the module docstring)
    points: np.ndarray  # (N, 3) the rendered cloud (after ``flip_x``), for the fill-in of unseen points

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    def rgb(self) -> np.ndarray:
        """The renderings as (V, S, S, 3) uint8 images, for image backbones."""
        grey = np.clip(np.round(self.images * 255), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)

    def sample(self, maps: np.ndarray) -> np.ndarray:
        """(V, N, ...) values of per-view maps (V, h, w, ...) at each point's pixel: maps at the rendering size, or
        coarser grids over the same image (a backbone's patch tokens), read at the cell holding the pixel."""
        maps = np.asarray(maps)
        if maps.ndim < 3 or len(maps) != len(self.images):
            raise ValueError(f"maps of shape {maps.shape} do not match {len(self.images)} renderings")
        h, w = maps.shape[1:3]
        rows, cols = self.pixels[..., 0] * h // self.size, self.pixels[..., 1] * w // self.size
        return maps[np.arange(len(maps))[:, None], rows, cols]

    def seen(self) -> np.ndarray:
        """(V, N) visibility with PointAD's fill-in: a point no view sees takes its nearest seen point's flags."""
        flags = self.visible.copy()
        unseen = ~flags.any(axis=0)
        if unseen.any() and (~unseen).any():
            nearest = self._nearest_seen(unseen)
            flags[:, unseen] = flags[:, nearest]
        elif unseen.all():
            flags[:] = True
        return flags

    def back_project(self, maps: np.ndarray) -> np.ndarray:
        """(N, ...) per-point values: the mean over the views that see a point of ``maps`` (V, h, w, ...) there."""
        values = self.sample(maps).astype(np.float64)
        flags = self.seen().astype(np.float64).reshape(self.visible.shape + (1,) * (values.ndim - 2))
        return ((values * flags).sum(axis=0) / np.maximum(flags.sum(axis=0), 1.0)).astype(np.float32)

    def _nearest_seen(self, unseen: np.ndarray) -> np.ndarray:
        from benchkit_components.neighbours import knn

        seen_idx = np.flatnonzero(~unseen)
        _, nearest = knn(self.points[seen_idx], self.points[unseen], 1)
        return seen_idx[nearest[:, 0]]


def _tangent_splats_kernel(rows, cols, z, half, per_row, per_col, tolerance, index, depth):
    """Tangent splats into one view's ``index`` and ``depth`` (S x S, -1 and inf): first the front-most splat depth
    of every pixel, then each pixel's owner, the splat nearest in the image among those within ``tolerance`` of that
    depth (ties: the nearer in depth). Why a loop: the splats' pairs of pixels number millions per view, and sorting
    them in numpy was 2.8 s per sample (nine views); this is two passes over them."""
    size = index.shape[0]
    front = np.full((size, size), np.inf)
    best = np.full((size, size), np.inf)
    for phase in range(2):  # 0: the front-most depth of each pixel; 1: the owners
        for i in range(len(z)):
            h = half[i]
            for dr in range(-h, h + 1):
                r = rows[i] + dr
                if r < 0 or r >= size:
                    continue
                for dc in range(-h, h + 1):
                    c = cols[i] + dc
                    if c < 0 or c >= size:
                        continue
                    d = z[i] + per_row[i] * dr + per_col[i] * dc
                    if phase == 0:
                        front[r, c] = min(front[r, c], d)
                        continue
                    centre = dr * dr + dc * dc
                    if d <= front[r, c] + tolerance and (
                            centre < best[r, c] or (centre == best[r, c] and d < depth[r, c])):
                        best[r, c] = centre
                        depth[r, c] = d
                        index[r, c] = i


_tangent_splats = jit(_tangent_splats_kernel, parallel=False)


def _splat_half_width(spacings: float, spacing: float, focal: float, depth):
    """Half the side, in whole pixels, of a splat ``spacings`` point spacings wide at ``depth``."""
    return np.maximum(np.ceil(spacings / 2 * spacing * focal / np.asarray(depth)), 1).astype(np.int64)


def _normals(points: np.ndarray, max_nn: int) -> np.ndarray:
    from benchkit_components.fpfh import _o3d, to_open3d

    cloud = to_open3d(points)
    cloud.estimate_normals(_o3d().geometry.KDTreeSearchParamKNN(knn=max_nn))
    return np.asarray(cloud.normals, dtype=np.float64)


def render_views(
    points: np.ndarray,
    rotations: np.ndarray | Sequence[Sequence[float]] = POINTAD_VIEWS["mvtec3d"],
    *,
    image_size: int = POINTAD_IMAGE_SIZE,
    point_size: int | None = None,
    normals: np.ndarray | None = None,
    normal_max_nn: int = 50,
    fov_deg: float = DEFAULT_FOV_DEG,
    grey: float = 0.7,
    ambient: float = 0.25,
    flip_x: bool = False,
    visibility_tolerance: float | None = None,
    splats: str = "tangent",
) -> Views:
    """Render an N x 3 cloud from each view (``rotations``: (V, 3, 3) matrices or (x, y[, z]) degree triples).

    ``normals``: per-point normals for shading (default: open3d estimates them from ``normal_max_nn`` neighbours,
    PointAD uses 50). ``flip_x``: rotate by 180 degrees about x first (PointAD's ``matrix_x(pi)``, which turns an
    organized scan's camera frame, z away from the sensor, to face the renderer's camera). ``splats``: "tangent"
    (default) or "square" (PointAD's), see the module docstring.
    """
    from benchkit_components.fpfh import mean_spacing

    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3 or len(points) < 2:
        raise ValueError(f"render_views needs an N x 3 cloud with at least two points, got shape {points.shape}")
    rotations = np.asarray(rotations, dtype=np.float64)
    if rotations.ndim == 2:
        rotations = view_rotations(rotations)
    if normals is None:
        normals = _normals(points, normal_max_nn)
    normals = np.asarray(normals, dtype=np.float64)
    normals = normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    if flip_x:
        flip = rotation_matrix(180.0, 0.0)
        points, normals = points @ flip.T, normals @ flip.T
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    local = points - centre
    radius = float(np.linalg.norm(local, axis=1).max()) or 1.0
    half_fov = np.radians(fov_deg) / 2
    distance = radius / np.sin(half_fov)
    focal = (image_size / 2) / np.tan(half_fov)
    spacing = mean_spacing(points)
    if splats not in ("tangent", "square"):
        raise ValueError(f"splats must be 'tangent' or 'square', got {splats!r}")
    # tangent splats without a given size: each as wide as SPLAT_SPACINGS spacings at its own depth (odd, so centred)
    sized_by_depth = point_size is None and splats == "tangent"
    if point_size is None and splats == "square":  # squares a little wider than the projected spacing
        point_size = max(1, int(np.ceil(2.0 * spacing * focal / (distance - radius / 2))))
    tolerance = spacing if visibility_tolerance is None else visibility_tolerance
    n, s = len(points), image_size
    images = np.ones((len(rotations), s, s), np.float32)
    depth = np.full((len(rotations), s, s), np.inf, np.float32)
    index = np.full((len(rotations), s, s), -1, np.int64)
    pixels = np.zeros((len(rotations), n, 2), np.int64)
    visible = np.zeros((len(rotations), n), bool)
    if splats == "square":
        offsets = np.arange(point_size) - point_size // 2
        dr, dc = (a.ravel() for a in np.meshgrid(offsets, offsets, indexing="ij"))
    for v, rot in enumerate(rotations):
        p = local @ rot.T
        z = distance - p[:, 2]  # the camera sits at +distance on z, looking toward -z
        col = focal * p[:, 0] / z + s / 2
        row = s / 2 - focal * p[:, 1] / z
        r0, c0 = np.floor(row).astype(np.int64), np.floor(col).astype(np.int64)
        pixels[v, :, 0], pixels[v, :, 1] = np.clip(r0, 0, s - 1), np.clip(c0, 0, s - 1)
        facing = np.abs(normals @ rot.T[:, 2])
        shade = grey * (ambient + (1 - ambient) * facing)
        if splats == "square":  # every (point, offset) pair; the nearest splat wins each pixel
            rr, cc = (r0[:, None] + dr).ravel(), (c0[:, None] + dc).ravel()
            owner = np.repeat(np.arange(n), len(dr))
            inside = (rr >= 0) & (rr < s) & (cc >= 0) & (cc < s)
            flat, owner = rr[inside] * s + cc[inside], owner[inside]
            order = np.lexsort((z[owner], flat))
            flat, owner = flat[order], owner[order]
            first = np.ones(len(flat), bool)
            first[1:] = flat[1:] != flat[:-1]
            flat, owner = flat[first], owner[first]
            index[v].flat[flat] = owner
            depth[v].flat[flat] = z[owner]
            # a neighbour's splat may cover the point's pixel; on a slanted surface its depth differs by up to a
            # splat's reach in pixels times the surface's depth change per pixel
            slope = np.minimum(np.sqrt(np.maximum(1 - facing**2, 0)) / np.maximum(facing, 1e-6), 3.0)
            reach = tolerance + (point_size / 2 + 1) * (z / focal) * slope
        else:  # each splat's depth follows its tangent plane; the nearest centre on the front surface wins
            n_cam = normals @ rot.T
            n_z = np.where(np.abs(n_cam[:, 2]) < 1e-6, 1e-6, n_cam[:, 2])
            per_col = np.clip(n_cam[:, 0] / n_z, -_MAX_SLOPE, _MAX_SLOPE) * z / focal
            per_row = np.clip(-n_cam[:, 1] / n_z, -_MAX_SLOPE, _MAX_SLOPE) * z / focal
            half = (_splat_half_width(SPLAT_SPACINGS, spacing, focal, z) if sized_by_depth
                    else np.full(n, point_size // 2, np.int64))
            _tangent_splats(r0, c0, z, half, per_row, per_col, float(tolerance), index[v], depth[v])
            reach = tolerance + np.hypot(per_row, per_col)  # a point's centre lies up to a pixel from its pixel's
        owned = index[v] >= 0
        images[v][owned] = shade[index[v][owned]]
        visible[v] = z <= depth[v, pixels[v, :, 0], pixels[v, :, 1]] + reach
    return Views(images=images, depth=depth, point_index=index, pixels=pixels, visible=visible, points=points)


def organized_points(xyz: np.ndarray, valid: np.ndarray | None = None,
                     size: int | None = POINTAD_IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """The points PointAD renders from an organized scan: the cloud resized to ``size`` x ``size`` with nearest
    sampling (None keeps it), then its valid (non-zero) points. Returns (points, flat grid indices of those points,
    grid shape), so per-point values go back onto the grid with `to_grid`."""
    from benchkit_components.grid import resize_nearest

    xyz = np.asarray(xyz)
    if valid is None:
        valid = np.any(xyz != 0, axis=-1)
    if size is not None:
        xyz, valid = resize_nearest(xyz, size), resize_nearest(np.asarray(valid), size)
    flat = np.flatnonzero(valid.reshape(-1) & np.any(xyz.reshape(-1, 3) != 0, axis=1))
    return xyz.reshape(-1, 3)[flat].astype(np.float64), flat, tuple(xyz.shape[:2])


def to_grid(values: np.ndarray, flat: np.ndarray, shape: tuple[int, int], fill: float | None = None) -> np.ndarray:
    """Per-point values laid onto an organized grid (``flat`` from `organized_points`); other pixels get ``fill``
    (default: the minimum value, so they never look anomalous)."""
    values = np.asarray(values, dtype=np.float32)
    out = np.full(shape[0] * shape[1], values.min() if fill is None else fill, np.float32)
    out[flat] = values
    return out.reshape(shape)


@dataclass
class Placement:
    """Where the rendered points of a sample sit: ``chosen`` indexes ``points``, the sample's geometry as rendered
    (for an organized scan: the valid points of its grid resized to ``grid_shape``, at ``grid_flat``)."""

    points: np.ndarray
    chosen: np.ndarray
    grid_flat: np.ndarray | None = None
    grid_shape: tuple[int, int] | None = None


def sample_views(sample, views: str = "auto") -> tuple[tuple[float, float, float], ...]:
    """The rotations PointAD renders a sample from: ``views`` a `POINTAD_VIEWS` key, or "auto" (MVTec 3D-AD's for
    organized scans, Real3D-AD's for clouds)."""
    key = views if views != "auto" else ("mvtec3d" if sample.xyz is not None else "real3d-ad")
    if key not in POINTAD_VIEWS:
        raise ValueError(f"unknown views {views!r}; use auto or one of {', '.join(POINTAD_VIEWS)}")
    return POINTAD_VIEWS[key]


def render_sample(sample, views: str = "auto", *, max_points: int | None = None, seed: int = 0,
                  image_size: int = POINTAD_IMAGE_SIZE, splats: str = "tangent",
                  background: str = "keep") -> tuple[Views, Placement]:
    """PointAD's rendering of a benchkit Sample: an organized scan resized to 336 x 336 (nearest), its valid points
    flipped to face the camera; an unorganized cloud as it is. At most ``max_points`` points are rendered (a
    seeded subsample per sample id). ``views`` as `sample_views`', ``splats`` as `render_views`'. ``background="remove"``: an organized scan loses
    its supporting plane and stray clusters first (`benchkit_components.grid.remove_background`), as PointAD
    renders MVTec 3D-AD (zqhang/PointAD, multi_view/preprocess_mvtec3d.py, run before multiview_mvtec.py); the
    removed pixels are left out of the `Placement`, so they take the map's minimum; a scan in which no object
    stands out of the plane (fewer than 30 points left) is rendered whole. Clouds are unaffected."""
    from benchkit_components.sampling import subsample_indices

    if background not in ("keep", "remove"):
        raise ValueError(f"background must be 'keep' or 'remove', got {background!r}")
    rotations = sample_views(sample, views)
    organized = sample.xyz is not None
    if organized:
        xyz = sample.xyz
        if background == "remove":
            from benchkit_components.grid import DBSCAN_MIN_POINTS, remove_background

            cleaned = remove_background(xyz)
            if np.count_nonzero(np.any(cleaned != 0, axis=-1) & sample.valid) >= DBSCAN_MIN_POINTS:
                xyz = cleaned  # else no object stands out of the plane: render it all
        points, flat, shape = organized_points(xyz, sample.valid, POINTAD_IMAGE_SIZE)
    else:
        points, flat, shape = np.asarray(sample.point_cloud(), dtype=np.float64), None, None
    chosen = subsample_indices(len(points), max_points, seed, sample.id)
    rendered = render_views(points[chosen], rotations, image_size=image_size, flip_x=organized, splats=splats)
    return rendered, Placement(points, chosen, flat, shape)


def anomaly_map(sample, placement: Placement, values: np.ndarray, *, smooth_k: int = 16,
                sigma: float = 4.0) -> np.ndarray:
    """Per-rendered-point scores as the sample's anomaly map: spread to every point by nearest neighbour; an
    organized scan's go onto its (resized) grid with PointAD's Gaussian blur (``sigma`` pixels), a cloud's points
    are averaged with their ``smooth_k`` nearest neighbours'."""
    from benchkit_components.groups import smooth_scores
    from benchkit_components.neighbours import spread_to_points

    sub = placement.points[placement.chosen]
    if placement.grid_shape is None:
        values = smooth_scores(sub, values, smooth_k)
    full = values if len(sub) == len(placement.points) else spread_to_points(sub, values, placement.points)
    if placement.grid_shape is None:
        return np.asarray(full, dtype=np.float32)
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(to_grid(full, placement.grid_flat, placement.grid_shape), sigma=sigma)
