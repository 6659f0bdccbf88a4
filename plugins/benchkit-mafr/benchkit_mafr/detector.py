"""MAFR as a benchkit detector: one model per class (also few-shot), trained on normal RGB + organized 3D scans.

Per sample (paper section III, authors' code adabrh/MAFR): frozen RGB patch tokens (DINO ViT-B/8, 28 x 28 x 768)
are upsampled bilinearly to the feature grid and frozen point features (Point-MAE, 1152-d) laid onto the pixel grid
are 3 x 3 averaged and pooled to it, as CFM does (`benchkit_components.feature_maps`). The network
(`benchkit_mafr.network`) encodes each pixel's concatenated features into a shared latent and restores both
modalities from it. Training (``mafr_training.py``): one image per step, Adam at lr 1e-3, 100 epochs, the six loss
terms of `benchkit_mafr.losses` over every pixel of the grid. A non-finite loss stops training with an error (the
code exits).

Scoring (``mafr_inference.py``): per pixel the Euclidean distance between original and restored features of each
modality, combined by product (Table V's other rules are ``map_combination`` values), zero where the point features
are all zero (no valid 3D point), smoothed with CFM's box-filter Gaussian; the returned map is that map over its
mean non-zero value and the image score ``max(map / sqrt(mean non-zero))``, both as the code computes them for
AU-PRO and I-AUROC. (The code feeds P-AUROC a third scaling, ``map / sqrt(mean(map))``; a record holds one map.)

The paper's configuration (``mafr``) is the default of every parameter. ``standardize`` (off in the paper) scales
each feature channel by its training mean and standard deviation: the weight-free variant turns it on because its
hand-made features have very different channel scales.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from benchkit import DataError, Detector, Prediction, Sample, build_backbone, rng
from benchkit_components.feature_maps import (
    sample_feature_rows,
    box_smooth,
    channel_statistics,
    normalized_map_and_score,
)

from .losses import SMOOTHNESS_CHANNELS, census, smoothness, znssd
from .network import CBAM_MODES, MAFRNet

MAP_COMBINATIONS = ("product", "sum", "max", "rgb", "3d")


class MAFR(Detector):
    def __init__(self, backbone: str = "dino-vitb8", point_backbone: str = "point-mae-pixels",
                 feature_size: int = 224, latent_dim: int = 960, encoder_layers: int = 3, decoder_layers: int = 4,
                 dropout: float = 0.1, cbam: str = "per-pixel", use_sim: bool = True, use_smooth: bool = True,
                 use_census: bool = True, sim_weight: float = 1.0, smooth_weight: float = 1.0,
                 census_weight: float = 1.0, smoothness_channels: str = "first-two", census_patch: int = 7,
                 map_combination: str = "product", epochs: int = 100, lr: float = 1e-3, standardize: bool = False,
                 feature_memory_mb: float = 4096.0, device: str = "cpu", seed: int = 0) -> None:
        self.backbone = backbone
        self.point_backbone = point_backbone
        self.feature_size = feature_size
        self.latent_dim = latent_dim
        self.encoder_layers = encoder_layers
        self.decoder_layers = decoder_layers
        self.dropout = dropout
        self.cbam = cbam
        self.use_sim = use_sim
        self.use_smooth = use_smooth
        self.use_census = use_census
        self.sim_weight = sim_weight
        self.smooth_weight = smooth_weight
        self.census_weight = census_weight
        self.smoothness_channels = smoothness_channels
        self.census_patch = census_patch
        self.map_combination = map_combination
        self.epochs = epochs
        self.lr = lr
        self.standardize = standardize
        self.feature_memory_mb = feature_memory_mb
        self.device = device
        self.seed = seed

    def _validate(self) -> None:
        for name, value, allowed in (("cbam", self.cbam, CBAM_MODES),
                                     ("smoothness_channels", self.smoothness_channels, SMOOTHNESS_CHANNELS),
                                     ("map_combination", self.map_combination, MAP_COMBINATIONS)):
            if value not in allowed:
                raise ValueError(f"mafr: {name} must be one of {allowed}, got {value!r}")
        if not (self.use_sim or self.use_smooth or self.use_census):
            raise ValueError("mafr: at least one of use_sim, use_smooth, use_census must be on")
        if self.feature_size < 8:
            raise ValueError(f"mafr: feature_size must be at least 8 pixels, got {self.feature_size}")

    # -- features ---------------------------------------------------------------------------------------------------
    def _feature_maps(self, sample: Sample) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(S*S, D_rgb) and (S*S, D_3d) rows on the device and the (S*S,) valid mask of one sample."""
        return sample_feature_rows(self.rgb_backbone_, self.point_backbone_, sample, self.feature_size,
                                   device=self.device, method="MAFR")

    def _standardized(self, rgb: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.standardize:
            return rgb, points
        (rm, rs), (pm, ps) = self.scales_
        return (rgb - rm) / rs, (points - pm) / ps

    # -- training ---------------------------------------------------------------------------------------------------
    def fit(self, samples: Sequence[Sample]) -> MAFR:
        self._validate()
        if len(samples) == 0:
            raise DataError(None, "no training samples", "check the dataset's train split")
        self.rgb_backbone_ = build_backbone(self.backbone)
        self.point_backbone_ = build_backbone(self.point_backbone)
        first = self._feature_maps(samples[0])
        nbytes = (first[0].numel() + first[1].numel()) * 4 * len(samples)
        keep = nbytes <= self.feature_memory_mb * 2**20  # else recompute (the feature cache reads them back)
        prepared = [first] + [self._feature_maps(s) for s in samples[1:]] if keep else None
        if self.standardize:
            self.scales_ = channel_statistics(prepared or (self._feature_maps(s) for s in samples))
        grid = (self.feature_size, self.feature_size)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.net_ = MAFRNet(first[0].shape[1], first[1].shape[1], self.latent_dim, self.encoder_layers,
                                self.decoder_layers, self.dropout, self.cbam).to(self.device)
        net = self.net_.train()
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        order_rng = rng(self.seed, "mafr", "order")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # dropout masks
            for epoch in range(self.epochs):
                for i in order_rng.permutation(len(samples)):
                    rgb, points, _ = prepared[i] if keep else self._feature_maps(samples[int(i)])
                    rgb, points = self._standardized(rgb, points)
                    restored_rgb, restored_points = net(rgb, points, grid)
                    loss = self.loss(rgb, points, restored_rgb, restored_points)
                    if not torch.isfinite(loss):
                        raise FloatingPointError(f"mafr: training diverged (non-finite loss at epoch {epoch + 1}); "
                                                 f"try a lower lr (now {self.lr})")
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
        self.net_.eval().requires_grad_(False)
        return self

    def loss(self, rgb, points, restored_rgb, restored_points) -> torch.Tensor:
        """Eq. 6 over both modalities with the switched-on terms."""
        grid = (self.feature_size, self.feature_size)
        total = rgb.new_zeros(())
        for original, restored in ((rgb, restored_rgb), (points, restored_points)):
            if self.use_sim:
                total = total + self.sim_weight * znssd(original, restored)
            if self.use_smooth:
                total = total + self.smooth_weight * smoothness(original, restored, grid, self.smoothness_channels)
            if self.use_census:
                total = total + self.census_weight * census(original, restored, grid, self.census_patch)
        return total

    # -- scoring ----------------------------------------------------------------------------------------------------
    def anomaly_maps(self, sample: Sample) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The 2D and 3D residual maps and the valid mask, each (S, S), before combination and smoothing."""
        rgb, points, valid = self._feature_maps(sample)
        rgb, points = self._standardized(rgb, points)
        with torch.no_grad():
            restored_rgb, restored_points = self.net_(rgb, points, (self.feature_size, self.feature_size))
        side = (self.feature_size, self.feature_size)
        psi_2d = (restored_rgb - rgb).norm(dim=1).reshape(side)
        psi_3d = (restored_points - points).norm(dim=1).reshape(side)
        return psi_2d, psi_3d, valid.reshape(side)

    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        out = []
        for sample in samples:
            psi_2d, psi_3d, valid = self.anomaly_maps(sample)
            combined = {"product": lambda: psi_2d * psi_3d, "sum": lambda: psi_2d + psi_3d,
                        "max": lambda: torch.maximum(psi_2d, psi_3d), "rgb": lambda: psi_2d,
                        "3d": lambda: psi_3d}[self.map_combination]()
            combined = box_smooth(torch.where(valid, combined, torch.zeros_like(combined)))
            values, score = normalized_map_and_score(combined)
            out.append(Prediction(score=score, map=values.cpu().numpy().astype(np.float32)))
        return out

    def torch_modules(self) -> list:
        modules = [self.net_] if hasattr(self, "net_") else []
        for name in ("rgb_backbone_", "point_backbone_"):
            if hasattr(self, name):
                modules += getattr(self, name).torch_modules()
        return modules
