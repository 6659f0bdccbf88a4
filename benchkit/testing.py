"""Helpers for plugin authors (and benchkit's own tests): small samples, a tiny dataset, and contract checks
(datasets that trace which samples reach a detector: `benchkit.testing_traced`).

``check_detector(spec)`` runs a detector the way the harness does (the call protocol in `benchkit.detectors`) on
small generated samples and raises `ContractError` listing every broken rule; ``check_dataset(spec, root)`` does the
same for a dataset reader. The pytest plugin `benchkit.pytest_plugin` (installed with benchkit) adds fixtures.
Modelled on scikit-learn's ``check_estimator``: one call, every guarantee the harness relies on.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchkit.datasets import Dataset, DatasetSpec
from benchkit.detectors import Detector, DetectorSpec, Prediction
from benchkit.sample import ANOMALOUS, NORMAL, Sample, SampleRef

CATEGORIES = ("ball", "egg", "pill")
_SHAPES = {"ball": (1.0, 1.0, 1.0), "egg": (1.0, 1.0, 1.5), "pill": (0.6, 0.6, 2.0)}


class ContractError(AssertionError):
    """A plugin breaks rules the harness relies on; ``problems`` names each one."""

    def __init__(self, what: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{what} breaks the benchkit contract:\n" + "\n".join(f"  - {p}" for p in problems))


# -- samples -------------------------------------------------------------------------------------------------------
def sphere_cloud(category: str, index: int, anomalous: bool, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """A noisy closed surface (sphere, egg or pill by category) and its per-point ground truth; an anomalous one has
    a bump of 0.25 times the radius over a cap of the surface. Deterministic in (category, index, anomalous)."""
    rng = np.random.default_rng([CATEGORIES.index(category) if category in CATEGORIES else 0, index, int(anomalous)])
    v = rng.normal(size=(n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    scale = np.asarray(_SHAPES.get(category, _SHAPES["ball"]))
    pts = v * scale + rng.normal(scale=0.01, size=v.shape)
    gt = np.zeros(n, np.uint8)
    if anomalous:
        near = np.linalg.norm(v - v[0], axis=1) < 0.35
        pts[near] += 0.25 * v[near] * scale
        gt[near] = 1
    return pts.astype(np.float32), gt


def organized_scan(index: int, anomalous: bool, size: tuple[int, int] = (32, 32),
                   rgb: bool = True) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """An organized H x W x 3 scan of a gently curved plate with a missing border (zeros, as MVTec 3D-AD marks
    missing points), optional RGB, and the pixel ground truth; an anomalous one has a dent that is also darker."""
    h, w = size
    rng = np.random.default_rng([7, index, int(anomalous)])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    z = 1.0 + 0.02 * np.sin(xx / 5) + rng.normal(scale=0.001, size=(h, w))
    gt = np.zeros((h, w), np.uint8)
    if anomalous:
        cy, cx = rng.integers(h // 4, 3 * h // 4), rng.integers(w // 4, 3 * w // 4)
        gt[(yy - cy) ** 2 + (xx - cx) ** 2 < (min(h, w) / 8) ** 2] = 1
        z = z - 0.05 * gt
    xyz = np.stack([xx / w, yy / h, z], axis=-1).astype(np.float32)
    xyz[:2], xyz[-2:], xyz[:, :2], xyz[:, -2:] = 0, 0, 0, 0
    image = None
    if rgb:
        image = np.clip(150 + rng.normal(scale=4, size=(h, w, 3)) - 60 * gt[..., None], 0, 255).astype(np.uint8)
    return xyz, image, gt


def make_samples(kind: str = "points", *, category: str = "ball", n_train: int = 4, n_test: int = 6,
                 rgb: bool = False) -> tuple[list[Sample], list[Sample]]:
    """(train, test) samples with answers: ``kind`` "points" (unorganized clouds) or "organized" (xyz grid, with
    ``rgb`` optionally). Half the test samples (the second half) are anomalous."""
    if kind not in ("points", "organized"):
        raise ValueError(f"kind must be 'points' or 'organized', not {kind!r}")

    def one(index: int, anomalous: bool, split: str) -> Sample:
        sid = f"{split}{index:03d}"
        label = ANOMALOUS if anomalous else NORMAL
        defect = "bump" if anomalous else "good"
        if kind == "points":
            pts, gt = sphere_cloud(category, index + (100 if split == "test" else 0), anomalous)
            return Sample(id=sid, category=category, label=label, points=pts, gt=gt, defect=defect)
        xyz, image, gt = organized_scan(index + (100 if split == "test" else 0), anomalous, rgb=rgb)
        return Sample(id=sid, category=category, label=label, xyz=xyz, rgb=image, gt=gt, defect=defect)

    train = [one(i, False, "train") for i in range(n_train)]
    test = [one(i, i >= n_test // 2, "test") for i in range(n_test)]
    return train, test


class TinyPoints(Dataset):
    """A small dataset generated in memory: 3 categories x (4 train, 3 good + 3 bumped test) clouds. Option
    ``only``: the categories this copy holds (to imitate a partial download)."""

    def categories(self) -> list[str]:
        only = self.options.get("only")
        return [c for c in CATEGORIES if only is None or c in only]

    def expected_categories(self) -> list[str]:
        return list(CATEGORIES)

    def is_available(self) -> bool:
        return True

    def index(self, category: str, split: str) -> list[SampleRef]:
        if split == "train":
            return [SampleRef(self.name, category, "train", f"train{i}", 0, "good") for i in range(4)]
        if split == "test":
            return [SampleRef(self.name, category, "test", f"test{i}", int(i >= 3), "good" if i < 3 else "bump")
                    for i in range(6)]
        return []

    def load(self, ref: SampleRef) -> Sample:
        index = int(ref.id.lstrip("traines"))
        pts, gt = sphere_cloud(ref.category, index + (100 if ref.split == "test" else 0), bool(ref.label))
        return Sample(id=ref.id, category=ref.category, label=ref.label, points=pts, gt=gt, defect=ref.defect)


class _Lazy(Sequence):
    """Training samples as the harness passes them: a sequence (index, iterate, len), not a list."""

    def __init__(self, samples: Sequence[Sample]) -> None:
        self._samples = list(samples)

    def __len__(self) -> int:
        return len(self._samples)

    def __getitem__(self, i):
        return self._samples[i]


# -- detectors -------------------------------------------------------------------------------------------------------
def _kind_for(spec: DetectorSpec) -> tuple[str, bool]:
    organized = "xyz" in spec.consumes or "rgb" in spec.consumes
    return ("organized" if organized else "points"), "rgb" in spec.consumes


def _accepts(factory: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _run(spec: DetectorSpec, params: dict[str, Any], train: Sequence[Sample], test: Sequence[Sample],
         problems: list[str], hide_category: bool = False) -> tuple[Detector, list[tuple[float, np.ndarray]]] | None:
    """Build, fit and predict as the harness does: one warm-up sample, then one sample per call."""
    detector = spec.factory(**params)
    if not isinstance(detector, Detector):
        problems.append(f"factory returned {type(detector).__name__}, not a benchkit.Detector")
        return None
    seen = _Lazy([s.without_category() if hide_category else s for s in train])
    fitted = detector.fit(seen)
    if fitted is not detector:
        problems.append("fit() must return self")
    visible = [s.hidden(category=hide_category) for s in test]
    detector.predict(visible[:1])  # warm-up, as the harness does
    out = []
    for sample, shown in zip(test, visible):
        preds = detector.predict([shown])
        if not isinstance(preds, list) or len(preds) != 1:
            problems.append(f"predict([one sample]) must return a list of one Prediction, got {preds!r:.80}")
            return None
        pred = preds[0]
        if not isinstance(pred, Prediction):
            problems.append(f"predict() returned {type(pred).__name__}, not a benchkit.Prediction")
            return None
        score = float(pred.score)
        values = np.asarray(pred.map, dtype=np.float64)
        if not math.isfinite(score) or not np.all(np.isfinite(values)):
            problems.append(f"sample {sample.id}: non-finite score or map")
        if sample.organized and values.ndim != 2:
            problems.append(f"sample {sample.id}: an organized sample needs a 2-D map, got shape {values.shape}")
        if not sample.organized and values.shape != sample.map_shape:
            problems.append(f"sample {sample.id}: map shape {values.shape}, expected {sample.map_shape} (one score "
                            f"per input point, in input order)")
        out.append((score, values))
    return detector, out


def check_detector(spec: DetectorSpec, *, params: dict[str, Any] | None = None, kind: str | None = None,
                   min_auroc: float | None = None) -> list[str]:
    """Check a detector against the harness's contract; returns the names of the checks run, raises `ContractError`
    naming every broken rule. ``params``: constructor parameters (default: none); ``kind``: "points" or "organized"
    samples (default: from ``spec.consumes``); ``min_auroc``: also require this object-level AUROC on the samples.

    Checked: the spec is valid; the factory returns a `Detector` whose constructor only stores its parameters
    (`get_params` returns what was passed, is JSON-serializable, and rebuilds an equal detector); ``fit`` returns
    self and accepts a plain sequence; ``predict`` takes one sample at a time, without labels, defect types or
    ground truth, and returns one finite `Prediction` with a map of the right shape; predictions do not change
    when the answers are present (the detector does not read them) nor when the same sample is predicted twice;
    the same seed gives the same outputs; class-agnostic settings (categories removed) work unless the detector
    declares ``needs_category``."""
    problems: list[str] = []
    done: list[str] = []
    if not isinstance(spec, DetectorSpec):
        raise ContractError(repr(spec), ["not a benchkit.DetectorSpec"])
    what = f"detector {spec.name!r}"
    for field_name in ("name", "version", "description"):
        if not getattr(spec, field_name):
            problems.append(f"spec.{field_name} is empty")
    params = dict(params or {})
    if _accepts(spec.factory, "seed"):
        params.setdefault("seed", 0)
    kind = kind or _kind_for(spec)[0]
    train, test = make_samples(kind, rgb=_kind_for(spec)[1] or "rgb" in spec.consumes)

    try:
        first = _run(spec, params, train, test, problems)
    except Exception as exc:  # noqa: BLE001 - reported as a contract problem with its type
        raise ContractError(what, problems + [f"fit/predict on small {kind} samples raised {type(exc).__name__}: {exc}"]
                            ) from exc
    done += ["builds", "fit returns self", "predict protocol", "map shapes"]
    if first is None:
        raise ContractError(what, problems)
    detector, outputs = first

    got = detector.get_params()
    try:
        json.dumps(got)
    except TypeError as exc:
        problems.append(f"get_params() is not JSON-serializable ({exc}); records store it")
    for k, v in params.items():
        if k in got and got[k] != v:
            problems.append(f"get_params()[{k!r}] is {got[k]!r} but {v!r} was passed: constructors only store "
                            f"parameters")
        if k not in got and k != "device":
            problems.append(f"get_params() lacks constructor parameter {k!r}")
    try:
        defaults = {n: p.default for n, p in inspect.signature(spec.factory).parameters.items()
                    if p.default is not p.empty}
    except (TypeError, ValueError):
        defaults = {}
    for k, default in defaults.items():
        if k not in params and k in got and got[k] != default:
            problems.append(f"get_params()[{k!r}] is {got[k]!r} but the default {default!r} was used: constructors "
                            f"only store parameters")
    try:
        rebuilt = spec.factory(**{**got, **{k: v for k, v in params.items() if k not in got}})
        if rebuilt.get_params() != got:
            problems.append("factory(**get_params()) builds a detector with different parameters")
    except Exception as exc:  # noqa: BLE001
        problems.append(f"factory(**get_params()) raised {type(exc).__name__}: {exc}")
    done.append("params round trip")

    again = _run(spec, params, train, test, problems)
    if again is not None and not _same(outputs, again[1]):
        problems.append("two detectors built with the same seed gave different scores or maps: every random choice "
                        "must take the seed (benchkit.rng(seed, ...))")
    done.append("determinism per seed")

    _, repeat = detector, [detector.predict([s.hidden()])[0] for s in test]
    if not _same(outputs, [(float(p.score), np.asarray(p.map, np.float64)) for p in repeat]):
        problems.append("predicting the same sample again gave another result: predict() must not change the model")
    with_answers = [detector.predict([s])[0] for s in test]
    if not _same(outputs, [(float(p.score), np.asarray(p.map, np.float64)) for p in with_answers]):
        problems.append("predictions change when labels / ground truth are present: the detector reads the answers")
    done += ["predict is stateless", "answers hidden"]

    if not spec.needs_category:
        try:
            _run(spec, params, train, test, problems, hide_category=True)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"with categories removed (class-agnostic settings) it raised {type(exc).__name__}: {exc}; "
                            f"declare needs_category=True if it needs them")
        done.append("class-agnostic")

    if min_auroc is not None:
        from benchkit.metrics import auroc

        value = auroc(np.array([s.label for s in test]), np.array([o[0] for o in outputs]))
        if value is None or value < min_auroc:
            problems.append(f"object AUROC {value} on the sample set is below {min_auroc}")
        done.append("accuracy floor")
    if problems:
        raise ContractError(what, problems)
    return done


def _same(a: list[tuple[float, np.ndarray]], b: list[tuple[float, np.ndarray]]) -> bool:
    return len(a) == len(b) and all(
        sa == sb and ma.shape == mb.shape and np.array_equal(ma, mb) for (sa, ma), (sb, mb) in zip(a, b))


# -- datasets --------------------------------------------------------------------------------------------------------
def check_dataset(spec: DatasetSpec, root: str | Path, *, max_samples: int = 4, **options: Any) -> list[str]:
    """Check a dataset reader on a copy at ``root``: categories listed, stable indexes, loadable samples whose
    ground truth has the shape of the map a detector returns, labels on test samples, modalities as declared."""
    problems: list[str] = []
    dataset = spec.open(root, **options)
    what = f"dataset {spec.name!r} at {root}"
    if not dataset.is_available():
        raise ContractError(what, ["is_available() is False: no copy found at root"])
    dataset.prepare()
    cats = dataset.categories()
    if not cats:
        problems.append("categories() is empty")
    for cat in cats:
        for split in ("train", "test"):
            refs = dataset.index(cat, split)
            if refs != dataset.index(cat, split):
                problems.append(f"{cat}/{split}: index() is not stable between calls")
            if not refs:
                problems.append(f"{cat}/{split}: no samples")
            for ref in refs[:max_samples]:
                s = dataset.load(ref)
                where = f"{cat}/{split}/{ref.id}"
                if "xyz" in spec.modalities and s.xyz is None:
                    problems.append(f"{where}: the spec declares xyz but the sample has none")
                if "rgb" in spec.modalities and s.rgb is None:
                    problems.append(f"{where}: the spec declares rgb but the sample has none")
                if split == "test":
                    if s.label not in (NORMAL, ANOMALOUS):
                        problems.append(f"{where}: test samples need a label 0 or 1, got {s.label!r}")
                    if s.gt is not None and tuple(np.shape(s.gt)) != s.map_shape:
                        problems.append(f"{where}: gt shape {np.shape(s.gt)} differs from the map shape {s.map_shape}")
                elif s.label not in (NORMAL, None):
                    problems.append(f"{where}: training samples must be normal")
    if problems:
        raise ContractError(what, problems)
    return ["available", "categories", "stable index", "samples load", "labels and ground truth"]


# -- large generated inputs ------------------------------------------------------------------------------------------
_generated: dict[tuple, Path] = {}


def generated_once(write: Callable[..., Any], path: str | Path, **params: Any) -> Path:
    """``write(path, **params)``, done once per test process: the first call writes the file into a temporary folder
    (removed at exit), every call links ``path`` to that file and returns ``path``. For large inputs that tests of
    several plugins need, such as full-size checkpoints in an official layout (a minute to write on a small CPU);
    the weights digest of `benchkit.build_backbone` is then computed once too. Tests must not write to ``path``."""
    import atexit
    import shutil
    import tempfile

    path = Path(path)
    key = (write.__module__, write.__qualname__, path.name, tuple(sorted(params.items())))
    if key not in _generated:
        folder = Path(tempfile.mkdtemp(prefix="benchkit-generated-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        write(folder / path.name, **params)
        _generated[key] = folder / path.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(_generated[key])
    return path
