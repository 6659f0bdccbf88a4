"""Anomaly-map thumbnails: which samples are pictured, what is drawn, and the site's gallery across detectors."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from records_factory import make_record  # noqa: E402

from benchkit import Sample, SampleRef  # noqa: E402
from benchkit.results import write_record  # noqa: E402
from benchkit.site import build_site  # noqa: E402
from benchkit.thumbnails import SIZE, pick, pictures, thumbnails_dir, thumbnails_of, write_thumbnails  # noqa: E402


def _refs():
    return [SampleRef("toy", cat, "test", f"{cat}{i}", label) for cat in ("b", "a")
            for i, label in enumerate((0, 1, 1, 0, 1))]


def test_pick_is_fixed_per_category_and_independent_of_order():
    refs = _refs()
    chosen = [refs[i].id for i in pick(refs)]
    assert chosen == ["a1", "a2", "a0", "b1", "b2", "b0"]  # per category: 2 anomalous then 1 normal, by id
    assert [refs[::-1][i].id for i in pick(refs[::-1])] == chosen


def test_pictures_of_points_and_organized_samples():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(500, 3)).astype(np.float32)
    gt = (pts[:, 0] > 1).astype(np.uint8)
    out = pictures(Sample(id="p", category="a", label=1, points=pts, gt=gt), pts[:, 0])
    assert set(out) == {"input", "gt", "map"} and all(v.shape == (SIZE, SIZE, 3) for v in out.values())
    red = np.all(out["gt"] == (220, 38, 38), axis=-1)
    assert red.any() and not np.all(out["map"] == out["map"][0, 0])
    xyz = np.zeros((40, 60, 3), np.float32)
    xyz[5:35, 5:55, 2] = 1.0
    mask = np.zeros((40, 60), np.uint8)
    mask[10:20, 10:20] = 1
    rgb = np.full((40, 60, 3), 90, np.uint8)
    out = pictures(Sample(id="o", category="a", label=1, xyz=xyz, rgb=rgb, gt=mask), np.ones((8, 12)))
    assert out["input"].shape[:2] == (107, 160) and out["gt"].max() == 255 and out["gt"].min() == 0


def test_gallery_sets_the_same_samples_side_by_side(tmp_path):
    res = tmp_path / "res"
    rng = np.random.default_rng(1)
    pts = rng.normal(size=(300, 3)).astype(np.float32)
    for n, det in enumerate(("alpha", "<img src=x onerror=alert(1)>")):
        rec = make_record(det, "a", 0, {"a": {"i_auroc": 0.8}})
        path = res / "toy" / f"{n}.json"
        write_record(rec, path)
        samples = [(Sample(id=f"s{i}", category="a", label=i % 2, points=pts, gt=(pts[:, 1] > 1).astype(np.uint8)),
                     pts[:, n]) for i in range(2)]
        write_thumbnails(thumbnails_dir(path), samples)
        assert len(thumbnails_of(path)) == 2
    index = build_site(res, tmp_path / "site", expected={"toy": ["a"]})
    page = (index.parent / "galleries" / "toy--one-model-one-class.html").read_text()
    assert page.count("<img") == 2 * (2 + 2)  # per sample: input, ground truth, two maps
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    for src in [s.split('"')[0] for s in page.split('<img src="')[1:]]:
        assert Image.open((index.parent / "galleries" / src).resolve()).size == (SIZE, SIZE)
    assert "galleries/toy--one-model-one-class.html" in index.read_text()


def test_a_scan_without_colour_is_pictured_by_its_depth():
    xyz = np.zeros((20, 30, 3), np.float32)
    xyz[2:18, 2:28, 2] = np.linspace(1.0, 2.0, 26)[None, :]
    out = pictures(Sample(id="d", category="a", label=0, xyz=xyz, gt=np.zeros((20, 30), np.uint8)), np.zeros((5, 5)))
    grey = out["input"][..., 0]
    assert np.all(out["input"][..., 0] == out["input"][..., 1]) and grey.max() > grey.min()  # a grey depth ramp


def test_gallery_columns_are_result_rows_without_older_versions(tmp_path):
    res = tmp_path / "res"
    pts = np.random.default_rng(2).normal(size=(200, 3)).astype(np.float32)
    runs = [("1", ()), ("2", (("enc-a", "none"),)), ("2", (("enc-b", "none"),))]  # v1 is superseded by v2
    for n, (version, backbones) in enumerate(runs):
        path = res / "toy" / f"{n}.json"
        write_record(make_record("det", "a", 0, {"a": {"i_auroc": 0.8}}, version=version, backbones=backbones), path)
        write_thumbnails(thumbnails_dir(path), [(Sample(id="s0", category="a", label=1, points=pts,
                                                        gt=(pts[:, 1] > 1).astype(np.uint8)), pts[:, n])])
    index = build_site(res, tmp_path / "site", expected={"toy": ["a"]})
    page = (index.parent / "galleries" / "toy--one-model-one-class.html").read_text()
    assert page.count("<img") == 2 + 2  # input, ground truth, one map per current row (the two backbones)
    assert "enc-a" in page and "enc-b" in page and page.count(">v2<") == 2 and ">v1<" not in page
