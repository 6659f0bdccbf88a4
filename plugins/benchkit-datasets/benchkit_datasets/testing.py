"""Tiny copies of each real dataset in their exact on-disk layout, quirks included (for tests: the plugin's own, the
CLI's, and anyone checking a reader without the real downloads). Images are 16 pixels wide, clouds ~100 points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
import yaml
from PIL import Image


def write_pcd(path: Path, points: np.ndarray) -> None:
    """ASCII PCD, as the datasets ship (written by hand so the tests control every header field)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\n"
        f"WIDTH {len(points)}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {len(points)}\nDATA ascii\n"
    )
    body = "\n".join(" ".join(f"{v:.6f}" for v in p) for p in points)
    path.write_text(header + body + "\n")


def write_gt_txt(path: Path, points: np.ndarray, labels: np.ndarray, delimiter: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [delimiter.join([f"{x:.6f}", f"{y:.6f}", f"{z:.6f}", str(int(lab))]) for (x, y, z), lab in zip(points, labels)]
    path.write_text("\n".join(rows) + "\n")


def write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def organized_cloud(rng, h: int, w: int, missing: float = 0.2) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xyz = np.stack([xx / w, yy / h, 0.5 + 0.01 * rng.standard_normal((h, w))], axis=-1).astype(np.float32)
    xyz[rng.random((h, w)) < missing] = 0
    return xyz


# MVTec 3D-AD ---------------------------------------------------------------------------------------------------------
MVTEC_H, MVTEC_W = 12, 16  # not square: readers must not assume a size


def make_mvtec3d(root: Path, categories=("bagel", "foam"), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    layout = {"train": {"good": 3}, "validation": {"good": 2}, "test": {"good": 2, "crack": 2, "hole": 1}}
    for cat in categories:
        for split, defects in layout.items():
            for defect, n in defects.items():
                for i in range(n):
                    base = root / cat / split / defect
                    stem = f"{i:03d}"
                    xyz = organized_cloud(rng, MVTEC_H, MVTEC_W)
                    (base / "xyz").mkdir(parents=True, exist_ok=True)
                    tifffile.imwrite(base / "xyz" / f"{stem}.tiff", xyz, photometric="rgb")
                    write_png(base / "rgb" / f"{stem}.png", rng.integers(0, 256, (MVTEC_H, MVTEC_W, 3), dtype=np.uint8))
                    if split == "test":
                        gt = np.zeros((MVTEC_H, MVTEC_W), dtype=np.uint8)
                        if defect != "good":
                            gt[2:5, 3:7 + i] = 255
                        write_png(base / "gt" / f"{stem}.png", gt)
    (root / "license.txt").write_text("CC BY-NC-SA 4.0\n")  # the download has loose files at the top
    return root


# Real3D-AD -----------------------------------------------------------------------------------------------------------
def make_real3d(root: Path, categories=("airplane", "shell"), seed: int = 0, gt_for_good: bool = False) -> Path:
    rng = np.random.default_rng(seed)
    for cat in categories:
        # one training cloud named as the reference loader expects, one as the README says
        write_pcd(root / cat / "train" / "1_template.pcd", rng.random((120, 3)))
        write_pcd(root / cat / "train" / "2_prototype.pcd", rng.random((110, 3)))
        for stem in ("1_good", "2_good_cut", "5_good_copy"):
            pts = rng.random((90, 3))
            write_pcd(root / cat / "test" / f"{stem}.pcd", pts)
            if gt_for_good:
                write_gt_txt(root / cat / "gt" / f"{stem}.txt", pts, np.zeros(90), " ")
        for stem in ("3_bulge", "4_sink_cut"):
            pcd_pts = rng.random((100, 3))
            write_pcd(root / cat / "test" / f"{stem}.pcd", pcd_pts)
            gt_pts = rng.random((95, 3))  # the gt file is the cloud the reference loader uses: it differs
            labels = np.zeros(95)
            labels[:7] = 1
            write_gt_txt(root / cat / "gt" / f"{stem}.txt", gt_pts, labels, " ")
    return root


# Anomaly-ShapeNet ----------------------------------------------------------------------------------------------------
def make_shapenet(root: Path, categories=("ashtray0", "vase9"), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for cat in categories:
        for t in range(4):
            write_pcd(root / cat / "train" / f"{cat}_template{t}.pcd", rng.random((80, 3)))
        for n in range(2):
            write_pcd(root / cat / "test" / f"{cat}_positive{n}.pcd", rng.random((70, 3)))
        for defect in ("bulge0", "crak1", "concavity0"):
            pts = rng.random((60, 3))
            labels = np.zeros(60)
            labels[-4:] = 1
            write_pcd(root / cat / "test" / f"{cat}_{defect}.pcd", pts)
            write_gt_txt(root / cat / "GT" / f"{cat}_{defect}.txt", pts, labels, ",")
    return root


# Eyecandies ----------------------------------------------------------------------------------------------------------
EYE_SIZE = 16
EYE_ITEMS = [f"image_{k}" for k in range(6)] + ["depth", "normals", "bumps_mask", "dents_mask", "colors_mask",
                                                 "normals_mask", "mask"]


def write_eyecandies_sample(folder: Path, stem: str, rng, defect_mask: str | None, public: bool = True) -> None:
    s = EYE_SIZE
    for k in range(6):
        img = np.full((s, s, 3), 20 * k, dtype=np.uint8)
        img[0, 0] = rng.integers(0, 256, 3)
        write_png(folder / f"{stem}_image_{k}.png", img)
    depth = rng.integers(1000, 65535, (s, s)).astype(np.uint16)
    depth[0, :3] = 0  # no depth there
    write_png(folder / f"{stem}_depth.png", depth)
    (folder / f"{stem}_info_depth.yaml").write_text(yaml.safe_dump({"normalization": {"min": 0.4, "max": 0.9}}))
    write_png(folder / f"{stem}_normals.png", rng.integers(0, 256, (s, s, 3), dtype=np.uint8))
    pose = np.eye(4)
    pose[:3, 3] = [0.1, -0.2, 0.3]
    np.savetxt(folder / f"{stem}_pose.txt", pose)
    if not public:
        return
    (folder / f"{stem}_obj_params.yaml").write_text(yaml.safe_dump({"object": {"seed": 1}}))
    (folder / f"{stem}_metadata.yaml").write_text(yaml.safe_dump({"anomalous": int(defect_mask is not None)}))
    masks = {m: np.zeros((s, s), dtype=np.uint8) for m in ("bumps_mask", "dents_mask", "colors_mask", "normals_mask")}
    if defect_mask is not None:
        masks[defect_mask][4:8, 5:9] = 255
    for m, arr in masks.items():
        write_png(folder / f"{stem}_{m}.png", arr)
    write_png(folder / f"{stem}_mask.png", np.maximum.reduce(list(masks.values())))


def make_eyecandies(root: Path, categories=("CandyCane", "GummyBear"), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    plan = {"train": [None] * 3, "val": [None] * 2, "test_public": [None, None, "bumps_mask", "colors_mask"],
            "test_private": [None, None]}
    for cat in categories:
        for split, defects in plan.items():
            folder = root / cat / split / "data"
            folder.mkdir(parents=True, exist_ok=True)
            width = 3 if split == "train" else 2  # train names are 000_..., test names 00_... (as downloaded)
            for i, defect in enumerate(defects):
                write_eyecandies_sample(folder, str(i).zfill(width), rng, defect, public=split != "test_private")
    return root
