import numpy as np

from benchkit_point_backbones.fpfh import FPFH_TOKEN_DIM, FPFHBackbone


def _sphere(n=1500, seed=0):
    p = np.random.default_rng(seed).normal(size=(n, 3))
    return (p / np.linalg.norm(p, axis=1, keepdims=True)).astype(np.float32)


def test_tokens_shape_and_determinism():
    pts = _sphere()
    a = FPFHBackbone(num_group=32, group_size=24).encode(pts)
    b = FPFHBackbone(num_group=32, group_size=24).encode(pts)
    assert a.features.shape == (32, FPFH_TOKEN_DIM) and a.groups.shape == (32, 24)
    assert np.isfinite(a.features).all()
    np.testing.assert_array_equal(a.features, b.features)


def test_tokens_do_not_depend_on_the_scan_scale():
    pts = _sphere()
    a = FPFHBackbone(num_group=16, group_size=24).encode(pts)
    b = FPFHBackbone(num_group=16, group_size=24).encode(pts * 250.0)
    np.testing.assert_allclose(a.features, b.features, rtol=1e-3, atol=1e-2)


def test_a_bump_changes_the_tokens_near_it():
    pts = _sphere(3000)
    bumped = pts.copy()
    near = np.linalg.norm(pts - np.array([0, 0, 1.0]), axis=1) < 0.3
    bumped[near] *= 1.0 + 0.3 * (0.3 - np.linalg.norm(pts[near] - [0, 0, 1.0], axis=1))[:, None] / 0.3
    enc = FPFHBackbone(num_group=64, group_size=32)
    a, b = enc.encode(pts), enc.encode(bumped)
    # distance of each token of the bumped cloud to the nearest token of the normal one: high only at the bump
    novelty = np.linalg.norm(b.features[:, None] - a.features[None], axis=2).min(axis=1)
    at_bump = np.linalg.norm(b.centers - [0, 0, 1.0], axis=1) < 0.3
    far = np.linalg.norm(b.centers - [0, 0, 1.0], axis=1) > 0.8
    assert at_bump.any() and novelty[at_bump].mean() > 3 * novelty[far].mean()
