"""The detector contract, modelled on scikit-learn's estimators.

The constructor only stores parameters (so `get_params` can report them); `fit` sees normal training samples;
`predict` returns, per sample, an object score and an anomaly map with the shape of `Sample.map_shape`. Higher means
more anomalous. A detector never sees labels or ground truth at test time: the harness hides them.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchkit.datasets import MODALITIES
from benchkit.sample import Sample

#: What a detector's weights are, recorded with every result: "none" (needs no weights), "pretrained" (loaded from
#: a file) or "random-init" (a network that should be pretrained but was not: results are not the paper's).
WEIGHT_KINDS = ("none", "pretrained", "random-init")


@dataclass
class Prediction:
    score: float
    map: np.ndarray  # anomaly map: (H, W) for organized samples, (N,) per point otherwise; any (H, W) is resized


class Detector(ABC):
    #: Device the detector computes on ("cpu", "cuda", ...); the harness records it.
    device: str = "cpu"
    #: One of WEIGHT_KINDS. Set it in fit/__init__ when weights are loaded or randomly initialized.
    weights: str = "none"

    @abstractmethod
    def fit(self, samples: Sequence[Sample]) -> Detector:
        """Learn from normal training samples (a lazily loading sequence: iterate it, index it, take len)."""

    @abstractmethod
    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        """Score test samples (labels, defects and ground truth removed)."""

    # -- introspection the harness uses for efficiency columns; override what applies ----------------------------
    def torch_modules(self) -> list[Any]:
        """torch.nn.Modules used at inference: their parameters are counted and their FLOPs measured."""
        return []

    def memory_bank_bytes(self) -> int:
        """Bytes of stored training features (memory banks), zero when there are none."""
        return 0

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters and their values, recorded in the job config (scikit-learn convention)."""
        params = {}
        for name, p in inspect.signature(type(self).__init__).parameters.items():
            if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            params[name] = getattr(self, name, p.default)
        return params


@dataclass(frozen=True)
class DetectorSpec:
    """What a plugin registers for a detector.

    ``consumes``: modalities the detector needs (see `benchkit.datasets.MODALITIES`; a dataset with "xyz" also
    provides "points"). ``settings``: names of the settings it supports, None for every setting its other
    declarations allow. ``backbones``: feature backbones it can run on, the default first; the others are variants
    named ``detector:backbone``, each passed to ``factory(backbone=...)``. ``accepts_organized``: False for
    methods defined on unorganized object clouds only (their papers evaluate on Real3D-AD / Anomaly-ShapeNet), so
    they are not run on organized RGB-D scans.
    """

    name: str
    version: str
    description: str
    factory: Callable[..., Detector]
    consumes: frozenset[str]
    needs_category: bool = False
    trains: bool = True
    settings: frozenset[str] | None = None
    backbones: tuple[str, ...] = ()
    paper: str = ""
    accepts_organized: bool = True  # False: scores unorganized clouds only (Real3D-AD style), not organized scans

    def __post_init__(self) -> None:
        unknown = set(self.consumes) - MODALITIES
        if unknown:
            raise ValueError(f"detector {self.name!r}: unknown modalities {sorted(unknown)}; use {sorted(MODALITIES)}")
        if ":" in self.name:
            raise ValueError(f"detector {self.name!r}: ':' is reserved for backbone variants (name:backbone)")

    def variant_names(self) -> list[str]:
        """Every name this detector runs under: the plain name (default backbone) then ``name:backbone``."""
        return [self.name] + [f"{self.name}:{b}" for b in self.backbones[1:]]

    def build(self, backbone: str | None = None, **params: Any) -> Detector:
        if backbone is not None and self.backbones:
            params["backbone"] = backbone
        return self.factory(**params)
