"""Registers the RGB+3D backbones. Imports nothing heavy: each factory imports torch / timm / open3d when called."""

from __future__ import annotations

from benchkit import BackboneSpec, hookimpl

DINO_FILE = "dino_vitbase8_pretrain.pth"
DINO_HINT = ("download https://dl.fbaipublicfiles.com/dino/dino_vitbase8_pretrain/dino_vitbase8_pretrain.pth "
             "(facebookresearch/dino, backbone only), or pass --allow-random-init (flagged in records)")
POINT_MAE_FILE = "pointmae_pretrain.pth"
POINT_MAE_HINT = ("get pretrain.pth from the Point-MAE release (github.com/Pang-Yatian/Point-MAE) and save it as "
                  "pointmae_pretrain.pth, or pass --allow-random-init (flagged in records)")


def make_dino(weights_path=None, seed: int = 0, device: str = "cpu", train_mode: bool = False):
    from .dino import DinoViT

    return DinoViT(weights_path=weights_path, seed=seed, device=device, train_mode=train_mode)


def make_point_mae_pixels(weights_path=None, num_group: int = 1024, group_size: int = 128, device: str = "cpu"):
    """The spec names Point-MAE's file so that the harness checks and records it; the inner ``point-mae`` backbone
    resolves the same file (random init when the harness decided so: ``weights_path`` None)."""
    from .pixels import PointMAEPixels

    return PointMAEPixels(num_group=num_group, group_size=group_size, device=device,
                          random_init=weights_path is None)


def make_rgb_texture(device: str = "cpu"):
    from .texture import RGBTexture

    return RGBTexture(device=device)


def make_fpfh_pixels(max_points: int | None = 4096, normal_radius: float = 4.0, fpfh_radius: float = 8.0,
                     normal_max_nn: int = 30, fpfh_max_nn: int = 100, device: str = "cpu"):
    from .pixels import FPFHPixels

    return FPFHPixels(max_points=max_points, normal_radius=normal_radius, fpfh_radius=fpfh_radius,
                      normal_max_nn=normal_max_nn, fpfh_max_nn=fpfh_max_nn, device=device)


@hookimpl
def register_backbones(register):
    register(BackboneSpec(
        name="dino-vitb8", version="1.0", kind="image-patches", output_dim=768,
        description="DINO ViT-B/8 (official weights, timm vit_base_patch8_224.dino): 28x28x768 patch tokens of the "
                    "224x224 image",
        factory=make_dino, weights_file=DINO_FILE, weights_hint=DINO_HINT))
    register(BackboneSpec(
        name="point-mae-pixels", version="1.0", kind="pixel-features", output_dim=1152,
        description="Point-MAE tokens (1024 groups x 128 points, blocks 3/7/11) interpolated to points and laid onto "
                    "the 224x224 pixel grid (M3DM/CFM alignment)",
        factory=make_point_mae_pixels, weights_file=POINT_MAE_FILE, weights_hint=POINT_MAE_HINT))
    register(BackboneSpec(
        name="rgb-texture", version="1.0", kind="image-patches", output_dim=30,
        description="Weight-free colour statistics and gradient-orientation histograms on the 28x28 patch grid",
        factory=make_rgb_texture))
    register(BackboneSpec(
        name="fpfh-pixels", version="1.0", kind="pixel-features", output_dim=33,
        description="Weight-free FPFH (open3d) of 4096 drawn points, interpolated to every point and laid onto the "
                    "224x224 pixel grid (M3DM/CFM alignment)",
        factory=make_fpfh_pixels))
