"""The Point-MAE encoder (Pang et al., ECCV 2022) as a frozen feature backbone, loading the official checkpoint.

Architecture (from the paper and the public code, rewritten here): a cloud is split into G groups of K points
(FPS + kNN), each group expressed relative to its centre; a mini-PointNet embeds each group (conv1d 3->128->256,
max-pool, concatenate the pooled vector to every point, conv1d 512->512->C, max-pool); an MLP embeds the centre
positions; 12 pre-norm transformer blocks (dim 384, 6 heads, MLP ratio 4, no qkv bias) add the positional embedding
before every block. Tokens are read M3DM-style: the outputs of blocks 3, 7 and 11, each passed through the final
LayerNorm, concatenated to 3 x 384 = 1152 features per group.

Weights: the official pre-trained file (Point-MAE's ``pretrain.pth``; M3DM ships the same file as
``pointmae_pretrain.pth``) saved as ``$BENCHKIT_WEIGHTS/pointmae_pretrain.pth``; the harness finds it (or decides on a
random initialization) and passes its path to the factory. It is a dict whose ``base_model``
entry is the state dict of the whole pre-training model; only the ``MAE_encoder.*`` entries are used (keys may carry
a ``module.`` prefix from DataParallel). The decoder entries (``MAE_decoder.*``, ``decoder_pos_embed.*``,
``mask_token``, ``increase_dim.*``) are ignored; any other unknown key, a missing encoder key or a shape mismatch is
an error naming the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from benchkit import Backbone, DataError, Tokens
from benchkit_components.groups import make_groups, normalize_to_unit_sphere
from torch import nn

WEIGHTS_FILE = "pointmae_pretrain.pth"
#: Keys of the pre-training model that belong to its decoder: present in the official file, unused by the encoder.
DECODER_PREFIXES = ("MAE_decoder.", "decoder_pos_embed.", "mask_token", "increase_dim.")
ENCODER_PREFIX = "MAE_encoder."


class PatchEmbedding(nn.Module):
    """Mini-PointNet over each group (Point-BERT / Point-MAE ``Encoder``; the attribute names match the checkpoint)."""

    def __init__(self, out_dim: int = 384) -> None:
        super().__init__()
        self.first_conv = nn.Sequential(nn.Conv1d(3, 128, 1), nn.BatchNorm1d(128), nn.ReLU(inplace=True),
                                        nn.Conv1d(128, 256, 1))
        self.second_conv = nn.Sequential(nn.Conv1d(512, 512, 1), nn.BatchNorm1d(512), nn.ReLU(inplace=True),
                                         nn.Conv1d(512, out_dim, 1))

    def forward(self, neighbourhoods: torch.Tensor) -> torch.Tensor:
        """(B, G, K, 3) -> (B, G, C)."""
        b, g, k, _ = neighbourhoods.shape
        x = self.first_conv(neighbourhoods.reshape(b * g, k, 3).transpose(1, 2))  # (BG, 256, K)
        pooled = x.max(dim=2, keepdim=True).values
        x = self.second_conv(torch.cat([pooled.expand(-1, -1, k), x], dim=1))
        return x.max(dim=2).values.reshape(b, g, -1)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        out = nn.functional.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class BlockStack(nn.Module):
    """Holds the blocks under ``.blocks`` so that parameter names read ``blocks.blocks.<i>...`` as in the checkpoint."""

    def __init__(self, dim: int, depth: int, num_heads: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([Block(dim, num_heads) for _ in range(depth)])


class PointMAEEncoder(nn.Module):
    """Point-MAE's ``MAE_encoder`` without masking: (B, G, K, 3) neighbourhoods + (B, G, 3) centres -> tokens."""

    def __init__(self, trans_dim: int = 384, depth: int = 12, num_heads: int = 6,
                 out_layers: Sequence[int] = (3, 7, 11)) -> None:
        super().__init__()
        if any(not 0 <= i < depth for i in out_layers):
            raise ValueError(f"out_layers {tuple(out_layers)} outside 0..{depth - 1}")
        self.out_layers = tuple(out_layers)
        self.encoder = PatchEmbedding(trans_dim)
        self.pos_embed = nn.Sequential(nn.Linear(3, 128), nn.GELU(), nn.Linear(128, trans_dim))
        self.blocks = BlockStack(trans_dim, depth, num_heads)
        self.norm = nn.LayerNorm(trans_dim)
        self.output_dim = trans_dim * len(self.out_layers)
        self.apply(_init_like_point_mae)

    def forward(self, neighbourhoods: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
        x = self.encoder(neighbourhoods)
        pos = self.pos_embed(centers)
        outputs = []
        for i, block in enumerate(self.blocks.blocks):
            x = block(x + pos)
            if i in self.out_layers:
                outputs.append(self.norm(x))
        return torch.cat(outputs, dim=-1)


def _init_like_point_mae(m: nn.Module) -> None:
    """Point-MAE's initialisation: what 'random-init' means for this backbone. Point-MAE calls timm's
    ``trunc_normal_(std=0.02)``, whose cut-offs are at +-2 in absolute value (100 std): a plain normal, which is
    drawn much faster."""
    if isinstance(m, (nn.Linear, nn.Conv1d)):
        nn.init.normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def official_state_dict(encoder: PointMAEEncoder) -> dict[str, torch.Tensor]:
    """The encoder's weights under the official checkpoint's names (``MAE_encoder.<name>``), e.g. to write test files."""
    return {ENCODER_PREFIX + k: v for k, v in encoder.state_dict().items()}


def encoder_state_from_checkpoint(checkpoint: dict, path: Path | str = "<checkpoint>") -> dict[str, torch.Tensor]:
    """Map an official Point-MAE checkpoint (``{'base_model': state_dict, ...}``) to `PointMAEEncoder` names."""
    if not isinstance(checkpoint, dict) or "base_model" not in checkpoint:
        keys = list(checkpoint)[:5] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise DataError(path, f"not a Point-MAE checkpoint: no 'base_model' entry (found {keys})",
                        "use the official Point-MAE pre-training file pretrain.pth")
    state = {}
    unknown = []
    for key, value in checkpoint["base_model"].items():
        name = key[len("module."):] if key.startswith("module.") else key
        if name.startswith(ENCODER_PREFIX):
            state[name[len(ENCODER_PREFIX):]] = value
        elif not name.startswith(DECODER_PREFIXES):
            unknown.append(key)
    if unknown:
        raise DataError(path, f"unexpected keys in the Point-MAE checkpoint: {unknown[:8]}",
                        "use the official Point-MAE pre-training file pretrain.pth")
    return state


def load_encoder_weights(encoder: PointMAEEncoder, path: Path | str) -> None:
    """Load an official checkpoint strictly: every encoder parameter and buffer must be present with its shape."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    state = encoder_state_from_checkpoint(checkpoint, path)
    own = encoder.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise DataError(path, f"Point-MAE checkpoint does not match the encoder (depth {len(encoder.blocks.blocks)}): "
                              f"missing {missing[:8]}, unexpected {unexpected[:8]}",
                        "use the official Point-MAE pre-training file pretrain.pth (12 blocks, dim 384)")
    wrong = [f"{k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own if state[k].shape != own[k].shape]
    if wrong:
        raise DataError(path, f"Point-MAE checkpoint shapes differ from the encoder: {wrong[:5]}",
                        "use the official Point-MAE pre-training file pretrain.pth")
    encoder.load_state_dict(state, strict=True)


class PointMAEBackbone(Backbone):
    """Frozen Point-MAE tokens for one cloud: (G, 1152) features, (G, 3) centres, (G, K) group indices.

    ``normalize``: scale the cloud into the unit ball before encoding (Point-MAE was pre-trained on unit-ball
    ShapeNet clouds); centres are returned in the input's coordinates. ``weights_path``: the checkpoint to load, as
    the harness resolved it (`benchkit.build_backbone`); None is a random initialization (Point-MAE's scheme, drawn
    from ``seed``), which the harness allows and records only when asked to.
    """

    def __init__(self, weights_path: str | Path | None = None, num_group: int = 1024, group_size: int = 128,
                 out_layers: Sequence[int] = (3, 7, 11), depth: int = 12, normalize: bool = True, seed: int = 0,
                 device: str = "cpu") -> None:
        self.num_group = num_group
        self.group_size = group_size
        self.normalize = normalize
        self.device = device
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.encoder = PointMAEEncoder(depth=depth, out_layers=out_layers)
        if weights_path is not None:
            load_encoder_weights(self.encoder, weights_path)
        self.encoder.eval().requires_grad_(False).to(device)
        self.output_dim = self.encoder.output_dim

    def torch_modules(self) -> list[nn.Module]:
        return [self.encoder]

    def encode(self, points: np.ndarray) -> Tokens:
        points = np.asarray(points, dtype=np.float32)
        groups = make_groups(points, self.num_group, self.group_size, device=self.device)
        if self.normalize:
            _, centroid, scale = normalize_to_unit_sphere(points)
        else:
            centroid, scale = np.zeros(3, np.float32), 1.0
        hoods = torch.as_tensor(groups.neighbourhoods(points) / scale, device=self.device)[None]
        centers = torch.as_tensor((groups.centers - centroid) / scale, device=self.device)[None]
        with torch.no_grad():
            features = self.encoder(hoods.float(), centers.float())[0].cpu().numpy()
        return Tokens(features=features, centers=groups.centers, groups=groups.index)
