import numpy as np

from benchkit_datasets import preprocess


def scene() -> np.ndarray:
    """A 60x60 organized scan (1 mm spacing, dense enough for DBSCAN eps 6 mm / 30 points) of a plane at z=0.5 with an object, a smaller blob and a speck on it."""
    yy, xx = np.mgrid[0:60, 0:60].astype(np.float32) * 0.001
    z = np.full((60, 60), 0.5, np.float32)
    z[20:40, 20:40] = 0.47  # the object: 400 points, 3 cm off the plane
    z[2:11, 45:54] = 0.47  # an 81-point blob: a cluster, but not the largest
    z[50:52, 5:7] = 0.47  # a 4-point speck: DBSCAN noise
    xyz = np.stack([xx, yy, z], axis=-1)
    xyz[0, 0] = 0  # a missing point stays missing
    return xyz


def test_remove_background_keeps_only_the_object():
    out = preprocess.remove_background(scene())
    valid = np.any(out != 0, axis=-1)
    expected = np.zeros((60, 60), bool)
    expected[20:40, 20:40] = True
    np.testing.assert_array_equal(valid, expected)
    np.testing.assert_array_equal(out[valid], scene()[expected])
    np.testing.assert_array_equal(preprocess.remove_background(scene()), out)  # deterministic


def test_pad_and_resize_nearest():
    a = np.arange(12 * 16).reshape(12, 16)
    padded = preprocess.pad_to_square(a)
    assert padded.shape == (100, 100) and (padded[:12, :16] == a).all() and not padded[12:].any()
    r = preprocess.resize_nearest(a, (6, 8))
    np.testing.assert_array_equal(r, a[::2, ::2])
    assert preprocess.resize_nearest(a, (24, 32))[1, 1] == a[0, 0]


def test_voxel_down_sample_marks_voxels_with_any_anomalous_point():
    pts = np.array([[0.1, 0.1, 0.1], [0.2, 0.2, 0.2], [1.3, 0.1, 0.1], [1.4, 0.2, 0.2]], np.float32)
    gt = np.array([0, 1, 0, 0], np.uint8)
    down, down_gt = preprocess.voxel_down_sample(pts, gt, 0.5)
    assert len(down) == 2
    order = np.argsort(down[:, 0])
    assert down_gt[order].tolist() == [1, 0]
    np.testing.assert_allclose(down[order][0], [0.15, 0.15, 0.15], atol=1e-6)
