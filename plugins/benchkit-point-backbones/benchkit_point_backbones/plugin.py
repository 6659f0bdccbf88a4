"""Registers the point backbones. Imports nothing heavy: the factories import torch / open3d when called."""

from __future__ import annotations

from benchkit import BackboneSpec, hookimpl


def make_point_mae(**params):
    from .point_mae import PointMAEBackbone

    return PointMAEBackbone(**params)


def make_fpfh(**params):
    from .fpfh import FPFHBackbone

    return FPFHBackbone(**params)


@hookimpl
def register_backbones(register):
    register(BackboneSpec(
        name="point-mae", version="1.0",
        description="Point-MAE encoder (official pre-trained weights), tokens of blocks 3/7/11 per point group (M3DM)",
        factory=make_point_mae, weights_file="pointmae_pretrain.pth", output_dim=1152))
    register(BackboneSpec(
        name="fpfh", version="1.0",
        description="Weight-free point-group tokens: FPFH statistics and local shape of FPS/kNN groups",
        factory=make_fpfh, output_dim=75))
