"""Organized-grid operations: patch pooling equals torch's two pools."""

from __future__ import annotations

import numpy as np
import pytest

from benchkit_components.grid import pool_patches


@pytest.mark.parametrize("side,grid,box", [(224, 28, 3), (56, 28, 3), (100, 28, 3), (57, 9, 1), (30, 30, 3)])
def test_pool_patches_equals_torchs_box_then_adaptive_pooling(side, grid, box):
    import torch
    import torch.nn.functional as F

    image = np.random.default_rng(side).normal(size=(side, side + 3, 5)).astype(np.float32) * 50
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    expected = F.adaptive_avg_pool2d(F.avg_pool2d(x, kernel_size=box, stride=1), (grid, grid))[0].permute(1, 2, 0)
    out = pool_patches(image, grid, box)
    assert out.shape == (grid, grid, 5) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="cannot pool"):
        pool_patches(image[:2], grid, 3)
