"""The dataset contract: what a dataset plugin registers and implements.

A dataset reads one copy of a benchmark laid out exactly as the original download (or, for embedded synthetic
benchmarks, generates such a copy first). It lists categories, indexes splits into `SampleRef`s and loads samples.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchkit.sample import Sample, SampleRef

#: Modalities a dataset can provide and a detector can consume.
#: "points": geometry usable as a point cloud (unorganized clouds, or the valid points of an organized one);
#: "xyz": an organized cloud on a pixel grid; "rgb": a colour image registered with the grid.
MODALITIES = frozenset({"points", "xyz", "rgb"})


class Dataset(ABC):
    """One copy of a benchmark on disk. Subclasses take ``root`` (and their own options) in ``__init__``."""

    #: Set from the spec by the harness; plugins need not set them.
    name: str = ""
    version: str = ""
    modalities: frozenset[str] = frozenset()
    #: Decimals to which the harness rounds the coordinates of every sample a detector gets, when the copy stores
    #: some clouds at that precision (e.g. anomalous clouds read from 6-decimal text, normal ones from binary PCD):
    #: otherwise the precision alone would tell them apart. None: coordinates as read.
    coordinate_decimals: int | None = None

    def __init__(self, root: Path, **options: Any) -> None:
        self.root = Path(root)
        self.options = options

    @abstractmethod
    def categories(self) -> list[str]:
        """Categories present in this copy (a partial download holds only some)."""

    @abstractmethod
    def index(self, category: str, split: str) -> list[SampleRef]:
        """The samples of one split ("train", "validation", "test") of one category, in a stable order."""

    @abstractmethod
    def load(self, ref: SampleRef) -> Sample:
        """Read one sample. Bad files raise `benchkit.DataError` naming the file and the problem."""

    def prepare(self) -> None:
        """Make the copy usable: generate embedded data, fill caches. Default: nothing to do."""

    def is_available(self) -> bool:
        """Whether a copy exists at ``root`` (embedded datasets: always, they generate themselves)."""
        return self.root.is_dir()

    def expected_categories(self) -> list[str]:
        """All categories of the full benchmark; a copy with fewer is incomplete. Default: those present."""
        return self.categories()

    @property
    def eval_size(self) -> tuple[int, int] | None:
        """Resolution at which organized anomaly maps are scored (maps and ground truth are resized to it by the
        harness), or None for the native resolution of each sample."""
        return None

    def config(self) -> dict[str, Any]:
        """Options that change what the dataset yields; they enter the job's config hash."""
        return dict(self.options)

    def notices(self) -> list[str]:
        """What the reader leaves out of this copy, one message each, for `run` and `datasets verify` to show:
        folders that are not categories of the benchmark, files it does not read. Default: none."""
        return []


@dataclass(frozen=True)
class DatasetSpec:
    """What a plugin registers for a dataset."""

    name: str
    version: str
    description: str
    factory: Callable[..., Dataset]  # factory(root: Path, **options) -> Dataset
    modalities: frozenset[str]
    embedded: bool = False  # generates its own data: no download, always available
    homepage: str = ""
    categories: Sequence[str] = field(default=())
    #: The dataset's metadata JSON (`benchkit.dataset_tools.DatasetMeta`: categories, counts, licence, citation,
    #: downloads), shipped as package data of the plugin's distribution so that installed wheels carry it.
    meta_file: Path | None = None
    #: Categories the zero-shot literature trains on in one-vs-rest (one model per category, tested on all others)
    #: and cross-dataset (as the source), e.g. MVTec 3D-AD: cookie, carrot, dowel (PointAD, MVP-PCLIP).
    zero_shot_train_categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = set(self.modalities) - MODALITIES
        if unknown:
            raise ValueError(f"dataset {self.name!r}: unknown modalities {sorted(unknown)}; use {sorted(MODALITIES)}")

    def root(self, data_root: str | Path | None = None) -> Path:
        """Where this dataset's copy lives: embedded datasets in the cache, real ones under the data root in a folder
        named like the dataset (``--data-root`` or ``$BENCHKIT_DATA``)."""
        from benchkit.errors import UsageError
        from benchkit.paths import cache_dir, data_root as default_data_root

        if self.embedded:
            return cache_dir() / self.name
        base = default_data_root(data_root)
        if base is None:
            raise UsageError(f"dataset {self.name}: no data root; pass --data-root DIR or set BENCHKIT_DATA "
                             f"(a folder holding {self.name}/ laid out as the original download)")
        return base / self.name

    def open(self, root: str | Path, **options: Any) -> Dataset:
        """The reader on one copy, with the spec's name, version and modalities (the one place they are set)."""
        dataset = self.factory(Path(root), **options)
        dataset.name, dataset.version, dataset.modalities = self.name, self.version, self.modalities
        return dataset
