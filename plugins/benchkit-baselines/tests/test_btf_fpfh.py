"""BTF(FPFH) on organized scans: the grid-searched FPFH gives the patches open3d's FPFH gives, and the coreset is
selected in float16 as 3D-ADS selects it by default."""

from __future__ import annotations

import numpy as np
import pytest

from benchkit_baselines.btf import BTF, pooled_patches
from benchkit_components.fpfh import FPFH_DIM, fpfh
from benchkit_components.grid import resize_nearest


def test_organized_patches_are_the_pooled_open3d_fpfh_of_every_valid_point(organized_clouds):
    train = organized_clouds[0][:1]
    detector = BTF(image_size=56).fit(train)
    xyz, valid = resize_nearest(train[0].xyz, 56), resize_nearest(train[0].valid, 56)
    image = np.zeros(valid.shape + (FPFH_DIM,), dtype=np.float32)
    image[valid] = fpfh(xyz[valid].astype(np.float64), 0.1, 30, 0.25, 100, spatial_sort=False)
    expected = pooled_patches(image.transpose(2, 0, 1))
    np.testing.assert_allclose(detector._organized_patches(train[0]), expected, rtol=1e-5, atol=1e-4)


def test_coreset_precision_is_checked(organized_clouds):
    train = organized_clouds[0][:1]
    with pytest.raises(ValueError, match="coreset_precision"):
        BTF(features="raw", coreset_precision="float8").fit(train)
