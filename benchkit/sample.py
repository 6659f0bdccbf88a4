"""The unit of data: one scanned object, as a dataset plugin hands it to the harness.

A `SampleRef` is a cheap, picklable pointer into a dataset (what settings shuffle around and jobs carry to worker
processes); `Dataset.load(ref)` turns it into a `Sample` holding arrays.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NORMAL = 0
ANOMALOUS = 1


@dataclass(frozen=True)
class SampleRef:
    """Where a sample lives. ``location`` is dataset-specific (usually file paths relative to the dataset root)."""

    dataset: str
    category: str
    split: str  # "train", "validation" or "test"
    id: str
    label: int | None  # NORMAL, ANOMALOUS, or None when the split carries no labels
    defect: str | None = None  # defect type as named by the dataset ("good", "bulge", ...)
    location: tuple[str, ...] = ()


@dataclass
class Sample:
    """One object. Geometry comes as an unorganized cloud (``points``, N x 3) or an organized one (``xyz``, H x W x 3
    with a ``valid`` mask), optionally with ``rgb`` (H x W x 3 uint8). Ground truth ``gt`` has the shape of the anomaly
    map a detector must return: (H, W) for organized samples, (N,) for unorganized ones.
    """

    id: str
    category: str | None
    label: int | None
    points: np.ndarray | None = None
    xyz: np.ndarray | None = None
    valid: np.ndarray | None = None
    rgb: np.ndarray | None = None
    gt: np.ndarray | None = None
    defect: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.points is None and self.xyz is None and self.rgb is None:
            raise ValueError(f"sample {self.id!r} has no data: give points, xyz or rgb")
        if self.xyz is not None and self.valid is None:
            self.valid = np.any(self.xyz != 0, axis=-1)

    @property
    def organized(self) -> bool:
        """True when the anomaly map is a pixel grid rather than one value per point."""
        return self.xyz is not None or (self.points is None and self.rgb is not None)

    @property
    def map_shape(self) -> tuple[int, ...]:
        """Shape of the anomaly map a detector must return for this sample."""
        if self.xyz is not None:
            return tuple(self.xyz.shape[:2])
        if self.points is not None:
            return (len(self.points),)
        return tuple(self.rgb.shape[:2])

    def point_cloud(self) -> np.ndarray:
        """The geometry as an N x 3 float array: the valid points of an organized cloud, in row-major order."""
        if self.points is not None:
            return self.points
        if self.xyz is None:
            raise ValueError(f"sample {self.id!r} has no geometry")
        return self.xyz[self.valid]

    def scatter(self, point_values: np.ndarray, fill: float | None = None) -> np.ndarray:
        """Lay per-point values (in `point_cloud` order) onto this sample's anomaly-map grid.

        Pixels without a valid point get ``fill`` (default: the minimum of the values, so they never look anomalous).
        """
        values = np.asarray(point_values, dtype=np.float32)
        if self.xyz is None:
            return values
        out = np.full(self.map_shape, values.min() if fill is None else fill, dtype=np.float32)
        out[self.valid] = values
        return out

    def hidden(self, *, category: bool = False) -> Sample:
        """A copy without the answers (label, defect type, ground truth) and without metadata (which names files
        and their defect folders), and without the category if asked: what a detector may see of a test sample.

        The harness goes further (`benchkit.blinding`): it also replaces the id (dataset ids name the defect),
        shuffles the order and rounds coordinates to the dataset's `coordinate_decimals`.
        """
        return dataclasses.replace(
            self,
            label=None,
            defect=None,
            gt=None,
            category=None if category else self.category,
            meta={},
        )

    def without_category(self) -> Sample:
        return dataclasses.replace(self, category=None)
