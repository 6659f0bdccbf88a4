"""Real3D-AD, read from the original layout.

``<class>/train/*template*.pcd`` (the dataset README names them ``*_prototype.pcd``: any ``.pcd`` in ``train/`` is a
training cloud, so both spellings work), ``<class>/test/<id>_<type>.pcd`` and ``<class>/gt/<id>_<type>.txt`` with
space-separated rows ``x y z label``. A test cloud is normal when ``good`` is in its name (``good``, ``good_cut``,
``good_copy``); anomalous clouds are read from their gt file, as the reference loader does. Some copies carry gt files
for normal clouds too; they are not needed (normal ground truth is all zero).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from benchkit import DatasetSpec, hookimpl

from benchkit_datasets import meta
from benchkit_datasets.points import PointCloudDataset

CATEGORIES = meta.categories("real3d-ad")
HOMEPAGE = "https://github.com/M-3LAB/Real3D-AD"


class Real3DAD(PointCloudDataset):
    """Real3D-AD. Sample: points (N x 3 float32), gt (N,) uint8 0/1, label, defect (type from the file name)."""

    name = "real3d-ad"
    CATEGORIES: ClassVar[tuple[str, ...]] = CATEGORIES
    GT_DIR = "gt"
    GT_DELIMITER = " "

    def expected_categories(self) -> list[str]:
        return list(self.CATEGORIES)

    def _defect_of(self, category: str, stem: str) -> str:
        _, sep, rest = stem.partition("_")
        return rest if sep else stem

    def _is_normal(self, defect: str) -> bool:
        return "good" in defect


def _make(root: Path, **options) -> Real3DAD:
    return Real3DAD(root, **options)


@hookimpl
def register_datasets(register):
    register(DatasetSpec(
        name="real3d-ad",
        version="1.0",
        description="Real3D-AD: 12 classes of high-resolution scanned point clouds, per-point ground truth",
        factory=_make,
        modalities=frozenset({"points"}),
        homepage=HOMEPAGE,
        categories=CATEGORIES,
        meta_file=meta.path("real3d-ad"),
        # zero-shot one-vs-rest / cross-dataset training categories: PointAD README and train.sh (zqhang/PointAD)
        zero_shot_train_categories=("shell", "starfish", "seahorse"),
    ))
