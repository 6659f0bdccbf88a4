"""Multi-view rendering: shapes whose renderings are known, views that move points where they must, and maps that
go to points and back."""

from __future__ import annotations

import numpy as np
import pytest

from benchkit_components.rendering import (
    POINTAD_VIEWS,
    organized_points,
    render_views,
    rotation_matrix,
    to_grid,
)


def sphere(n: int = 6000, radius: float = 1.0, seed: int = 0) -> np.ndarray:
    """Points spread evenly over a sphere (Fibonacci lattice), normals = the points themselves."""
    i = np.arange(n) + 0.5
    phi, theta = np.arccos(1 - 2 * i / n), np.pi * (1 + 5**0.5) * i
    return radius * np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], axis=1)


def test_a_sphere_fills_the_image_as_a_disc_at_the_known_depth():
    points = sphere(20000)
    views = render_views(points, [(0, 0, 0)], image_size=96, normals=points, point_size=3)
    covered = views.point_index[0] >= 0
    rows, cols = np.indices(covered.shape) + 0.5
    inside = np.hypot(rows - 48, cols - 48) < 48 - 3
    outside = np.hypot(rows - 48, cols - 48) > 48 + 2  # a splat reaches one pixel past its point
    assert covered[inside].mean() == 1.0 and not covered[outside].any()
    # the camera sits where the sphere just fills a 60 degree view: distance r / sin(30 deg) = 2r, the front at r
    assert views.depth[0][48, 48] == pytest.approx(1.0, abs=0.02)
    # head-light Lambert shading: brightest where the surface faces the camera, darker towards the rim
    assert views.images[0][48, 48] == pytest.approx(0.7, abs=0.01) and views.images[0][48, 4] < 0.65
    # from 2r away the camera sees the cap z > r/2 (a quarter of the sphere): the middle of it, never the back
    assert views.visible[0][points[:, 2] > 0.7].all() and not views.visible[0][points[:, 2] < 0.3].any()
    assert 0.15 < views.visible[0].mean() < 0.26


def test_tangent_splats_close_a_sparse_random_surface_where_squares_let_the_back_show_through():
    """3,000 points at random on a sphere (synthetic-pc's density): inside the silhouette every pixel shows the
    front surface at its true depth; PointAD's squares, two spacings wide, show the back through gaps."""
    rng = np.random.default_rng(0)
    points = rng.normal(size=(3000, 3))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    rows, cols = np.indices((128, 128)) + 0.5
    interior = np.hypot(rows - 64, cols - 64) < 0.85 * 64 * 0.866  # well inside the cap the camera sees
    shown = {}
    for splats in ("tangent", "square"):
        views = render_views(points, [(0, 0, 0)], image_size=128, normals=points, splats=splats)
        owner = views.point_index[0][interior]
        assert (owner >= 0).all() or splats == "square"
        shown[splats] = (points[owner[owner >= 0], 2] < 0).mean()  # pixels held by the far hemisphere
    assert shown["tangent"] == 0 and shown["square"] > 0.05
    views = render_views(points, [(0, 0, 0)], image_size=128, normals=points)
    # the ray through each pixel meets the sphere (centre 2 away, radius 1) at t * |ray| on the view axis
    focal = 64 / np.tan(np.radians(30))
    ray = np.stack([(cols - 64) / focal, (64 - rows) / focal, -np.ones_like(rows)], axis=-1)
    b, c = (ray * np.array([0, 0, 2.0])).sum(-1), 3.0  # |o + t ray|^2 = 1 with o = (0, 0, 2) from the centre
    a = (ray**2).sum(-1)
    t = (-b - np.sqrt(np.maximum(b**2 - a * c, 0))) / a  # rays that miss it lie outside the interior
    assert np.abs(views.depth[0] - t)[interior].max() < 0.05  # a spacing is ~0.03
    # maps painted per point come back to the points: a pixel goes to the nearest splat centre of the surface
    values = points[:, 0] + 2 * points[:, 1]
    back = views.back_project(np.where(views.point_index >= 0, values[views.point_index], 0.0))
    seen = views.visible[0]
    assert np.median(np.abs(back - values)[seen]) < 1e-6  # float32 maps


def test_views_rotate_the_cloud_about_its_centre():
    points = sphere(3000)
    target = np.array([np.sqrt(0.5), 0.0, np.sqrt(0.5)])  # front right, facing the camera
    mark = np.argmin(np.linalg.norm(points - target, axis=1))
    views = render_views(points, [(0, 0, 0), (0, 90, 0)], image_size=64, normals=points)
    # column = focal * x / depth + 32 with focal = 32 / tan(30 deg) and depth = 2r - z
    x, _, z = points[mark]
    assert views.pixels[0, mark, 1] == int(32 / np.tan(np.radians(30)) * x / (2 - z) + 32)
    assert abs(views.pixels[0, mark, 0] - 32) <= 2  # the middle row
    assert views.visible[0, mark] and not views.visible[1, mark]  # a quarter turn about y sends it to the back
    assert rotation_matrix(0, 90) @ target == pytest.approx([target[2], 0, -target[0]])


def test_pointad_views_are_nine_per_dataset():
    assert {name: len(v) for name, v in POINTAD_VIEWS.items()} == {"mvtec3d": 9, "eyecandies": 9, "real3d-ad": 9}
    assert POINTAD_VIEWS["mvtec3d"][0] == (-45.0, 0.0, 0.0) and POINTAD_VIEWS["real3d-ad"][-1] == (144.0, 0.0, 0.0)


def test_back_projection_round_trip():
    points = sphere(4000)
    views = render_views(points, POINTAD_VIEWS["mvtec3d"], image_size=128, normals=points)
    # a map painted with each pixel's owner's value comes back as that value on every point seen
    values = points[:, 0] + 2 * points[:, 1]
    painted = np.where(views.point_index >= 0, values[views.point_index], 0.0)
    back = views.back_project(painted)
    seen = views.visible.any(axis=0)
    assert seen.mean() > 0.4  # the MVTec views look at the front half from within 45 degrees
    error = np.abs(back[seen] - values[seen])  # a point's pixel may belong to a neighbour's splat: small errors
    assert np.median(error) < 0.1 and np.quantile(error, 0.95) < 0.2 and np.ptp(values) > 4  # spacing ~0.056
    # a constant per view comes back as the mean over the views that see the point
    constants = np.arange(len(views.images), dtype=float)
    flat = np.broadcast_to(constants[:, None, None], views.images.shape)
    flags = views.seen()
    assert views.back_project(flat) == pytest.approx((flags * constants[:, None]).sum(0) / flags.sum(0), abs=1e-5)


def test_points_no_view_sees_borrow_the_nearest_seen_points_views():
    points = np.concatenate([sphere(3000), [[0.0, 0.0, 0.9]]])  # one point inside the front of the sphere
    normals = points / np.linalg.norm(points, axis=1, keepdims=True)
    # a tolerance of half the lattice's spacing (0.065): neighbours' tangent splats lie up to ~0.011 in front of
    # the sphere at a point's pixel, so the surface's own points stay seen, the inner point 0.1 behind does not
    views = render_views(points, [(0, 0, 0), (0, 180, 0)], image_size=96, normals=normals,
                         visibility_tolerance=0.03)
    inner = len(points) - 1
    assert not views.visible[:, inner].any()
    nearest = np.argmin(np.linalg.norm(points[:-1] - points[inner], axis=1))
    assert (views.seen()[:, inner] == views.visible[:, nearest]).all()


def test_organized_scans_render_their_valid_points_and_values_go_back_to_the_grid():
    xyz = np.zeros((20, 30, 3))
    yy, xx = np.indices((20, 30))
    xyz[5:15, 5:25] = np.stack([xx, yy, np.full_like(xx, 50)], axis=-1)[5:15, 5:25] * 0.01
    points, flat, shape = organized_points(xyz, size=None)
    assert shape == (20, 30) and len(points) == 200 and (points == xyz.reshape(-1, 3)[flat]).all()
    grid = to_grid(points[:, 0], flat, shape, fill=-1.0)
    assert grid[5:15, 5:25] == pytest.approx(xyz[5:15, 5:25, 0]) and (grid[:5] == -1).all()
    resized, flat, shape = organized_points(xyz, size=40)
    assert shape == (40, 40) and len(resized) == 20 * 27  # source rows 5-14 -> 20 rows, columns 5-24 -> 27
    views = render_views(resized, [(0, 0, 0)], image_size=64, flip_x=True)
    assert (views.point_index[0] >= 0).mean() > 0.2  # the scan faces the camera after PointAD's flip


def test_bad_input_names_the_shape():
    with pytest.raises(ValueError, match="N x 3"):
        render_views(np.zeros((5, 2)))


@pytest.mark.parametrize("kind", ["points", "organized"])
def test_samples_render_as_pointad_does_and_point_scores_become_their_maps(kind):
    from benchkit.testing import make_samples

    from benchkit_components.rendering import anomaly_map, render_sample

    _, test = make_samples(kind, n_test=2)
    sample = test[1]
    views, placement = render_sample(sample, max_points=300, image_size=64)
    assert views.images.shape == (9, 64, 64) and len(placement.chosen) == 300
    values = placement.points[placement.chosen][:, 0]
    amap = anomaly_map(sample, placement, values)
    if kind == "points":
        assert amap.shape == sample.map_shape  # every point of the cloud, the unrendered ones by nearest neighbour
    else:
        assert placement.grid_shape == (336, 336) and amap.shape == (336, 336)
    with pytest.raises(ValueError, match="unknown views"):
        render_sample(sample, "kitchen")


def test_background_removal_renders_only_the_object_on_its_plane():
    from benchkit import Sample

    from benchkit_components.rendering import anomaly_map, render_sample

    yy, xx = np.mgrid[0:60, 0:60].astype(np.float64) * 0.001  # 1 mm pixels: dense enough for the BTF recipe
    z = np.full((60, 60), 0.5)
    z[20:40, 20:40] = 0.47  # a 20 x 20 pixel object 3 cm above the supporting plane
    sample = Sample(id="s", category="c", label=None, xyz=np.stack([xx, yy, z], axis=-1))
    kept = render_sample(sample, image_size=64, max_points=200)[1]
    views, removed = render_sample(sample, image_size=64, background="remove")
    assert len(kept.points) == 336 * 336 and len(removed.points) == 112 * 112  # 20 of 60 source rows and columns
    assert np.allclose(removed.points[:, 2], 0.47)
    on_object = np.zeros((336, 336), bool)
    on_object[112:224, 112:224] = True
    assert np.array_equal(np.isin(np.arange(336 * 336), removed.grid_flat).reshape(336, 336), on_object)
    amap = anomaly_map(sample, removed, np.linspace(1, 2, len(removed.chosen)), sigma=0.0)
    assert (amap[~on_object] == 1).all()  # the removed plane takes the map's minimum
    flat = Sample(id="f", category="c", label=None, xyz=np.stack([xx, yy, np.full((60, 60), 0.5)], axis=-1))
    assert len(render_sample(flat, image_size=64, max_points=200, background="remove")[1].points) == 336 * 336
    with pytest.raises(ValueError, match="background"):
        render_sample(sample, background="drop")
