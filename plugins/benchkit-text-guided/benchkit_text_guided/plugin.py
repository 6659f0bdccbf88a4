"""Registers the text-guided unified method, its weight-free variant and the weight-free ``hashed-words`` text
backbone. Imports nothing heavy."""

from __future__ import annotations

from pathlib import Path

from benchkit import BackboneSpec, DetectorSpec, hookimpl

PAPER = ("Li, Ye, Yu, Xie, Shen. Text-Guided Multimodal Unified Industrial Anomaly Detection. arXiv 2604.22899 "
         "(2026)")

#: The weight-free variant: colour/texture, FPFH and hashed-word features instead of DINO, Point-MAE and CLIP, and,
#: so that the unified model trains in seconds on a CPU, a 28 x 28 feature grid (the paper: 224; the RGB
#: descriptors' own grid), 64-d text embeddings and 30 epochs (CFM's recipe: 50). Features are not standardised per
#: channel: on synthetic-rgbd (unified, seed 0) standardising scored mean I-AUROC 0.64 against 0.80 without, as it
#: did for cfm-weightfree (see the README).
WEIGHT_FREE = {"backbone": "rgb-texture", "point_backbone": "fpfh-pixels", "text_backbone": "hashed-words",
               "point_group_size": None, "feature_size": 28, "epochs": 30}


def make_text_guided(**params):
    from .detector import TextGuided

    return TextGuided(**params)


def make_text_guided_weightfree(**params):
    from .detector import TextGuided

    return TextGuided(**{**WEIGHT_FREE, **params})


def make_hashed_words(weights_path=None, dim: int = 64):
    from .hashed_text import HashedWords

    return HashedWords(dim=dim)


#: The paper's reported numbers (benchkit.reported schema), shipped as package data.
REPORTED = Path(__file__).resolve().parent / "reported" / "text-guided-unified.json"


@hookimpl
def register_detectors(register):
    common = dict(consumes=frozenset({"rgb", "xyz"}), needs_category=True, trains=True,
                  settings=frozenset({"unified"}), paper=PAPER, backbone_kinds=frozenset({"image-patches"}))
    register(DetectorSpec(
        name="text-guided", version="1.0", factory=make_text_guided, backbones=("dino-vitb8",),
        reported=(REPORTED,),
        description="Text-guided unified RGB+3D method: geometry-aware crossmodal mapper (GACM), object-conditioned "
                    "textual feature adaptor (OCTA) over CLIP text priors, one model for all classes",
        **common))
    register(DetectorSpec(
        name="text-guided-weightfree", version="1.0", factory=make_text_guided_weightfree,
        backbones=("rgb-texture",),
        description="Text-guided unified method on weight-free features (colour/texture, FPFH, hashed-word text)",
        **common))


@hookimpl
def register_backbones(register):
    register(BackboneSpec(
        name="hashed-words", version="1.0", kind="text", factory=make_hashed_words, output_dim=64,
        description="Weight-free text embeddings: fixed pseudo-random word vectors (keyed by the word), averaged "
                    "per sentence; no language knowledge"))
