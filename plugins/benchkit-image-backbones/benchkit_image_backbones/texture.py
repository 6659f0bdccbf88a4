"""``rgb-texture``: weight-free colour and texture descriptors on DINO's patch grid (kind ``image-patches``).

For machines without the DINO file: the image is resized to 224 x 224 (bicubic, as for DINO) and cut into the same
28 x 28 grid of 8 x 8-pixel cells. A cell's descriptor is

    [mean (3) and std (3) of its ImageNet-normalised RGB,
     histogram of gradient orientations (8 bins over 0..pi, weighted by gradient magnitude, per pixel),
     mean gradient magnitude (1)]                                              -> 15 values,

followed by the same 15 values averaged over the cell's 3 x 3 neighbourhood of cells (context, edges replicated):
30 features per patch. Gradients are central differences of the grey image. Colour shifts move the first block,
scratches and print defects the orientation histogram, so the descriptor carries the signal RGB defects leave.
"""

from __future__ import annotations

import numpy as np

from benchkit import Backbone

from .dino import IMAGE_SIZE, to_network_input

CELL = 8
ORIENTATION_BINS = 8
CELL_DIM = 6 + ORIENTATION_BINS + 1
TEXTURE_DIM = 2 * CELL_DIM


def _cells(values: np.ndarray, cell: int) -> np.ndarray:
    """(H, W, C) -> (H/cell, W/cell, cell*cell, C): the pixels of each cell."""
    h, w, c = values.shape
    return values.reshape(h // cell, cell, w // cell, cell, c).transpose(0, 2, 1, 3, 4).reshape(h // cell, w // cell,
                                                                                                 cell * cell, c)


def _neighbourhood_mean(grid: np.ndarray) -> np.ndarray:
    padded = np.pad(grid, ((1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = grid.shape[:2]
    return sum(padded[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)) / 9.0


class RGBTexture(Backbone):
    """``encode(rgb)`` -> (28, 28, 30) float32 descriptors; deterministic, no weights."""

    weights = "none"
    output_dim = TEXTURE_DIM

    def __init__(self, device: str = "cpu") -> None:
        self.device = device  # numpy only; accepted so that detectors can pass their device uniformly

    def encode(self, rgb: np.ndarray) -> np.ndarray:
        x = to_network_input(rgb, IMAGE_SIZE).transpose(1, 2, 0)  # (224, 224, 3), normalised
        grey = x.mean(axis=2)
        gy, gx = np.gradient(grey)
        magnitude = np.hypot(gx, gy)
        orientation = np.mod(np.arctan2(gy, gx), np.pi)
        bins = np.minimum((orientation / np.pi * ORIENTATION_BINS).astype(np.int64), ORIENTATION_BINS - 1)
        votes = np.zeros(grey.shape + (ORIENTATION_BINS,), np.float32)
        np.put_along_axis(votes, bins[..., None], magnitude[..., None].astype(np.float32), axis=2)
        colour = _cells(x, CELL)
        cell = np.concatenate([colour.mean(axis=2), colour.std(axis=2), _cells(votes, CELL).mean(axis=2),
                               _cells(magnitude[..., None], CELL).mean(axis=2)], axis=2)
        return np.concatenate([cell, _neighbourhood_mean(cell)], axis=2).astype(np.float32)
