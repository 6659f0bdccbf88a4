"""Sparse anomalous feature generator (paper section 2.3): pseudo-anomalies made in feature space, training only.

Adapted slot features are layer-normalised, a sparse Bernoulli(p) mask picks slots, and the picked slots get
isotropic Gaussian noise rescaled by a learnable ``gamma >= 0`` (Eqs. 16-18): ``q~ = q + gamma * m * eps``. The
mask doubles as the discriminator's labels. ``mask_unit="patch"`` follows the paper's implementation notes: the
mask is drawn per patch centre and propagated to every token of that patch across layers; a slot is labelled (and
corrupted) when its dominant token belongs to a masked patch. ``mask_unit="slot"`` draws per slot (Eq. 16 as
written).

``normalize=False`` (the detector's default, a departure) skips the LayerNorm: it rescales every slot to the same
magnitude, which erases exactly what isotropic noise changes (a corrupted slot is longer) and what tells real
defects apart on whitened FPFH tokens (their Mahalanobis length); with it the loss stayed at chance on synthetic-pc.
"""

from __future__ import annotations

import torch
from torch import nn

MASK_UNITS = ("patch", "slot")


class AnomalousFeatureGenerator(nn.Module):
    def __init__(self, dim: int, p: float = 0.05, noise_std: float = 0.05, gamma_init: float = 0.05,
                 learn_gamma: bool = True, mask_unit: str = "patch", normalize: bool = True) -> None:
        super().__init__()
        if not 0 < p < 1:
            raise ValueError(f"corruption probability p must be in (0, 1), got {p}")
        if mask_unit not in MASK_UNITS:
            raise ValueError(f"mask_unit must be one of {MASK_UNITS}, got {mask_unit!r}")
        self.p, self.noise_std, self.mask_unit = p, noise_std, mask_unit
        self.norm = nn.LayerNorm(dim) if normalize else nn.Identity()
        self.gamma = nn.Parameter(torch.tensor(float(gamma_init)), requires_grad=learn_gamma)

    def slot_mask(self, assignment: torch.Tensor, n_patches: int, generator: torch.Generator | None) -> torch.Tensor:
        """``(B, S)`` 0/1 mask. ``assignment`` is the sorter's ``(B, T, S)`` P, tokens in set-major order."""
        b, t, s = assignment.shape
        if self.mask_unit == "slot":
            return (torch.rand(b, s, generator=generator) < self.p).to(assignment.dtype)
        patch_mask = (torch.rand(b, n_patches, generator=generator) < self.p).to(assignment.dtype)
        token_mask = patch_mask.repeat(1, t // n_patches)  # the same patch in every layer
        dominant = assignment.argmax(dim=1)  # (B, S): the token contributing most to each slot
        return token_mask.gather(1, dominant)

    def forward(self, q: torch.Tensor, mask: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Normalised slots; with a mask (training) the masked ones are corrupted."""
        q = self.norm(q)
        if mask is None:
            return q
        noise = torch.randn(q.shape, generator=generator, dtype=q.dtype) * self.noise_std
        return q + self.gamma.clamp_min(0) * mask.unsqueeze(-1) * noise
