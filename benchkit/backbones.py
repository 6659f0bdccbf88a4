"""The feature-backbone contract: frozen feature extractors that detectors build through the registry.

A backbone has a *kind*, which fixes what ``encode`` takes and returns, so that any detector accepting that kind can
run on any backbone of it (``detector:backbone``), including backbones from third-party distributions:

- ``point-groups``: ``encode(points)`` with an N x 3 cloud -> `Tokens` (a feature per local group, group centres,
  the group's point indices).
- ``image-patches``: ``encode(rgb)`` with an H x W x 3 uint8 image -> an (h, w, D) float array of patch tokens.
- ``pixel-features``: ``encode(xyz, valid)`` with an organized H x W x 3 cloud and its mask -> an (H', W', D) float
  array aligned with the pixel grid (point features laid onto pixels, as M3DM and CFM do).
- ``text``: ``encode(texts)`` with a list of strings -> an (n, D) float array of embeddings.

Detectors never construct a backbone themselves: they call `build_backbone(name, **params)`. The harness, not the
backbone or the detector, resolves the weights file named by the spec in ``$BENCHKIT_WEIGHTS``, decides whether a
missing file is an error or a random initialization (``--allow-random-init``), and records what was used (path and
SHA-256 digest, or random init) in the job's record. The factory receives the resolved ``weights_path`` (None for a
random initialization) and, when its signature declares them, ``seed`` and ``device``.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchkit.errors import MissingWeightsError
from benchkit.paths import weights_dir

#: Backbone kinds and what ``encode`` takes and returns (see the module docstring).
BACKBONE_KINDS = {
    "point-groups": "encode(points: N x 3) -> Tokens",
    "image-patches": "encode(rgb: H x W x 3 uint8) -> (h, w, D) patch tokens",
    "pixel-features": "encode(xyz: H x W x 3, valid: H x W) -> (H', W', D) features on the pixel grid",
    "text": "encode(texts: list[str]) -> (n, D) embeddings",
}


@dataclass
class Tokens:
    """What a ``point-groups`` backbone returns for one cloud."""

    features: Any  # (G, D) numpy array or torch tensor
    centers: np.ndarray  # (G, 3) group centres
    groups: np.ndarray | None = None  # (G, K) indices of each group's points in the input cloud


class Backbone(ABC):
    """A frozen feature extractor. ``weights`` is set by `build_backbone` from what it actually loaded."""

    weights: str = "none"  # see benchkit.detectors.WEIGHT_KINDS; set by the harness
    #: What identifies this backbone's outputs (name, version, weights digest); set by `build_backbone` and used as
    #: part of feature-cache keys.
    identity: dict[str, Any] = {}

    @abstractmethod
    def encode(self, *inputs: Any) -> Any:
        """Features of one input; what that is depends on the spec's kind (`BACKBONE_KINDS`)."""

    def torch_modules(self) -> list[Any]:
        """torch.nn.Modules run by ``encode``: the harness counts their parameters and FLOPs."""
        return []


@dataclass(frozen=True)
class BackboneSpec:
    """What a plugin registers for a backbone.

    ``kind``: one of `BACKBONE_KINDS`. ``weights_file``: file name under ``$BENCHKIT_WEIGHTS`` when the backbone
    needs pretrained weights (written here once; the factory gets the resolved path). ``weights_hint``: where to
    get that file, shown when it is missing. ``factory(weights_path=..., [seed=...], [device=...], **params)``.
    """

    name: str
    version: str
    description: str
    factory: Callable[..., Backbone]
    kind: str = "point-groups"
    weights_file: str | None = None
    weights_hint: str = ""
    output_dim: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in BACKBONE_KINDS:
            raise ValueError(f"backbone {self.name!r}: unknown kind {self.kind!r}; use one of {sorted(BACKBONE_KINDS)}")
        if ":" in self.name:
            raise ValueError(f"backbone {self.name!r}: ':' is not allowed in backbone names")

    def weights_path(self) -> Path | None:
        return None if self.weights_file is None else weights_dir() / self.weights_file


@dataclass
class JobOptions:
    """What the harness decides for every backbone a job builds (set by the worker, defaults for direct use)."""

    allow_random_init: bool = False
    device: str = "cpu"
    seed: int = 0
    built: list[dict[str, Any]] = field(default_factory=list)  # one entry per backbone built, for the record


_options = JobOptions()


@contextmanager
def job_options(**values: Any) -> Iterator[JobOptions]:
    """Run a block (a job) with these backbone options; yields them, with ``built`` filled as backbones are made."""
    global _options
    previous, _options = _options, JobOptions(**values)
    try:
        yield _options
    finally:
        _options = previous


_digests: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """SHA-256 of a weights file (cached per path, size and modification time: checkpoints are large)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _digests[key] = h.hexdigest()
    return _digests[key]


def build_backbone(name: str, *, allow_random_init: bool | None = None, **params: Any) -> Backbone:
    """Build the registered backbone ``name`` with the harness's weights decision; records what was used.

    ``allow_random_init`` overrides the job's option (for direct use outside a run, e.g. in tests).
    Raises `MissingWeightsError` (the job is skipped) when its weights file is missing and random init is not allowed.
    """
    from benchkit.plugins import accepts_param, get_registry

    spec: BackboneSpec = get_registry().get("backbones", name)
    options = _options
    allow = options.allow_random_init if allow_random_init is None else allow_random_init
    path = spec.weights_path()
    use: dict[str, Any] = {"name": spec.name, "version": spec.version, "kind": spec.kind, "weights": "none",
                           "path": None, "sha256": None}
    if path is not None:
        if path.is_file():
            use.update(weights="pretrained", path=str(path), sha256=file_digest(path))
        elif allow:
            path = None
            use["weights"] = "random-init"
        else:
            raise MissingWeightsError(f"backbone {spec.name}", path, spec.weights_hint
                                      or "or pass --allow-random-init to run with random weights (flagged in records)")
        params["weights_path"] = path
    for key in ("seed", "device"):
        if key not in params and accepts_param(spec.factory, key):
            params[key] = getattr(options, key)
    backbone = spec.factory(**params)
    backbone.weights = use["weights"]
    # What the outputs depend on (feature-cache keys): not the file's location or the device, and not the seed when
    # pretrained weights replace the initialisation it drew.
    built_with = {k: v for k, v in params.items() if k not in ("weights_path", "device")
                  and not (k == "seed" and use["weights"] == "pretrained")}
    backbone.identity = {"name": spec.name, "version": spec.version, "weights": use["weights"],
                         "sha256": use["sha256"], "params": built_with}
    options.built.append(use)
    return backbone


def find_weights(what: str, file_name: str, hint: str = "") -> Path:
    """Path of a weights file in `weights_dir`, or `MissingWeightsError` (the job is skipped) saying where to put it."""
    path = weights_dir() / file_name
    if not path.is_file():
        raise MissingWeightsError(what, path, hint)
    return path
