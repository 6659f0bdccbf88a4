"""Registers mamba3dad. Imports nothing heavy: the factory imports torch and the backbones when called."""

from __future__ import annotations

from pathlib import Path

from benchkit import DetectorSpec, hookimpl


def make_mamba3dad(**params):
    from .detector import Mamba3DAD

    return Mamba3DAD(**params)


#: The paper's reported numbers (benchkit.reported schema), shipped as package data.
REPORTED = Path(__file__).resolve().parent / "reported" / "mamba3dad.json"


@hookimpl
def register_detectors(register):
    register(DetectorSpec(
        name="mamba3dad", version="0.3",
        description="Multi-scale token fusion: GSAS Sinkhorn sorter, linear-time SSM adapter, feature-space "
                    "pseudo-anomalies, cross-patch attention discriminator",
        factory=make_mamba3dad,
        consumes=frozenset({"points"}),
        needs_category=False,
        trains=True,
        # Per-class models as in the paper; few-shot because Real3D-AD, one of its two benchmarks, trains on a
        # handful of prototypes per class. Unified / zero-shot protocols are not evaluated in the paper.
        settings=frozenset({"one-model-one-class", "few-shot"}), accepts_organized=False,
        backbones=("point-mae", "fpfh"),
        backbone_kinds=frozenset({"point-groups"}),
        reported=(REPORTED,),
        paper="Hoang et al., Multi-Scale Token Fusion with Mamba Adapters for Efficient 3D Industrial Defect "
              "Detection (github.com/hoangcuongbk80/Mamba3dAD)",
    ))
