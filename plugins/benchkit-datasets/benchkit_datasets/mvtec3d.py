"""MVTec 3D-AD, read from the original layout.

``<class>/{train,validation}/good/{rgb/NNN.png, xyz/NNN.tiff}`` and
``<class>/test/<good|defect>/{rgb/NNN.png, xyz/NNN.tiff, gt/NNN.png}``. xyz is an H x W x 3 float32 organized cloud
with (0, 0, 0) for missing points; gt is an 8-bit mask, all zero for good samples. The image label is any(gt > 0),
which must agree with the folder (good vs defect): a copy where they disagree is reported, not silently relabelled.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from benchkit import ANOMALOUS, NORMAL, DataError, DatasetSpec, Sample, SampleRef, hookimpl

from benchkit_datasets import io, meta
from benchkit_datasets.organized import OrganizedDataset

CATEGORIES = meta.categories("mvtec3d")
HOMEPAGE = "https://www.mvtec.com/company/research/datasets/mvtec-3d-ad"
GOOD = "good"


class MVTec3D(OrganizedDataset):
    """MVTec 3D-AD. Sample: xyz (H x W x 3 float32), valid = any(xyz != 0), rgb (H x W x 3 uint8), gt (H x W uint8
    0/1; zeros for train/validation samples, which are normal by definition), label, defect (folder name)."""

    name = "mvtec3d"
    CATEGORIES: ClassVar[tuple[str, ...]] = CATEGORIES

    def expected_categories(self) -> list[str]:
        return list(self.CATEGORIES)

    def index(self, category: str, split: str) -> list[SampleRef]:
        self._check_split(split)
        split_dir = self._category_dir(category) / split
        if not split_dir.is_dir():
            raise DataError(split_dir, f"split folder missing for category {category!r}",
                            "the copy is incomplete; re-extract this category")
        defects = [GOOD] if split != "test" else sorted(d.name for d in split_dir.iterdir() if d.is_dir())
        refs = []
        for defect in defects:
            xyz_dir = split_dir / defect / "xyz"
            for xyz in sorted(xyz_dir.glob("*.tiff")):
                stem = xyz.stem
                rgb = split_dir / defect / "rgb" / f"{stem}.png"
                location = [self._rel(xyz), self._rel(rgb)]
                if split == "test":
                    location.append(self._rel(split_dir / defect / "gt" / f"{stem}.png"))
                refs.append(SampleRef(dataset=self.name, category=category, split=split, id=f"{defect}/{stem}",
                                      label=NORMAL if defect == GOOD else ANOMALOUS, defect=defect,
                                      location=tuple(location)))
        if split == "test" and not refs:
            raise DataError(split_dir, f"no test samples in category {category!r} (no <defect>/xyz/*.tiff files)",
                            "the copy is incomplete; re-extract this category")
        return refs

    def read_folders(self, category: str):
        for split in ("train", "validation", "test"):
            split_dir = self.root / category / split
            defects = sorted(d for d in split_dir.iterdir() if d.is_dir()) if split_dir.is_dir() else []
            for defect_dir in defects:
                yield defect_dir / "xyz", ("*.tiff",)
                yield defect_dir / "rgb", ("*.png",)
                if split == "test":
                    yield defect_dir / "gt", ("*.png",)

    def _read_xyz(self, ref: SampleRef) -> np.ndarray:
        return io.read_xyz_tiff(self._abs(ref.location[0]))

    def _xyz_source_files(self, ref: SampleRef) -> list[Path]:
        return [self._abs(ref.location[0])]

    def load(self, ref: SampleRef) -> Sample:
        xyz = self._preprocessed_xyz(ref)
        rgb_path = self._abs(ref.location[1])
        rgb = io.read_rgb(rgb_path)
        raw_shape = rgb.shape[:2]
        if self._grid_shape(raw_shape) != xyz.shape[:2]:
            raise DataError(rgb_path, f"image is {raw_shape[0]}x{raw_shape[1]} but its point cloud "
                                      f"{ref.location[0]} gives a {xyz.shape[0]}x{xyz.shape[1]} grid", io.REDOWNLOAD)
        if len(ref.location) > 2:
            gt = self._read_gt(ref, raw_shape)
        else:
            gt = np.zeros(raw_shape, dtype=np.uint8)
        return self._sample(ref, xyz, rgb, gt, {"files": list(ref.location)})

    def _grid_shape(self, raw_shape: tuple[int, int]) -> tuple[int, int]:
        """Shape of a raw H x W grid after this dataset's padding and resizing."""
        return tuple(self._grid(np.zeros(raw_shape, dtype=np.uint8)).shape[:2])

    def _read_gt(self, ref: SampleRef, shape: tuple[int, int]) -> np.ndarray:
        gt_path = self._abs(ref.location[2])
        if not gt_path.is_file() and ref.label == NORMAL:
            return np.zeros(shape, dtype=np.uint8)  # tolerated: good masks are all zero anyway
        gt = io.read_mask(gt_path, shape)
        anomalous = bool(gt.any())
        if anomalous != (ref.label == ANOMALOUS):
            where = "a 'good' folder" if ref.label == NORMAL else f"defect folder {ref.defect!r}"
            raise DataError(gt_path, f"mask is {'non-empty' if anomalous else 'empty'} but the sample is in {where}",
                            "the copy is damaged or mislabelled; re-extract this category")
        return gt

    def layout_problems(self, category: str) -> list[str]:
        problems = []
        for split in ("train", "validation", "test"):
            try:
                refs = self.index(category, split)
            except DataError as exc:
                problems.append(str(exc))
                continue
            for ref in refs:
                for rel in ref.location:
                    if not self._abs(rel).is_file():
                        problems.append(f"{self._abs(rel)}: file not found")
        return problems


def _make(root: Path, **options) -> MVTec3D:
    return MVTec3D(root, **options)


@hookimpl
def register_datasets(register):
    register(DatasetSpec(
        name="mvtec3d",
        version="1.0",
        description="MVTec 3D-AD: 10 industrial object classes, RGB + organized xyz (high-resolution scans)",
        factory=_make,
        modalities=frozenset({"points", "xyz", "rgb"}),
        homepage=HOMEPAGE,
        categories=CATEGORIES,
        meta_file=meta.path("mvtec3d"),
        # zero-shot one-vs-rest / cross-dataset training categories: PointAD README and train.sh (zqhang/PointAD)
        zero_shot_train_categories=("cookie", "carrot", "dowel"),
    ))
