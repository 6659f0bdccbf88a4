"""Cross-patch attention discriminator (paper section 2.4): per-slot anomaly logits from contextualised slots.

Input ``q^_t = q_t + PE-MLP(p_t)`` (Eqs. 19-20), one multi-head self-attention layer with residual, LayerNorm and
dropout (Eq. 21), then a shared two-layer GELU MLP head with hidden size D/2 giving one logit per slot (Eq. 22).
The paper does not say where the LayerNorm sits; ``norm_first=True`` (default) normalises the attention input and
keeps the residual stream un-normalised, so the head still sees each slot's magnitude (post-norm erases it).
"""

from __future__ import annotations

import torch
from torch import nn


class PositionalMLP(nn.Module):
    """Two-layer coordinate MLP: slot centre (3,) -> embedding (dim,)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, dim), nn.GELU(), nn.Linear(dim, dim))

    def forward(self, xyz: torch.Tensor) -> torch.Tensor:
        return self.net(xyz)


class CrossPatchDiscriminator(nn.Module):
    def __init__(self, dim: int, heads: int = 8, dropout: float = 0.1, norm_first: bool = True) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"model width {dim} is not divisible by {heads} attention heads")
        self.norm_first = norm_first
        self.position = PositionalMLP(dim)
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Sequential(nn.Linear(dim, dim // 2), nn.GELU(), nn.Linear(dim // 2, 1))

    def forward(self, q: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
        """``(B, S, dim)`` slots and ``(B, S, 3)`` slot centres -> ``(B, S)`` logits."""
        x = q + self.position(centers)
        if self.norm_first:  # pre-norm: the residual stream keeps each slot's magnitude
            h = self.norm(x)
            attended, _ = self.attention(h, h, h, need_weights=False)
            z = x + self.dropout(attended)
        else:  # post-norm
            attended, _ = self.attention(x, x, x, need_weights=False)
            z = self.norm(x + self.dropout(attended))
        return self.head(z).squeeze(-1)
