"""Eyecandies, read from the original (pipelime "underfolder") layout.

``<Class>/{train,val,test_public,test_private}/data/<idx>_<item>.<ext>``, 17 files per sample: ``image_0..5`` (RGB
under six lights: 0 all spotlights, 1-4 bottom/right/top/left, 5 global), ``depth`` (16-bit PNG normalized to
0..65535), ``info_depth.yaml`` (``normalization: {min, max}`` in metres), ``normals``, ``pose.txt`` (4x4 camera pose),
``obj_params.yaml``, ``metadata.yaml`` and the masks ``bumps_mask``, ``dents_mask``, ``colors_mask``, ``normals_mask``,
``mask`` (their union). Indices are zero-padded to the split's size (``000_`` in train, ``00_`` in test_public).

Splits: train -> "train", val -> "validation", test_public -> "test" (labelled: anomalous when ``mask`` has a
non-zero pixel). test_private has no annotations and is not used.

Depth is back-projected to an organized cloud with the dataset's pinhole camera (focal length 711.11, principal point
at the image centre). Option ``frame``: "camera" (default: camera coordinates), "world" (``pose @ K^-1``, as the
dataset's own ``depth2pc`` stage), or "m3dm" (``(K @ pose)^-1``, as the dataset's documentation snippet and the M3DM /
CFM preprocessing). Option ``light``: which ``image_<k>`` is the RGB (default 4, as M3DM and CFM).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchkit import ANOMALOUS, NORMAL, DataError, DatasetSpec, Sample, SampleRef, hookimpl

from benchkit_datasets import io, meta
from benchkit_datasets.organized import OrganizedDataset

CATEGORIES = meta.categories("eyecandies")
HOMEPAGE = "https://eyecan-ai.github.io/eyecandies/"
FOCAL_LENGTH = 711.11
SPLIT_FOLDERS = {"train": "train", "validation": "val", "test": "test_public"}
DEFECT_MASKS = ("bumps", "dents", "colors", "normals")
#: Items present for every sample of a labelled split (17 files).
ITEMS = tuple(f"image_{k}.png" for k in range(6)) + (
    "depth.png", "info_depth.yaml", "normals.png", "pose.txt", "obj_params.yaml", "metadata.yaml",
    "bumps_mask.png", "dents_mask.png", "colors_mask.png", "normals_mask.png", "mask.png",
)
FRAMES = ("camera", "world", "m3dm")
_DEPTH_FILE = re.compile(r"^(\d+)_depth\.png$")


def back_project(depth: np.ndarray, pose: np.ndarray | None, frame: str, focal: float = FOCAL_LENGTH) -> np.ndarray:
    """Metric depth (H x W) to an organized H x W x 3 cloud; pixels without depth (<= 0) become (0, 0, 0)."""
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    d = depth.astype(np.float64)
    cam = np.stack([(u - w / 2) * d / focal, (v - h / 2) * d / focal, d], axis=-1)
    if frame == "world":
        cam = cam @ pose[:3, :3].T + pose[:3, 3]
    elif frame == "m3dm":
        cam = (cam - pose[:3, 3]) @ pose[:3, :3]  # inverse of a rigid pose: R^T (p - t)
    cam[d <= 0] = 0
    return cam.astype(np.float32)


class Eyecandies(OrganizedDataset):
    """Eyecandies. Sample: xyz (back-projected depth), valid, rgb (``image_<light>``), gt (``mask``; zeros for
    train/validation), label, defect ("good" or the non-empty masks joined by "+", e.g. "bumps+colors")."""

    name = "eyecandies"
    CATEGORIES: ClassVar[tuple[str, ...]] = CATEGORIES
    OPTIONS: ClassVar[dict[str, Any]] = {**OrganizedDataset.OPTIONS, "light": 4, "frame": "camera"}
    CATEGORY_MARKERS = ("train", "test_public")

    def _validate_options(self) -> None:
        super()._validate_options()
        if self.settings["light"] not in range(6):
            raise ValueError(f"option light={self.settings['light']!r}: give an image index 0-5")
        if self.settings["frame"] not in FRAMES:
            raise ValueError(f"option frame={self.settings['frame']!r}: use one of {FRAMES}")

    def expected_categories(self) -> list[str]:
        return list(self.CATEGORIES)

    def _data_dir(self, category: str, split: str) -> Path:
        self._check_split(split)
        folder = self._category_dir(category) / SPLIT_FOLDERS[split] / "data"
        if not folder.is_dir():
            raise DataError(folder, f"split folder missing for category {category!r}",
                            "the copy is incomplete; re-extract this category")
        return folder

    @staticmethod
    def sample_prefixes(folder: Path) -> list[str]:
        """Sample index prefixes ("000", "001", ...) of a data folder, in numeric order."""
        found = [m.group(1) for p in folder.iterdir() if (m := _DEPTH_FILE.match(p.name))]
        return sorted(found, key=int)

    def index(self, category: str, split: str) -> list[SampleRef]:
        folder = self._data_dir(category, split)
        light = self.settings["light"]
        refs = []
        for prefix in self.sample_prefixes(folder):
            files = [f"{prefix}_depth.png", f"{prefix}_info_depth.yaml", f"{prefix}_pose.txt",
                     f"{prefix}_image_{light}.png"]
            label, defect = NORMAL, "good"
            if split == "test":
                files.append(f"{prefix}_mask.png")
                defect = self._defect(folder, prefix)
                label = NORMAL if defect == "good" else ANOMALOUS
            refs.append(SampleRef(dataset=self.name, category=category, split=split, id=prefix, label=label,
                                  defect=defect, location=tuple(self._rel(folder / f) for f in files)))
        if split == "test" and not refs:
            raise DataError(folder, f"no test samples in category {category!r} (no <index>_depth.png files)",
                            "the copy is incomplete; re-extract this category")
        return refs

    def read_folders(self, category: str):
        for folder_name in SPLIT_FOLDERS.values():
            yield self.root / category / folder_name / "data", tuple(f"[0-9]*_{item}" for item in ITEMS)

    @staticmethod
    def _defect(folder: Path, prefix: str) -> str:
        """"good" when ``mask`` is empty, else the kinds whose masks are non-empty (e.g. "bumps+dents")."""
        if not io.read_mask(folder / f"{prefix}_mask.png").any():
            return "good"
        kinds = [k for k in DEFECT_MASKS if (folder / f"{prefix}_{k}_mask.png").is_file()
                 and io.read_mask(folder / f"{prefix}_{k}_mask.png").any()]
        return "+".join(kinds) or "anomalous"

    def _xyz_params(self) -> dict[str, Any]:
        return {"frame": self.settings["frame"], "focal": FOCAL_LENGTH}

    def _xyz_source_files(self, ref: SampleRef) -> list[Path]:
        return [self._abs(rel) for rel in ref.location[:3]]

    def _read_xyz(self, ref: SampleRef) -> np.ndarray:
        depth_path, info_path, pose_path = (self._abs(rel) for rel in ref.location[:3])
        raw = io.read_image(depth_path)
        if raw.dtype != np.uint16 or raw.ndim != 2:
            raise DataError(depth_path, f"expected a 16-bit single-channel depth PNG, got {raw.dtype} with shape "
                                        f"{raw.shape}", io.REDOWNLOAD)
        info = io.read_yaml(info_path)
        try:
            lo, hi = float(info["normalization"]["min"]), float(info["normalization"]["max"])
        except (KeyError, TypeError, ValueError):
            raise DataError(info_path, "expected 'normalization: {min: <metres>, max: <metres>}'",
                            io.REDOWNLOAD) from None
        depth = raw.astype(np.float64) / 65535.0 * (hi - lo) + lo
        frame = self.settings["frame"]
        pose = io.read_matrix(pose_path, (4, 4)) if frame != "camera" else None
        return back_project(depth, pose, frame)

    def load(self, ref: SampleRef) -> Sample:
        xyz = self._preprocessed_xyz(ref)
        rgb_path = self._abs(ref.location[3])
        rgb = io.read_rgb(rgb_path)
        shape = rgb.shape[:2]
        if tuple(self._grid(np.zeros(shape, np.uint8)).shape) != xyz.shape[:2]:
            raise DataError(rgb_path, f"image is {shape[0]}x{shape[1]} but the depth map {ref.location[0]} gives a "
                                      f"{xyz.shape[0]}x{xyz.shape[1]} grid", io.REDOWNLOAD)
        if ref.split == "test":
            gt = io.read_mask(self._abs(ref.location[4]), shape)
            if bool(gt.any()) != (ref.label == ANOMALOUS):
                raise DataError(self._abs(ref.location[4]), "mask changed since the split was indexed",
                                "index the dataset again")
        else:
            gt = np.zeros(shape, dtype=np.uint8)
        return self._sample(ref, xyz, rgb, gt, {"files": list(ref.location), "light": self.settings["light"]})

    def layout_problems(self, category: str) -> list[str]:
        problems = []
        for split, folder_name in SPLIT_FOLDERS.items():
            folder = self.root / category / folder_name / "data"
            if not folder.is_dir():
                problems.append(f"{folder}: split folder missing")
                continue
            for prefix in self.sample_prefixes(folder):
                for item in ITEMS:
                    if not (folder / f"{prefix}_{item}").is_file():
                        problems.append(f"{folder / f'{prefix}_{item}'}: file not found")
        return problems


def _make(root: Path, **options) -> Eyecandies:
    return Eyecandies(root, **options)


@hookimpl
def register_datasets(register):
    register(DatasetSpec(
        name="eyecandies",
        version="1.0",
        description="Eyecandies: 10 synthetic candy classes, RGB under 6 lights + depth + normals (test_public split)",
        factory=_make,
        modalities=frozenset({"points", "xyz", "rgb"}),
        homepage=HOMEPAGE,
        categories=CATEGORIES,
        meta_file=meta.path("eyecandies"),
        # zero-shot one-vs-rest / cross-dataset training categories: PointAD README and train.sh (zqhang/PointAD)
        zero_shot_train_categories=("PeppermintCandy", "LicoriceSandwich", "Confetto"),
    ))
