"""The trainable network: token projection -> GSAS sorter -> Mamba adapter -> generator -> discriminator.

Tokens are standardised per dimension and mapped to the model width by ``projection`` (frozen whitening by default,
see `principal_axes`). The sorter and the adapter can be switched off for ablations (``use_sorter``,
``use_adapter``): the sorter is then replaced by the backbone order (one slot per token), the adapter by the
identity. The generator cannot be switched off (it makes the only training labels); its settings
(``corruption_p``, ``noise_std``, ``gamma_init``, ``learn_gamma``, ``mask_unit``, ``generator_norm``) are its
ablation knobs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .discriminator import CrossPatchDiscriminator
from .generator import AnomalousFeatureGenerator
from .sorter import GeometricSemanticSorter, entropy_penalty, identity_order, locality_penalty
from .ssm import MambaAdapter


@dataclass
class NetConfig:
    in_dim: int
    n_sets: int
    n_patches: int
    width: int = 64
    n_slots: int = 128
    descriptor_dim: int = 128
    k_patch: int = 8
    temperature: float = 0.2
    sinkhorn_iters: int = 8
    state_dim: int = 256
    selective: bool = False
    scan_chunk: int = 16
    corruption_p: float = 0.05
    noise_std: float = 0.05
    gamma_init: float = 0.05
    learn_gamma: bool = True
    mask_unit: str = "patch"
    heads: int = 8
    dropout: float = 0.1
    sigma_p: float = 0.05
    use_sorter: bool = True
    use_adapter: bool = True
    projection: str = "whiten"
    generator_norm: bool = False
    norm_first: bool = True


@dataclass
class Output:
    logits: torch.Tensor  # (B, S) per-slot anomaly logits
    assignment: torch.Tensor  # (B, T, S)
    mask: torch.Tensor | None  # (B, S) corruption labels (training only)
    entropy: torch.Tensor
    locality: torch.Tensor

    def patch_scores(self, n_sets: int) -> torch.Tensor:
        """Per-token score = P-weighted sum of slot logits; per-patch score = max over the patch's layer tokens."""
        tokens = self.assignment @ self.logits.unsqueeze(-1)  # (B, T, 1); rows of P sum to 1
        b = tokens.shape[0]
        return tokens.reshape(b, n_sets, -1).amax(dim=1)


PROJECTIONS = ("whiten", "pca", "learned")


def principal_axes(features: torch.Tensor, width: int, whiten: bool = False, floor: float = 1e-2) -> torch.Tensor:
    """``(in_dim, width)`` map onto the top principal axes of ``(n, in_dim)`` centred features.

    Not whitened: the axes keep their natural variances (one common scale makes the mean variance 1). Normal tokens
    then fill a thin, anisotropic region, so the generator's isotropic noise sticks out along the low-variance axes.
    After whitening, normal tokens look like isotropic Gaussian noise themselves and the discriminator had nothing to
    learn (loss stayed at chance on synthetic-pc). Columns beyond the available rank stay zero.
    """
    cov = features.T @ features / max(1, len(features) - 1)
    values, vectors = torch.linalg.eigh(cov)  # ascending
    values, vectors = values.flip(0), vectors.flip(1)
    k = min(width, features.shape[1])
    out = torch.zeros(features.shape[1], width, dtype=torch.float64)
    if whiten:  # unit variance per axis; eigenvalues floored at `floor` x the largest so empty axes stay small
        scale = values[:k].clamp_min(floor * float(values[0])).rsqrt()
    else:
        scale = values[:k].clamp_min(0).mean().clamp_min(1e-12).rsqrt()
    out[:, :k] = vectors[:, :k] * scale
    return out.float()


class Mamba3DADNet(nn.Module):
    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        if cfg.projection not in PROJECTIONS:
            raise ValueError(f"projection must be one of {PROJECTIONS}, got {cfg.projection!r}")
        # Per-dimension standardisation with training-token statistics (FPFH dims differ in scale by 100x).
        self.register_buffer("feature_mean", torch.zeros(cfg.in_dim))
        self.register_buffer("feature_std", torch.ones(cfg.in_dim))
        # "whiten" / "pca": a frozen principal-axes map fitted on the training tokens (like the frozen backbone, it
        # cannot be trained into a collapse); "learned": a trainable LayerNorm + Linear.
        self.register_buffer("pca", torch.eye(cfg.in_dim, cfg.width))  # until set_feature_statistics
        self.project = (nn.Sequential(nn.LayerNorm(cfg.in_dim), nn.Linear(cfg.in_dim, cfg.width))
                        if cfg.projection == "learned" else None)
        self.sorter = (GeometricSemanticSorter(cfg.width, cfg.n_slots, cfg.descriptor_dim, cfg.k_patch,
                                               cfg.temperature, cfg.sinkhorn_iters) if cfg.use_sorter else None)
        self.adapter = (MambaAdapter(cfg.width, cfg.state_dim, selective=cfg.selective, chunk=cfg.scan_chunk)
                        if cfg.use_adapter else None)
        self.generator = AnomalousFeatureGenerator(cfg.width, cfg.corruption_p, cfg.noise_std, cfg.gamma_init,
                                                   cfg.learn_gamma, cfg.mask_unit, cfg.generator_norm)
        self.discriminator = CrossPatchDiscriminator(cfg.width, cfg.heads, cfg.dropout, cfg.norm_first)

    def set_feature_statistics(self, features: torch.Tensor) -> None:
        """Fix the input standardisation from ``(n, in_dim)`` training tokens."""
        self.feature_mean.copy_(features.mean(dim=0))
        self.feature_std.copy_(features.std(dim=0).clamp_min(1e-6))
        z = ((features - self.feature_mean) / self.feature_std).double()
        self.pca.copy_(principal_axes(z, self.cfg.width, whiten=self.cfg.projection == "whiten"))

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(..., in_dim)`` backbone tokens -> ``(..., width)`` model-width tokens."""
        z = (tokens - self.feature_mean) / self.feature_std
        return self.project(z) if self.project is not None else z @ self.pca

    def forward(self, tokens: torch.Tensor, centers: torch.Tensor, corrupt: bool = False,
                generator: torch.Generator | None = None) -> Output:
        """``tokens (B, L, M, in_dim)``, ``centers (B, M, 3)``; ``corrupt`` turns the anomaly generator on."""
        x = self.embed(tokens)
        ordered = self.sorter(x, centers) if self.sorter is not None else identity_order(x, centers)
        q = self.adapter(ordered.slots) if self.adapter is not None else ordered.slots
        mask = self.generator.slot_mask(ordered.assignment, centers.shape[1], generator) if corrupt else None
        q = self.generator(q, mask, generator)
        logits = self.discriminator(q, ordered.slot_centers)
        if self.sorter is not None:
            ent = entropy_penalty(ordered.assignment)
            loc = locality_penalty(ordered.assignment, ordered.token_centers, self.cfg.sigma_p)
        else:
            ent = loc = logits.new_zeros(())
        return Output(logits, ordered.assignment, mask, ent, loc)
