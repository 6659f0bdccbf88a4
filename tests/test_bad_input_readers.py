"""Readers reject what they cannot read correctly, naming the file (issue 11): truncated PCDs, xyz TIFFs that are not
float H x W x 3, empty test splits, folders that are not categories, files with unexpected names."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from benchkit import DataError
from benchkit_datasets import io
from benchkit_datasets.mvtec3d import MVTec3D
from benchkit_datasets.real3d_ad import Real3DAD
from benchkit_datasets.testing import make_mvtec3d, make_real3d, write_pcd


def _truncate_rows(path, keep: int, tail: str = "") -> None:
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("DATA")) + 1
    path.write_text("\n".join(lines[:start + keep]) + "\n" + tail)


def test_truncated_ascii_pcd_is_rejected_not_read_as_stale_memory(tmp_path):
    path = tmp_path / "cloud.pcd"
    write_pcd(path, np.random.default_rng(0).random((80, 3)))
    assert io.read_pcd(path).shape == (80, 3)
    _truncate_rows(path, 50)
    with pytest.raises(DataError, match="declares 80 points but the file holds only 50") as err:
        io.read_pcd(path)
    assert err.value.path == str(path) and "re-download" in str(err.value)


def test_pcd_cut_mid_row_names_the_short_row(tmp_path):
    path = tmp_path / "cloud.pcd"
    write_pcd(path, np.random.default_rng(0).random((80, 3)))
    _truncate_rows(path, 79, tail="0.25 0.5")
    with pytest.raises(DataError, match="last data row has 2 values"):
        io.read_pcd(path)


def test_pcd_with_more_rows_than_declared_is_rejected(tmp_path):
    path = tmp_path / "cloud.pcd"
    write_pcd(path, np.random.default_rng(0).random((10, 3)))
    path.write_text(path.read_text().replace("POINTS 10", "POINTS 8").replace("WIDTH 10", "WIDTH 8"))
    with pytest.raises(DataError, match="declares 8 points but the file holds 10"):
        io.read_pcd(path)


def test_truncated_binary_pcd_is_rejected(tmp_path):
    import open3d as o3d

    path = tmp_path / "cloud.pcd"
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.random.default_rng(0).random((80, 3))))
    o3d.io.write_point_cloud(str(path), cloud, write_ascii=False)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="declares 80 points but the file holds only"):
        io.read_pcd(path)


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.complex64])
def test_xyz_tiff_that_is_not_float_is_rejected(tmp_path, dtype):
    path = tmp_path / "000.tiff"
    tifffile.imwrite(path, np.ones((12, 16, 3), dtype=dtype), photometric="rgb")
    with pytest.raises(DataError, match=f"expected float x, y, z coordinates, got {np.dtype(dtype)}"):
        io.read_xyz_tiff(path)


def test_xyz_tiff_of_wrong_shape_is_rejected(tmp_path):
    path = tmp_path / "000.tiff"
    tifffile.imwrite(path, np.ones((12, 16), dtype=np.float32))
    with pytest.raises(DataError, match=r"H x W x 3 .* shape \(12, 16\)"):
        io.read_xyz_tiff(path)


def test_empty_test_split_names_the_folder(tmp_path):
    root = make_mvtec3d(tmp_path / "mvtec3d")
    for tiff in (root / "bagel" / "test").rglob("*.tiff"):
        tiff.unlink()
    ds = MVTec3D(root)
    with pytest.raises(DataError, match="no test samples in category 'bagel'") as err:
        ds.index("bagel", "test")
    assert err.value.path == str(root / "bagel" / "test")
    assert len(ds.index("foam", "test")) == 5  # the other category is untouched

    real = make_real3d(tmp_path / "real3d-ad")
    for pcd in (real / "shell" / "test").glob("*.pcd"):
        pcd.unlink()
    with pytest.raises(DataError, match="no test samples in category 'shell'"):
        Real3DAD(real).index("shell", "test")


def test_category_missing_its_test_folder_still_counts_so_its_jobs_can_fail(tmp_path):
    import shutil

    root = make_mvtec3d(tmp_path / "mvtec3d")
    shutil.rmtree(root / "bagel" / "test")
    ds = MVTec3D(root)
    assert ds.categories() == ["bagel", "foam"]
    with pytest.raises(DataError, match="split folder missing"):
        ds.index("bagel", "test")


def test_folder_that_is_not_a_category_is_named_not_run(tmp_path):
    root = make_mvtec3d(tmp_path / "mvtec3d")
    (root / "bagel_old" / "train").mkdir(parents=True)
    (root / "__MACOSX").mkdir()
    ds = MVTec3D(root)
    assert ds.categories() == ["bagel", "foam"]
    notices = ds.notices()
    assert [n for n in notices if "bagel_old" in n] == [
        f"{root / 'bagel_old'}: folder is not a category of {ds.name} (expected: {', '.join(ds.CATEGORIES)}); not run"]
    assert not any("__MACOSX" in n for n in notices)  # not shaped like a category: not a candidate


def test_files_with_unexpected_names_are_named(tmp_path):
    root = make_mvtec3d(tmp_path / "mvtec3d")
    xyz = root / "bagel" / "test" / "crack" / "xyz"
    (xyz / "000.tiff").rename(xyz / "000.TIFF")
    (xyz / "001.tiff").rename(xyz / "001.tif")
    real = make_real3d(tmp_path / "real3d-ad")
    (real / "airplane" / "test" / "9_bulge.ply").write_text("ply\n")
    mv_notes, real_notes = MVTec3D(root).notices(), Real3DAD(real).notices()
    assert len(mv_notes) == 2 and all("unexpected file name" in n and "*.tiff" in n for n in mv_notes)
    assert {n.split(":")[0] for n in mv_notes} == {str(xyz / "000.TIFF"), str(xyz / "001.tif")}
    assert len(real_notes) == 1 and real_notes[0].startswith(str(real / "airplane" / "test" / "9_bulge.ply"))
    assert MVTec3D(make_mvtec3d(tmp_path / "clean")).notices() == []
