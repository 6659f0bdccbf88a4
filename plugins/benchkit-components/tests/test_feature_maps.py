"""The crossmodal feature-map helpers: CFM's alignment, mask, box smoothing and scale-free outputs."""

import numpy as np
import torch
import torch.nn.functional as F

from benchkit_components.feature_maps import (
    align_feature_maps,
    box_smooth,
    channel_statistics,
    normalized_map_and_score,
    valid_positions,
)


def test_alignment_is_cfms_bilinear_upsample_and_pooled_points():
    rgb = np.random.default_rng(0).normal(size=(28, 28, 5)).astype(np.float32)
    points = np.zeros((224, 224, 3), np.float32)
    points[100:120, 50:90] = 1.0
    a, b = align_feature_maps(rgb, points, 224)
    expected = F.interpolate(torch.from_numpy(rgb).permute(2, 0, 1)[None], size=(224, 224), mode="bilinear",
                             align_corners=False)[0].permute(1, 2, 0)
    torch.testing.assert_close(a, expected)
    pooled = F.adaptive_avg_pool2d(F.avg_pool2d(torch.from_numpy(points).permute(2, 0, 1)[None], 3, 1), (224, 224))
    torch.testing.assert_close(b, pooled[0].permute(1, 2, 0))
    mask = valid_positions(b)
    assert mask[110, 70] and not mask[10, 10] and mask.shape == (224, 224)
    small_rgb, small_points = align_feature_maps(rgb, points, 56)
    assert small_rgb.shape == (56, 56, 5) and small_points.shape == (56, 56, 3)


def test_box_smoothing_keeps_mass_inside_and_spreads_a_peak():
    x = torch.zeros(64, 64)
    x[32, 32] = 1.0
    y = box_smooth(x)
    assert abs(float(y.sum()) - 1.0) < 1e-5 and y.max() < 0.05 and y[32, 32] == y.max()
    torch.testing.assert_close(y, y.T)


def test_normalized_outputs_are_scale_free():
    x = torch.rand(10, 10)
    x[0] = 0
    m1, s1 = normalized_map_and_score(x)
    m2, s2 = normalized_map_and_score(7 * x)
    torch.testing.assert_close(m1, m2)
    assert abs(s2 - s1 * 7**0.5) < 1e-4  # max(map / sqrt(mean)) scales with the square root, as CFM's score
    assert abs(float(m1[x != 0].mean()) - 1.0) < 1e-5
    zero_map, zero_score = normalized_map_and_score(torch.zeros(4, 4))
    assert zero_score == 0.0 and not zero_map.any()


def test_channel_statistics_use_valid_point_rows_only():
    rgb = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    points = torch.tensor([[2.0], [0.0]])
    valid = torch.tensor([True, False])
    (rgb_mean, rgb_std), (pts_mean, pts_std) = channel_statistics([(rgb, points, valid)])
    torch.testing.assert_close(rgb_mean, torch.tensor([2.0, 3.0]))
    torch.testing.assert_close(rgb_std, torch.tensor([1.0, 1.0]) + 1e-6)
    torch.testing.assert_close(pts_mean, torch.tensor([2.0]))
