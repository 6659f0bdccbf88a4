"""The detector contract, modelled on scikit-learn's estimators, and the call protocol the harness keeps.

A detector can rely on this, and on nothing else:

- **Construction.** ``spec.factory(**params)`` once per job, in the job's own process. ``params`` are the detector's
  constructor parameters from ``--param`` / ``--config`` (unknown names are refused before any job starts), plus
  ``backbone`` for a ``detector:backbone`` variant, and ``seed`` and ``device`` when the factory declares them. The
  constructor only stores parameters, so that `Detector.get_params` reports them and the record can rebuild it.
- **Seed.** ``seed`` is the job seed (``--seeds``): every random choice of the detector should take it, so that a
  job is reproducible; different seeds are meant to give independent draws.
- **fit.** Called once, with the training samples of the job as a plain sequence (iterate, index, ``len``); they are
  normal samples, with categories removed when the setting is class-agnostic.
- **predict.** Called with one test sample at a time: first once on the first test sample as a warm-up (its FLOPs
  are counted, its time is not), then once per test sample in an order the harness chooses, each timed. Test
  samples carry no label, defect type or ground truth. Return one `Prediction` per sample.
- **Maps.** Higher means more anomalous. Unorganized clouds: one score per input point, in input order. Organized
  scans: any 2-D map; the harness resizes it bilinearly to the dataset's evaluation size (ground truth nearest).
- **Backbones.** Feature extractors come from `benchkit.build_backbone`, never constructed by hand: the harness
  decides their weights and records them. `Detector.backbone_names` tells the planner which ones ``fit`` will build,
  so that a missing weights file skips the job before it starts.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchkit.datasets import MODALITIES
from benchkit.sample import Sample

#: What a detector's weights are, recorded with every result: "none" (needs no weights), "pretrained" (loaded from
#: a file) or "random-init" (a network that should be pretrained but was not: results are not the paper's).
WEIGHT_KINDS = ("none", "pretrained", "random-init")


@dataclass
class Prediction:
    """A detector's answer for one test sample: the object score (higher is more anomalous) and the anomaly map."""

    score: float
    map: np.ndarray  # anomaly map: (H, W) for organized samples, (N,) per point otherwise; any (H, W) is resized


class Detector(ABC):
    #: Device the detector computes on ("cpu", "cuda", ...); the harness records it.
    device: str = "cpu"

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

    def backbone_names(self) -> list[str]:
        """The registered backbones ``fit`` will build with these parameters: the planner checks their weights files
        before the job starts. Default: the values of the constructor parameters named ``backbone`` or
        ``*_backbone``; override when one of them is not always built, or a backbone is built by a fixed name."""
        names = [v for k, v in self.get_params().items() if (k == "backbone" or k.endswith("_backbone"))
                 and isinstance(v, str)]
        return list(dict.fromkeys(names))

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
    declarations allow. ``backbones``: the default backbone first, then the variants ``run --all`` runs (named
    ``detector:backbone``, each passed to ``factory(backbone=...)``). ``backbone_kinds``: the backbone kinds (see
    `benchkit.backbones.BACKBONE_KINDS`) the detector accepts: ``detector:X`` is valid for every registered backbone
    X of one of these kinds, whichever distribution registers it. ``accepts_organized``: False for
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
    backbone_kinds: frozenset[str] = frozenset()
    paper: str = ""
    #: Files of the numbers the method's paper reports (`benchkit.reported` schema), shipped as package data of the
    #: plugin; the leaderboard sets them beside the reproduced numbers.
    reported: tuple[Path, ...] = ()
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
