"""CFM (Costanzino et al., "Multimodal Industrial Anomaly Detection by Crossmodal Feature Mapping", CVPR 2024;
CVLAB-Unibo/crossmodal-feature-mapping).

Frozen features (through the feature cache) on one 224 x 224 grid: DINO ViT-B/8 patch tokens upsampled bilinearly
from 28 x 28, and Point-MAE features laid onto the pixels, averaged over 3 x 3 windows and pooled back to 224 x 224
(``benchkit_components.feature_maps.align_feature_maps``, CFM's ``get_features_maps``). Valid positions are those
with a non-zero point feature.

Two MLPs map one modality onto the other (``FeatureProjectionMLP``: Linear, GELU, Linear, GELU, Linear, hidden width
(in + out) // 2): 2D->3D (768 -> 1152) and 3D->2D (1152 -> 768). They are trained on normal samples only, with one
Adam (lr 1e-3) over both nets, batches of 4 images in a seeded shuffled order, and the loss
(1 - mean cosine similarity) of each direction over the valid positions, summed. Epochs: 50, as the training
script (01_train_mvtec.sh); the evaluation script loads checkpoints named for 250 epochs.

Inference: per direction the distance ||normalize(predicted) - normalize(observed)||, zero at invalid positions;
the map is the product of the two, smoothed like the reference (5 passes of a 5 x 5 box filter, 3 of a 7 x 7 one);
returned divided by its mean over non-zero positions (the reference's AU-PRO input), and the image score is
max(map / sqrt(mean(map[map != 0]))). The reference scores pixel AUROC on map / sqrt(mean(map)) instead; benchkit
evaluates every pixel metric on the one map a detector returns.

Where anomalib's CFM departs (lr 1e-4, unmasked loss, true Gaussian blur, top-0.1 % image score, no ImageNet
normalisation) benchkit follows the authors' code.

``positions_per_image``: train on that many random valid positions per image instead of all (a speed-up for CPUs
that changes the result; None, the default, is the paper's). ``standardize``: standardise each feature channel
with training statistics before mapping (off, as the paper; an option for hand-made features whose channels differ
in scale).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from benchkit import Detector, Prediction, Sample, build_backbone, cached_features, rng
from benchkit.seeding import torch_generator

IMAGE_SIZE = 224
#: Keep the training images' aligned features in memory when they fit in this many bytes; else rebuild them from
#: the feature cache each epoch (the reference re-extracts features every epoch).
IN_MEMORY_BYTES = 1 << 30


class FeatureProjectionMLP(nn.Module):
    """CFM's mapping network (models/feature_transfer_nets.py): in -> (in+out)//2 -> (in+out)//2 -> out, GELU."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        hidden = (in_features + out_features) // 2
        self.input_fc = nn.Linear(in_features, hidden)
        self.projection_fc = nn.Linear(hidden, hidden)
        self.output_fc = nn.Linear(hidden, out_features)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output_fc(self.act(self.projection_fc(self.act(self.input_fc(x)))))


def cosine_loss(predicted: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    return 1 - nn.functional.cosine_similarity(predicted, observed, dim=-1, eps=1e-6).mean()


def crossmodal_distance(predicted: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    return (nn.functional.normalize(predicted, dim=-1) - nn.functional.normalize(observed, dim=-1)).norm(dim=-1)


class CFM(Detector):
    """Crossmodal feature mapping (see the module docstring). ``backbone``: RGB (image-patches), ``point_backbone``:
    geometry (pixel-features)."""

    def __init__(self, backbone: str = "dino-vitb8", point_backbone: str = "point-mae-pixels", epochs: int = 50,
                 batch_size: int = 4, lr: float = 1e-3, positions_per_image: int | None = None,
                 standardize: bool = False, seed: int = 0, device: str = "cpu") -> None:
        self.backbone = backbone
        self.point_backbone = point_backbone
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.positions_per_image = positions_per_image
        self.standardize = standardize
        self.seed = seed
        self.device = device

    # -- features ---------------------------------------------------------------------------------------------------
    def _aligned(self, sample: Sample) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(rgb (P, D1), points (P, D2), valid (224, 224)) at the valid positions P of one sample, on the device."""
        from benchkit_components.feature_maps import align_feature_maps, valid_positions

        if sample.rgb is None or sample.xyz is None:
            raise ValueError(f"CFM needs RGB and an organized point cloud; sample {sample.id} lacks one")
        tokens = cached_features(self.rgb_, sample.rgb)
        points = cached_features(self.points_, sample.xyz, sample.valid)
        rgb, pts = align_feature_maps(tokens, points, IMAGE_SIZE, device=self.device)
        valid = valid_positions(pts)
        rgb, pts = rgb[valid], pts[valid]
        if self.standardize and hasattr(self, "stats_"):
            (rgb_mean, rgb_std), (pts_mean, pts_std) = self.stats_
            rgb, pts = (rgb - rgb_mean) / rgb_std, (pts - pts_mean) / pts_std
        return rgb, pts, valid

    def _training_features(self, samples: Sequence[Sample]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.memory_ is not None:
            yield from self.memory_
            return
        for sample in samples:
            rgb, pts, _ = self._aligned(sample)
            yield rgb, pts

    # -- fit / predict ----------------------------------------------------------------------------------------------
    def fit(self, samples: Sequence[Sample]) -> CFM:
        if len(samples) == 0:
            raise ValueError("CFM needs at least one training sample")
        self.rgb_ = build_backbone(self.backbone)
        self.points_ = build_backbone(self.point_backbone)
        if hasattr(self, "stats_"):
            del self.stats_  # a refit measures its own statistics on unstandardised features
        first_rgb, first_pts, _ = self._aligned(samples[0])
        per_position = (first_rgb.shape[1] + first_pts.shape[1]) * 4
        self.memory_ = None
        if per_position * len(first_rgb) * len(samples) <= IN_MEMORY_BYTES:
            self.memory_ = [(first_rgb, first_pts)] + [self._aligned(s)[:2] for s in samples[1:]]
        if self.standardize:
            from benchkit_components.feature_maps import channel_statistics

            self.stats_ = channel_statistics((r, p, torch.ones(len(p), dtype=torch.bool, device=p.device))
                                             for r, p in self._training_features(samples))
            if self.memory_ is not None:
                (rgb_mean, rgb_std), (pts_mean, pts_std) = self.stats_
                self.memory_ = [((r - rgb_mean) / rgb_std, (p - pts_mean) / pts_std) for r, p in self.memory_]
        d_rgb, d_pts = first_rgb.shape[1], first_pts.shape[1]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(rng(self.seed, "cfm-init").integers(2**31 - 1)))
            self.to_3d_ = FeatureProjectionMLP(d_rgb, d_pts).to(self.device)
            self.to_2d_ = FeatureProjectionMLP(d_pts, d_rgb).to(self.device)
        optimizer = torch.optim.Adam([*self.to_3d_.parameters(), *self.to_2d_.parameters()], lr=self.lr)
        self.to_3d_.train()
        self.to_2d_.train()
        self.losses_: list[float] = []
        for epoch in range(self.epochs):
            order = rng(self.seed, "cfm-order", epoch).permutation(len(samples))
            total = 0.0
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                rgb, pts = self._batch(samples, batch, epoch)
                loss = cosine_loss(self.to_3d_(rgb), pts) + cosine_loss(self.to_2d_(pts), rgb)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach())
            self.losses_.append(total)
        self.to_3d_.eval()
        self.to_2d_.eval()
        self.memory_ = None
        return self

    def _batch(self, samples: Sequence[Sample], batch: np.ndarray, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        rgb, pts = [], []
        for i in batch:
            r, p = self.memory_[i] if self.memory_ is not None else self._aligned(samples[i])[:2]
            if self.positions_per_image is not None and len(r) > self.positions_per_image:
                pick = torch.randperm(len(r), generator=torch_generator(self.seed, "cfm-positions", epoch, int(i)))
                pick = pick[:self.positions_per_image].to(r.device)
                r, p = r[pick], p[pick]
            rgb.append(r)
            pts.append(p)
        return torch.cat(rgb), torch.cat(pts)

    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        from benchkit_components.feature_maps import box_smooth, normalized_map_and_score

        out = []
        for sample in samples:
            rgb, pts, valid = self._aligned(sample)
            anomaly = torch.zeros(IMAGE_SIZE, IMAGE_SIZE, device=self.device)
            with torch.no_grad():
                anomaly[valid] = crossmodal_distance(self.to_3d_(rgb), pts) * crossmodal_distance(self.to_2d_(pts), rgb)
                anomaly_map, score = normalized_map_and_score(box_smooth(anomaly))
            out.append(Prediction(score=score, map=anomaly_map.float().cpu().numpy()))
        return out

    # -- introspection ----------------------------------------------------------------------------------------------
    def torch_modules(self) -> list[Any]:
        heads = [m for m in (getattr(self, "to_3d_", None), getattr(self, "to_2d_", None)) if m is not None]
        backbones = [m for name in ("rgb_", "points_") if hasattr(self, name)
                     for m in getattr(self, name).torch_modules()]
        return heads + backbones
