"""Registers the classic weight-free baselines. Imports nothing heavy: the detector modules (open3d, faiss, torch)
load only when a factory is called.

Settings: these are memory-bank methods, so they run where a memory bank of normal samples of the target is the
standard baseline: one model per class, few-shot (a bank from K normal samples) and unified (one bank over every
category, with or without category labels). They are not offered for the zero-shot protocols: those compare
methods that do not train on the target at all, and a memory bank filled with other categories' normal samples is
not meant to describe the target, so its score there would measure nothing the baseline claims.
"""

from __future__ import annotations

from typing import Any

from benchkit import DetectorSpec, hookimpl

#: 2.0: the defaults are the published recipes (reference parameters in the data's units, every point, Real3D-AD's
#: strides, a 10,000-entry PatchCore bank on a 128-d lift, no ICP); PatchCore scores unorganized clouds only.
#: 2.1: BTF selects its coreset in float16 as 3D-ADS does (``coreset_precision``); bank distances are measured
#: directly as |q - b|^2 (the last float32 bits of every score change, the neighbours do not).
#: 2.2: BTF pools patches with two matrix products (float32 rounding of the patch features changes) and its grid
#: search breaks ties at the k-th distance by scan order where the KD-tree once did (equal distances).
VERSION = "2.2"


def _fixed(params: dict[str, Any], detector: str, name: str, value: Any) -> dict[str, Any]:
    """The parameters with the one this detector name fixes: it may be passed back (a detector rebuilt from its
    recorded ``get_params``), but not changed, since another value is another registered detector."""
    if params.get(name, value) != value:
        raise ValueError(f"{detector} has {name}={value!r}; {name}={params[name]!r} is another detector")
    return {**params, name: value}


def make_btf_raw(**params: Any):
    from benchkit_baselines.btf import BTF

    return BTF(**_fixed(params, "btf-raw", "features", "raw"))


def make_btf_fpfh(**params: Any):
    from benchkit_baselines.btf import BTF

    return BTF(**_fixed(params, "btf-fpfh", "features", "fpfh"))


def make_patchcore_fpfh(**params: Any):
    from benchkit_baselines.patchcore import PatchCoreFPFH

    return PatchCoreFPFH(**_fixed(params, "patchcore-fpfh", "with_raw", False))


def make_patchcore_fpfh_raw(**params: Any):
    from benchkit_baselines.patchcore import PatchCoreFPFH

    return PatchCoreFPFH(**_fixed(params, "patchcore-fpfh-raw", "with_raw", True))


#: Every setting except the zero-shot ones (see the module docstring).
MEMORY_BANK_SETTINGS = frozenset({"one-model-one-class", "few-shot", "unified", "unified-agnostic"})

BTF_PAPER = "Horwitz & Hoshen, Back to the Feature: Classical 3D Features are (Almost) All You Need for 3D AD, 2023"
REAL3D_PAPER = "Liu et al., Real3D-AD: A Dataset of Point Cloud Anomaly Detection, NeurIPS 2023"

POINTS = frozenset({"points"})

SPECS = [
    DetectorSpec(name="btf-raw", version=VERSION, factory=make_btf_raw, consumes=POINTS,
                 settings=MEMORY_BANK_SETTINGS, paper=BTF_PAPER,
                 description="BTF(Raw): memory bank of raw depth patches (organized) or xyz points, PatchCore scoring"),
    DetectorSpec(name="btf-fpfh", version=VERSION, factory=make_btf_fpfh, consumes=POINTS,
                 settings=MEMORY_BANK_SETTINGS, paper=BTF_PAPER,
                 description="BTF(FPFH): memory bank of pooled FPFH patches or per-point FPFH"),
    DetectorSpec(name="patchcore-fpfh", version=VERSION, factory=make_patchcore_fpfh, consumes=POINTS,
                 settings=MEMORY_BANK_SETTINGS, paper=REAL3D_PAPER, accepts_organized=False,
                 description="PatchCore(FPFH) as in Real3D-AD: registered clouds, per-point FPFH, coreset, 1-NN"),
    DetectorSpec(name="patchcore-fpfh-raw", version=VERSION, factory=make_patchcore_fpfh_raw, consumes=POINTS,
                 settings=MEMORY_BANK_SETTINGS, paper=REAL3D_PAPER, accepts_organized=False,
                 description="PatchCore(FPFH+Raw) as in Real3D-AD: mean of normalized FPFH and xyz memory-bank scores"),
]


@hookimpl
def register_detectors(register):
    for spec in SPECS:
        register(spec)
