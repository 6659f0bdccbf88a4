"""Hierarchical token sets from a frozen backbone (paper section 2.1): ``L`` token sets over the same ``M`` patches.

The paper feeds the sorter every Transformer layer's patch tokens ``T_1..T_L`` (token ``(i, j)`` sits at patch centre
``j`` in every layer). Backbones hand us one feature row per patch; a multi-layer backbone concatenates its layers
(Point-MAE here: layers 3/7/11, 3 x 384), which `layer_sets` splits back into per-layer tokens. A single-layer,
weight-free backbone (FPFH) has no layer hierarchy, so `context_sets` adds coarser scales instead: the mean token of
each patch's k nearest patches for every k in ``context_scales`` (our substitute for deeper layers' wider context).
"""

from __future__ import annotations

import numpy as np
import torch


def layer_sets(features: np.ndarray, n_layers: int) -> np.ndarray:
    """``(M, n_layers * D)`` concatenated per-layer features -> ``(n_layers, M, D)``."""
    m, width = features.shape
    if width % n_layers:
        raise ValueError(f"backbone feature width {width} does not split into {n_layers} equal layers")
    return np.ascontiguousarray(features.reshape(m, n_layers, width // n_layers).transpose(1, 0, 2))


def context_sets(sets: np.ndarray, centers: np.ndarray, scales: tuple[int, ...]) -> np.ndarray:
    """Append, for each k in ``scales``, the first set averaged over each patch's k nearest patch centres."""
    if not scales:
        return sets
    c = torch.as_tensor(centers, dtype=torch.float64)
    order = torch.cdist(c, c).argsort(dim=1).numpy()  # (M, M), self first
    base = sets[0]
    extra = [base[order[:, : min(k, len(base))]].mean(axis=1) for k in scales]
    return np.concatenate([sets, np.stack(extra)], axis=0)


def hierarchical_tokens(features: np.ndarray, centers: np.ndarray, n_layers: int,
                        context_scales: tuple[int, ...]) -> np.ndarray:
    """``(L, M, D)`` float32 token sets: the backbone's layers, then the synthetic context scales."""
    sets = layer_sets(np.asarray(features, dtype=np.float32), n_layers)
    return context_sets(sets, np.asarray(centers), tuple(context_scales)).astype(np.float32)
