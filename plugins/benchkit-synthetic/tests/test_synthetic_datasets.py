"""The embedded datasets, read through the real readers: counts, labels, ground truth, registration, speed."""

from collections import Counter

import numpy as np
import pytest
from benchkit_datasets.mvtec3d import MVTec3D
from benchkit_datasets.real3d_ad import Real3DAD

from benchkit import ANOMALOUS, NORMAL, DatasetSpec
from benchkit_synthetic import plugin
from benchkit_synthetic.datasets import SyntheticPC, SyntheticRGBD
from benchkit_synthetic.pc_defects import PC_DEFECTS
from benchkit_synthetic.rgbd_scene import RGBD_DEFECTS


def test_both_generate_in_under_30_seconds(synthetic_copies):
    assert synthetic_copies["seconds"] < 30


def test_synthetic_pc_counts_labels_and_ground_truth(synthetic_copies):
    ds = synthetic_copies["pc"]
    assert isinstance(ds, Real3DAD)
    assert ds.categories() == sorted(ds.expected_categories()) and len(ds.categories()) == 6
    kinds = Counter()
    for category in ds.categories():
        train = ds.index(category, "train")
        test = ds.index(category, "test")
        assert len(train) == 4 and ds.index(category, "validation") == []
        assert Counter(r.label for r in test) == {NORMAL: 6, ANOMALOUS: 6}
        assert {r.defect for r in test if r.label == ANOMALOUS} == set(PC_DEFECTS)  # every kind in every class
        kinds.update(r.defect for r in test)
        for ref in train:
            s = ds.load(ref)
            assert s.points.shape == (4000, 3) and not s.gt.any()
        for ref in test:
            s = ds.load(ref)
            assert s.points.dtype == np.float32 and s.gt.shape == (len(s.points),)
            assert np.abs(s.points.mean(axis=0)).max() < 0.05  # mean-centred (mm)
            assert 10 < np.ptp(s.points, axis=0).max() < 50  # objects are a few cm, in millimetres
            if s.label == NORMAL:
                assert len(s.points) == 3000 and not s.gt.any() and s.defect == "good"
            else:
                assert set(np.unique(s.gt)) == {0, 1}
                assert 0.01 <= s.gt.mean() <= 0.075, (ref.id, s.gt.mean())
    assert kinds["good"] == 36


def test_synthetic_pc_gt_file_and_pcd_hold_the_same_points(synthetic_copies):
    ds = synthetic_copies["pc"]
    from_pcd = SyntheticPC(ds.root, points_from="pcd")
    for ref in [r for r in ds.index("torus", "test") if r.label == ANOMALOUS]:
        a, b = ds.load(ref), from_pcd.load(ref)
        np.testing.assert_allclose(a.points, b.points, atol=1e-5)
        np.testing.assert_array_equal(a.gt, b.gt)


def test_synthetic_rgbd_counts_labels_and_ground_truth(synthetic_copies):
    ds = synthetic_copies["rgbd"]
    assert isinstance(ds, MVTec3D)
    assert ds.categories() == sorted(ds.expected_categories()) and len(ds.categories()) == 5
    assert ds.eval_size == (224, 224)
    seen = set()
    for category in ds.categories():
        assert len(ds.index(category, "train")) == 10 and len(ds.index(category, "validation")) == 2
        test = ds.index(category, "test")
        assert Counter(r.label for r in test) == {NORMAL: 6, ANOMALOUS: 6}
        seen |= {r.defect for r in test}
        for ref in ds.index(category, "train")[:2] + test:
            s = ds.load(ref)
            assert s.xyz.shape == (192, 192, 3) and s.xyz.dtype == np.float32
            assert s.rgb.shape == (192, 192, 3) and s.rgb.dtype == np.uint8
            assert s.gt.shape == (192, 192) and s.gt.dtype == np.uint8
            assert s.valid.mean() > 0.85  # only steep walls lack points
            depth = s.xyz[..., 2][s.valid]
            assert 0.44 < depth.min() and depth.max() < 0.56  # a plane at about 0.5 m
            if s.label == ANOMALOUS:
                assert 0.001 < s.gt.mean() < 0.05, (ref.id, s.gt.mean())
            else:
                assert not s.gt.any()
    assert seen == {"good", *RGBD_DEFECTS}


def test_registered_specs_build_the_reader_subclasses(tmp_path):
    from importlib.metadata import entry_points

    assert "benchkit_synthetic.plugin" in {ep.value for ep in entry_points(group="benchkit")}
    specs = {}
    plugin.register_datasets(lambda spec: specs.setdefault(spec.name, spec))
    for name, cls, modalities in (("synthetic-pc", SyntheticPC, {"points"}),
                                  ("synthetic-rgbd", SyntheticRGBD, {"points", "xyz", "rgb"})):
        spec = specs[name]
        assert isinstance(spec, DatasetSpec) and spec.embedded and set(spec.modalities) == modalities
        ds = spec.factory(tmp_path / name, seed=3)
        assert isinstance(ds, cls) and ds.is_available()  # before generation, too
        assert ds.config()["seed"] == 3 and ds.config()["generator_version"] == spec.version
        assert list(spec.categories) == ds.expected_categories()


def test_bad_generator_options_are_named(tmp_path):
    with pytest.raises(ValueError, match="seed"):
        SyntheticPC(tmp_path, seed=-1)
    with pytest.raises(ValueError, match="max_rotation_deg"):
        SyntheticPC(tmp_path, max_rotation_deg="a lot")
    with pytest.raises(ValueError, match="image_size"):
        SyntheticRGBD(tmp_path, image_size=8)
