"""Registers the point backbones (kind ``point-groups``: ``encode(points) -> Tokens``). Both take ``num_group`` and
``group_size`` (FPS centres, kNN group size), the parameters detectors on point groups set. Imports nothing heavy:
the factories import torch / open3d when called."""

from __future__ import annotations

from benchkit import BackboneSpec, hookimpl


def make_point_mae(weights_path=None, **params):
    from .point_mae import PointMAEBackbone

    return PointMAEBackbone(weights_path=weights_path, **params)


def make_fpfh(seed: int | None = None, **params):
    """``seed`` is accepted (the harness passes the job seed) and unused: FPFH tokens involve no random choice."""
    from .fpfh import FPFHBackbone

    return FPFHBackbone(**params)


@hookimpl
def register_backbones(register):
    register(BackboneSpec(
        name="point-mae", version="1.1", kind="point-groups",
        description="Point-MAE encoder (official pre-trained weights), tokens of blocks 3/7/11 per point group (M3DM)",
        factory=make_point_mae, weights_file="pointmae_pretrain.pth", output_dim=1152,
        weights_hint="get pretrain.pth from the Point-MAE release (github.com/Pang-Yatian/Point-MAE/releases) and save "
                     "it as pointmae_pretrain.pth, or pass --allow-random-init to run with random weights "
                     "(flagged in records)"))
    register(BackboneSpec(
        name="fpfh", version="1.1", kind="point-groups",
        description="Weight-free point-group tokens: FPFH statistics and local shape of FPS/kNN groups",
        factory=make_fpfh, output_dim=75))
