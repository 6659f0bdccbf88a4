"""benchkit.dataset_tools: metadata files, locating copies, verify reporting every problem at once."""

import json
import shutil

import pytest

from benchkit import DataError
from benchkit import dataset_tools as dt
from benchkit.plugins import get_registry

REAL = ("mvtec3d", "eyecandies", "real3d-ad", "anomaly-shapenet")


def test_every_registered_dataset_has_valid_meta():
    names = set(get_registry().datasets)
    assert set(REAL) <= names
    for name in names:
        meta = dt.load_meta(name)
        spec = get_registry().datasets[name]
        assert meta.embedded == spec.embedded
        assert sorted(meta.modalities) == sorted(spec.modalities)
        if spec.categories:
            assert list(meta.categories) == list(spec.categories) or sorted(meta.categories) == sorted(spec.categories)


def test_category_counts_of_the_full_benchmarks():
    assert {n: len(dt.load_meta(n).categories) for n in REAL} == {
        "mvtec3d": 10, "eyecandies": 10, "real3d-ad": 12, "anomaly-shapenet": 40}
    assert dt.load_meta("mvtec3d").totals.model_dump() == {
        "train": 2656, "validation": 294, "test_normal": 247, "test_anomalous": 950}


def test_synthetic_meta_matches_the_generators():
    gen_pc = pytest.importorskip("benchkit_synthetic.generate_pc")
    gen_rgbd = pytest.importorskip("benchkit_synthetic.generate_rgbd")
    pc, rgbd = gen_pc.PCConfig(), gen_rgbd.RGBDConfig()
    meta = dt.load_meta("synthetic-pc")
    assert meta.categories == list(pc.categories)
    assert all(c.model_dump() == {"train": pc.train_per_category, "validation": 0,
                                  "test_normal": pc.test_good_per_category,
                                  "test_anomalous": pc.test_defective_per_category} for c in meta.counts.values())
    assert set(meta.defect_types[meta.categories[0]]) == set(gen_pc.PC_DEFECTS)
    meta = dt.load_meta("synthetic-rgbd")
    assert meta.categories == list(rgbd.categories)
    assert all(c.model_dump() == {"train": rgbd.train_per_category, "validation": rgbd.validation_per_category,
                                  "test_normal": rgbd.test_good_per_category,
                                  "test_anomalous": rgbd.test_defective_per_category} for c in meta.counts.values())


def test_meta_validation_catches_inconsistent_sums(tmp_path):
    data = json.loads((dt.meta_path("real3d-ad")).read_text())
    data["counts"]["shell"]["test_normal"] = 51
    (tmp_path / "real3d-ad.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match="test_normal: categories sum to 603 but totals say 604"):
        dt.load_meta("real3d-ad", tmp_path)
    with pytest.raises(DataError, match="no metadata file"):
        dt.load_meta("nope", tmp_path)


def test_find_data_root(tmp_path, monkeypatch):
    (tmp_path / "mvtec3d").mkdir()
    assert dt.find_data_root("mvtec3d", tmp_path) == tmp_path / "mvtec3d"
    assert dt.find_data_root("real3d-ad", tmp_path) is None
    monkeypatch.setenv("BENCHKIT_DATA", str(tmp_path))
    assert dt.find_data_root("mvtec3d") == tmp_path / "mvtec3d"
    monkeypatch.delenv("BENCHKIT_DATA")
    assert dt.find_data_root("mvtec3d") is None


def test_missing_copy_says_where_to_put_and_download(tmp_path):
    with pytest.raises(DataError, match=rf"put it at {tmp_path}/real3d-ad.*Download: https://github.com/M-3LAB"):
        dt.prepare("real3d-ad", data_root=tmp_path)


def _tiny_meta(tmp_path, name, counts, categories):
    """A copy of the real metadata whose counts describe the tiny test copy."""
    data = json.loads((dt.meta_path(name)).read_text())
    data["categories"] = list(categories)
    data["counts"] = {c: counts for c in categories}
    data["defect_types"] = {}
    data["totals"] = {k: None for k in counts}
    folder = tmp_path / "meta"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(data))
    return folder


def test_verify_reports_every_problem_at_once(tmp_path, monkeypatch):
    testing = pytest.importorskip("benchkit_datasets.testing")
    root = testing.make_mvtec3d(tmp_path / "mvtec3d", categories=("bagel", "foam"))
    counts = {"train": 3, "validation": 2, "test_normal": 2, "test_anomalous": 3}
    monkeypatch.setenv("BENCHKIT_DATASETS_META", str(_tiny_meta(tmp_path, "mvtec3d", counts, ("bagel", "foam", "tire"))))
    assert dt.verify("mvtec3d", root) == [f"{root}/tire: category 'tire' missing (partial copy: runs use the present ones)"]
    (root / "bagel/train/good/rgb/001.png").unlink()
    (root / "foam/test/hole/gt/000.png").unlink()
    (root / "foam/test/crack/xyz/001.tiff").write_bytes(b"not a tiff")
    shutil.rmtree(root / "foam/validation/good")
    problems = dt.verify("mvtec3d", root)
    text = "\n".join(problems)
    assert "bagel/train/good/rgb/001.png: file not found" in text
    assert "foam/test/hole/gt/000.png: file not found" in text
    assert "foam/test/crack/xyz/001.tiff: cannot read TIFF" in text
    assert f"{root}/foam: 0 validation samples, expected 2" in text
    assert len(problems) == 5  # tire missing + the four above, each once


def test_verify_point_dataset_and_prepare_fills_cache(tmp_path, monkeypatch):
    testing = pytest.importorskip("benchkit_datasets.testing")
    root = testing.make_shapenet(tmp_path / "anomaly-shapenet", categories=("ashtray0",))
    counts = {"train": 4, "validation": 0, "test_normal": 2, "test_anomalous": 3}
    monkeypatch.setenv("BENCHKIT_DATASETS_META", str(_tiny_meta(tmp_path, "anomaly-shapenet", counts, ("ashtray0",))))
    assert dt.verify("anomaly-shapenet", root) == []
    (root / "ashtray0/GT/ashtray0_bulge0.txt").unlink()
    assert dt.verify("anomaly-shapenet", root) == [f"{root}/ashtray0/GT/ashtray0_bulge0.txt: file not found"]
    cache = tmp_path / "cache"
    (root / "ashtray0/test/ashtray0_bulge0.pcd").unlink()
    result = dt.prepare("anomaly-shapenet", root, voxel_size=0.2, cache_dir=str(cache))
    assert result["samples_preprocessed"] == 4 + 2 + 2 and result["problems"] == []
    assert len(list(cache.rglob("*.npz"))) == 8
    assert result["config"] == {"center": False, "points_from": "gt", "voxel_size": 0.2}


def test_info_and_list(tmp_path):
    out = dt.info("eyecandies")
    assert out["plugin"]["embedded"] is False and out["eval_size"] == (224, 224)
    rows = {r["name"]: r for r in dt.list_datasets(tmp_path)}
    assert rows["mvtec3d"]["root"] is None and rows["mvtec3d"]["categories_expected"] == 10
