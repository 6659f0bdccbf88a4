"""Dense RGB + 3D feature maps on one pixel grid, and the anomaly-map post-processing of the crossmodal methods.

CFM (CVLAB-Unibo/crossmodal-feature-mapping) set the recipe that MAFR (adabrh/MAFR, built on CFM's code) and the
text-guided unified method reuse:

- `align_feature_maps`: RGB patch tokens are upsampled bilinearly (align_corners=False) to the output grid; point
  features laid on the pixel grid are averaged over 3 x 3 windows (stride 1, no padding) and adaptively average-pooled
  back to the grid (CFM `get_features_maps`: ``AvgPool2d(3, 1)`` then ``AdaptiveAvgPool2d((224, 224))``).
- `valid_positions`: where a point feature vector is not all zero (CFM/MAFR mask ``xyz_patch.sum(-1) == 0``).
- `box_smooth`: CFM's Gaussian stand-in, five passes of a 5 x 5 box filter then three of a 7 x 7 one (zero padding).
- `channel_statistics`: per-channel mean and standard deviation of training features (for detectors that
  standardise hand-made features whose channels differ in scale).
- `normalized_map_and_score`: CFM's scale-free outputs: the map divided by its mean over non-zero positions, and the
  image score ``max(map / sqrt(mean(map[map != 0])))``.

All functions take and return torch tensors; torch is imported when they are called.
"""

from __future__ import annotations

from typing import Any


def _torch():
    import torch

    return torch


def align_feature_maps(rgb_tokens: Any, point_features: Any, size: int, *, pool_points: bool = True,
                       device: str = "cpu") -> tuple[Any, Any]:
    """RGB tokens (h, w, D1) and point features (H', W', D2) as two (size, size, D) float tensors on ``device``.

    ``pool_points`` applies CFM's 3 x 3 average before the adaptive average pooling to ``size`` (False: pooling only).
    """
    torch = _torch()
    import torch.nn.functional as F

    rgb = torch.as_tensor(rgb_tokens, dtype=torch.float32, device=device).permute(2, 0, 1)[None]
    pts = torch.as_tensor(point_features, dtype=torch.float32, device=device).permute(2, 0, 1)[None]
    rgb = F.interpolate(rgb, size=(size, size), mode="bilinear", align_corners=False)
    if pool_points and min(pts.shape[-2:]) >= 3:
        pts = F.avg_pool2d(pts, kernel_size=3, stride=1)
    pts = F.adaptive_avg_pool2d(pts, (size, size))
    return rgb[0].permute(1, 2, 0).contiguous(), pts[0].permute(1, 2, 0).contiguous()


def sample_feature_rows(rgb_backbone: Any, point_backbone: Any, sample: Any, size: int, *, device: str = "cpu",
                        method: str = "this detector") -> tuple[Any, Any, Any]:
    """One RGB + 3D sample's aligned features as rows: (S*S, D_rgb), (S*S, D_3d) and the (S*S,) valid mask.

    The frozen features come through benchkit's feature cache (`benchkit.cached_features`), then `align_feature_maps`
    lays both on the S x S grid (CFM's recipe, as MAFR and the text-guided method use it)."""
    from benchkit import DataError, cached_features

    if sample.rgb is None or sample.xyz is None:
        raise DataError(None, f"sample {sample.id!r} lacks RGB or an organized point cloud; {method} needs both",
                        "run it on an RGB + 3D dataset (mvtec3d, eyecandies, synthetic-rgbd)")
    rgb = cached_features(rgb_backbone, sample.rgb)
    points = cached_features(point_backbone, sample.xyz, sample.valid)
    rgb, points = align_feature_maps(rgb, points, size, device=device)
    valid = valid_positions(points).reshape(-1)
    return rgb.reshape(-1, rgb.shape[-1]), points.reshape(-1, points.shape[-1]), valid


def valid_positions(point_features: Any) -> Any:
    """(H, W) bool: positions whose point feature vector is not all zero (no point projects there otherwise)."""
    return (point_features != 0).any(dim=-1)


def box_smooth(values: Any) -> Any:
    """CFM's smoothing of an (H, W) map: 5 passes of a 5 x 5 box filter, then 3 of a 7 x 7 one, zero padded."""
    torch = _torch()
    import torch.nn.functional as F

    x = values[None, None].float()
    for width, passes in ((5, 5), (7, 3)):
        kernel = torch.full((1, 1, width, width), 1.0 / width**2, dtype=x.dtype, device=x.device)
        for _ in range(passes):
            x = F.conv2d(x, kernel, padding=width // 2)
    return x[0, 0]


def normalized_map_and_score(values: Any) -> tuple[Any, float]:
    """CFM's outputs of a non-negative (H, W) map: (map / mean of its non-zero values, max(map / sqrt(that mean))).

    An all-zero map (no valid position) stays zero with score 0.
    """
    nonzero = values[values != 0]
    if nonzero.numel() == 0:
        return values, 0.0
    mean = nonzero.mean()
    return values / mean, float((values / mean.sqrt()).max())


def channel_statistics(maps: Any) -> list[tuple[Any, Any]]:
    """Per-channel (mean, std + 1e-6) of each modality over an iterable of ``(rgb_rows, point_rows, valid)``.

    RGB rows count everywhere, point rows at valid positions only (elsewhere they are zero by construction).
    """
    sums = None
    for rgb, points, valid in maps:
        stats = [(x.sum(0), x.pow(2).sum(0), len(x)) for x in (rgb, points[valid])]
        sums = stats if sums is None else [(a + s, b + q, n + m) for (a, b, n), (s, q, m) in zip(sums, stats)]
    if sums is None:
        raise ValueError("channel_statistics needs at least one feature map")
    out = []
    for total, squares, count in sums:
        mean = total / max(count, 1)
        out.append((mean, (squares / max(count, 1) - mean.pow(2)).clamp_min(0).sqrt() + 1e-6))
    return out
