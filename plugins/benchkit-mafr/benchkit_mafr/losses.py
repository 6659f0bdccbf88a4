"""MAFR's training losses (paper section III-B3, eq. 3-6), as the authors' code computes them (adabrh/MAFR
``models/loss.py``). Every function takes one image's features as rows, (H*W, D), plus the grid (H, W).

- `znssd` (L_sim, eq. 3): each pixel's feature vector is zero-normalised over its channels (std with eps 1e-8 under
  the square root), then the mean squared difference.
- `smoothness` (L_smooth, eq. 4): forward differences of the reconstruction error, weighted by exp(-|gradient|) of
  the channel-mean of the original features, both cropped to (H-1) x (W-1). The code treats the error as a 2-channel
  deformation field and uses its first two channels only (``channels="first-two"``, default); eq. 4 reads over all
  channels (``channels="all"``: every channel, each weighted by its own gradient, averaged over channels).
- `census` (L_census, eq. 5): L1 distance of 7 x 7 average-pooled maps (stride 1, padding 3, zeros counted).

The total (eq. 6) weighs them with lambda_1..3; the paper gives no values and the code adds the six terms
(three losses x two modalities) with weight 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SMOOTHNESS_CHANNELS = ("first-two", "all")


def _as_map(rows: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    h, w = grid
    return rows.T.reshape(1, -1, h, w)


def znssd(original: torch.Tensor, restored: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    def normalise(x):
        centred = x - x.mean(dim=1, keepdim=True)
        return centred / torch.sqrt(centred.pow(2).mean(dim=1, keepdim=True) + eps)

    return (normalise(original) - normalise(restored)).pow(2).mean()


def _grads(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """|forward differences| along x and y of (1, C, H, W), both cropped to (H-1, W-1)."""
    gx = (x[..., :, 1:] - x[..., :, :-1]).abs()[..., :-1, :]
    gy = (x[..., 1:, :] - x[..., :-1, :]).abs()[..., :, :-1]
    return gx, gy


def smoothness(original: torch.Tensor, restored: torch.Tensor, grid: tuple[int, int],
               channels: str = "first-two") -> torch.Tensor:
    error = _as_map(restored - original, grid)
    reference = _as_map(original, grid)
    if channels == "first-two":
        ex, ey = _grads(error[:, :2])
        rx, ry = _grads(reference.mean(dim=1, keepdim=True))
        return (ex * torch.exp(-rx) + ey * torch.exp(-ry)).sum(dim=1).mean()
    if channels == "all":
        ex, ey = _grads(error)
        rx, ry = _grads(reference)
        return (ex * torch.exp(-rx) + ey * torch.exp(-ry)).mean()
    raise ValueError(f"smoothness channels must be one of {SMOOTHNESS_CHANNELS}, got {channels!r}")


def census(original: torch.Tensor, restored: torch.Tensor, grid: tuple[int, int], patch: int = 7) -> torch.Tensor:
    """|pool(original) - pool(restored)|, computed as |pool(original - restored)| (pooling is linear: one pool
    instead of two, equal up to float rounding)."""
    pooled = F.avg_pool2d(_as_map(original - restored, grid), kernel_size=patch, stride=1, padding=patch // 2)
    return pooled.abs().mean()
