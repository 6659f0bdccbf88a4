"""SeDiR's network: global tokenizer, category-conditioned contrastive heads and the geometry-guided decoder.

Shapes: B clouds, G point groups per cloud, D backbone feature size, d model width, h heads.
Each cloud arrives as a `CloudBatch`: standardised backbone tokens, normalised group centres, group normals and
curvatures, and for the coarse-to-fine tokenizer the pooling neighbourhoods of each coarser resolution.

Switches (the paper's ablations):
- ``global_token``: ``cfg`` (coarse-to-fine: a learned query attends to pooled tokens of increasingly fine
  resolutions, coarsest first), ``mean`` / ``max`` (pooled local tokens), ``act`` (a class token run through a
  self-attention layer with the local tokens, read out together with their max as ACT / Point-MAE classifiers do),
  ``none`` (no global token: the decoder gets no semantic prior).
- ``guidance``: how normals and curvature enter the decoder's attention: ``bias`` (a learned, per-head additive
  bias from normal agreement, curvature difference and distance), ``masking`` (attend only to the ``mask_topk``
  geometrically closest groups), ``gating`` (attention weights multiplied by a sigmoid of the same affinity, not
  renormalised, so geometry decides how much flows), ``none`` (plain attention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

GLOBAL_TOKENS = ("cfg", "mean", "max", "act", "none")
GUIDANCES = ("bias", "masking", "gating", "none")
_SOFTPLUS_ONE = math.log(math.e - 1.0)  # softplus of this is 1


@dataclass
class CloudBatch:
    features: torch.Tensor  # (B, G, D) standardised backbone tokens
    centers: torch.Tensor  # (B, G, 3) centred on the cloud's centroid, scaled into the unit ball
    normals: torch.Tensor  # (B, G, 3) unit, unoriented
    curvature: torch.Tensor  # (B, G) divided by the training set's curvature spread
    pools: list[torch.Tensor]  # per coarse level, (B, M, k) indices of the groups each coarse token pools

    def to(self, device: str) -> CloudBatch:
        return CloudBatch(self.features.to(device), self.centers.to(device), self.normals.to(device),
                          self.curvature.to(device), [p.to(device) for p in self.pools])


def _ffn(d: int) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(d), nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))


class CoarseToFineTokenizer(nn.Module):
    """A learned query refined by cross-attention over each resolution, coarsest first (CFG)."""

    def __init__(self, d: int, heads: int, levels: int) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.norms = nn.ModuleList([nn.LayerNorm(d) for _ in range(levels + 1)])
        self.attn = nn.ModuleList([nn.MultiheadAttention(d, heads, batch_first=True) for _ in range(levels + 1)])
        self.ffn = nn.ModuleList([_ffn(d) for _ in range(levels + 1)])
        self.out_norm = nn.LayerNorm(d)

    def forward(self, tokens: torch.Tensor, pools: list[torch.Tensor]) -> torch.Tensor:
        b, _, d = tokens.shape
        resolutions = [_pool(tokens, p) for p in pools] + [tokens]
        q = self.query.expand(b, -1, -1)
        for norm, attn, ffn, kv in zip(self.norms, self.attn, self.ffn, resolutions):
            kv = norm(kv)
            q = q + attn(q, kv, kv, need_weights=False)[0]
            q = q + ffn(q)
        return self.out_norm(q[:, 0])


def _pool(tokens: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
    """(B, G, d) tokens, (B, M, k) indices -> (B, M, d) means of each neighbourhood."""
    b, m, k = pool.shape
    picked = torch.gather(tokens, 1, pool.reshape(b, m * k, 1).expand(-1, -1, tokens.shape[-1]))
    return picked.reshape(b, m, k, -1).mean(dim=2)


class PooledTokenizer(nn.Module):
    def __init__(self, d: int, how: str) -> None:
        super().__init__()
        self.how = how
        self.out = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d), nn.LayerNorm(d))

    def forward(self, tokens: torch.Tensor, pools: list[torch.Tensor]) -> torch.Tensor:
        return self.out(tokens.mean(dim=1) if self.how == "mean" else tokens.max(dim=1).values)


class ClassTokenTokenizer(nn.Module):
    """ACT-style global feature: [class token output, max over local outputs] of a self-attention layer."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.cls = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.layer = nn.TransformerEncoderLayer(d, heads, 2 * d, dropout=0.0, batch_first=True, norm_first=True)
        self.out = nn.Sequential(nn.LayerNorm(2 * d), nn.Linear(2 * d, d), nn.LayerNorm(d))

    def forward(self, tokens: torch.Tensor, pools: list[torch.Tensor]) -> torch.Tensor:
        x = self.layer(torch.cat([self.cls.expand(len(tokens), -1, -1), tokens], dim=1))
        return self.out(torch.cat([x[:, 0], x[:, 1:].max(dim=1).values], dim=-1))


def make_tokenizer(kind: str, d: int, heads: int, levels: int) -> nn.Module | None:
    if kind == "cfg":
        return CoarseToFineTokenizer(d, heads, levels)
    if kind in ("mean", "max"):
        return PooledTokenizer(d, kind)
    if kind == "act":
        return ClassTokenTokenizer(d, heads)
    if kind == "none":
        return None
    raise ValueError(f"global_token must be one of {GLOBAL_TOKENS}, got {kind!r}")


def geometric_cues(batch: CloudBatch) -> torch.Tensor:
    """(B, 3, G, G) pairwise cues: normal agreement |n_i . n_j|, curvature difference, squared distance in units of
    the cloud's mean squared nearest-centre distance."""
    n = batch.normals
    agree = (n @ n.transpose(1, 2)).abs()
    curv = (batch.curvature[:, :, None] - batch.curvature[:, None, :]).abs()
    dist = torch.cdist(batch.centers, batch.centers).pow(2)
    eye = torch.eye(dist.shape[1], dtype=torch.bool, device=dist.device)
    nearest = dist.masked_fill(eye, float("inf")).min(dim=2).values.mean(dim=1).clamp_min(1e-12)
    return torch.stack([agree, curv, dist / nearest[:, None, None]], dim=1)


class GeometryGuidedAttention(nn.Module):
    """Group i's query attends to the global token and to the features of the OTHER groups (never its own, so it
    cannot copy them: it is reconstructed from context and the semantic prior), guided by geometry."""

    def __init__(self, d: int, heads: int, guidance: str, mask_topk: int) -> None:
        super().__init__()
        if guidance not in GUIDANCES:
            raise ValueError(f"guidance must be one of {GUIDANCES}, got {guidance!r}")
        self.heads, self.guidance, self.mask_topk = heads, guidance, mask_topk
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * d)
        self.proj = nn.Linear(d, d)
        if guidance in ("bias", "gating"):
            # per head: weights of normal agreement (+), curvature difference (-) and distance (-); gate offset
            self.geo_weight = nn.Parameter(torch.full((heads, 3), _SOFTPLUS_ONE))
            self.gate_offset = nn.Parameter(torch.zeros(heads)) if guidance == "gating" else None

    def affinity(self, cues: torch.Tensor) -> torch.Tensor:
        """(B, 3, G, G) cues -> (B, h, G, G) learned geometric affinity."""
        w = F.softplus(self.geo_weight)
        signed = torch.stack([w[:, 0], -w[:, 1], -w[:, 2]], dim=1)  # (h, 3)
        return torch.einsum("hc,bcij->bhij", signed, cues)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, g: torch.Tensor | None,
                cues: torch.Tensor) -> torch.Tensor:
        """x: (B, G, d) queries, one per group; memory: (B, G, d) the groups' embedded features."""
        b, n, d = x.shape
        dh = d // self.heads
        keys = memory if g is None else torch.cat([g[:, None], memory], dim=1)
        offset = keys.shape[1] - n  # 1 when the global token leads the keys
        q = self.q(x).reshape(b, n, self.heads, dh).transpose(1, 2)
        k, v = self.kv(keys).reshape(b, -1, 2, self.heads, dh).permute(2, 0, 3, 1, 4)
        logits = (q @ k.transpose(-2, -1)) / math.sqrt(dh)  # (B, h, G, offset + G)
        blocked = torch.eye(n, dtype=torch.bool, device=x.device).expand(b, 1, n, n)
        local = logits[..., offset:]
        if self.guidance == "bias":
            local = local + self.affinity(cues)
        elif self.guidance == "masking":
            fixed = cues[:, 0] - cues[:, 1] - cues[:, 2]
            fixed = fixed.masked_fill(blocked[:, 0], float("-inf"))
            top = fixed.topk(min(self.mask_topk, n - 1), dim=-1).indices
            keep = torch.zeros_like(fixed, dtype=torch.bool).scatter_(-1, top, True)
            blocked = blocked | ~keep[:, None]
        local = local.masked_fill(blocked, float("-inf"))
        attn = torch.cat([logits[..., :offset], local], dim=-1).softmax(dim=-1)
        if self.guidance == "gating":
            gate = torch.sigmoid(self.affinity(cues) + self.gate_offset[None, :, None, None])
            attn = torch.cat([attn[..., :offset], attn[..., offset:] * gate], dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(b, n, d)
        return self.proj(out)


class DecoderBlock(nn.Module):
    def __init__(self, d: int, heads: int, guidance: str, mask_topk: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.memory_norm = nn.LayerNorm(d)
        self.attn = GeometryGuidedAttention(d, heads, guidance, mask_topk)
        self.ffn = _ffn(d)

    def forward(self, x, memory, g, cues):
        x = x + self.attn(self.norm(x), self.memory_norm(memory), g, cues)
        return x + self.ffn(x)


class SeDiRNet(nn.Module):
    def __init__(self, in_dim: int, num_categories: int, d_model: int = 128, num_heads: int = 4,
                 decoder_depth: int = 2, global_token: str = "cfg", cfg_levels: int = 2, guidance: str = "bias",
                 mask_topk: int = 16) -> None:
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model {d_model} is not divisible by num_heads {num_heads}")
        self.embed = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, d_model))
        self.pos = nn.Sequential(nn.Linear(3, 64), nn.GELU(), nn.Linear(64, d_model))
        self.tokenizer = make_tokenizer(global_token, d_model, num_heads, cfg_levels)
        self.condition = nn.Linear(d_model, d_model)
        self.contrast_head = nn.Sequential(nn.Linear(d_model, d_model), nn.GELU(), nn.Linear(d_model, d_model))
        self.classifier = nn.Linear(d_model, num_categories)
        # running mean global token per category: the target of the cosine term (updated in training, no gradient)
        self.register_buffer("prototypes", torch.zeros(num_categories, d_model))
        self.register_buffer("prototype_seen", torch.zeros(num_categories, dtype=torch.bool))
        self.mask_token = nn.Parameter(torch.zeros(d_model))
        self.blocks = nn.ModuleList([DecoderBlock(d_model, num_heads, guidance, mask_topk)
                                     for _ in range(decoder_depth)])
        self.out = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, in_dim))

    def forward(self, batch: CloudBatch, features: torch.Tensor | None = None,
                masked: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Reconstructed (B, G, D) features and the (B, d) global token. ``features`` replaces the batch's (e.g.
        jittered copies in training); ``masked`` (B, G) marks groups whose features the decoder does not see.

        A group's query starts from its position and the global token only; the decoder's memory holds the
        groups' features, and a query never attends to its own group's (over any number of blocks)."""
        feats = batch.features if features is None else features
        pos = self.pos(batch.centers)
        memory = self.embed(feats) + pos
        g = None if self.tokenizer is None else self.tokenizer(memory, batch.pools)
        if masked is not None:
            memory = torch.where(masked[..., None], self.mask_token + pos, memory)
        x = pos if g is None else pos + self.condition(g)[:, None]
        cues = geometric_cues(batch)
        for block in self.blocks:
            x = block(x, memory, g, cues)
        return self.out(x), g


def reconstruction_error(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, G) per-token error: mean squared error plus cosine distance (scale and direction both count)."""
    return (recon - target).pow(2).mean(dim=-1) + 1 - F.cosine_similarity(recon, target, dim=-1)


def supervised_contrastive(z: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    """Khosla et al.'s SupCon loss on (B, d) embeddings; anchors without a same-category partner are left out."""
    z = F.normalize(z, dim=-1)
    sim = z @ z.T / temperature
    self_mask = torch.eye(len(z), dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(self_mask, float("-inf"))
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    positive = (labels[:, None] == labels[None, :]) & ~self_mask
    count = positive.sum(dim=1)
    has = count > 0
    if not has.any():
        return z.new_zeros(())
    per_anchor = -(log_prob.masked_fill(~positive, 0).sum(dim=1)[has] / count[has])
    return per_anchor.mean()


def cosine_to_prototypes(net: SeDiRNet, g: torch.Tensor, labels: torch.Tensor, momentum: float) -> torch.Tensor:
    """1 - cos(global token, its category's running-mean prototype); updates the prototypes (no gradient)."""
    with torch.no_grad():
        for c in labels.unique():
            mean = g[labels == c].mean(dim=0)
            if net.prototype_seen[c]:
                net.prototypes[c] = momentum * net.prototypes[c] + (1 - momentum) * mean
            else:
                net.prototypes[c] = mean
                net.prototype_seen[c] = True
    return (1 - F.cosine_similarity(g, net.prototypes[labels], dim=-1)).mean()
