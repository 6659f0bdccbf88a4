"""Anomaly-ShapeNet (v2, 40 classes), read from the original layout.

``<class>/train/<class>_template{0..3}.pcd``, ``<class>/test/<class>_<type><n>.pcd`` and
``<class>/GT/<class>_<type><n>.txt`` with COMMA-separated rows ``x,y,z,label``. Normal test clouds are named
``positive``; defect types are bulge, concavity, broken, hole, crak (sic), scratch, bending. The dataset README also
shows ``<n>_<type>.pcd`` names; both spellings are parsed. Anomalous clouds are read from their GT file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from benchkit import DatasetSpec, hookimpl

from benchkit_datasets import meta
from benchkit_datasets.points import PointCloudDataset

# The 40 classes of Anomaly-ShapeNet v2, as listed by two independent public loaders (AnomalyCLIP-style
# `shapenet_classes()` and R3D-AD's `all_shapenetad_cates`), which agree.
CATEGORIES = meta.categories("anomaly-shapenet")
NORMAL_NAMES = ("positive", "good")
HOMEPAGE = "https://github.com/Chopper-233/Anomaly-ShapeNet"


class AnomalyShapeNet(PointCloudDataset):
    """Anomaly-ShapeNet v2. Sample: points (N x 3 float32), gt (N,) uint8 0/1, label, defect."""

    name = "anomaly-shapenet"
    CATEGORIES: ClassVar[tuple[str, ...]] = CATEGORIES
    GT_DIR = "GT"
    GT_DELIMITER = ","

    def expected_categories(self) -> list[str]:
        return list(self.CATEGORIES)

    def _defect_of(self, category: str, stem: str) -> str:
        name = stem[len(category) + 1:] if stem.startswith(category + "_") else stem
        name = re.sub(r"^\d+_", "", name)  # README spelling: 1_bulge
        return re.sub(r"\d+$", "", name) or name

    def _is_normal(self, defect: str) -> bool:
        return defect in NORMAL_NAMES


def _make(root: Path, **options) -> AnomalyShapeNet:
    return AnomalyShapeNet(root, **options)


@hookimpl
def register_datasets(register):
    register(DatasetSpec(
        name="anomaly-shapenet",
        version="2.0",
        description="Anomaly-ShapeNet v2: 40 synthetic ShapeNet classes with sculpted defects, per-point ground truth",
        factory=_make,
        modalities=frozenset({"points"}),
        homepage=HOMEPAGE,
        categories=CATEGORIES,
        meta_file=meta.path("anomaly-shapenet"),
    ))
