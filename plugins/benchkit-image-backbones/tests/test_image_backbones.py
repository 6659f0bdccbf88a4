"""The RGB+3D backbones built through the registry: official checkpoint layouts load (and wrong files are refused with
the file named), output shapes and alignment, the weight-free pair's signal, and reuse through the feature cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import benchkit
from benchkit import DataError, MissingWeightsError, build_backbone, cached_features, feature_cache
from benchkit.backbones import job_options
from benchkit.testing import generated_once
from benchkit_image_backbones.checkpoints import write_dino_checkpoint, write_point_mae_checkpoint
from benchkit_image_backbones.pixels import interpolate_to_points, lay_on_pixels, resize_organized


@pytest.fixture
def weights(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHKIT_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("BENCHKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "weights"


def image(seed: int = 0, size: int = 192) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def dome(size: int = 96, seed: int = 0):
    """An organized scan: a dome on a zero background, in metres."""
    yy, xx = (np.mgrid[0:size, 0:size] - size / 2) / size * 0.1
    inside = xx**2 + yy**2 < 0.03**2
    z = 0.3 - 2.0 * (xx**2 + yy**2) + np.random.default_rng(seed).normal(scale=1e-5, size=xx.shape)
    xyz = np.where(inside[..., None], np.stack([xx, yy, z], -1), 0).astype(np.float32)
    return xyz, inside


def test_dino_loads_the_official_bare_state_dict_strictly(weights):
    path = generated_once(write_dino_checkpoint, weights / "dino_vitbase8_pretrain.pth", seed=1)
    with job_options() as options:
        backbone = build_backbone("dino-vitb8")
    assert backbone.weights == "pretrained" and options.built[0]["sha256"] == backbone.identity["sha256"]
    expected = torch.load(path, weights_only=True)
    for name, value in backbone.model.state_dict().items():
        torch.testing.assert_close(value, expected[name])
    tokens = backbone.encode(image())
    assert tokens.shape == (28, 28, 768) and tokens.dtype == np.float32 and np.isfinite(tokens).all()
    assert not backbone.model.training


def test_dino_refuses_other_files_naming_them(weights):
    path = weights / "dino_vitbase8_pretrain.pth"
    path.parent.mkdir(parents=True)
    torch.save({"teacher": {}, "student": {}}, path)
    with pytest.raises(DataError, match="full training checkpoint"):
        build_backbone("dino-vitb8")
    torch.save({"cls_token": torch.zeros(1, 1, 768)}, path)
    with pytest.raises(DataError, match="missing") as err:
        build_backbone("dino-vitb8")
    assert str(path) in str(err.value)


def test_dino_missing_file_skips_unless_random_init(weights):
    with pytest.raises(MissingWeightsError, match="dino_vitbase8_pretrain.pth"):
        build_backbone("dino-vitb8")
    assert build_backbone("dino-vitb8", allow_random_init=True).weights == "random-init"


def test_point_mae_pixels_loads_the_official_layout_and_lays_tokens_on_pixels(weights):
    generated_once(write_point_mae_checkpoint, weights / "pointmae_pretrain.pth", seed=2)
    with job_options() as options:
        backbone = build_backbone("point-mae-pixels", num_group=64, group_size=32)  # small: the format is the point
    assert backbone.weights == "pretrained"
    assert [b["name"] for b in options.built] == ["point-mae", "point-mae-pixels"]
    assert options.built[0]["weights"] == "pretrained" and options.built[0]["sha256"]
    xyz, inside = dome()
    before = feature_cache.stats()
    grid = cached_features(backbone, xyz, inside)
    pooled = cached_features(backbone, xyz, inside, pool=56)
    delta = feature_cache.stats() - before
    assert (delta.entries_computed, delta.entries_reused) == (1, 1)  # one token entry serves both layouts
    assert delta.flops_computed > 1e7  # Point-MAE's FLOPs are counted where they are computed
    assert grid.shape == (224, 224, 1152) and pooled.shape == (56, 56, 1152)
    _, valid = resize_organized(xyz, inside, 224)
    assert np.all(grid[~valid] == 0) and np.all(np.abs(grid[valid]).sum(axis=1) > 0)


def test_point_mae_pixels_without_weights_skips_naming_the_point_mae_file(weights):
    with pytest.raises(MissingWeightsError, match="pointmae_pretrain.pth"):
        build_backbone("point-mae-pixels")
    with job_options() as options:
        assert build_backbone("point-mae-pixels", allow_random_init=True).weights == "random-init"
    assert [b["weights"] for b in options.built] == ["random-init", "random-init"]


def test_interpolation_is_inverse_squared_distance_of_three_nearest_centres():
    centers = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [5, 5, 5]], np.float64)
    features = np.eye(4, dtype=np.float32)
    out = interpolate_to_points(np.array([[0.25, 0.0, 0.0]]), centers, features)
    w = 1 / (np.array([0.25**2, 0.75**2, 0.25**2 + 1]) + 1e-8)
    np.testing.assert_allclose(out[0, :3], w / w.sum(), rtol=1e-5)
    assert out[0, 3] == 0


def test_lay_on_pixels_pools_as_m3dm():
    valid = np.zeros((6, 6), bool)
    valid[2, 3] = True
    raw = lay_on_pixels(np.array([[9.0]]), valid)
    assert raw[2, 3, 0] == 9 and raw.sum() == 9
    pooled = lay_on_pixels(np.array([[9.0]]), valid, pool=2)  # 3x3 mean without padding (4x4), then 2x2 means
    np.testing.assert_allclose(pooled[..., 0], [[0.5, 1.0], [0.25, 0.5]])


def test_rgb_texture_is_deterministic_and_local():
    backbone = build_backbone("rgb-texture")
    rgb = np.full((224, 224, 3), 128, np.uint8)
    rgb[:, ::4] = 100  # stripes: texture everywhere
    spotted = rgb.copy()
    spotted[96:104, 96:104] = (250, 20, 20)  # cell (12, 12) turns red
    a, b = backbone.encode(rgb), backbone.encode(spotted)
    assert a.shape == (28, 28, 30) and np.array_equal(a, backbone.encode(rgb))
    change = np.abs(a - b).sum(axis=2)
    assert change.argmax() == np.ravel_multi_index((12, 12), (28, 28))
    assert change[:9].max() == 0 and change[16:].max() == 0  # far cells unchanged


def test_fpfh_pixels_is_weight_free_and_reused_from_the_cache(weights):
    backbone = build_backbone("fpfh-pixels")
    assert backbone.weights == "none"
    xyz, inside = dome()
    before = feature_cache.stats()
    raw = cached_features(backbone, xyz, inside)
    pooled = cached_features(build_backbone("fpfh-pixels"), xyz, inside, pool=56)
    delta = feature_cache.stats() - before
    assert (delta.entries_computed, delta.entries_reused) == (1, 1)
    assert raw.shape == (224, 224, 33) and pooled.shape == (56, 56, 33)
    _, valid = resize_organized(xyz, inside, 224)
    assert np.all(raw[~valid] == 0) and raw[valid].sum(axis=1).min() > 0
    assert "dino-vitb8" in benchkit.plugins.get_registry().backbones
