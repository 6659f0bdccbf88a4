"""Organized (H x W) grids: the pixel layout of MVTec 3D-AD style scans."""

from __future__ import annotations

import numpy as np


def resize_nearest(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize the first two axes of an H x W (x C) array with nearest-neighbour sampling (``size``: side or
    (height, width)).

    Source index floor(i * in / out), the rule of torch's ``F.interpolate(mode="nearest")`` that BTF and M3DM use for
    organized clouds (checked equal to torch for every input size up to 1,700 and outputs 28-512); numpy, so callers
    need no torch.
    """
    out_h, out_w = (size, size) if isinstance(size, int) else size
    in_h, in_w = image.shape[:2]
    rows = np.minimum((np.arange(out_h) * in_h) // out_h, in_h - 1)
    cols = np.minimum((np.arange(out_w) * in_w) // out_w, in_w - 1)
    return np.ascontiguousarray(image[rows][:, cols])
