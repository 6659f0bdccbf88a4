"""Depth relief of renderings: the geometry channels of Align3D-AD's weight-free variant (``align3d-ad:hog``).

Why: a shaded rendering shows a surface's shape only through brightness, and on sparse clouds the splats' shading
speckle swamps it: HOG features of PointAD's renderings hardly separate synthetic bumps from the rest of an object
(offline check: point AUROC 0.53-0.73 on held-out categories). The renderer's depth map
(`benchkit_components.rendering.Views.depth`) holds the geometry itself. Per pixel and per scale s (default 1, 2, 4,
8 pixels): the rendered depth minus its Gaussian average over the rendered pixels around it (a
difference-of-Gaussians blob response: bumps and dents at that scale, the rims of holes and cracks), divided by the
pixel's footprint (depth / focal length), so millimetre and metre data read alike. The average is normalised over
rendered pixels only, so the white background never leaks in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RELIEF_SCALES = (1.0, 2.0, 4.0, 8.0)


def depth_relief(depth: np.ndarray, scales: Sequence[float] = RELIEF_SCALES,
                 fov_deg: float | None = None) -> np.ndarray:
    """(V, S, S, len(scales)) float32 relief maps of (V, S, S) rendered depths (inf on the background); zero there.
    ``fov_deg``: the renderer's field of view (default: the renderer's default), which fixes its focal length."""
    from scipy.ndimage import gaussian_filter

    from benchkit_components.rendering import DEFAULT_FOV_DEG

    depth = np.asarray(depth, dtype=np.float64)
    focal = (depth.shape[-1] / 2) / np.tan(np.radians(DEFAULT_FOV_DEG if fov_deg is None else fov_deg) / 2)
    out = np.zeros(depth.shape + (len(scales),), np.float32)
    for v, d in enumerate(depth):
        rendered = np.isfinite(d)
        d0 = np.where(rendered, d, 0.0)
        footprint = np.where(rendered, d0 / focal, 1.0)
        for k, s in enumerate(scales):
            mean = gaussian_filter(d0, s) / np.maximum(gaussian_filter(rendered.astype(np.float64), s), 1e-6)
            out[v, ..., k] = np.where(rendered, (d0 - mean) / footprint, 0.0)
    return out
