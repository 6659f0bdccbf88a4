"""Registers SeDiR. Imports nothing heavy: the factory imports torch when a detector is built."""

from __future__ import annotations

from pathlib import Path

from benchkit import DetectorSpec, hookimpl

PAPER = ("Kim, Lee, Cho. A Semantically Disentangled Unified Model for Multi-category 3D Anomaly Detection "
         "(SeDiR). CVPR 2026")


def make_sedir(**params):
    from .detector import SeDiR

    return SeDiR(**params)


#: The paper's reported numbers (benchkit.reported schema), shipped as package data.
REPORTED = Path(__file__).resolve().parent / "reported" / "sedir-cvpr2026.json"


@hookimpl
def register_detectors(register):
    register(DetectorSpec(
        name="sedir", version="1.1",
        description="SeDiR: coarse-to-fine global token, category-conditioned contrastive learning, "
                    "geometry-guided feature reconstruction (unified, multi-category)",
        factory=make_sedir, consumes=frozenset({"points"}), needs_category=True, trains=True,
        settings=frozenset({"unified"}), backbones=("point-mae", "fpfh"),
        backbone_kinds=frozenset({"point-groups"}), paper=PAPER, accepts_organized=False,
        reported=(REPORTED,)))
