"""Determinism, atomic cache generation, and that the defects are there to be found (and only where they should be)."""

import copy
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from benchkit import ANOMALOUS, NORMAL, DataError
from benchkit_synthetic import cache
from benchkit_synthetic.datasets import SyntheticPC, SyntheticRGBD
from benchkit_synthetic.generate_pc import PCConfig
from benchkit_synthetic.generate_pc import generate_category as pc_category
from benchkit_synthetic.generate_rgbd import RGBDConfig
from benchkit_synthetic.generate_rgbd import generate_category as rgbd_category
from benchkit_synthetic.rgbd_scene import (
    BOTH_DEFECTS,
    COLOUR_DEFECTS,
    GEOMETRIC_DEFECTS,
    Camera,
    apply_defect,
    make_scene,
    render,
)


def tree_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# --- determinism -----------------------------------------------------------------------------------------------

def test_same_seed_gives_byte_identical_copies(synthetic_copies, tmp_path):
    for key, cls in (("pc", SyntheticPC), ("rgbd", SyntheticRGBD)):
        again = cls(tmp_path / key)
        again.prepare()
        first, second = tree_hashes(synthetic_copies[key].root), tree_hashes(again.root)
        assert len(first) > 50 and first == second


def test_another_seed_gives_other_data(tmp_path):
    for make, config, category in ((pc_category, PCConfig, "torus"), (rgbd_category, RGBDConfig, "cookie")):
        a, b = tmp_path / f"{category}-0", tmp_path / f"{category}-1"
        make(a, config(seed=0), category)
        make(b, config(seed=1), category)
        ha, hb = tree_hashes(a), tree_hashes(b)
        assert ha.keys() != hb.keys() or ha != hb
        # Every cloud and image differs (only the all-zero masks of good samples may coincide).
        assert all(ha[k] != hb[k] for k in ha.keys() & hb.keys() if "/good/gt/" not in k)


# --- the cache folder --------------------------------------------------------------------------------------------

def test_prepare_generates_once_then_reuses(tmp_path):
    root = tmp_path / "synthetic-pc"
    ds = SyntheticPC(root)
    assert ds.is_available() and not root.exists()
    calls = []
    assert cache.ensure_generated(root, ds.marker(), lambda out: (calls.append(out), ds._write(out)))
    assert not cache.ensure_generated(root, ds.marker(), lambda out: calls.append(out))
    assert len(calls) == 1
    assert json.loads((root / cache.MARKER).read_text()) == {"generator": "synthetic-pc", "version": "1.0",
                                                             "seed": 0, "max_rotation_deg": 10.0}
    assert len(ds.index("cone", "test")) == 12  # the reader sees the copy; the marker file is not a category
    # Another seed in the same folder replaces the copy (the marker no longer matches).
    other = SyntheticPC(root, seed=5)
    other.prepare()
    assert cache.read_marker(root)["seed"] == 5
    assert [p.name for p in tmp_path.iterdir()] == ["synthetic-pc"]  # no temporary or stale folder left


def test_reading_before_prepare_generates_the_copy(tmp_path):
    ds = SyntheticPC(tmp_path / "synthetic-pc")
    assert ds.index("soap", "train")[0].id == "1_template"
    assert cache.is_complete(ds.root, ds.marker())


def test_interrupted_generation_leaves_nothing(tmp_path):
    root = tmp_path / "synthetic-pc"

    def crash(out: Path) -> None:
        (out / "blob").mkdir()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.ensure_generated(root, {"generator": "x"}, crash)
    assert list(tmp_path.iterdir()) == []


def test_a_foreign_folder_is_not_overwritten(tmp_path):
    root = tmp_path / "synthetic-pc"
    root.mkdir()
    (root / "my-data.txt").write_text("keep me")
    with pytest.raises(DataError, match="not a synthetic dataset"):
        SyntheticPC(root).prepare()
    assert (root / "my-data.txt").read_text() == "keep me"


def test_an_empty_folder_is_filled(tmp_path):
    root = tmp_path / "synthetic-pc"
    root.mkdir()
    ds = SyntheticPC(root)
    ds.prepare()
    assert len(ds.categories()) == 6


# --- the defects are detectable ------------------------------------------------------------------------------------

def test_pc_anomalous_points_lie_farther_from_the_training_clouds(synthetic_copies):
    """Without any registration, the nearest training point is farther for anomalous points than for normal ones,
    in every category, and by a clear margin over the whole dataset."""
    from scipy.spatial import cKDTree

    ds = synthetic_copies["pc"]
    ratios = []
    for category in ds.categories():
        tree = cKDTree(np.concatenate([ds.load(r).points for r in ds.index(category, "train")]))
        anomalous, normal = [], []
        for ref in ds.index(category, "test"):
            s = ds.load(ref)
            dist, _ = tree.query(s.points)
            anomalous.append(dist[s.gt == 1])
            normal.append(dist[s.gt == 0])
        ratios.append(np.concatenate(anomalous).mean() / np.concatenate(normal).mean())
    assert min(ratios) > 1.3, ratios
    assert np.mean(ratios) > 1.8, ratios


def test_pc_defects_are_not_trivial(synthetic_copies):
    """The nearest-training-point distance must not separate every anomalous point (holes mark their rim, which
    lies on the surface): a detector needs more than coordinates to score well."""
    from scipy.spatial import cKDTree
    from sklearn.metrics import roc_auc_score

    ds = synthetic_copies["pc"]
    scores, labels = [], []
    for category in ds.categories():
        tree = cKDTree(np.concatenate([ds.load(r).points for r in ds.index(category, "train")]))
        for ref in ds.index(category, "test"):
            s = ds.load(ref)
            scores.append(tree.query(s.points)[0])
            labels.append(s.gt)
    auroc = roc_auc_score(np.concatenate(labels), np.concatenate(scores))
    assert 0.6 < auroc < 0.95, auroc


def _with_and_without(kind: str, category: str, seed: int):
    camera = Camera()
    clean = make_scene(category, camera, np.random.default_rng(seed))
    broken = copy.deepcopy(clean)
    mask = apply_defect(kind, broken, camera, np.random.default_rng(seed + 1))
    # Same sensor noise for both renderings, so any difference is the defect's.
    xyz0, rgb0 = render(clean, camera, np.random.default_rng(99))
    xyz1, rgb1 = render(broken, camera, np.random.default_rng(99))
    return mask, xyz0, rgb0, xyz1, rgb1


@pytest.mark.parametrize("category", ["donut", "cookie", "fruit", "tile", "cable"])
def test_rgbd_defects_change_only_their_modality(category):
    from scipy.ndimage import binary_dilation

    for i, kind in enumerate(GEOMETRIC_DEFECTS + COLOUR_DEFECTS + BOTH_DEFECTS):
        mask, xyz0, rgb0, xyz1, rgb1 = _with_and_without(kind, category, 10 * i)
        assert mask.any()
        depth_changed = np.abs(xyz1[..., 2] - xyz0[..., 2]) > 2e-4
        rgb_changed = np.abs(rgb1.astype(int) - rgb0.astype(int)).max(axis=-1) > 8
        near = binary_dilation(mask, iterations=12)
        if kind in GEOMETRIC_DEFECTS:
            assert np.array_equal(rgb0, rgb1), kind
            assert depth_changed[mask].mean() > 0.5 and not depth_changed[~near].any(), kind
        if kind in COLOUR_DEFECTS:
            assert np.array_equal(xyz0, xyz1), kind
            assert rgb_changed[mask].mean() > 0.5 and not rgb_changed[~near].any(), kind
        if kind in BOTH_DEFECTS:
            assert depth_changed[mask].mean() > 0.2 and rgb_changed[mask].mean() > 0.2, kind


def _quadric(xyz: np.ndarray) -> np.ndarray:
    x, y = xyz[:, 0], xyz[:, 1]
    return np.c_[x * x, y * y, x * y, x, y, np.ones(len(xyz))]


def test_rgbd_files_show_each_defect_in_its_modality(synthetic_copies):
    """On the written files: inside the mask, colour-only defects stand out from the object's colour around them
    while geometric ones do not, and geometric defects leave the object's smooth surface while colour-only ones do
    not (depth residual of a quadric fitted to the object ring around the mask)."""
    from scipy.ndimage import binary_dilation

    ds = synthetic_copies["rgbd"]
    contrast = {"rgb": {}, "depth": {}}
    for category in ds.categories():
        for ref in ds.index(category, "test"):
            if ref.label == NORMAL:
                continue
            s = ds.load(ref)
            assert ref.label == ANOMALOUS
            xyz, inside = s.xyz.astype(float), s.gt > 0
            border = np.zeros(inside.shape, dtype=bool)
            border[:6], border[-6:], border[:, :6], border[:, -6:] = True, True, True, True
            border &= s.valid
            plane, *_ = np.linalg.lstsq(np.c_[xyz[border][:, :2], np.ones(border.sum())], xyz[border][:, 2],
                                        rcond=None)
            above = np.zeros(inside.shape)
            above[s.valid] = np.c_[xyz[s.valid][:, :2], np.ones(s.valid.sum())] @ plane - xyz[s.valid][:, 2]
            ring = binary_dilation(inside, iterations=6) & ~inside & s.valid & (above > 0.001)
            surface, *_ = np.linalg.lstsq(_quadric(xyz[ring]), xyz[ring][:, 2], rcond=None)
            measured = inside & s.valid
            residual = np.abs(xyz[measured][:, 2] - _quadric(xyz[measured]) @ surface).mean()
            rgb = s.rgb.astype(float)
            contrast["rgb"].setdefault(s.defect, []).append(np.linalg.norm(rgb[inside].mean(0) - rgb[ring].mean(0)))
            contrast["depth"].setdefault(s.defect, []).append(residual)
    mean = {m: {k: float(np.mean(v)) for k, v in d.items()} for m, d in contrast.items()}
    for colour in COLOUR_DEFECTS:
        for geometric in GEOMETRIC_DEFECTS:
            assert mean["rgb"][colour] > 2 * mean["rgb"][geometric], mean
            assert mean["depth"][geometric] > 2 * mean["depth"][colour], mean
    for both in BOTH_DEFECTS:
        assert mean["rgb"][both] > 2 * max(mean["rgb"][g] for g in GEOMETRIC_DEFECTS), mean
        assert mean["depth"][both] > 2 * max(mean["depth"][c] for c in COLOUR_DEFECTS), mean
