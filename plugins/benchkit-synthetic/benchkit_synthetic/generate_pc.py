"""Write synthetic-pc: small Real3D-AD-style point-cloud data, in Real3D-AD's exact on-disk layout.

Layout (as the real download)::

    <category>/train/<n>_template.pcd     normal training clouds
    <category>/test/<id>_<type>.pcd       test clouds; type "good" or the defect name
    <category>/gt/<id>_<type>.txt         defective clouds only: "x y z label" per point, space-delimited

Choices (documented here because detectors depend on them):
- Units are millimetres; objects are 30-45 mm across; clouds are mean-centred, as in Real3D-AD.
- Training templates have 4,000 points, test clouds 3,000 (templates are denser than test scans in Real3D-AD too),
  i.e. a point spacing of about 0.8-1.1 mm (measured: surface areas 2,400-3,500 mm^2).
- Normal variation: a rotation about a random axis by up to ``max_rotation_deg`` (default 10 degrees: Real3D-AD
  test clouds are not aligned to the templates, but large rotations would make registration-free baselines
  hopeless on such small data), a scale change within +-5 %, and Gaussian sensor noise of 0.15 mm per coordinate.
- Test clouds: half normal, half with one defect each (bulge, sink, hole, crack, missing), 1-7 % anomalous points.
"""

from __future__ import annotations

from benchkit import rng as sample_rng  # one stream per (seed, category, split, index)

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchkit_synthetic.pc_defects import PC_DEFECTS, apply_defect
from benchkit_synthetic.shapes import SHAPES, surface

#: Bump when the generated data changes in any way (it is part of the cache marker and of the dataset version).
PC_GENERATOR_VERSION = "1.0"


@dataclass(frozen=True)
class PCConfig:
    seed: int = 0
    train_per_category: int = 4
    test_good_per_category: int = 6
    test_defective_per_category: int = 6
    train_points: int = 4000
    test_points: int = 3000
    max_rotation_deg: float = 10.0
    scale_jitter: float = 0.05
    noise_mm: float = 0.15
    categories: tuple[str, ...] = tuple(SHAPES)


def _pose(points: np.ndarray, config: PCConfig, rng: np.random.Generator) -> np.ndarray:
    """Random rotation, scale and sensor noise, then mean-centring."""
    from scipy.spatial.transform import Rotation

    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = np.deg2rad(rng.uniform(0, config.max_rotation_deg))
    scale = 1 + rng.uniform(-config.scale_jitter, config.scale_jitter)
    out = Rotation.from_rotvec(axis * angle).apply(points) * scale
    out += rng.normal(scale=config.noise_mm, size=out.shape)
    return out - out.mean(axis=0)


def write_pcd(path: Path, points: np.ndarray) -> None:
    """A binary PCD file with float32 x y z, written by open3d like any real Real3D-AD scan is read."""
    import open3d as o3d

    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points.astype(np.float32).astype(np.float64)))
    if not o3d.io.write_point_cloud(str(path), cloud, write_ascii=False):
        raise OSError(f"open3d could not write {path}")


def write_gt(path: Path, points: np.ndarray, labels: np.ndarray) -> None:
    """Real3D-AD ground truth: one "x y z label" line per point, space-delimited."""
    with open(path, "w") as f:
        for (x, y, z), label in zip(points.astype(np.float32).tolist(), labels.tolist()):
            f.write(f"{x:.6f} {y:.6f} {z:.6f} {int(label)}\n")


def kinds_of_test_clouds(config: PCConfig, category: str) -> list[str]:
    """The kinds of the test clouds of one category, in file-id order: "good" or a defect name.

    Defect kinds cycle (offset per category) so every kind appears in every category when there are at least five
    defective clouds; good and defective clouds are interleaved in a seeded order, like the real test sets.
    """
    offset = config.categories.index(category)
    kinds = ["good"] * config.test_good_per_category + [
        PC_DEFECTS[(offset + i) % len(PC_DEFECTS)] for i in range(config.test_defective_per_category)
    ]
    order = sample_rng(config.seed, category, "test-order", 0).permutation(len(kinds))
    return [kinds[i] for i in order]


def generate_category(out: Path, config: PCConfig, category: str) -> None:
    shape = surface(category)
    for sub in ("train", "test", "gt"):
        (out / category / sub).mkdir(parents=True, exist_ok=True)
    for i in range(config.train_per_category):
        rng = sample_rng(config.seed, category, "train", i)
        points, _ = shape.sample(config.train_points, rng)
        write_pcd(out / category / "train" / f"{i + 1}_template.pcd", _pose(points, config, rng))
    for i, kind in enumerate(kinds_of_test_clouds(config, category)):
        rng = sample_rng(config.seed, category, "test", i)
        points, normals = shape.sample(config.test_points, rng)
        name = f"{i}_{kind}"
        if kind == "good":
            write_pcd(out / category / "test" / f"{name}.pcd", _pose(points, config, rng))
            continue
        defect = apply_defect(kind, points, normals, rng)
        posed = _pose(defect.points, config, rng).astype(np.float32)
        write_pcd(out / category / "test" / f"{name}.pcd", posed)
        write_gt(out / category / "gt" / f"{name}.txt", posed, defect.labels)


def generate(out: Path, config: PCConfig = PCConfig()) -> None:
    """Write the whole dataset into the folder ``out`` (which should be empty)."""
    for category in config.categories:
        generate_category(Path(out), config, category)
