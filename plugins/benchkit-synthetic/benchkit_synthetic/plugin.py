"""Registers the embedded synthetic benchmarks. Imports nothing heavy: the dataset classes load on first use."""

from __future__ import annotations

from pathlib import Path

from benchkit import DatasetSpec, hookimpl

from benchkit_synthetic.generate_pc import PC_GENERATOR_VERSION, PCConfig
from benchkit_synthetic.generate_rgbd import RGBD_GENERATOR_VERSION, RGBDConfig

META = Path(__file__).resolve().parent / "meta"  # metadata files (package data), checked against the generators by tests


def _synthetic_pc(root: Path, **options):
    from benchkit_synthetic.datasets import SyntheticPC

    return SyntheticPC(root, **options)


def _synthetic_rgbd(root: Path, **options):
    from benchkit_synthetic.datasets import SyntheticRGBD

    return SyntheticRGBD(root, **options)


@hookimpl
def register_datasets(register):
    register(DatasetSpec(
        name="synthetic-pc",
        version=PC_GENERATOR_VERSION,
        description="Embedded: 6 synthetic shapes as point clouds in Real3D-AD's layout (bulge, sink, hole, crack, "
                    "missing), generated from a seed",
        factory=_synthetic_pc,
        modalities=frozenset({"points"}),
        embedded=True,
        categories=PCConfig.categories,
        meta_file=META / "synthetic-pc.json",
        # zero-shot training categories, picked to mirror Real3D-AD's (shell, starfish, seahorse)
        zero_shot_train_categories=("soap", "starfish", "blob"),
    ))
    register(DatasetSpec(
        name="synthetic-rgbd",
        version=RGBD_GENERATOR_VERSION,
        description="Embedded: 5 textured objects on a plane as RGB + organized xyz in MVTec 3D-AD's layout "
                    "(geometric-only, colour-only and combined defects), generated from a seed",
        factory=_synthetic_rgbd,
        modalities=frozenset({"points", "xyz", "rgb"}),
        embedded=True,
        categories=RGBDConfig.categories,
        meta_file=META / "synthetic-rgbd.json",
        # zero-shot training categories, picked to mirror MVTec 3D-AD's (cookie, carrot, dowel)
        zero_shot_train_categories=("cookie", "fruit", "cable"),
    ))
