"""Geometric semantic-aware sorter (GSAS, paper section 2.2): a differentiable soft ordering of tokens into slots.

Tokens come as ``(B, L, M, D)``: L token sets (backbone layers / scales) over the same M patches. For each token the
sorter builds a local descriptor by max-pooling projected same-layer features of the patch's k nearest patches
(Eq. 2), scores it against learned slot queries (the paper's factorized form of Eq. 3: ``E @ Q^T`` plus a per-slot
bias), and turns the affinities into a soft permutation with log-domain Sinkhorn iterations (Eqs. 4-5). Slots are
the P-weighted means of the tokens (Eqs. 6-7) and carry the P-weighted mean of their patch centres as coordinates.

Sinkhorn is hand-written because it is a few lines of ``logsumexp`` that must stay differentiable inside the model;
no library in the environment offers a differentiable batched version.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


def log_sinkhorn(logits: torch.Tensor, iterations: int, col_mass: float | None = None) -> torch.Tensor:
    """Log-domain Sinkhorn normalisation of ``(B, T, S)`` logits into a soft assignment.

    Rows are normalised to sum to 1 (each token is fully distributed over slots) and columns to ``col_mass``
    (default ``T / S``: every slot receives the same mass; with ``T == S`` the result is doubly stochastic).
    Iterating in log space avoids the under/overflow of ``exp`` at low temperature (paper: "executed Sinkhorn
    iterations in log-space"). The last step normalises rows, so rows are exact and columns approximate.
    """
    t, s = logits.shape[-2:]
    log_col = torch.log(torch.tensor(col_mass if col_mass is not None else t / s, dtype=logits.dtype))
    log_p = logits
    for _ in range(iterations):
        log_p = log_p - torch.logsumexp(log_p, dim=-2, keepdim=True) + log_col
        log_p = log_p - torch.logsumexp(log_p, dim=-1, keepdim=True)
    return log_p.exp()


@dataclass
class Sorted:
    """What the sorter hands on: ordered slot features, their coordinates, and the assignment used to get there."""

    slots: torch.Tensor  # (B, S, D) ordered slot features
    slot_centers: torch.Tensor  # (B, S, 3) P-weighted mean of the contributing patch centres
    assignment: torch.Tensor  # (B, T, S) soft permutation P (rows sum to 1)
    token_centers: torch.Tensor  # (B, T, 3) patch centre of every token


def token_centers(centers: torch.Tensor, n_sets: int) -> torch.Tensor:
    """``(B, M, 3)`` patch centres -> ``(B, L*M, 3)``: token ``(i, j)`` (set-major order) sits at centre ``j``."""
    return centers.repeat(1, n_sets, 1)


class GeometricSemanticSorter(nn.Module):
    """GSAS with the paper's defaults: ``d_a=128``, ``tau=0.2``, ``K_sink=8`` (slot count is a constructor choice)."""

    def __init__(self, dim: int, n_slots: int, descriptor_dim: int = 128, k_patch: int = 8,
                 temperature: float = 0.2, sinkhorn_iters: int = 8) -> None:
        super().__init__()
        self.n_slots, self.k_patch = n_slots, k_patch
        self.temperature, self.sinkhorn_iters = temperature, sinkhorn_iters
        self.down = nn.Linear(dim, descriptor_dim)  # W_down, b_down of Eq. 2
        self.slot_queries = nn.Parameter(torch.randn(n_slots, descriptor_dim) / descriptor_dim ** 0.5)
        self.slot_bias = nn.Parameter(torch.zeros(n_slots))  # b_up of Eq. 3

    def descriptors(self, tokens: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
        """Eq. 2: ``(B, L, M, D)`` tokens -> ``(B, L*M, d_a)`` max-pooled same-layer kNN descriptors."""
        b, n_sets, m, _ = tokens.shape
        k = min(self.k_patch, m)
        neighbours = torch.cdist(centers, centers).topk(k, dim=-1, largest=False).indices  # (B, M, k), self first
        projected = self.down(tokens)  # (B, L, M, d_a)
        index = neighbours.reshape(b, 1, m * k, 1).expand(b, n_sets, m * k, projected.shape[-1])
        gathered = projected.gather(2, index).reshape(b, n_sets, m, k, -1)
        return gathered.amax(dim=3).reshape(b, n_sets * m, -1)

    def forward(self, tokens: torch.Tensor, centers: torch.Tensor) -> Sorted:
        b, n_sets, m, d = tokens.shape
        flat = tokens.reshape(b, n_sets * m, d)
        affinity = self.descriptors(tokens, centers) @ self.slot_queries.T + self.slot_bias  # (B, T, S)
        affinity = (affinity - affinity.amax(dim=-2, keepdim=True)) / self.temperature  # Eq. 4
        assignment = log_sinkhorn(affinity, self.sinkhorn_iters)  # Eq. 5
        weights = assignment / assignment.sum(dim=-2, keepdim=True).clamp_min(1e-12)  # columns -> weighted means
        centres = token_centers(centers, n_sets)
        return Sorted(weights.transpose(1, 2) @ flat, weights.transpose(1, 2) @ centres, assignment, centres)


def identity_order(tokens: torch.Tensor, centers: torch.Tensor) -> Sorted:
    """The "sorter off" ablation: slots are the tokens themselves in backbone order (set-major, then patch order)."""
    b, n_sets, m, d = tokens.shape
    t = n_sets * m
    eye = torch.eye(t, dtype=tokens.dtype, device=tokens.device).expand(b, t, t)
    centres = token_centers(centers, n_sets)
    return Sorted(tokens.reshape(b, t, d), centres, eye, centres)


def entropy_penalty(assignment: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Eq. 8: mean column entropy of P (columns renormalised to distributions), low when slots are concentrated."""
    cols = assignment / assignment.sum(dim=-2, keepdim=True).clamp_min(1e-12)
    return -(cols * torch.log(cols + eps)).sum(dim=-2).mean()


def locality_penalty(assignment: torch.Tensor, centres: torch.Tensor, sigma: float = 0.05,
                     eps: float = 1e-6) -> torch.Tensor:
    """Eqs. 9-11: geometrically close tokens should have close expected slot positions.

    Departure: the paper sums over tokens; we average, so the weight ``alpha_loc`` does not scale with T.
    """
    s = assignment.shape[-1]
    positions = torch.arange(s, dtype=assignment.dtype, device=assignment.device) / max(1, s - 1)
    mu = assignment @ positions  # (B, T), in [0, 1] because rows sum to 1
    w = torch.exp(-torch.cdist(centres, centres).pow(2) / sigma ** 2)  # (B, T, T)
    spread = (mu.unsqueeze(-1) - mu.unsqueeze(-2)).pow(2)
    return ((w * spread).sum(-1) / (w.sum(-1) + eps)).mean()
