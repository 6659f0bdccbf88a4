import numpy as np
import pytest

from benchkit import ANOMALOUS, NORMAL, DataError
from benchkit_datasets.anomaly_shapenet import CATEGORIES, AnomalyShapeNet
from benchkit_datasets.testing import make_shapenet, write_gt_txt


@pytest.fixture
def copy(tmp_path):
    return make_shapenet(tmp_path / "anomaly-shapenet")


def test_forty_categories():
    assert len(CATEGORIES) == 40 == len(set(CATEGORIES))


def test_index(copy):
    ds = AnomalyShapeNet(copy)
    assert ds.categories() == ["ashtray0", "vase9"]
    assert [r.id for r in ds.index("vase9", "train")] == [f"vase9_template{t}" for t in range(4)]
    test = {r.id: (r.label, r.defect) for r in ds.index("vase9", "test")}
    assert test == {"vase9_positive0": (NORMAL, "positive"), "vase9_positive1": (NORMAL, "positive"),
                    "vase9_bulge0": (ANOMALOUS, "bulge"), "vase9_crak1": (ANOMALOUS, "crak"),
                    "vase9_concavity0": (ANOMALOUS, "concavity")}
    ref = next(r for r in ds.index("vase9", "test") if r.id == "vase9_crak1")
    assert ref.location == ("vase9/test/vase9_crak1.pcd", "vase9/GT/vase9_crak1.txt")  # upper-case GT folder


def test_readme_style_names_parse():
    ds = AnomalyShapeNet("x")
    assert ds._defect_of("ashtray0", "1_bulge") == "bulge"
    assert ds._defect_of("bowl4", "bowl4_hole12") == "hole"


def test_comma_delimited_gt(copy):
    ds = AnomalyShapeNet(copy)
    ref = next(r for r in ds.index("ashtray0", "test") if r.defect == "bulge")
    s = ds.load(ref)
    rows = np.loadtxt(copy / ref.location[1], delimiter=",")
    np.testing.assert_allclose(s.points, rows[:, :3], atol=1e-6)
    assert s.gt.tolist() == rows[:, 3].astype(int).tolist() and s.gt.sum() == 4
    # points_from="pcd": same cloud (the tiny copy writes identical points), labels from GT
    s2 = AnomalyShapeNet(copy, points_from="pcd").load(ref)
    np.testing.assert_allclose(s2.points, s.points, atol=1e-6)
    normal = ds.load(next(r for r in ds.index("ashtray0", "test") if r.defect == "positive"))
    assert normal.points.shape == (70, 3) and not normal.gt.any()


def test_space_delimited_gt_is_reported(copy):
    ds = AnomalyShapeNet(copy)
    ref = next(r for r in ds.index("ashtray0", "test") if r.defect == "bulge")
    write_gt_txt(copy / ref.location[1], np.zeros((3, 3)), np.ones(3), " ")
    with pytest.raises(DataError, match=r"bulge0.txt: cannot parse .* space-separated \(Real3D-AD style\), expected commas"):
        ds.load(ref)


def test_gt_point_count_mismatch(copy):
    ds = AnomalyShapeNet(copy, points_from="pcd")
    ref = next(r for r in ds.index("ashtray0", "test") if r.defect == "bulge")
    write_gt_txt(copy / ref.location[1], np.zeros((59, 3)), np.ones(59), ",")
    with pytest.raises(DataError, match=r"GT/ashtray0_bulge0.txt: ground truth has 59 points but its cloud "
                                        r"ashtray0_bulge0.pcd has 60"):
        ds.load(ref)
    write_gt_txt(copy / ref.location[1], np.zeros((60, 3)), np.zeros(60), ",")
    with pytest.raises(DataError, match=r"an anomalous cloud whose ground truth marks no point"):
        ds.load(ref)
