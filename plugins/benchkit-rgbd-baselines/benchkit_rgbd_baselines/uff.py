"""M3DM's unsupervised feature fusion (UFF): a patch-wise fusion network trained with a contrastive loss.

Reference: nomewang/M3DM, models/feature_fusion.py (the network and loss), fusion_pretrain.py and
engine_fusion_pretrain.py (the training loop and schedule), feature_extractors/multiple_features.py (what the
training pairs are and how the fused features are used).

- ``FeatureFusionBlock(d_xyz, d_rgb)``: each branch is LayerNorm then an MLP (hidden 4 x its width, GELU); the two
  outputs concatenated are the fused patch feature (1152 + 768 = 1920-d for Point-MAE + DINO). ``xyz_head`` and
  ``rgb_head`` (Linear to 256) serve only the loss. Parameter names follow the reference, so its ``state_dict``
  keys match.
- Loss: InfoNCE between the rgb-head and xyz-head embeddings of the same patch (positives) against every other patch
  of the batch, temperature 1, multiplied by 2 T. Patches without a point under them are left out (the reference
  keeps rows with no zero at all, ``torch.all(xyz != 0)``; benchkit leaves out all-zero rows, as its banks do, so
  that histogram features such as FPFH keep their rows).
- Training: AdamW (betas 0.9 / 0.95, PyTorch's weight decay 0.01, as the reference passes none), lr 0.003, batches
  of 16 images, gradients accumulated over 16 batches, a linear warm-up of 1 epoch then a half-cycle cosine to 0
  set every accumulation step, 3 epochs. fp32 throughout (the reference uses CUDA AMP).
- Training pairs: the 56 x 56 point patches with the RGB patches brought to the same grid. Spatially aligned by
  default (``AdaptiveAvgPool2d`` from 28 to 56, which repeats each RGB patch over its 2 x 2 point patches: the
  reference's ``resize2``, used for the fused bank at test time). ``quirk_pairing`` reproduces the training pairs the
  reference saved instead, ``rgb.repeat(4, 1).reshape(784, 4, -1).permute(1, 0, 2).reshape(3136, -1)``, which
  pairs point patch j with RGB patch (4 (j mod 784) + j div 784) mod 784, not the one above it.

Two departures a per-class job forces (a class's training set is far smaller than the reference's pooled one):
the last partial accumulation of an epoch also takes an optimizer step (otherwise a set of fewer than 256 images
would never update the weights), and the last partial batch is kept (the reference's ``drop_last=True`` would drop
every image of a set of fewer than 16).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from timm.layers import Mlp
from torch import nn

from benchkit import rng


class FeatureFusionBlock(nn.Module):
    """The reference's fusion block: per-modality LayerNorm + MLP, concatenated; two heads for the loss."""

    def __init__(self, xyz_dim: int, rgb_dim: int, mlp_ratio: float = 4.0, head_dim: int = 256,
                 temperature: float = 1.0) -> None:
        super().__init__()
        self.xyz_dim = xyz_dim
        self.xyz_norm = nn.LayerNorm(xyz_dim)
        self.xyz_mlp = Mlp(xyz_dim, int(xyz_dim * mlp_ratio), act_layer=nn.GELU)
        self.rgb_norm = nn.LayerNorm(rgb_dim)
        self.rgb_mlp = Mlp(rgb_dim, int(rgb_dim * mlp_ratio), act_layer=nn.GELU)
        self.rgb_head = nn.Linear(rgb_dim, head_dim)
        self.xyz_head = nn.Linear(xyz_dim, head_dim)
        self.temperature = temperature

    def fuse(self, xyz: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        """(N, d_xyz), (N, d_rgb) patches -> (N, d_xyz + d_rgb) fused patches."""
        return torch.cat([self.xyz_mlp(self.xyz_norm(xyz)), self.rgb_mlp(self.rgb_norm(rgb))], dim=-1)

    def contrastive_loss(self, xyz: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        """InfoNCE of each patch's rgb embedding against the xyz embeddings of the batch; patch i's is the positive."""
        fused = self.fuse(xyz, rgb)
        query = nn.functional.normalize(self.rgb_head(fused[:, self.xyz_dim:]), dim=1)
        key = nn.functional.normalize(self.xyz_head(fused[:, :self.xyz_dim]), dim=1)
        logits = query @ key.T / self.temperature
        labels = torch.arange(len(logits), device=logits.device)
        return nn.functional.cross_entropy(logits, labels) * (2 * self.temperature)


def pair_rgb_with_points(rgb: np.ndarray, n_points: int, *, quirk_pairing: bool = False) -> np.ndarray:
    """RGB patches (side^2, C) on the point grid (n_points, C): aligned (adaptive average pooling) or the quirk."""
    side, point_side = int(round(math.sqrt(len(rgb)))), int(round(math.sqrt(n_points)))
    if quirk_pairing:
        if 4 * len(rgb) != n_points:
            raise ValueError(f"uff_quirk_pairing needs 4 x as many point patches as RGB patches (the reference's 784 "
                             f"and 3136), got {len(rgb)} and {n_points}: set uff_quirk_pairing=false")
        return np.ascontiguousarray(np.tile(rgb, (4, 1)).reshape(len(rgb), 4, -1).transpose(1, 0, 2)
                                    .reshape(n_points, -1))
    grid = torch.from_numpy(np.ascontiguousarray(rgb.T.reshape(1, -1, side, side)))
    pooled = nn.functional.adaptive_avg_pool2d(grid, (point_side, point_side))
    return pooled.reshape(rgb.shape[1], -1).T.contiguous().numpy()


@dataclass(frozen=True)
class UFFTraining:
    """The reference's UFF training parameters (README: --lr 0.003 --batch_size 16 --accum_iter 16; 3 epochs)."""

    epochs: int = 3
    batch_size: int = 16
    accum_iter: int = 16
    lr: float = 0.003
    warmup_epochs: int = 1
    weight_decay: float = 0.01
    patches_per_image: int | None = None  # a speed-up that changes the result: None (every patch) is the reference


def learning_rate(progress: float, training: UFFTraining) -> float:
    """MAE's schedule (utils/lr_sched.py): linear warm-up, then half-cycle cosine to 0, at fractional epochs."""
    if progress < training.warmup_epochs:
        return training.lr * progress / training.warmup_epochs
    span = max(training.epochs - training.warmup_epochs, 1e-12)
    return training.lr * 0.5 * (1.0 + math.cos(math.pi * (progress - training.warmup_epochs) / span))


def train_uff(pairs: Sequence[tuple[np.ndarray, np.ndarray]], training: UFFTraining, *, seed: int,
              device: str = "cpu") -> tuple[FeatureFusionBlock, list[float]]:
    """Train a fusion block on per-image (xyz (P, d_xyz), paired rgb (P, d_rgb)) patches; returns it in eval mode
    with the mean batch loss of each epoch."""
    d_xyz, d_rgb = pairs[0][0].shape[1], pairs[0][1].shape[1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng(seed, "m3dm-uff-init").integers(2**31 - 1)))
        model = FeatureFusionBlock(d_xyz, d_rgb).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=training.lr, betas=(0.9, 0.95),
                                  weight_decay=training.weight_decay)
    n_batches = math.ceil(len(pairs) / training.batch_size)
    losses: list[float] = []
    model.train()
    for epoch in range(training.epochs):
        order = rng(seed, "m3dm-uff-order", epoch).permutation(len(pairs))
        total = 0.0
        optimizer.zero_grad()
        for step in range(n_batches):
            if step % training.accum_iter == 0:
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(epoch + step / n_batches, training)
            batch = order[step * training.batch_size:(step + 1) * training.batch_size]
            xyz, rgb = _batch(pairs, batch, training.patches_per_image, seed, epoch)
            loss = model.contrastive_loss(xyz.to(device), rgb.to(device))
            (loss / training.accum_iter).backward()
            if (step + 1) % training.accum_iter == 0 or step + 1 == n_batches:
                optimizer.step()
                optimizer.zero_grad()
            total += float(loss.detach())
        losses.append(total / n_batches)
    model.eval()
    return model, losses


def _batch(pairs: Sequence[tuple[np.ndarray, np.ndarray]], batch: np.ndarray, patches_per_image: int | None,
           seed: int, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch's patches that have a point under them, optionally a seeded random subset per image."""
    xyz, rgb = [], []
    for i in batch:
        points, colours = pairs[i]
        keep = np.flatnonzero(np.any(points != 0, axis=1))
        if patches_per_image is not None and len(keep) > patches_per_image:
            keep = np.sort(rng(seed, "m3dm-uff-patches", epoch, int(i)).choice(keep, patches_per_image, replace=False))
        xyz.append(points[keep])
        rgb.append(colours[keep])
    return torch.from_numpy(np.concatenate(xyz)).float(), torch.from_numpy(np.concatenate(rgb)).float()
