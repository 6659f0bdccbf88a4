import numpy as np

from benchkit_sedir.geometry import group_geometry, point_normals_and_curvature


def test_plane_is_flat_and_faces_z():
    rng = np.random.default_rng(0)
    plane = np.c_[rng.uniform(-1, 1, (500, 2)), np.zeros(500)]
    normals, curvature = point_normals_and_curvature(plane, k=16)
    np.testing.assert_allclose(np.abs(normals[:, 2]), 1, atol=1e-6)
    assert curvature.max() < 1e-6


def test_curvature_is_scale_free_and_higher_on_a_bumpy_surface():
    rng = np.random.default_rng(0)
    u = rng.normal(size=(2000, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    groups = np.arange(2000).reshape(100, 20)
    _, small = group_geometry(u * 0.2, groups)
    _, large = group_geometry(u, groups)
    np.testing.assert_allclose(small, large, rtol=1e-3)  # surface variation is a ratio of eigenvalues
    bumpy = u * (1 + 0.1 * np.sin(8 * u[:, :1]))
    assert group_geometry(bumpy, groups)[1].mean() > large.mean()
    normals, _ = group_geometry(u, groups)
    np.testing.assert_allclose(np.abs((normals * u[groups[:, 0]]).sum(axis=1)), 1, atol=0.02)  # radial normals
