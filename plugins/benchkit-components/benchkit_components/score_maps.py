"""Patch scores to a pixel anomaly map: the PatchCore-style upsampling and blur that BTF and M3DM share.

BTF (3D-ADS) and M3DM (utils/utils.py ``KNNGaussianBlur(4)``) upsample the patch-score grid bilinearly to 224 x 224
and blur it with a Gaussian of radius/sigma 4, through PIL on a copy scaled by its maximum. Here the float map is
blurred with scipy (edges: nearest), so no resolution is lost to 8-bit quantization.
"""

from __future__ import annotations

import numpy as np


def upsample_and_blur(patch_scores: np.ndarray, size: int, sigma: float = 4.0) -> np.ndarray:
    """(h, w) patch scores -> (size, size) float32 map: bilinear (align_corners=False, torch's default), then a
    Gaussian blur with ``sigma`` pixels (0: none)."""
    import torch
    import torch.nn.functional as F
    from scipy.ndimage import gaussian_filter

    x = torch.from_numpy(np.ascontiguousarray(patch_scores, dtype=np.float32))[None, None]
    up = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)[0, 0].numpy()
    return (gaussian_filter(up, sigma=sigma, mode="nearest") if sigma > 0 else up).astype(np.float32)
