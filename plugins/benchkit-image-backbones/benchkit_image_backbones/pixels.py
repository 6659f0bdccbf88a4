"""Point features laid onto the pixel grid of an organized scan (kind ``pixel-features``), as M3DM and CFM do.

M3DM (features.py / models.py) and CFM (models/features.py ``get_features_maps``) share the alignment:

1. the organized cloud is resized to 224 x 224 with nearest interpolation (``F.interpolate(mode='nearest')``);
2. features are computed for its valid points (Point-MAE: tokens of 1024 FPS groups of 128 points, blocks 3/7/11,
   1152-d), and each point gets the inverse-distance-weighted mean of its 3 nearest group centres' tokens,
   weights 1 / (squared distance + 1e-8) (M3DM models/pointnet2_utils.py ``interpolating_points``);
3. the point features are scattered into a zero 224 x 224 grid at their pixels; the methods then average it by
   ``AvgPool2d(3, 1)`` (no padding: 222 x 222) and resize it by ``AdaptiveAvgPool2d``: to 56 x 56 in M3DM, back to
   224 x 224 in CFM (``benchkit_components.feature_maps.align_feature_maps`` does CFM's).

``encode(xyz, valid)`` returns the scattered (224, 224, D) float32 grid (zero where no point is);
``encode(xyz, valid, pool=56)`` applies step 3's pooling to 56 x 56 (M3DM). The expensive per-point stage goes
through the feature cache (``caches_own_features``): the cache stores compact per-point or per-group features and the
cheap scatter and pooling are redone per call, so M3DM and CFM share entries and no 230 MB grid is stored.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from benchkit import Backbone, Tokens, build_backbone, cached_features

#: The grid every alignment starts from (M3DM's and CFM's image size).
GRID = 224
#: Inverse-distance interpolation of M3DM's ``interpolating_points``: 3 nearest centres, 1 / (d^2 + 1e-8).
INTERPOLATION_NEIGHBOURS = 3
INTERPOLATION_EPS = 1e-8


def resize_organized(xyz: np.ndarray, valid: np.ndarray, size: int = GRID) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-neighbour resize of an organized cloud and its mask to size x size (``F.interpolate`` nearest)."""
    from benchkit_components.grid import resize_nearest

    xyz = np.asarray(xyz, dtype=np.float32)
    if xyz.ndim != 3 or xyz.shape[2] != 3:
        raise ValueError(f"expected an organized H x W x 3 cloud, got shape {xyz.shape}")
    return resize_nearest(xyz, size), resize_nearest(np.asarray(valid, dtype=bool), size)


def interpolate_to_points(points: np.ndarray, centers: np.ndarray, features: np.ndarray) -> np.ndarray:
    """(N, D) features of the points: inverse squared-distance weighted mean of their 3 nearest centres' features."""
    from benchkit_components.neighbours import knn

    dist2, index = knn(np.asarray(centers, np.float64), np.asarray(points, np.float64), INTERPOLATION_NEIGHBOURS)
    weights = 1.0 / (dist2 + INTERPOLATION_EPS)
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("nk,nkd->nd", weights.astype(np.float32), np.asarray(features, np.float32)[index])


def lay_on_pixels(values: np.ndarray, valid: np.ndarray, pool: int | None = None, device: str = "cpu") -> np.ndarray:
    """Scatter (N, D) point values into a zero (H, W, D) grid at the valid pixels; with ``pool``, then
    AvgPool2d(3, 1) and AdaptiveAvgPool2d((pool, pool)) as M3DM does."""
    h, w = valid.shape
    grid = torch.zeros(values.shape[1], h * w, device=device)
    flat = torch.from_numpy(np.flatnonzero(valid)).to(device)
    grid[:, flat] = torch.as_tensor(values, dtype=torch.float32, device=device).T
    grid = grid.reshape(1, -1, h, w)
    if pool is not None:
        grid = torch.nn.functional.avg_pool2d(grid, 3, stride=1)
        grid = torch.nn.functional.adaptive_avg_pool2d(grid, (pool, pool))
    return grid[0].permute(1, 2, 0).contiguous().cpu().numpy()


class PixelAligned(Backbone):
    """Per-point features of an organized scan laid onto its pixel grid; subclasses say how points get features."""

    caches_own_features = True
    device = "cpu"
    output_dim = 0

    def point_features(self, points: np.ndarray) -> np.ndarray:
        """(N, D) features of the valid points of the 224 x 224 grid (through the feature cache)."""
        raise NotImplementedError

    def encode(self, xyz: np.ndarray, valid: np.ndarray, pool: int | None = None) -> np.ndarray:
        xyz, valid = resize_organized(xyz, valid, GRID)
        points = xyz[valid]
        if len(points) == 0:
            side = GRID if pool is None else pool
            return np.zeros((side, side, self.output_dim), np.float32)
        return lay_on_pixels(self.point_features(points), valid, pool, self.device)


class PointMAEPixels(PixelAligned):
    """``point-mae-pixels``: the registered ``point-mae`` backbone (1024 groups of 128 points, blocks 3/7/11, 1152-d)
    on the raw coordinates of the scan (``normalize=False``: M3DM and CFM feed metric coordinates unscaled),
    interpolated to points and laid onto pixels. The text-guided paper's groups of 32 are ``group_size=32``."""

    def __init__(self, num_group: int = 1024, group_size: int = 128, device: str = "cpu",
                 random_init: bool = False) -> None:
        self.num_group = num_group
        self.group_size = group_size
        self.device = device
        self.points = build_backbone("point-mae", num_group=num_group, group_size=group_size, normalize=False,
                                     device=device, allow_random_init=random_init or None)
        self.weights = self.points.weights
        self.output_dim = int(getattr(self.points, "output_dim", 1152))

    def point_features(self, points: np.ndarray) -> np.ndarray:
        tokens = cached_features(self.points, points)
        return interpolate_to_points(points, tokens.centers, tokens.features)

    def torch_modules(self) -> list[Any]:
        return self.points.torch_modules()


class _PerPointStage(Backbone):
    """The cached stage of a weight-free pixel backbone: its identity is the owner's plus the stage's name."""

    def __init__(self, owner: Backbone, compute) -> None:
        self.owner = owner
        self.compute = compute

    @property
    def identity(self) -> dict[str, Any]:  # type: ignore[override]
        return {**self.owner.identity, "stage": "per-point"} if self.owner.identity else {}

    def encode(self, points: np.ndarray):
        return self.compute(points)


class FPFHPixels(PixelAligned):
    """``fpfh-pixels``: weight-free geometry laid onto pixels with the same alignment as Point-MAE tokens.

    FPFH (33-d, open3d) is computed on ``max_points`` points drawn uniformly (seeded, so the same scan always gets
    the same draw), with normals and FPFH radii in multiples of those points' mean spacing so that one setting fits
    any scan scale; every point then takes the inverse-distance mean of its 3 nearest drawn points' FPFH, as it takes
    the 3 nearest group tokens for Point-MAE. (Per-point FPFH of all ~50k points of a 224 x 224 scan costs seconds
    per scan on two cores; BTF's FPFH-on-pixels feature is that, at full density.)"""

    output_dim = 33

    def __init__(self, max_points: int | None = 4096, normal_radius: float = 4.0, fpfh_radius: float = 8.0,
                 normal_max_nn: int = 30, fpfh_max_nn: int = 100, device: str = "cpu") -> None:
        self.max_points = max_points
        self.normal_radius = normal_radius
        self.fpfh_radius = fpfh_radius
        self.normal_max_nn = normal_max_nn
        self.fpfh_max_nn = fpfh_max_nn
        self.device = device
        self._stage = _PerPointStage(self, self._fpfh)

    def _fpfh(self, points: np.ndarray) -> Tokens:
        from benchkit_components.fpfh import fpfh, mean_spacing
        from benchkit_components.sampling import subsample_indices

        drawn = points[subsample_indices(len(points), self.max_points, 0, "fpfh-pixels")]
        spacing = mean_spacing(drawn)
        features = fpfh(drawn, normal_radius=self.normal_radius * spacing, normal_max_nn=self.normal_max_nn,
                        fpfh_radius=self.fpfh_radius * spacing, fpfh_max_nn=self.fpfh_max_nn)
        return Tokens(features=features.astype(np.float32), centers=drawn)

    def point_features(self, points: np.ndarray) -> np.ndarray:
        drawn = cached_features(self._stage, points)
        return interpolate_to_points(points, drawn.centers, drawn.features)
