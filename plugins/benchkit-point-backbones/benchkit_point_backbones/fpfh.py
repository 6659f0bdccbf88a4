"""A weight-free backbone: per-group statistics of FPFH and of the group's local shape.

Same grouping as Point-MAE (FPS centres, kNN groups). A group's token is
  [mean FPFH (33), std FPFH (33), mean / std of the points' offsets from the centre (3 + 3),
   eigenvalues of the offsets' covariance, ascending (3)]  -> 75 features,
with offsets in units of the cloud's mean point spacing so that the token does not depend on the scan's scale.
FPFH radii are multiples of that spacing too (FPFH and spacing from `benchkit_components.fpfh`). The per-point
FPFH goes through the feature cache, so every detector on this backbone (and a job's warm-up sample) shares it.
"""

from __future__ import annotations

import numpy as np
from benchkit import Backbone, Tokens
from benchkit_components.groups import make_groups

FPFH_TOKEN_DIM = 33 * 2 + 3 + 3 + 3


class FPFHBackbone(Backbone):
    def __init__(self, num_group: int = 1024, group_size: int = 128, normal_radius: float = 4.0,
                 fpfh_radius: float = 8.0, normal_max_nn: int = 30, fpfh_max_nn: int = 100,
                 device: str = "cpu") -> None:
        """Radii are in multiples of the cloud's mean point spacing. No random choice is made."""
        self.num_group = num_group
        self.group_size = group_size
        self.normal_radius = normal_radius
        self.fpfh_radius = fpfh_radius
        self.normal_max_nn = normal_max_nn
        self.fpfh_max_nn = fpfh_max_nn
        self.device = device
        self.output_dim = FPFH_TOKEN_DIM

    def encode(self, points: np.ndarray) -> Tokens:
        from benchkit_components.fpfh import fpfh, mean_spacing

        points = np.asarray(points, dtype=np.float32)
        spacing = mean_spacing(points)
        per_point = fpfh(points, normal_radius=self.normal_radius * spacing, normal_max_nn=self.normal_max_nn,
                         fpfh_radius=self.fpfh_radius * spacing, fpfh_max_nn=self.fpfh_max_nn, cached=True)
        groups = make_groups(points, self.num_group, self.group_size, device=self.device)
        hist = per_point[groups.index]  # (G, K, 33)
        offsets = groups.neighbourhoods(points) / spacing  # (G, K, 3)
        centred = offsets - offsets.mean(axis=1, keepdims=True)
        cov = np.einsum("gki,gkj->gij", centred, centred) / offsets.shape[1]
        eig = np.linalg.eigvalsh(cov.astype(np.float64)).astype(np.float32)  # ascending
        features = np.concatenate(
            [hist.mean(axis=1), hist.std(axis=1), offsets.mean(axis=1), offsets.std(axis=1), eig], axis=1
        )
        return Tokens(features=features.astype(np.float32), centers=groups.centers, groups=groups.index)
