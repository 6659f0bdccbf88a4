"""Synthetic anomalies on normal RGB + organized 3D scans, for the contrastive prompt variants of Table VI (CPE, APG).

The paper follows EasyNet, which pastes DRAEM-style anomalies: a smooth random (Perlin-like) region of the object
gets foreign texture in the image and displaced geometry in the cloud. Without DTD textures offline we paint the
region with smooth random colour noise, blended at a random opacity, and push its points along the viewing axis
(z) by a smooth bump of 2-8 % of the object's depth range, inwards or outwards. Deterministic for a seed and the
sample id (`benchkit.rng`).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from benchkit import Sample, rng


def _smooth_field(shape: tuple[int, int], scale: float, generator: np.random.Generator) -> np.ndarray:
    field = gaussian_filter(generator.standard_normal(shape), sigma=scale)
    return (field - field.mean()) / (field.std() + 1e-12)


def anomaly_mask(valid: np.ndarray, generator: np.random.Generator) -> np.ndarray:
    """A smooth random region covering about 2-10 % of the valid pixels (empty when the scan has none)."""
    if not valid.any():
        return np.zeros_like(valid)
    scale = generator.uniform(0.02, 0.06) * max(valid.shape)
    field = _smooth_field(valid.shape, scale, generator)
    share = generator.uniform(0.02, 0.10)
    threshold = np.quantile(field[valid], 1 - share)
    return (field >= threshold) & valid


def with_synthetic_anomaly(sample: Sample, seed: int) -> tuple[Sample, np.ndarray]:
    """A copy of a normal organized RGB + 3D sample with one synthetic anomaly, and its (H, W) bool mask."""
    g = rng(seed, "synthetic-anomaly", sample.id)
    valid = np.asarray(sample.valid, dtype=bool)
    mask = anomaly_mask(valid, g)
    rgb = sample.rgb.astype(np.float32)
    if rgb.shape[:2] == mask.shape:
        rgb_mask = mask
    else:  # RGB and xyz grids differ: resize the mask to the image (nearest)
        rows = (np.arange(rgb.shape[0]) * mask.shape[0] // rgb.shape[0])[:, None]
        cols = (np.arange(rgb.shape[1]) * mask.shape[1] // rgb.shape[1])[None, :]
        rgb_mask = mask[rows, cols]
    paint = np.stack([_smooth_field(rgb.shape[:2], 2.0, g) for _ in range(3)], axis=-1) * 40 + g.uniform(0, 255, 3)
    opacity = g.uniform(0.5, 1.0)
    rgb[rgb_mask] = (1 - opacity) * rgb[rgb_mask] + opacity * paint[rgb_mask]
    xyz = sample.xyz.astype(np.float32).copy()
    z = xyz[..., 2]
    depth_range = float(np.ptp(z[valid])) if valid.any() else 0.0
    bump = np.clip(_smooth_field(mask.shape, 3.0, g) * 0.5 + 1.0, 0.0, None)
    amplitude = g.uniform(0.02, 0.08) * depth_range * g.choice([-1.0, 1.0])
    z[mask] += (amplitude * bump[mask]).astype(np.float32)
    altered = Sample(id=f"{sample.id}+synthetic", category=sample.category, label=None, xyz=xyz, valid=valid,
                     rgb=np.clip(rgb, 0, 255).astype(np.uint8), meta=dict(sample.meta))
    return altered, mask
