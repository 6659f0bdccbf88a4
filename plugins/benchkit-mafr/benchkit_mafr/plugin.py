"""Registers MAFR (the paper's configuration) and its weight-free variant. Imports nothing heavy."""

from __future__ import annotations

from pathlib import Path

from benchkit import DetectorSpec, hookimpl

PAPER = ("Ali, Zia, Rehman, Ramzan, Hassan, Sattar, Wang, Xiang. 2D-3D Feature Fusion via Cross-Modal Latent "
         "Synthesis and Attention-Guided Restoration for Industrial Anomaly Detection (MAFR). Code: adabrh/MAFR")

#: The weight-free variant: hand-made colour/texture and FPFH features instead of DINO and Point-MAE, and, so that
#: a class trains in seconds on a CPU, a 28 x 28 feature grid (the paper: 224; 28 is the RGB descriptors' own grid
#: and scored better than 56 on synthetic-rgbd: mean I-AUROC 0.77 vs 0.71), a 64-d latent (960) and 20 epochs
#: (100; version 1.0 trained 40: on synthetic-rgbd, seed 0, 20 epochs scored I-AUROC / P-AUROC / AUPRO@0.3 78.3 /
#: 92.8 / 75.0 one-model-one-class and 78.9 / 92.6 / 73.7 few-shot:5, against 76.7 / 92.8 / 75.3 and 77.8 / 92.7 /
#: 74.2 with 40, in two thirds of the time); features are standardised per channel (their scales differ). Everything
#: else is the paper's.
WEIGHT_FREE = {"backbone": "rgb-texture", "point_backbone": "fpfh-pixels", "feature_size": 28, "latent_dim": 64,
               "epochs": 20, "standardize": True}


def make_mafr(**params):
    from .detector import MAFR

    return MAFR(**params)


def make_mafr_weightfree(**params):
    from .detector import MAFR

    return MAFR(**{**WEIGHT_FREE, **params})


#: The paper's reported numbers (benchkit.reported schema), shipped as package data.
REPORTED = Path(__file__).resolve().parent / "reported" / "mafr.json"


@hookimpl
def register_detectors(register):
    common = dict(consumes=frozenset({"rgb", "xyz"}), trains=True,
                  settings=frozenset({"one-model-one-class", "few-shot"}), paper=PAPER,
                  backbone_kinds=frozenset({"image-patches"}))
    register(DetectorSpec(
        name="mafr", version="1.0", factory=make_mafr, backbones=("dino-vitb8",), reported=(REPORTED,),
        description="MAFR: shared fusion encoder over DINO + Point-MAE features, two CBAM-refined restoration "
                    "decoders, ZNSSD + smoothness + census losses, product of the 2D and 3D residual maps",
        **common))
    register(DetectorSpec(
        name="mafr-weightfree", version="1.1", factory=make_mafr_weightfree, backbones=("rgb-texture",),
        description="MAFR on weight-free features (colour/texture + FPFH), smaller grid and widths for CPUs",
        **common))
