"""Shared loading path for organized (RGB + xyz grid) datasets: preprocessing options, caching, sample assembly."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchkit import Sample, SampleRef

from benchkit_datasets import preprocess
from benchkit_datasets._common import FileDataset
from benchkit_datasets.cache import cached_arrays


class OrganizedDataset(FileDataset):
    """Options (all off by default: raw data):

    - ``remove_background``: BTF plane removal + largest DBSCAN cluster (`preprocess.remove_background`).
    - ``pad_square``: zero-pad xyz, RGB and ground truth to a square with a side rounded up to 100 (BTF).
    - ``resize``: an int or (height, width); xyz and ground truth are resized nearest, RGB bicubic.
    Preprocessed clouds are cached on disk (see `benchkit_datasets.cache`).
    """

    OPTIONS: ClassVar[dict[str, Any]] = {
        **FileDataset.OPTIONS,
        "remove_background": False,
        "pad_square": False,
        "resize": None,
    }

    def _validate_options(self) -> None:
        size = self.settings["resize"]
        if size is not None:
            if isinstance(size, int):
                size = (size, size)
            try:
                size = tuple(int(s) for s in size)
            except TypeError:
                raise ValueError(f"option resize={size!r}: give an int or (height, width)") from None
            if len(size) != 2 or min(size) <= 0:
                raise ValueError(f"option resize={size!r}: give a positive int or (height, width)")
            self.settings["resize"] = list(size)
        for flag in ("remove_background", "pad_square"):
            if not isinstance(self.settings[flag], bool):
                raise ValueError(f"option {flag}={self.settings[flag]!r}: give true or false")

    @property
    def eval_size(self) -> tuple[int, int] | None:
        # Community convention (BTF, M3DM, CFM): maps and ground truth scored at 224 x 224.
        return (224, 224)

    def _read_xyz(self, ref: SampleRef) -> np.ndarray:
        """The raw organized cloud of a sample (subclasses implement)."""
        raise NotImplementedError

    def _xyz_source_files(self, ref: SampleRef) -> list[Path]:
        """Files the organized cloud is computed from (the cache key)."""
        raise NotImplementedError

    def _preprocessed_xyz(self, ref: SampleRef) -> np.ndarray:
        s = self.settings
        if not (s["remove_background"] or s["pad_square"] or s["resize"]):
            return self._read_xyz(ref)
        params = {k: s[k] for k in ("remove_background", "pad_square", "resize")}
        params.update(self._xyz_params())

        def compute() -> dict[str, np.ndarray]:
            xyz = self._read_xyz(ref)
            if s["remove_background"]:
                xyz = preprocess.remove_background(xyz)
            if s["pad_square"]:
                xyz = preprocess.pad_to_square(xyz)
            if s["resize"]:
                xyz = preprocess.resize_nearest(xyz, tuple(s["resize"]))
            return {"xyz": xyz}

        return cached_arrays(self._cache_folder(), self._xyz_source_files(ref), params, compute)["xyz"]

    def _xyz_params(self) -> dict[str, Any]:
        """Options of the subclass that change the raw cloud (they enter the cache key)."""
        return {}

    def _grid(self, array: np.ndarray, *, rgb: bool = False) -> np.ndarray:
        """Apply padding and resizing to an RGB image or ground-truth mask, matching the cloud."""
        if self.settings["pad_square"]:
            array = preprocess.pad_to_square(array)
        if self.settings["resize"]:
            size = tuple(self.settings["resize"])
            array = preprocess.resize_rgb(array, size) if rgb else preprocess.resize_nearest(array, size)
        return array

    def _sample(self, ref: SampleRef, xyz: np.ndarray, rgb: np.ndarray | None, gt: np.ndarray | None,
                meta: dict[str, Any]) -> Sample:
        if rgb is not None:
            rgb = self._grid(rgb, rgb=True)
        if gt is not None:
            gt = self._grid(gt)
        return Sample(id=ref.id, category=ref.category, label=ref.label, xyz=xyz, rgb=rgb,
                      gt=gt, defect=ref.defect, meta=meta)
