"""Registers the training-free zero-shot detectors. Imports nothing heavy: factories import on first use."""

from __future__ import annotations

from benchkit import DetectorSpec, hookimpl

#: The settings where a training-free detector's numbers mean something new: in the others it would score the same
#: test clouds the same way.
ZERO_SHOT = frozenset({"zero-shot-one-vs-rest", "zero-shot-cross-dataset"})
#: Version of zs-fpfh-rarity and zs-surface-deviation (and of their cached point scores). 1.1: the subsample is drawn
#: from a digest of the cloud's coordinates instead of the sample id.
GEOMETRIC_VERSION = "1.1"


def make_fpfh_rarity(**params):
    from benchkit_zeroshot.geometric import FPFHRarity

    return FPFHRarity(**params)


def make_surface_deviation(**params):
    from benchkit_zeroshot.geometric import SurfaceDeviation

    return SurfaceDeviation(**params)


def make_pointad_clip(**params):
    from benchkit_zeroshot.pointad_clip import PointADCLIP

    return PointADCLIP(**params)


@hookimpl
def register_detectors(register):
    points = frozenset({"points"})
    register(DetectorSpec(
        name="zs-fpfh-rarity", version=GEOMETRIC_VERSION,
        description="Training-free: FPFH of each point against the rest of its own cloud (rarity outside its "
                    "neighbourhood)", factory=make_fpfh_rarity, consumes=points, trains=False, settings=ZERO_SHOT))
    register(DetectorSpec(
        name="zs-surface-deviation", version=GEOMETRIC_VERSION,
        description="Training-free: each point's distance from the plane of its neighbours, relative to the cloud",
        factory=make_surface_deviation, consumes=points, trains=False, settings=ZERO_SHOT))
    register(DetectorSpec(
        name="pointad-clip", version="1.1",
        description="Training-free PointAD: CLIP on 9 renderings with WinCLIP's fixed prompts, maps back-projected "
                    "to points", factory=make_pointad_clip, consumes=points, trains=False, settings=ZERO_SHOT,
        backbones=("clip-image",),  # its text tower, clip-text, reads the same weights file
        paper="Zhou, Yan, He, Meng, Chen. PointAD: Comprehending 3D Anomalies from Points and Pixels for Zero-shot "
              "3D Anomaly Detection. NeurIPS 2024"))
