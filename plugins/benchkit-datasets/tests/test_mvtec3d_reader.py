import numpy as np
import pytest
import tifffile
from benchkit_datasets.testing import MVTEC_H, MVTEC_W, make_mvtec3d, write_png

from benchkit import ANOMALOUS, NORMAL, DataError
from benchkit_datasets.mvtec3d import CATEGORIES, MVTec3D


@pytest.fixture
def copy(tmp_path):
    return make_mvtec3d(tmp_path / "mvtec3d")


def test_categories_present_and_expected(copy):
    ds = MVTec3D(copy)
    assert ds.categories() == ["bagel", "foam"]  # license.txt at the top is ignored
    assert ds.expected_categories() == list(CATEGORIES) and len(CATEGORIES) == 10
    assert ds.eval_size == (224, 224)


def test_index_counts_labels_and_locations(copy):
    ds = MVTec3D(copy)
    assert len(ds.index("bagel", "train")) == 3
    assert len(ds.index("bagel", "validation")) == 2
    test = ds.index("bagel", "test")
    assert [r.id for r in test] == ["crack/000", "crack/001", "good/000", "good/001", "hole/000"]
    assert [r.label for r in test] == [ANOMALOUS, ANOMALOUS, NORMAL, NORMAL, ANOMALOUS]
    assert test[0].location == ("bagel/test/crack/xyz/000.tiff", "bagel/test/crack/rgb/000.png",
                                "bagel/test/crack/gt/000.png")
    assert all(r.dataset == "mvtec3d" and r.split == "test" for r in test)


def test_sample_contents(copy):
    ds = MVTec3D(copy)
    ref = ds.index("bagel", "test")[1]
    s = ds.load(ref)
    raw = tifffile.imread(copy / ref.location[0])
    assert s.xyz.dtype == np.float32 and s.xyz.shape == (MVTEC_H, MVTEC_W, 3)
    np.testing.assert_array_equal(s.xyz, raw)
    np.testing.assert_array_equal(s.valid, np.any(raw != 0, axis=-1))
    assert s.rgb.dtype == np.uint8 and s.rgb.shape == (MVTEC_H, MVTEC_W, 3)
    assert s.gt.dtype == np.uint8 and set(np.unique(s.gt)) == {0, 1}  # 255 in the file becomes 1
    assert s.label == ANOMALOUS == int(s.gt.any()) and s.defect == "crack" and s.category == "bagel"
    good = ds.load(ds.index("bagel", "test")[2])
    assert good.label == NORMAL and not good.gt.any()
    train = ds.load(ds.index("foam", "train")[0])
    assert train.gt.shape == (MVTEC_H, MVTEC_W) and not train.gt.any()


def test_label_must_agree_with_mask(copy):
    write_png(copy / "bagel/test/good/gt/000.png", np.full((MVTEC_H, MVTEC_W), 255, np.uint8))
    ds = MVTec3D(copy)
    with pytest.raises(DataError, match=r"good/gt/000.png: mask is non-empty but the sample is in a 'good' folder"):
        ds.load(ds.index("bagel", "test")[2])


def test_corrupt_tiff_png_and_nan(copy):
    ds = MVTec3D(copy)
    refs = ds.index("bagel", "test")
    (copy / refs[0].location[0]).write_bytes(b"II*\x00garbage")
    with pytest.raises(DataError, match=r"crack/xyz/000.tiff: cannot read TIFF"):
        ds.load(refs[0])
    (copy / refs[1].location[1]).write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(DataError, match=r"crack/rgb/001.png: cannot read image"):
        ds.load(refs[1])
    xyz = tifffile.imread(copy / refs[2].location[0])
    xyz[1, 1] = np.nan
    tifffile.imwrite(copy / refs[2].location[0], xyz, photometric="rgb")
    with pytest.raises(DataError, match=r"good/xyz/000.tiff: point cloud holds 1 NaN"):
        ds.load(refs[2])
    tifffile.imwrite(copy / refs[3].location[0], np.zeros((4, 4), np.float32))
    with pytest.raises(DataError, match=r"expected an H x W x 3 organized point cloud"):
        ds.load(refs[3])


def test_mismatched_sizes(copy):
    ds = MVTec3D(copy)
    ref = ds.index("bagel", "test")[0]
    write_png(copy / ref.location[2], np.zeros((5, 5), np.uint8))
    with pytest.raises(DataError, match=r"crack/gt/000.png: mask is 5x5 but its sample is 12x16"):
        ds.load(ref)
    write_png(copy / ref.location[1], np.zeros((5, 5, 3), np.uint8))
    with pytest.raises(DataError, match=r"rgb/000.png: image is 5x5"):
        ds.load(ref)


def test_wrong_layout(tmp_path, copy):
    ds = MVTec3D(copy)
    with pytest.raises(DataError, match="category 'carrot' is not in this copy"):
        ds.index("carrot", "train")
    import shutil
    shutil.rmtree(copy / "foam" / "validation")
    with pytest.raises(DataError, match="foam/validation: split folder missing"):
        ds.index("foam", "validation")
    with pytest.raises(ValueError, match="unknown split"):
        ds.index("bagel", "val")
    assert MVTec3D(tmp_path / "absent").categories() == []


def test_unknown_option_is_named():
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['colour'\]"):
        MVTec3D("x", colour=True)


def test_resize_and_pad_keep_grids_aligned(copy, cache_dir):
    ds = MVTec3D(copy, resize=8, pad_square=True, cache_dir=cache_dir)
    s = ds.load(ds.index("bagel", "test")[0])
    assert s.xyz.shape == (8, 8, 3) and s.rgb.shape == (8, 8, 3) and s.gt.shape == (8, 8)
    # padded 12x16 -> 100x100 (zeros bottom and right), then nearest to 8x8: the bottom rows are padding
    assert not s.valid[-1].any()
    assert ds.config() == {"pad_square": True, "remove_background": False, "resize": [8, 8]}
    assert list(cache_dir.rglob("*.npz"))  # cached
