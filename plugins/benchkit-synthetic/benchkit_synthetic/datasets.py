"""The embedded datasets: generate a copy in the real dataset's layout, then read it with the real reader.

`SyntheticPC` is a `Real3DAD` and `SyntheticRGBD` an `MVTec3D`; they only add generation (``prepare``), so the
synthetic benchmarks exercise exactly the loading code that real downloads go through. The reader options (voxel
down-sampling, background removal, resizing, ...) work unchanged; the generator options (``seed`` and a few more)
enter ``config()`` together with the generator version, so a result record says which data it was computed on.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from benchkit_datasets.mvtec3d import MVTec3D
from benchkit_datasets.real3d_ad import Real3DAD

from benchkit_synthetic import cache
from benchkit_synthetic.generate_pc import PC_GENERATOR_VERSION, PCConfig
from benchkit_synthetic.generate_pc import generate as generate_pc
from benchkit_synthetic.generate_rgbd import RGBD_GENERATOR_VERSION, RGBDConfig
from benchkit_synthetic.generate_rgbd import generate as generate_rgbd


class _Embedded:
    """Generation on demand, shared by both datasets (a mixin placed before the reader class)."""

    GENERATOR: ClassVar[str]
    GENERATOR_VERSION: ClassVar[str]
    GENERATOR_OPTIONS: ClassVar[tuple[str, ...]]  # options that change the generated files

    root: Path
    settings: dict[str, Any]

    def _validate_options(self) -> None:
        super()._validate_options()
        seed = self.settings["seed"]
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"option seed={seed!r}: give a non-negative integer")

    def marker(self) -> dict[str, Any]:
        """What the marker file of a complete copy holds; a copy with another marker is regenerated."""
        return {"generator": self.GENERATOR, "version": self.GENERATOR_VERSION,
                **{k: self.settings[k] for k in self.GENERATOR_OPTIONS}}

    def _write(self, out: Path) -> None:
        raise NotImplementedError

    def prepare(self) -> None:
        """Generate the copy into ``root`` unless a complete one with the same marker is there (atomic)."""
        cache.ensure_generated(self.root, self.marker(), self._write)

    def is_available(self) -> bool:
        return True

    def config(self) -> dict[str, Any]:
        return {**super().config(), "generator_version": self.GENERATOR_VERSION}

    # Reading works before an explicit prepare(): the copy is generated on first use. Cheap once it is complete
    # (one small JSON file is read).
    def categories(self) -> list[str]:
        self.prepare()
        return super().categories()

    def index(self, category: str, split: str):
        self.prepare()
        return super().index(category, split)


class SyntheticPC(_Embedded, Real3DAD):
    """synthetic-pc: six shapes, Real3D-AD layout (see `benchkit_synthetic.generate_pc`).

    Generator options: ``seed`` (default 0) and ``max_rotation_deg`` (default 10) for the pose variation.
    """

    name = "synthetic-pc"
    CATEGORIES: ClassVar[tuple[str, ...]] = PCConfig.categories
    OPTIONS: ClassVar[dict[str, Any]] = {**Real3DAD.OPTIONS, "seed": 0,
                                         "max_rotation_deg": PCConfig.max_rotation_deg}
    GENERATOR = "synthetic-pc"
    GENERATOR_VERSION = PC_GENERATOR_VERSION
    GENERATOR_OPTIONS = ("seed", "max_rotation_deg")

    def _validate_options(self) -> None:
        super()._validate_options()
        angle = self.settings["max_rotation_deg"]
        if not isinstance(angle, (int, float)) or isinstance(angle, bool) or not 0 <= angle <= 180:
            raise ValueError(f"option max_rotation_deg={angle!r}: give a number of degrees between 0 and 180")

    def generator_config(self) -> PCConfig:
        return replace(PCConfig(), seed=self.settings["seed"], max_rotation_deg=float(self.settings["max_rotation_deg"]))

    def _write(self, out: Path) -> None:
        generate_pc(out, self.generator_config())


class SyntheticRGBD(_Embedded, MVTec3D):
    """synthetic-rgbd: five textured objects on a plane, MVTec 3D-AD layout (see `benchkit_synthetic.generate_rgbd`).

    Generator options: ``seed`` (default 0) and ``image_size`` (default 192 pixels, square).
    """

    name = "synthetic-rgbd"
    CATEGORIES: ClassVar[tuple[str, ...]] = RGBDConfig.categories
    OPTIONS: ClassVar[dict[str, Any]] = {**MVTec3D.OPTIONS, "seed": 0, "image_size": RGBDConfig.size}
    GENERATOR = "synthetic-rgbd"
    GENERATOR_VERSION = RGBD_GENERATOR_VERSION
    GENERATOR_OPTIONS = ("seed", "image_size")

    def _validate_options(self) -> None:
        super()._validate_options()
        size = self.settings["image_size"]
        if not isinstance(size, int) or isinstance(size, bool) or not 64 <= size <= 1024:
            raise ValueError(f"option image_size={size!r}: give an integer number of pixels between 64 and 1024")

    def generator_config(self) -> RGBDConfig:
        return replace(RGBDConfig(), seed=self.settings["seed"], size=self.settings["image_size"])

    def _write(self, out: Path) -> None:
        generate_rgbd(out, self.generator_config())
