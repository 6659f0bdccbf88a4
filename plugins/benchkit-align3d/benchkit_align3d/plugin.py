"""Registers Align3D-AD and the weight-free ``hog`` image-patch backbone. Imports nothing heavy."""

from __future__ import annotations

from benchkit import BackboneSpec, DetectorSpec, hookimpl

PAPER = ("Align3D-AD: Cross-Modal Feature Alignment and Dual-Prompt Learning for Zero-shot 3D Anomaly Detection "
         "(preprint; code not released)")


def make_align3d(**params):
    from benchkit_align3d.detector import Align3DAD

    return Align3DAD(**params)


def make_hog(weights_path=None, image_size: int = 224, cell: int = 16, bins: int = 9):
    from benchkit_align3d.hog import HOGPatches

    return HOGPatches(weights_path, image_size=image_size, cell=cell, bins=bins)


@hookimpl
def register_backbones(register):
    register(BackboneSpec(
        name="hog", version="1.0",
        description="Weight-free image patches: gradient-orientation histograms and intensity statistics per cell",
        factory=make_hog, kind="image-patches", output_dim=11))


@hookimpl
def register_detectors(register):
    register(DetectorSpec(
        name="align3d-ad", version="1.3",
        description="Align3D-AD: renderings' features aligned to auxiliary categories' RGB features, dual "
                    "learnable prompts trained on synthetic anomalies; zero-shot on the target",
        factory=make_align3d, consumes=frozenset({"points"}), trains=True,
        settings=frozenset({"zero-shot-one-vs-rest", "zero-shot-cross-dataset"}),
        # align3d-ad:hog (weight-free) runs by name but not in run --all: its jobs would not fit the run's time
        # budget (measured numbers in benchkit_align3d.detector's docstring)
        backbones=("clip-image",), backbone_kinds=frozenset({"image-patches"}), paper=PAPER))
