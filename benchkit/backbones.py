"""The feature-backbone contract: a frozen feature extractor shared by several detectors.

Point backbones turn one cloud into tokens: a feature vector per local group (patch) and the group centres; the
detectors built on them score tokens and spread the scores back to points.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchkit.errors import MissingWeightsError
from benchkit.paths import weights_dir


@dataclass
class Tokens:
    features: Any  # (G, D) numpy array or torch tensor
    centers: np.ndarray  # (G, 3) group centres
    groups: np.ndarray | None = None  # (G, K) indices of each group's points in the input cloud


class Backbone(ABC):
    weights: str = "none"  # see benchkit.detectors.WEIGHT_KINDS

    @abstractmethod
    def encode(self, points: np.ndarray) -> Tokens:
        """Tokens for one N x 3 cloud."""


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    version: str
    description: str
    factory: Callable[..., Backbone]
    weights_file: str | None = None  # file name under BENCHKIT_WEIGHTS when pretrained weights are needed
    output_dim: int | None = None


def find_weights(what: str, file_name: str, hint: str = "") -> Path:
    """Path of a weights file in `weights_dir`, or `MissingWeightsError` (the job is skipped) saying where to put it."""
    path = weights_dir() / file_name
    if not path.is_file():
        raise MissingWeightsError(what, path, hint)
    return path
