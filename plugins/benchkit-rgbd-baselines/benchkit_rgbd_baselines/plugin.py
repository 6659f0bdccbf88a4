"""Registers M3DM and CFM: the plain names run the papers' configurations (DINO ViT-B/8 + Point-MAE, weights needed),
the ``-weightfree`` names the same methods on the weight-free pair (``rgb-texture`` + ``fpfh-pixels``), which is what
``benchkit run --all`` runs on machines without weights. Imports nothing heavy."""

from __future__ import annotations

from benchkit import DetectorSpec, hookimpl

VERSION = "1.0"
RGBD = frozenset({"rgb", "xyz"})
M3DM_PAPER = "Wang et al., Multimodal Industrial Anomaly Detection via Hybrid Fusion, CVPR 2023"
CFM_PAPER = "Costanzino et al., Multimodal Industrial Anomaly Detection by Crossmodal Feature Mapping, CVPR 2024"
PAPER_BACKBONES = ("dino-vitb8", "point-mae-pixels")
WEIGHT_FREE = ("rgb-texture", "fpfh-pixels")
#: The weight-free CFM trains for fewer epochs on a subsample of positions, so that run --all stays within its time
#: budget on two cores (see the plugin README).
CFM_WEIGHT_FREE = {"epochs": 20, "positions_per_image": 2048}
#: With ``uff=true`` the weight-free M3DM trains UFF on 512 random patches per image: the InfoNCE logits of a batch
#: of 16 full images (50,176 patches) alone would take 10 GB (see the plugin README). No effect while UFF is off.
M3DM_WEIGHT_FREE = {"uff_patches_per_image": 512}


def _m3dm(modality: str, backbones: tuple[str, str], defaults: dict | None = None):
    def factory(backbone: str = backbones[0], point_backbone: str = backbones[1], modality: str = modality, **params):
        from .m3dm import M3DM

        params = {**(defaults or {}), **params}
        return M3DM(backbone=backbone, point_backbone=point_backbone, modality=modality, **params)

    return factory


def _m3dm_xyz(point_backbone: str):
    """M3DM on geometry only: its one backbone (the variant's, ``m3dm-xyz:NAME``) is the geometry backbone."""
    def factory(backbone: str = point_backbone, **params):
        from .m3dm import M3DM

        if "point_backbone" in params:
            raise ValueError("m3dm-xyz takes its geometry backbone as the variant (m3dm-xyz:NAME), not as "
                             "point_backbone")
        return M3DM(point_backbone=backbone, modality="xyz", **params)

    return factory


def _cfm(backbones: tuple[str, str], defaults: dict):
    def factory(backbone: str = backbones[0], point_backbone: str = backbones[1], **params):
        from .cfm import CFM

        return CFM(backbone=backbone, point_backbone=point_backbone, **{**defaults, **params})

    return factory


def specs() -> list[DetectorSpec]:
    m3dm = dict(version=VERSION, consumes=RGBD, paper=M3DM_PAPER, backbone_kinds=frozenset({"image-patches"}))
    cfm = dict(version=VERSION, consumes=RGBD, paper=CFM_PAPER, backbone_kinds=frozenset({"image-patches"}))
    return [
        DetectorSpec(name="m3dm", factory=_m3dm("both", PAPER_BACKBONES), backbones=("dino-vitb8",),
                     settings=frozenset({"one-model-one-class", "few-shot"}),
                     description="M3DM: DINO + Point-MAE memory banks, decision-layer fusion (UFF off: uff=true)",
                     **m3dm),
        DetectorSpec(name="m3dm-rgb", factory=_m3dm("rgb", PAPER_BACKBONES), backbones=("dino-vitb8",),
                     settings=frozenset({"one-model-one-class", "few-shot"}),
                     description="M3DM, RGB only: DINO patch memory bank", **m3dm),
        DetectorSpec(name="m3dm-xyz", factory=_m3dm_xyz(PAPER_BACKBONES[1]), backbones=("point-mae-pixels",),
                     settings=frozenset({"one-model-one-class", "few-shot"}),
                     description="M3DM, 3D only: Point-MAE patch memory bank",
                     **{**m3dm, "consumes": frozenset({"xyz"}), "backbone_kinds": frozenset({"pixel-features"})}),
        DetectorSpec(name="m3dm-weightfree", factory=_m3dm("both", WEIGHT_FREE, M3DM_WEIGHT_FREE),
                     backbones=("rgb-texture",),
                     settings=frozenset({"one-model-one-class"}),
                     description="M3DM's method on the weight-free pair (colour/texture patches + FPFH on pixels)",
                     **m3dm),
        DetectorSpec(name="cfm", factory=_cfm(PAPER_BACKBONES, {}), backbones=("dino-vitb8",),
                     settings=frozenset({"one-model-one-class", "few-shot", "unified", "unified-agnostic"}),
                     description="CFM: crossmodal mapping MLPs between DINO and Point-MAE features", **cfm),
        DetectorSpec(name="cfm-weightfree", factory=_cfm(WEIGHT_FREE, CFM_WEIGHT_FREE), backbones=("rgb-texture",),
                     settings=frozenset({"one-model-one-class", "unified"}),
                     description="CFM's method on the weight-free pair (colour/texture patches + FPFH on pixels)",
                     **cfm),
    ]


@hookimpl
def register_detectors(register):
    for spec in specs():
        register(spec)
