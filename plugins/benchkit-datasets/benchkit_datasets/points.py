"""Shared loading path for unorganized point-cloud datasets (Real3D-AD, Anomaly-ShapeNet).

Both store training clouds as PCD under ``train/``, test clouds as PCD under ``test/`` and per-point ground truth as
text rows ``x y z label`` next to them. As the reference loaders do, an anomalous test cloud is read from its
ground-truth file (points and labels together); a normal one from its PCD, with all-zero ground truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchkit import ANOMALOUS, NORMAL, DataError, Sample, SampleRef

from benchkit_datasets import io, preprocess
from benchkit_datasets._common import FileDataset
from benchkit_datasets.cache import cached_arrays

POINTS_FROM = ("gt", "pcd")


class PointCloudDataset(FileDataset):
    """Options (off by default: raw data):

    - ``voxel_size``: voxel down-sampling (open3d) before anything else; a voxel is anomalous if any point in it is.
    - ``center``: subtract each cloud's mean.
    - ``points_from``: for anomalous test clouds, read the points from the ground-truth file ("gt", the reference
      loaders' way) or from the PCD with labels from the ground-truth file ("pcd"; then both must have the same
      number of points, in the same order).
    Down-sampled clouds are cached on disk.
    """

    OPTIONS: ClassVar[dict[str, Any]] = {
        **FileDataset.OPTIONS,
        "voxel_size": None,
        "center": False,
        "points_from": "gt",
    }
    GT_DIR: ClassVar[str] = "gt"
    GT_DELIMITER: ClassVar[str] = " "
    #: The ground-truth text files (where anomalous test clouds come from) hold 6 decimals; the harness rounds
    #: every cloud to that, so that binary PCD precision does not single out normal clouds.
    coordinate_decimals: ClassVar[int | None] = 6

    def _validate_options(self) -> None:
        v = self.settings["voxel_size"]
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0):
            raise ValueError(f"option voxel_size={v!r}: give a positive number (in the cloud's units) or null")
        if not isinstance(self.settings["center"], bool):
            raise ValueError(f"option center={self.settings['center']!r}: give true or false")
        if self.settings["points_from"] not in POINTS_FROM:
            raise ValueError(f"option points_from={self.settings['points_from']!r}: use one of {POINTS_FROM}")

    # naming conventions, per dataset ------------------------------------------------------------------------------
    def _defect_of(self, category: str, stem: str) -> str:
        """Defect type of a test cloud from its file stem (subclasses implement)."""
        raise NotImplementedError

    def _is_normal(self, defect: str) -> bool:
        raise NotImplementedError

    def _train_files(self, train_dir: Path) -> list[Path]:
        return sorted(train_dir.glob("*.pcd"))

    # index ------------------------------------------------------------------------------------------------------
    def index(self, category: str, split: str) -> list[SampleRef]:
        self._check_split(split)
        folder = self._category_dir(category)
        if split == "validation":
            return []  # neither benchmark has a validation split
        if split == "train":
            train_dir = folder / "train"
            if not train_dir.is_dir():
                raise DataError(train_dir, f"training folder missing for category {category!r}",
                                "the copy is incomplete; re-extract this category")
            return [SampleRef(dataset=self.name, category=category, split="train", id=p.stem, label=NORMAL,
                              defect="good", location=(self._rel(p),)) for p in self._train_files(train_dir)]
        test_dir = folder / "test"
        if not test_dir.is_dir():
            raise DataError(test_dir, f"test folder missing for category {category!r}",
                            "the copy is incomplete; re-extract this category")
        refs = []
        for pcd in sorted(test_dir.glob("*.pcd")):
            defect = self._defect_of(category, pcd.stem)
            normal = self._is_normal(defect)
            gt = folder / self.GT_DIR / f"{pcd.stem}.txt"
            location = (self._rel(pcd),) if normal else (self._rel(pcd), self._rel(gt))
            refs.append(SampleRef(dataset=self.name, category=category, split="test", id=pcd.stem,
                                  label=NORMAL if normal else ANOMALOUS, defect=defect, location=location))
        if not refs:
            raise DataError(test_dir, f"no test samples in category {category!r} (no .pcd files)",
                            "the copy is incomplete; re-extract this category")
        return refs

    def read_folders(self, category: str):
        folder = self.root / category
        yield folder / "train", ("*.pcd",)
        yield folder / "test", ("*.pcd",)
        yield folder / self.GT_DIR, ("*.txt",)

    # load -------------------------------------------------------------------------------------------------------
    def _read_raw(self, ref: SampleRef) -> tuple[np.ndarray, np.ndarray]:
        pcd_path = self._abs(ref.location[0])
        if len(ref.location) == 1:  # normal cloud: all-zero ground truth
            points = io.read_pcd(pcd_path)
            return points, np.zeros(len(points), dtype=np.uint8)
        gt_path = self._abs(ref.location[1])
        gt_points, labels = io.read_point_labels(gt_path, self.GT_DELIMITER)
        if self.settings["points_from"] == "gt":
            return gt_points, labels
        points = io.read_pcd(pcd_path)
        if len(points) != len(labels):
            raise DataError(gt_path, f"ground truth has {len(labels)} points but its cloud {pcd_path.name} has "
                                     f"{len(points)}", "use points_from='gt' or re-extract both files")
        return points, labels

    def _source_files(self, ref: SampleRef) -> list[Path]:
        if len(ref.location) == 1 or self.settings["points_from"] == "gt":
            return [self._abs(ref.location[-1])]
        return [self._abs(rel) for rel in ref.location]

    def load(self, ref: SampleRef) -> Sample:
        voxel = self.settings["voxel_size"]
        if voxel:
            def compute() -> dict[str, np.ndarray]:
                pts, lab = self._read_raw(ref)
                pts, lab = preprocess.voxel_down_sample(pts, lab, float(voxel))
                return {"points": pts, "gt": lab}

            params = {"voxel_size": float(voxel), "points_from": self.settings["points_from"]}
            arrays = cached_arrays(self._cache_folder(), self._source_files(ref), params, compute)
            points, gt = arrays["points"], arrays["gt"]
        else:
            points, gt = self._read_raw(ref)
        if self.settings["center"]:
            points = preprocess.center(points)
        if ref.label == ANOMALOUS and not gt.any():
            raise DataError(self._abs(ref.location[-1]), "an anomalous cloud whose ground truth marks no point",
                            "the copy is damaged or mislabelled; re-extract this category")
        return Sample(id=ref.id, category=ref.category, label=ref.label, points=points,
                      gt=gt if ref.split == "test" else np.zeros(len(points), dtype=np.uint8), defect=ref.defect,
                      meta={"files": list(ref.location)})

    def layout_problems(self, category: str) -> list[str]:
        problems = []
        for split in ("train", "test"):
            try:
                refs = self.index(category, split)
            except DataError as exc:
                problems.append(str(exc))
                continue
            if not refs:
                problems.append(f"{self.root / category / split}: no .pcd files")
            for ref in refs:
                for rel in ref.location:
                    if not self._abs(rel).is_file():
                        problems.append(f"{self._abs(rel)}: file not found")
        return problems
