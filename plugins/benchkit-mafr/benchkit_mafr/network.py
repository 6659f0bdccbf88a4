"""MAFR's fusion-restoration network: a shared fusion encoder and two CBAM-refined decoders (paper section III-B).

Shapes and layer order follow the authors' code (adabrh/MAFR, ``models/fusion_restoration_net.py``, instantiated in
``mafr_training.py``), which differs from the paper's text in three places, all recorded here:

- Latent width: the code builds ``FusionEncoder(768, 1152, out_features=960)``; section IV-A says 968. Default 960.
- Layers: the encoder has three linear layers (1920 -> 960 -> 960 -> 960), each but the last followed by GELU,
  LayerNorm and dropout 0.1, one LayerNorm module shared by every layer. Each decoder has four linear layers
  (960 -> D -> D -> D, then D -> D after CBAM; hidden width D = the modality's width), each of the first three
  followed by LayerNorm, GELU and dropout (again one shared LayerNorm), plus a linear skip 960 -> D added to the
  output. Section IV-A says "three fully-connected layers" per component.
- CBAM: the code reshapes each pixel's hidden vector to a C x 1 x 1 map, so its channel attention gates each pixel
  by itself and the 7 x 7 spatial convolution only ever sees its centre tap (``cbam="per-pixel"``, default). The
  paper describes CBAM attending over the feature map; ``cbam="spatial"`` applies the same module to the whole
  image's C x H x W map instead. Both use the same parameters (reduction 16, kernel 7).
"""

from __future__ import annotations

import torch
from torch import nn

CBAM_MODES = ("per-pixel", "spatial")


class CBAM(nn.Module):
    """Convolutional block attention (Woo et al. 2018): channel attention, then spatial attention, on (B, C, H, W)."""

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.channel_mlp = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))
        self.spatial_conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.channel_mlp(x.mean(dim=(2, 3))) + self.channel_mlp(x.amax(dim=(2, 3)))
        x = x * torch.sigmoid(pooled)[:, :, None, None]
        stats = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial_conv(stats))

    def per_pixel(self, rows: torch.Tensor) -> torch.Tensor:
        """``forward`` of each row (N, C) as its own C x 1 x 1 map (the authors' use), without the maps: a pixel's
        mean and max pools are the pixel itself, and of the zero-padded 7 x 7 convolution only the centre tap meets
        it. Equal to ``forward(rows[:, :, None, None])[:, :, 0, 0]`` up to float rounding, several times faster."""
        gate = self.channel_mlp(rows)
        rows = rows * torch.sigmoid(gate + gate)
        stats = torch.stack([rows.mean(dim=1), rows.amax(dim=1)], dim=1)
        centre = self.spatial_conv.kernel_size[0] // 2, self.spatial_conv.kernel_size[1] // 2
        return rows * torch.sigmoid(stats @ self.spatial_conv.weight[0, :, centre[0], centre[1]])[:, None]


class FusionEncoder(nn.Module):
    """Concatenated RGB and point features -> the shared latent embedding (one row per pixel)."""

    def __init__(self, rgb_dim: int, point_dim: int, latent_dim: int, layers: int = 3, dropout: float = 0.1) -> None:
        super().__init__()
        widths = [rgb_dim + point_dim] + [latent_dim] * layers
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.norm = nn.LayerNorm(latent_dim)  # shared by every layer, as in the authors' code
        self.act = nn.GELU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, rgb: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        x = torch.cat([rgb, points], dim=-1)
        for linear in self.linears[:-1]:
            x = self.dropout(self.norm(self.act(linear(x))))
        return self.linears[-1](x)


class RestorationDecoder(nn.Module):
    """The latent embedding -> one modality's features, refined by CBAM, with a linear skip from the latent."""

    def __init__(self, latent_dim: int, out_dim: int, layers: int = 4, dropout: float = 0.1,
                 cbam: str = "per-pixel") -> None:
        super().__init__()
        if cbam not in CBAM_MODES:
            raise ValueError(f"cbam must be one of {CBAM_MODES}, got {cbam!r}")
        widths = [latent_dim] + [out_dim] * layers
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.norm = nn.LayerNorm(out_dim)  # shared, as in the authors' code
        self.act = nn.GELU()
        self.dropout = nn.Dropout(dropout)
        self.cbam = CBAM(out_dim)
        self.cbam_mode = cbam
        self.skip = nn.Linear(latent_dim, out_dim) if latent_dim != out_dim else nn.Identity()

    def forward(self, latent: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        x = latent
        for linear in self.linears[:-1]:
            x = self.dropout(self.act(self.norm(linear(x))))
        if self.cbam_mode == "per-pixel":
            x = self.cbam.per_pixel(x)
        else:  # the image's rows as one C x H x W map
            h, w = grid
            x = self.cbam(x.T.reshape(1, -1, h, w)).reshape(x.shape[1], -1).T
        return self.linears[-1](x) + self.skip(latent)


class MAFRNet(nn.Module):
    """Encoder + the 2D and 3D decoders. ``forward`` takes one image's rows (H*W, D) and returns both restorations."""

    def __init__(self, rgb_dim: int, point_dim: int, latent_dim: int = 960, encoder_layers: int = 3,
                 decoder_layers: int = 4, dropout: float = 0.1, cbam: str = "per-pixel") -> None:
        super().__init__()
        self.encoder = FusionEncoder(rgb_dim, point_dim, latent_dim, encoder_layers, dropout)
        self.decoder_2d = RestorationDecoder(latent_dim, rgb_dim, decoder_layers, dropout, cbam)
        self.decoder_3d = RestorationDecoder(latent_dim, point_dim, decoder_layers, dropout, cbam)

    def forward(self, rgb: torch.Tensor, points: torch.Tensor, grid: tuple[int, int]):
        latent = self.encoder(rgb, points)
        return self.decoder_2d(latent, grid), self.decoder_3d(latent, grid)
