import numpy as np
import pytest
import yaml
from PIL import Image

from benchkit import ANOMALOUS, NORMAL, DataError
from benchkit_datasets.eyecandies import CATEGORIES, FOCAL_LENGTH, ITEMS, Eyecandies, back_project
from benchkit_datasets.testing import EYE_SIZE, make_eyecandies, write_png


@pytest.fixture
def copy(tmp_path):
    return make_eyecandies(tmp_path / "eyecandies")


def test_layout_seventeen_files_per_sample(copy):
    assert len(ITEMS) == 17
    files = list((copy / "CandyCane" / "train" / "data").iterdir())
    assert len(files) == 3 * 17 and (copy / "CandyCane/train/data/000_image_4.png").is_file()
    assert (copy / "CandyCane/test_public/data/00_info_depth.yaml").is_file()
    ds = Eyecandies(copy)
    assert ds.categories() == ["CandyCane", "GummyBear"] and len(ds.expected_categories()) == 10 == len(CATEGORIES)
    assert ds.layout_problems("CandyCane") == []


def test_splits_and_labels(copy):
    ds = Eyecandies(copy)
    assert [r.id for r in ds.index("GummyBear", "train")] == ["000", "001", "002"]
    assert len(ds.index("GummyBear", "validation")) == 2
    test = ds.index("GummyBear", "test")  # test_public only; test_private (no labels) is not used
    assert [(r.id, r.label, r.defect) for r in test] == [
        ("00", NORMAL, "good"), ("01", NORMAL, "good"), ("02", ANOMALOUS, "bumps"), ("03", ANOMALOUS, "colors")]
    assert test[0].location[3] == "GummyBear/test_public/data/00_image_4.png"  # default light: image_4
    assert Eyecandies(copy, light=0).index("GummyBear", "test")[0].location[3].endswith("00_image_0.png")


def test_depth_is_denormalized_and_back_projected(copy):
    ds = Eyecandies(copy)
    ref = ds.index("CandyCane", "test")[2]
    s = ds.load(ref)
    raw = np.asarray(Image.open(copy / ref.location[0]))
    assert raw.dtype == np.uint16
    depth = raw / 65535.0 * (0.9 - 0.4) + 0.4  # info_depth.yaml: normalization min 0.4, max 0.9
    np.testing.assert_allclose(s.xyz[..., 2], depth, rtol=1e-6)
    v, u = 5, 11
    np.testing.assert_allclose(s.xyz[v, u, 0], (u - EYE_SIZE / 2) * depth[v, u] / FOCAL_LENGTH, rtol=1e-5)
    np.testing.assert_allclose(s.xyz[v, u, 1], (v - EYE_SIZE / 2) * depth[v, u] / FOCAL_LENGTH, rtol=1e-5)
    assert s.rgb.shape == (EYE_SIZE, EYE_SIZE, 3) and (s.rgb[1:, 1:] == 80).all()  # image_4 filled with 20 * 4
    assert s.gt.shape == (EYE_SIZE, EYE_SIZE) and s.gt.sum() == 16 and s.label == ANOMALOUS
    assert ds.eval_size == (224, 224)


def test_frames_apply_the_pose(copy):
    pose = np.loadtxt(copy / "CandyCane/train/data/000_pose.txt")
    cam = Eyecandies(copy).load(Eyecandies(copy).index("CandyCane", "train")[0]).xyz
    world = Eyecandies(copy, frame="world")
    xyz = world.load(world.index("CandyCane", "train")[0]).xyz
    np.testing.assert_allclose(xyz, cam + pose[:3, 3], atol=1e-6)  # identity rotation in the tiny copy
    m3dm = Eyecandies(copy, frame="m3dm")
    np.testing.assert_allclose(m3dm.load(m3dm.index("CandyCane", "train")[0]).xyz, cam - pose[:3, 3], atol=1e-6)


def test_back_project_rotation_roundtrip():
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.5, 1, (4, 6))
    angle = 0.3
    pose = np.eye(4)
    pose[:3, :3] = [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    pose[:3, 3] = [1, 2, 3]
    cam = back_project(depth, None, "camera")
    world = back_project(depth, pose, "world")
    np.testing.assert_allclose((world - pose[:3, 3]) @ pose[:3, :3], cam, atol=1e-5)
    np.testing.assert_allclose(back_project(depth, pose, "m3dm") @ pose[:3, :3].T + pose[:3, 3], cam, atol=1e-5)


def test_bad_inputs(copy):
    ds = Eyecandies(copy)
    refs = ds.index("CandyCane", "train")
    write_png(copy / refs[0].location[0], np.zeros((EYE_SIZE, EYE_SIZE), np.uint8))
    with pytest.raises(DataError, match=r"000_depth.png: expected a 16-bit single-channel depth PNG"):
        ds.load(refs[0])
    (copy / refs[1].location[1]).write_text(yaml.safe_dump({"min": 0, "max": 1}))
    with pytest.raises(DataError, match=r"001_info_depth.yaml: expected 'normalization: "):
        ds.load(refs[1])
    (copy / "CandyCane/train/data/002_normals_mask.png").unlink()
    assert ds.layout_problems("CandyCane") == [f"{copy}/CandyCane/train/data/002_normals_mask.png: file not found"]
    (copy / refs[2].location[2]).write_text("1 0 0\n0 1 0\n")
    with pytest.raises(DataError, match=r"002_pose.txt: expected a 4x4 matrix"):
        Eyecandies(copy, frame="world").load(refs[2])


def test_options_are_validated():
    with pytest.raises(ValueError, match="light=7"):
        Eyecandies("x", light=7)
    with pytest.raises(ValueError, match="frame='robot'"):
        Eyecandies("x", frame="robot")
    assert Eyecandies("x").config() == {"frame": "camera", "light": 4, "pad_square": False,
                                        "remove_background": False, "resize": None}
