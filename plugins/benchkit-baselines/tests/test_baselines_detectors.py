"""The four baselines on small synthetic clouds: above chance, right map shapes, deterministic, clear errors."""

import subprocess
import sys

import numpy as np
import pytest
from benchkit import DataError, Sample
from sklearn.metrics import roc_auc_score

from benchkit_baselines.btf import pooled_patches, raw_depth_patches
from benchkit_components.grid import resize_nearest
from benchkit_baselines.plugin import SPECS

NAMES = ["btf-raw", "btf-fpfh", "patchcore-fpfh", "patchcore-fpfh-raw"]
SPEC = {spec.name: spec for spec in SPECS}


def _build(name, **params):
    if name.startswith("btf"):
        params.setdefault("image_size", 112)  # keeps the organized FPFH cheap; the recipe's 224 is the default
    return SPEC[name].build(**params)


def _run(name, split, **params):
    train, test = split
    detector = _build(name, **params).fit(train)
    return detector, detector.predict([s.hidden() for s in test])


def _aurocs(test, predictions):
    image = roc_auc_score([s.label for s in test], [p.score for p in predictions])
    labels, values = [], []
    for sample, prediction in zip(test, predictions):
        gt = sample.gt if prediction.map.shape == sample.gt.shape else resize_nearest(sample.gt, prediction.map.shape)
        labels.append(gt.ravel())
        values.append(prediction.map.ravel())
    return image, roc_auc_score(np.concatenate(labels), np.concatenate(values))


def test_registered_specs():
    assert sorted(SPEC) == sorted(NAMES)
    for spec in SPECS:
        assert spec.consumes == frozenset({"points"}) and spec.trains and not spec.needs_category
        assert spec.settings == {"one-model-one-class", "few-shot", "unified", "unified-agnostic"}  # not zero-shot


def test_plugin_module_imports_no_heavy_library():
    code = ("import sys; import benchkit; before = set(sys.modules); import benchkit_baselines.plugin; "
            "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in {'open3d', 'faiss', 'torch'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


@pytest.mark.parametrize("name", NAMES)
def test_unorganized_clouds_above_chance(name, point_clouds):
    train, test = point_clouds
    # 1,500-point toy clouds: Real3D-AD's BTF strides (every 100th / 500th point of 40k-1.6M-point scans) would leave
    # three queries per cloud, so BTF runs with its documented data-scaled strides and spacing-relative radii here
    scaled = dict(train_stride="auto", test_stride="auto", radius_unit="spacing") if name.startswith("btf") else {}
    detector, predictions = _run(name, point_clouds, seed=0, **scaled)
    assert [p.map.shape for p in predictions] == [s.map_shape for s in test]
    image_auroc, point_auroc = _aurocs(test, predictions)
    assert image_auroc >= 0.85 and point_auroc >= 0.85, (image_auroc, point_auroc)
    assert detector.memory_bank_bytes() > 0


@pytest.mark.parametrize("name", NAMES)
def test_organized_clouds_above_chance(name, organized_clouds):
    train, test = organized_clouds
    detector, predictions = _run(name, organized_clouds, seed=0)
    expected = (112, 112) if name.startswith("btf") else test[0].map_shape
    assert all(p.map.shape == expected for p in predictions)
    image_auroc, pixel_auroc = _aurocs(test, predictions)
    assert image_auroc >= 0.85 and pixel_auroc >= 0.85, (image_auroc, pixel_auroc)


@pytest.mark.parametrize("name", ["btf-fpfh", "patchcore-fpfh-raw"])
def test_deterministic_for_a_seed(name, point_clouds, organized_clouds):
    # PatchCore with registration on (its default) and clouds larger than max_points: the subsample, the RANSAC
    # and the coreset all depend on the seed only
    for split in (point_clouds, organized_clouds):
        _, first = _run(name, split, seed=3, max_points=1000)
        _, again = _run(name, split, seed=3, max_points=1000)
        assert [p.score for p in first] == [p.score for p in again]
        for a, b in zip(first, again):
            np.testing.assert_array_equal(a.map, b.map)


def test_btf_default_size_maps_are_224(organized_clouds):
    train, test = organized_clouds
    predictions = SPEC["btf-raw"].build().fit(train[:1]).predict([test[1].hidden()])
    assert predictions[0].map.shape == (224, 224)


def test_raw_patch_layout_is_64_consecutive_row_major_pixels():
    depth = np.arange(224 * 224, dtype=np.float32).reshape(224, 224)
    patches = raw_depth_patches(depth)
    assert patches.shape == (784, 64)
    np.testing.assert_array_equal(patches[0], np.arange(64))
    np.testing.assert_array_equal(patches[3], np.arange(192, 256))  # runs over the end of image row 0 into row 1
    np.testing.assert_array_equal(patches[783], np.arange(224 * 224 - 64, 224 * 224))


def test_pooled_patches_are_row_major_over_the_28x28_grid():
    rows = np.broadcast_to(np.arange(224, dtype=np.float32)[:, None], (224, 224))
    image = np.stack([rows, rows.T, np.ones((224, 224), np.float32)])  # channel 0: row index, 1: column index
    patches = pooled_patches(image)
    assert patches.shape == (784, 3)
    np.testing.assert_allclose(patches[:, 2], 1.0)
    grid_rows = patches[:, 0].reshape(28, 28)
    grid_cols = patches[:, 1].reshape(28, 28)
    assert (np.diff(grid_rows, axis=0) > 0).all() and np.allclose(np.diff(grid_rows, axis=1), 0, atol=1e-3)
    assert (np.diff(grid_cols, axis=1) > 0).all() and np.allclose(np.diff(grid_cols, axis=0), 0, atol=1e-3)


def test_defaults_are_the_published_recipes():
    btf = SPEC["btf-fpfh"].build().get_params()
    assert btf["radius_unit"] == "absolute" and btf["normal_radius"] is None and btf["max_points"] is None
    assert (btf["train_stride"], btf["test_stride"]) == (100, 500)  # Real3D-AD's main_btf_fpfh.py
    assert SPEC["btf-raw"].build().get_params()["features"] == "raw"
    patchcore = SPEC["patchcore-fpfh"].build(seed=5).get_params()
    assert patchcore["seed"] == 5 and patchcore["with_raw"] is False and patchcore["refine"] is False
    assert patchcore["max_bank"] == 10_000 and patchcore["coreset_fraction"] is None
    assert patchcore["projection"] == "linear" and patchcore["max_points"] is None
    assert not SPEC["patchcore-fpfh"].accepts_organized and SPEC["btf-fpfh"].accepts_organized


def test_recipe_radii_follow_the_kind_of_data(point_clouds, organized_clouds):
    organized = _build("btf-fpfh", image_size=56).fit(organized_clouds[0][:1])
    assert (organized.radii_.normal, organized.radii_.fpfh) == (0.1, 0.25)  # 3D-ADS, metres
    unorganized = _build("btf-fpfh").fit(point_clouds[0][:1])
    assert (unorganized.radii_.normal, unorganized.radii_.fpfh) == (1.0, 2.5)  # Real3D-AD, millimetres
    patchcore = _build("patchcore-fpfh", register=False).fit(point_clouds[0][:1])
    assert (patchcore.radii_.normal, patchcore.radii_.fpfh, patchcore.voxel_length_) == (1.0, 2.5, 0.5)


def test_absolute_radii_are_taken_as_given(point_clouds):
    train, _ = point_clouds
    detector = _build("btf-fpfh", radius_unit="absolute", normal_radius=0.2, fpfh_radius=0.4).fit(train[:1])
    assert (detector.radii_.normal, detector.radii_.fpfh) == (0.2, 0.4)


def test_sample_without_geometry_is_a_data_error():
    rgb_only = Sample(id="a", category="c", label=0, rgb=np.zeros((8, 8, 3), np.uint8), meta={"path": "x/rgb/a.png"})
    with pytest.raises(DataError, match="x/rgb/a.png"):
        SPEC["patchcore-fpfh"].build().fit([rgb_only])


def test_mixing_organized_and_unorganized_is_a_data_error(point_clouds, organized_clouds):
    detector = _build("btf-raw").fit(point_clouds[0][:1])
    with pytest.raises(DataError, match="fitted on unorganized"):
        detector.predict([organized_clouds[1][0]])


def test_registration_undoes_a_known_rigid_motion(make_ellipsoid):
    from benchkit_components.fpfh import mean_spacing
    from benchkit_baselines.registration import prepare, register

    rng = np.random.default_rng(0)
    template, _ = make_ellipsoid(3000, rng, bump=np.array([1.0, 0.5, 0.2]))  # the bump breaks the ellipsoid's symmetry
    angle = np.deg2rad(40)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    moved = template @ rotation.T + [0.3, -0.2, 0.1]
    voxel = 4 * mean_spacing(template)
    target = prepare(template, voxel)
    coarse = register(moved, target, voxel, seed=0, refine=False)
    aligned = register(moved, target, voxel, seed=0)
    # RANSAC alone: within a voxel for most points, a few voxels at worst; ICP then brings it well under a voxel
    coarse_error = np.linalg.norm(coarse - template, axis=1)
    assert np.median(coarse_error) < voxel and coarse_error.max() < 4 * voxel, (coarse_error, voxel)
    error = np.linalg.norm(aligned - template, axis=1)
    assert np.median(error) < 0.2 * voxel and error.max() < voxel, (np.median(error), error.max(), voxel)
    np.testing.assert_array_equal(aligned, register(moved, target, voxel, seed=0))  # same seed, same transform


def test_kabsch_recovers_a_rigid_motion_in_a_batch():
    from benchkit_baselines.registration import apply, kabsch

    rng = np.random.default_rng(1)
    source = rng.normal(size=(2, 10, 3))
    rotations = np.linalg.qr(rng.normal(size=(2, 3, 3)))[0]
    rotations *= np.sign(np.linalg.det(rotations))[:, None, None]  # proper rotations
    target = source @ np.swapaxes(rotations, 1, 2) + [[[1.0, 2.0, 3.0]], [[-1.0, 0.0, 0.5]]]
    transforms = kabsch(source, target)
    for k in range(2):
        np.testing.assert_allclose(apply(transforms[k], source[k]), target[k], atol=1e-10)


def test_every_baseline_is_rebuilt_from_its_recorded_params():
    """scikit-learn's convention: factory(**get_params()) gives the same detector (the record can rebuild it);
    the parameter a detector name fixes can be passed back but not changed."""
    from benchkit_baselines.plugin import SPECS

    for spec in SPECS:
        params = spec.factory().get_params()
        assert spec.factory(**params).get_params() == params, spec.name
    with pytest.raises(ValueError, match="another detector"):
        SPECS[0].factory(features="fpfh")
