"""``hog``: a weight-free ``image-patches`` backbone, so Align3D-AD's pipeline runs (and is measured) where no
pretrained image encoder is available.

Per cell of ``cell`` x ``cell`` pixels of the image resized to ``image_size`` (bicubic): a histogram of unsigned
gradient orientations (``bins`` bins over 0-180 degrees, votes weighted by gradient magnitude, central differences)
L2-normalised per cell, as in Dalal and Triggs' HOG without block grouping, followed by the cell's mean and standard
deviation of intensity (renderings are shaded: their brightness carries surface orientation). Output (h, w, bins + 2)
float32 with h = w = image_size / cell.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from benchkit import Backbone


class HOGPatches(Backbone):
    def __init__(self, weights_path: Path | None = None, image_size: int = 224, cell: int = 16, bins: int = 9) -> None:
        if image_size % cell:
            raise ValueError(f"hog: image_size {image_size} must be a multiple of cell {cell}")
        self.image_size, self.cell, self.bins = image_size, cell, bins
        self.embed_dim = bins + 2

    def encode(self, rgb: np.ndarray) -> np.ndarray:
        from PIL import Image

        images = np.asarray(rgb)
        if images.ndim == 4:
            return np.stack([self.encode(im) for im in images])
        if images.ndim != 3 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"hog encodes H x W x 3 uint8 images, got {images.dtype} {images.shape}")
        grey = np.asarray(Image.fromarray(images).convert("L").resize((self.image_size,) * 2, Image.BICUBIC),
                          dtype=np.float32) / 255.0
        gy, gx = np.gradient(grey)
        magnitude = np.hypot(gx, gy)
        angle = np.mod(np.arctan2(gy, gx), np.pi)
        which = np.minimum((angle / np.pi * self.bins).astype(np.int64), self.bins - 1)
        n = self.image_size // self.cell
        cells = lambda a: a.reshape(n, self.cell, n, self.cell).transpose(0, 2, 1, 3).reshape(n, n, -1)  # noqa: E731
        votes = np.zeros((n, n, self.bins), np.float32)
        mag, idx = cells(magnitude), cells(which)
        for b in range(self.bins):
            votes[..., b] = (mag * (idx == b)).sum(axis=-1)
        votes /= np.sqrt((votes**2).sum(axis=-1, keepdims=True) + 1e-6)
        intensity = cells(grey)
        return np.concatenate([votes, intensity.mean(-1, keepdims=True), intensity.std(-1, keepdims=True)], axis=-1)

    def torch_modules(self) -> list[Any]:
        return []
