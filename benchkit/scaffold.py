"""``benchkit new detector NAME`` / ``new dataset NAME``: a ready plugin distribution to start from.

The package works as written (install it, its test passes, ``benchkit run`` finds it): the detector is the
nearest-neighbour baseline (distance of each point to a seeded memory bank of normal training points), the dataset
reads a plain folder layout of ``.npy`` clouds. Authors replace the method or the reader and keep the tests,
which call `benchkit.testing.check_detector` / `check_dataset`.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from benchkit.errors import UsageError

NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "benchkit plugin: the $name $kind"
requires-python = ">=3.10"
dependencies = ["benchkit>=$benchkit_version", "numpy", "scipy"]

[project.optional-dependencies]
test = ["pytest>=7"]
$urls
[project.entry-points.benchkit]
$module = "$package.plugin"

[tool.setuptools.packages.find]
include = ["$package*"]
"""

DETECTOR = '''\
"""benchkit plugin $dist: the $name detector.

$name scores each point by its distance to the nearest point of a memory bank of normal training points (the
nearest-neighbour baseline); the object score is the largest point score. Replace `fit` and `predict` with your
method and keep the contract `benchkit.testing.check_detector` checks (see tests/).
"""

from __future__ import annotations

import numpy as np

from benchkit import Detector, DetectorSpec, Prediction, hookimpl, rng

VERSION = "0.1.0"  # the detector's version: raise it whenever its results may change


class $cls(Detector):
    def __init__(self, max_bank_points: int = 20000, seed: int = 0) -> None:
        # constructors only store parameters: get_params() reports them and the record can rebuild the detector
        self.max_bank_points = max_bank_points
        self.seed = seed

    def fit(self, samples):
        from scipy.spatial import cKDTree

        bank = np.concatenate([s.point_cloud() for s in samples]).astype(np.float32)
        if len(bank) > self.max_bank_points:  # a seeded subsample: the same seed gives the same bank
            bank = bank[rng(self.seed, "bank").choice(len(bank), self.max_bank_points, replace=False)]
        self.bank_bytes_ = int(bank.nbytes)
        self.tree_ = cKDTree(bank)
        return self

    def predict(self, samples):
        out = []
        for sample in samples:
            distances, _ = self.tree_.query(sample.point_cloud())
            out.append(Prediction(score=float(distances.max()), map=sample.scatter(distances)))
        return out

    def memory_bank_bytes(self) -> int:
        return getattr(self, "bank_bytes_", 0)


SPEC = DetectorSpec(
    name="$name",
    version=VERSION,
    description="$name: distance to the nearest normal training point",
    factory=$cls,
    consumes=frozenset({"points"}),
    paper="",  # the paper this detector implements, e.g. "Author et al., Title, Venue Year"
)


@hookimpl
def register_detectors(register):
    register(SPEC)
'''

DETECTOR_TEST = '''\
"""The contract the harness relies on, and one real run on benchkit's synthetic point clouds."""

import importlib.util

import pytest

from benchkit.testing import check_detector

from $package.plugin import SPEC


def test_contract():
    check_detector(SPEC, min_auroc=0.8)


@pytest.mark.skipif(importlib.util.find_spec("benchkit_synthetic") is None, reason="benchkit-synthetic not installed")
def test_runs_on_synthetic_pc(benchkit_env, benchkit_cli):
    assert benchkit_cli("run", "--detector", "$name", "--dataset", "synthetic-pc", "--category", "blob",
                        "--results", benchkit_env, "--workers", "1", "--quiet", "--no-site") == 0
'''

DATASET = '''\
"""benchkit plugin $dist: the $name dataset.

Layout read (one folder per category, point clouds as N x 3 float ``.npy`` files, per-point ground truth as
N-long uint8 ``.npy`` files)::

    <root>/<category>/train/good/<id>.npy
    <root>/<category>/test/<good|defect type>/<id>.npy
    <root>/<category>/gt/<defect type>/<id>.npy

Replace `load` (and `index`) with your format's reader; `benchkit.testing.check_dataset` checks the contract.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchkit import DataError, Dataset, DatasetSpec, Sample, SampleRef, hookimpl

VERSION = "0.1.0"


class $cls(Dataset):
    def categories(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if (p / "test").is_dir()) if self.root.is_dir() else []

    def index(self, category: str, split: str) -> list[SampleRef]:
        folder = self.root / category / split
        refs = []
        for defect_dir in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
            label = 0 if defect_dir.name == "good" else 1
            for f in sorted(defect_dir.glob("*.npy")):
                refs.append(SampleRef(self.name, category, split, f"{defect_dir.name}/{f.stem}", label,
                                      defect_dir.name, (str(f.relative_to(self.root)),)))
        return refs

    def load(self, ref: SampleRef) -> Sample:
        path = self.root / ref.location[0]
        points = _read(path, np.float32)
        if points.ndim != 2 or points.shape[1] != 3:
            raise DataError(path, f"expected an N x 3 point array, got shape {points.shape}", "re-export the cloud")
        gt = None
        if ref.split == "test":
            gt_path = self.root / ref.category / "gt" / f"{ref.id}.npy"
            gt = np.zeros(len(points), np.uint8) if ref.label == 0 else _read(gt_path, np.uint8)
            if gt.shape != (len(points),):
                raise DataError(gt_path, f"ground truth has shape {gt.shape}, expected ({len(points)},)",
                                "write one 0/1 value per point")
        return Sample(id=ref.id, category=ref.category, label=ref.label, points=points, gt=gt, defect=ref.defect)


def _read(path: Path, dtype) -> np.ndarray:
    try:
        return np.load(path).astype(dtype)
    except (OSError, ValueError) as exc:
        raise DataError(path, f"cannot read: {exc}", "check the file is a numpy .npy array") from None


SPEC = DatasetSpec(name="$name", version=VERSION, description="$name point clouds", factory=$cls,
                   modalities=frozenset({"points"}))


@hookimpl
def register_datasets(register):
    register(SPEC)
'''

DATASET_TEST = '''\
"""The reader contract, on a tiny copy written in the layout the reader expects."""

import numpy as np

from benchkit.testing import check_dataset, sphere_cloud

from $package.plugin import SPEC


def test_contract(tmp_path):
    for i, defect in enumerate(("good", "good", "bump")):
        for split in ("train", "test"):
            if split == "train" and defect != "good":
                continue
            points, gt = sphere_cloud("ball", i, defect != "good")
            folder = tmp_path / "ball" / split / defect
            folder.mkdir(parents=True, exist_ok=True)
            np.save(folder / f"{i:03d}.npy", points)
            if split == "test" and defect != "good":
                (tmp_path / "ball" / "gt" / defect).mkdir(parents=True, exist_ok=True)
                np.save(tmp_path / "ball" / "gt" / defect / f"{i:03d}.npy", gt)
    check_dataset(SPEC, tmp_path)
'''

README = """\
# $dist

A benchkit plugin providing the `$name` $kind (made with `benchkit new $kind $name`).

    pip install -e ".[test]"      # registers the plugin through the `benchkit` entry-point group
    benchkit plugins              # lists $dist and what it registers
    pytest                        # the contract checks of benchkit.testing$run_line

To appear on the public leaderboard: publish this package (a tagged release on a public repository or PyPI, named
in `[project.urls]` as `Source`), run it with that pinned version installed, check the records with
`benchkit validate --submission RECORDS...` and open a pull request adding them under `leaderboard/records/`
(see `leaderboard/README.md` of benchkit).
"""


def _fields(kind: str, name: str, url: str | None) -> dict[str, str]:
    from benchkit import __version__

    if not NAME.match(name):
        raise UsageError(f"benchkit new {kind} {name!r}: use lower-case letters, digits and single hyphens, starting "
                         f"with a letter (e.g. my-detector)")
    package = "benchkit_" + name.replace("-", "_")
    cls = "".join(part.capitalize() for part in name.split("-"))
    if kind == "dataset":
        cls += "Dataset"
    if kind == "detector":
        run_line = f"\n    benchkit run --detector {name} --dataset synthetic-pc --category blob   # one real run"
    else:
        run_line = (f"\n    benchkit run --detector btf-raw --dataset {name} --data-root DATA"
                    f"   # DATA/{name}/ laid out as plugin.py says")
    return {"name": name, "kind": kind, "dist": f"benchkit-{name}", "package": package,
            "module": name.replace("-", "_"),
            "cls": cls, "benchkit_version": __version__, "run_line": run_line,
            "urls": f'\n[project.urls]\nSource = "{url}"\n' if url else ""}


def new_plugin(kind: str, name: str, folder: str | Path = ".", *, url: str | None = None) -> Path:
    """Write a plugin distribution for a new detector or dataset into ``folder/benchkit-NAME``; returns its path."""
    if kind not in ("detector", "dataset"):
        raise UsageError(f"benchkit new: make a 'detector' or a 'dataset', not {kind!r}")
    f = _fields(kind, name, url)
    root = Path(folder) / f["dist"]
    if root.exists():
        raise UsageError(f"{root} already exists; choose another name or --dir")
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"{f['package']}/__init__.py": '"""benchkit plugin $dist."""\n',
        f"{f['package']}/plugin.py": DETECTOR if kind == "detector" else DATASET,
        f"tests/test_{f['module']}.py": DETECTOR_TEST if kind == "detector" else DATASET_TEST,
    }
    for rel, template in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(template).substitute(f), encoding="utf-8")
    return root
