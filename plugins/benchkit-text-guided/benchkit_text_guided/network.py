"""The text-guided unified method's networks (paper section III-A and III-B): GACM, the crossmodal MLPs and OCTA.

Where the paper leaves a choice open we say what we chose; every choice is a constructor parameter of the detector.

- `GACM` (eq. 1-4): two linear embeddings of the RGB feature (semantic phi_s, geometric phi_g, both to the point
  width), a gate sigma(W_g F_geo), their gated mix, and ``R(F_rgb) + GELU(LN(F_fused))`` with R a linear projection
  (the widths differ, 768 vs 1152, so the residual needs one).
- `mapping_mlp`: the crossmodal MLPs. CFM's (the method's baseline, Table V row 1) have three linear layers with
  GELU and hidden width (in + out) // 2; the paper calls its own "dual-layer MLPs" (section III-A). The paper never
  defines "layer pruning" (Table V); we read it as exactly that difference: with ``pruned=True`` the 3D -> RGB map
  (and the RGB -> 3D map when GACM is off) drops CFM's middle layer. The RGB/3D -> text maps are always dual-layer.
- `OCTA` (eq. 5-8): a top-K mixture of experts over the class's prompt embeddings (the number of experts and K are
  not given: 4 experts, top 2; each expert a two-layer GELU MLP; softmax over the K selected gate logits), one
  learnable prototype (1 x D) querying the enhanced text by single-head cross-attention with D x D projections,
  ``MLP(P + F_p)`` and a transformer-style ``LN(x + Dropout(FFN(x)))`` (FFN width 4D, dropout 0.1). Its output is
  the class's textual anchor, used for both F_text->rgb and F_text->3d (eq. 8 sets them equal).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def mapping_mlp(in_dim: int, out_dim: int, layers: int, hidden: int | None = None) -> nn.Sequential:
    """CFM-style MLP: ``layers`` linear layers with GELU between, hidden width ``hidden`` (CFM's: (in + out) // 2)."""
    if layers < 1:
        raise ValueError(f"an MLP needs at least one layer, got {layers}")
    hidden = hidden or (in_dim + out_dim) // 2
    widths = [in_dim] + [hidden] * (layers - 1) + [out_dim]
    modules: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        modules.append(nn.Linear(a, b))
        if i < layers - 1:
            modules.append(nn.GELU())
    return nn.Sequential(*modules)


class GACM(nn.Module):
    """Geometry-Aware Cross-Modal Mapper: RGB features (N, D_rgb) -> predicted point features (N, D_3d)."""

    def __init__(self, rgb_dim: int, point_dim: int) -> None:
        super().__init__()
        self.semantic = nn.Linear(rgb_dim, point_dim)  # phi_s
        self.geometric = nn.Linear(rgb_dim, point_dim)  # phi_g
        self.gate = nn.Linear(point_dim, point_dim)  # W_g
        self.norm = nn.LayerNorm(point_dim)
        self.residual = nn.Linear(rgb_dim, point_dim)  # R

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        semantic, geometric = self.semantic(rgb), self.geometric(rgb)
        gate = torch.sigmoid(self.gate(geometric))
        fused = geometric * gate + semantic * (1 - gate)
        return self.residual(rgb) + F.gelu(self.norm(fused))


class TopKMixture(nn.Module):
    """Top-K mixture of experts applied to each row: sum over the K best experts of softmax(gate logits) x expert."""

    def __init__(self, dim: int, experts: int = 4, top_k: int = 2) -> None:
        super().__init__()
        if not 1 <= top_k <= experts:
            raise ValueError(f"top_k must be between 1 and the number of experts ({experts}), got {top_k}")
        self.experts = nn.ModuleList(mapping_mlp(dim, dim, 2) for _ in range(experts))
        self.gate = nn.Linear(dim, experts)
        self.top_k = top_k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.gate(x)
        best, chosen = logits.topk(self.top_k, dim=-1)
        # the K softmax weights laid into a dense (n, E) matrix, zero for the other experts (a dense sum keeps the
        # backward pass free of scatter-adds, whose summation order is not deterministic on multi-threaded CPUs)
        weights = torch.zeros_like(logits).scatter(-1, chosen, torch.softmax(best, dim=-1))
        outputs = torch.stack([expert(x) for expert in self.experts], dim=-2)  # (n, E, D)
        return (weights[..., None] * outputs).sum(dim=-2)


class OCTA(nn.Module):
    """Object-Conditioned Textual Feature Adaptor: one class's prompt embeddings (n, D) -> its anchor (D,)."""

    def __init__(self, dim: int, experts: int = 4, top_k: int = 2, dropout: float = 0.1) -> None:
        super().__init__()
        self.mixture = TopKMixture(dim, experts, top_k)
        self.prototype = nn.Parameter(torch.randn(1, dim) * 0.02)
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.mlp = mapping_mlp(dim, dim, 2)
        self.ffn = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        """(n, D) -> (D,), or a batch of classes with as many prompts each, (C, n, D) -> (C, D)."""
        enhanced = self.mixture(text)
        scores = self.q(self.prototype) @ self.k(enhanced).transpose(-1, -2) / math.sqrt(text.shape[-1])
        adapted = self.mlp(self.prototype + torch.softmax(scores, dim=-1) @ self.v(enhanced))
        return self.norm(adapted + self.dropout(self.ffn(adapted)))[..., 0, :]


class TextGuidedNet(nn.Module):
    """All trainable parts. ``gacm``/``octa`` off give CFM's MLP and the plain mean prompt embedding instead."""

    def __init__(self, rgb_dim: int, point_dim: int, text_dim: int, *, gacm: bool = True, octa: bool = True,
                 pruned: bool = True, text: bool = True, experts: int = 4, top_k: int = 2,
                 hidden: int | None = None) -> None:
        super().__init__()
        layers = 2 if pruned else 3
        self.rgb_to_3d = GACM(rgb_dim, point_dim) if gacm else mapping_mlp(rgb_dim, point_dim, layers, hidden)
        self.points_to_rgb = mapping_mlp(point_dim, rgb_dim, layers, hidden)
        self.text = text
        self.octa = OCTA(text_dim, experts, top_k) if (text and octa) else None
        if text:
            self.rgb_to_text = mapping_mlp(rgb_dim, text_dim, 2, hidden)
            self.points_to_text = mapping_mlp(point_dim, text_dim, 2, hidden)

    def anchors(self, prompts: list[torch.Tensor]) -> torch.Tensor:
        """(C, D) textual anchors, one per class, from each class's (n_c, D) prompt embeddings."""
        if self.octa is None:
            return torch.stack([F.normalize(p.mean(dim=0), dim=-1) for p in prompts])
        if len({len(p) for p in prompts}) == 1:  # one batched pass (a prompt set gives every class as many)
            return self.octa(torch.stack(prompts))
        return torch.stack([self.octa(p) for p in prompts])

    def forward(self, rgb: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {"rgb_to_3d": self.rgb_to_3d(rgb), "points_to_rgb": self.points_to_rgb(points)}
        if self.text:
            out["rgb_to_text"] = self.rgb_to_text(rgb)
            out["points_to_text"] = self.points_to_text(points)
        return out
