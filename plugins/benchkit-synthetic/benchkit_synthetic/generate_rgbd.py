"""Write synthetic-rgbd: small MVTec 3D-AD-style RGB + organized-xyz data, in MVTec 3D-AD's exact on-disk layout.

Layout (as the real download)::

    <category>/train/good/{rgb/NNN.png, xyz/NNN.tiff}
    <category>/validation/good/{rgb/NNN.png, xyz/NNN.tiff}
    <category>/test/<good|defect>/{rgb/NNN.png, xyz/NNN.tiff, gt/NNN.png}

xyz: H x W x 3 float32 TIFF in metres, (0, 0, 0) where the sensor saw nothing; rgb: 8-bit RGB PNG; gt: 8-bit PNG,
255 on defect pixels, all zero for good samples. Images are 192 x 192 (the harness scores at 224 x 224 by resizing,
as for MVTec 3D-AD). See `benchkit_synthetic.rgbd_scene` for the scene model and the defect kinds.
"""

from __future__ import annotations

from benchkit import rng as sample_rng  # one stream per (seed, category, split, index)

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchkit_synthetic.rgbd_scene import CATEGORIES, RGBD_DEFECTS, Camera, apply_defect, make_scene, render

#: Bump when the generated data changes in any way (it is part of the cache marker and of the dataset version).
RGBD_GENERATOR_VERSION = "1.0"


@dataclass(frozen=True)
class RGBDConfig:
    seed: int = 0
    train_per_category: int = 10
    validation_per_category: int = 2
    test_good_per_category: int = 6
    test_defective_per_category: int = 6
    size: int = 192
    categories: tuple[str, ...] = tuple(CATEGORIES)

    @property
    def camera(self) -> Camera:
        return Camera(size=self.size, focal=800.0 * self.size / 192)


def kinds_of_test_samples(config: RGBDConfig, category: str) -> list[str]:
    """Test sample kinds of one category: "good" or a defect; defect kinds cycle with an offset per category."""
    offset = config.categories.index(category)
    return ["good"] * config.test_good_per_category + [
        RGBD_DEFECTS[(offset + i) % len(RGBD_DEFECTS)] for i in range(config.test_defective_per_category)
    ]


def synthesize(config: RGBDConfig, category: str, split: str, index: int, kind: str = "good"):
    """One sample as arrays: (xyz float32, rgb uint8, gt bool). Deterministic in (config, category, split, index)."""
    rng = sample_rng(config.seed, category, split, index)
    camera = config.camera
    scene = make_scene(category, camera, rng)
    gt = np.zeros(scene.height.shape, dtype=bool)
    if kind != "good":
        gt = apply_defect(kind, scene, camera, rng)
    xyz, rgb = render(scene, camera, rng)
    return xyz, rgb, gt


def write_sample(folder: Path, stem: str, xyz: np.ndarray, rgb: np.ndarray, gt: np.ndarray | None) -> None:
    import tifffile
    from PIL import Image

    for sub in ("rgb", "xyz") + (("gt",) if gt is not None else ()):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(folder / "xyz" / f"{stem}.tiff", xyz, photometric="rgb")
    Image.fromarray(rgb, mode="RGB").save(folder / "rgb" / f"{stem}.png")
    if gt is not None:
        Image.fromarray(np.where(gt, 255, 0).astype(np.uint8), mode="L").save(folder / "gt" / f"{stem}.png")


def generate_category(out: Path, config: RGBDConfig, category: str) -> None:
    base = out / category
    for split, count in (("train", config.train_per_category), ("validation", config.validation_per_category)):
        for i in range(count):
            xyz, rgb, _ = synthesize(config, category, split, i)
            write_sample(base / split / "good", f"{i:03d}", xyz, rgb, None)
    numbering: dict[str, int] = {}
    for i, kind in enumerate(kinds_of_test_samples(config, category)):
        xyz, rgb, gt = synthesize(config, category, "test", i, kind)
        n = numbering.get(kind, 0)
        numbering[kind] = n + 1
        write_sample(base / "test" / kind, f"{n:03d}", xyz, rgb, gt)


def generate(out: Path, config: RGBDConfig = RGBDConfig()) -> None:
    """Write the whole dataset into the folder ``out`` (which should be empty)."""
    for category in config.categories:
        generate_category(Path(out), config, category)
