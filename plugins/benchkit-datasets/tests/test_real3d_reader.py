import numpy as np
import pytest
from benchkit_datasets.testing import make_real3d, write_gt_txt, write_pcd

from benchkit import ANOMALOUS, NORMAL, DataError
from benchkit_datasets.real3d_ad import CATEGORIES, Real3DAD


@pytest.fixture
def copy(tmp_path):
    return make_real3d(tmp_path / "real3d-ad")


def test_categories(copy):
    ds = Real3DAD(copy)
    assert ds.categories() == ["airplane", "shell"]
    assert len(ds.expected_categories()) == 12 == len(CATEGORIES)
    assert ds.eval_size is None


def test_template_and_prototype_are_both_training_clouds(copy):
    train = Real3DAD(copy).index("airplane", "train")
    assert [r.id for r in train] == ["1_template", "2_prototype"]
    assert Real3DAD(copy).index("airplane", "validation") == []


def test_test_labels_from_names(copy):
    test = Real3DAD(copy).index("airplane", "test")
    by_id = {r.id: r for r in test}
    assert {k: (r.label, r.defect) for k, r in by_id.items()} == {
        "1_good": (NORMAL, "good"), "2_good_cut": (NORMAL, "good_cut"), "5_good_copy": (NORMAL, "good_copy"),
        "3_bulge": (ANOMALOUS, "bulge"), "4_sink_cut": (ANOMALOUS, "sink_cut"),
    }
    assert by_id["3_bulge"].location == ("airplane/test/3_bulge.pcd", "airplane/gt/3_bulge.txt")


def test_anomalous_cloud_comes_from_the_space_delimited_gt(copy):
    ds = Real3DAD(copy)
    ref = next(r for r in ds.index("shell", "test") if r.id == "3_bulge")
    s = ds.load(ref)
    gt_rows = np.loadtxt(copy / ref.location[1])
    assert s.points.dtype == np.float32 and s.points.shape == (95, 3)  # the pcd has 100 points; the gt has 95
    np.testing.assert_allclose(s.points, gt_rows[:, :3], atol=1e-6)
    assert s.gt.dtype == np.uint8 and s.gt.shape == (95,) and s.gt.sum() == 7
    assert s.label == ANOMALOUS and s.map_shape == (95,)


def test_normal_cloud_from_pcd_with_zero_gt(copy):
    ds = Real3DAD(copy)
    s = ds.load(next(r for r in ds.index("shell", "test") if r.id == "2_good_cut"))
    assert s.points.shape == (90, 3) and s.gt.shape == (90,) and not s.gt.any() and s.label == NORMAL
    train = ds.load(ds.index("shell", "train")[0])
    assert train.points.shape == (120, 3)


def test_gt_files_for_good_clouds_are_tolerated(tmp_path):
    ds = Real3DAD(make_real3d(tmp_path / "r", gt_for_good=True))
    assert sum(r.label == NORMAL for r in ds.index("airplane", "test")) == 3


def test_points_from_pcd_checks_point_count(copy):
    ds = Real3DAD(copy, points_from="pcd")
    ref = next(r for r in ds.index("shell", "test") if r.id == "3_bulge")
    with pytest.raises(DataError, match=r"gt/3_bulge.txt: ground truth has 95 points but its cloud 3_bulge.pcd has 100"):
        ds.load(ref)


def test_bad_point_inputs(copy):
    ds = Real3DAD(copy)
    refs = {r.id: r for r in ds.index("airplane", "test")}
    write_pcd(copy / refs["1_good"].location[0], np.zeros((0, 3)))
    with pytest.raises(DataError, match=r"1_good.pcd: the point cloud is empty"):
        ds.load(refs["1_good"])
    (copy / refs["2_good_cut"].location[0]).write_bytes(b"\x00\x01 not a pcd")
    with pytest.raises(DataError, match=r"2_good_cut.pcd: not a valid PCD file"):
        ds.load(refs["2_good_cut"])
    pts = np.random.default_rng(0).random((10, 3))
    pts[3, 1] = np.nan
    write_pcd(copy / refs["5_good_copy"].location[0], pts)
    with pytest.raises(DataError, match=r"5_good_copy.pcd: point cloud holds 1 NaN"):
        ds.load(refs["5_good_copy"])
    # a comma-delimited gt where spaces are expected is reported, not misread
    write_gt_txt(copy / refs["3_bulge"].location[1], np.zeros((5, 3)), np.ones(5), ",")
    with pytest.raises(DataError, match=r"3_bulge.txt: cannot parse .* rows are comma-separated \(Anomaly-ShapeNet style\), expected spaces"):
        ds.load(refs["3_bulge"])
    write_gt_txt(copy / refs["4_sink_cut"].location[1], np.zeros((5, 3)), np.full(5, 2), " ")
    with pytest.raises(DataError, match=r"4_sink_cut.txt: labels must be 0 or 1"):
        ds.load(refs["4_sink_cut"])
    (copy / refs["4_sink_cut"].location[1]).unlink()
    with pytest.raises(DataError, match=r"4_sink_cut.txt: file not found"):
        ds.load(refs["4_sink_cut"])


def test_voxel_down_sampling_keeps_anomalies_and_is_cached(copy, cache_dir):
    ds = Real3DAD(copy, voxel_size=0.25, center=True, cache_dir=cache_dir)
    ref = next(r for r in ds.index("shell", "test") if r.id == "3_bulge")
    s = ds.load(ref)
    assert 0 < len(s.points) < 95 and s.gt.shape == (len(s.points),) and s.gt.any()
    np.testing.assert_allclose(s.points.mean(axis=0), 0, atol=1e-5)
    entries = list(cache_dir.rglob("*.npz"))
    assert len(entries) == 1
    again = ds.load(ref)
    np.testing.assert_array_equal(again.points, s.points)
    assert list(cache_dir.rglob("*.npz")) == entries
    assert ds.config() == {"center": True, "points_from": "gt", "voxel_size": 0.25}
