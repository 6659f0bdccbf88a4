"""Align3D-AD: its parts (weight-free patches, synthetic anomalies), both stages on scans with RGB and on clouds
without, the contract, a CLIP checkpoint in open_clip's layout end to end, and the zero-shot harness guarantee."""

from __future__ import annotations

import numpy as np
import pytest

from benchkit import Prediction, build_backbone
from benchkit.plugins import get_registry
from benchkit.testing import check_detector, make_samples

FAST = dict(backbone="hog", max_points=1500, max_train_samples=2, anomalies_per_sample=1, align_epochs=20,
            prompt_epochs=30)


def test_hog_patches_see_edge_orientation(benchkit_env):
    hog = build_backbone("hog")
    image = np.zeros((64, 64, 3), np.uint8)
    image[:, 32:] = 255  # a vertical edge: horizontal gradients, orientation bin 0
    tokens = hog.encode(image)
    assert tokens.shape == (14, 14, 11) and hog.weights == "none"
    edge = tokens[:, 6:8, :9].sum(axis=(0, 1))
    assert edge.argmax() == 0 and np.allclose(hog.encode(np.stack([image, image]))[1], tokens)


def test_bumps_and_dents_move_only_their_patch_along_the_normal():
    from benchkit_align3d.anomalies import bump_or_dent

    xy = np.random.default_rng(0).uniform(-1, 1, size=(2000, 2))
    plane = np.column_stack([xy, np.zeros(len(xy))])
    moved, mask = bump_or_dent(plane, np.random.default_rng(1))
    shift = moved - plane
    assert 0.005 < mask.mean() <= 0.05  # a share of the points, not of the bounding box
    radius = np.linalg.norm(plane[mask] - plane[mask].mean(axis=0), axis=1).max()
    assert np.abs(shift[:, :2]).max() < 1e-9 and np.abs(shift[mask, 2]).max() > 0.2 * radius
    assert np.abs(shift[~mask, 2]).max() < 0.1 * np.abs(shift[mask, 2]).max()


def test_depth_relief_finds_a_bump_at_its_scale_and_nothing_on_a_plane():
    from benchkit_align3d.relief import depth_relief

    yy, xx = np.mgrid[:64, :64]
    plane = np.full((64, 64), 2.0)
    bump = plane - 0.02 * np.exp(-((yy - 32) ** 2 + (xx - 32) ** 2) / (2 * 3.0**2))  # toward the camera
    depth = np.stack([plane, bump])
    depth[:, :, :8] = np.inf  # background
    relief = depth_relief(depth, scales=(1.0, 4.0))
    assert relief.shape == (2, 64, 64, 2) and np.abs(relief[0]).max() < 1e-6  # a flat plane has no relief
    assert relief[1, 32, 32, 1] < 0 and relief[1, 32, 32, 1] == relief[1, ..., 1].min()  # nearer than around it
    assert np.abs(relief[1, 32, 32, 1]) > 5 * np.abs(relief[1, 32, 32, 0])  # a broad bump answers the broad scale
    assert (relief[:, :, :8] == 0).all()


def test_object_standardisation_puts_a_typical_point_at_the_pole():
    from benchkit_align3d.detector import standardize_over_object

    feats = np.random.default_rng(0).normal(5.0, 3.0, size=(500, 4)).astype(np.float32)
    z = standardize_over_object(feats)
    assert z.shape == (500, 5) and (z[:, -1] == 1).all()
    assert np.allclose(np.median(z[:, :4], axis=0), 0, atol=1e-5) and np.allclose(z[:, :4].std(axis=0), 1, atol=0.15)
    assert np.allclose(standardize_over_object(feats * 1000 + 7), z, atol=1e-3)  # units do not matter


@pytest.mark.parametrize("kind", ["organized", "points"])
def test_both_stages_train_where_rgb_allows_and_score_unseen_samples(benchkit_env, kind):
    from benchkit_align3d.detector import Align3DAD

    train, test = make_samples(kind, rgb=True, n_test=4)
    detector = Align3DAD(**FAST).fit(train)
    assert detector.alignment_trained_ == (kind == "organized")  # clouds carry no registered RGB
    assert set(detector.prompts_) == ({"render", "aligned"} if kind == "organized" else {"render"})
    pred = detector.predict([test[-1].hidden()])[0]
    assert isinstance(pred, Prediction) and np.isfinite(pred.map).all()
    assert pred.map.shape == ((336, 336) if kind == "organized" else test[-1].map_shape)


def test_relief_magnitude_and_appearance_switches_change_the_rendering_features(benchkit_env):
    from benchkit_align3d.detector import Align3DAD
    from benchkit_align3d.relief import RELIEF_SCALES

    train, test = make_samples("points", n_test=2)
    widths, features = {}, {}
    for name, params in {"default": {}, "appearance": {"appearance": "on"},
                         "magnitude": {"relief": "magnitude", "appearance": "on"}}.items():
        detector = Align3DAD(**{**FAST, **params}).fit(train)
        views, _ = detector._render(test[0])
        features[name] = detector._rendering_features(views)
        widths[name] = features[name].shape[1]
    assert widths["default"] == len(RELIEF_SCALES) + 1  # weight-free: relief channels and the pole, no HOG
    assert widths["appearance"] == widths["magnitude"] == widths["default"] + 11  # HOG's 11 channels added
    assert not np.allclose(features["appearance"], features["magnitude"])
    with pytest.raises(ValueError, match="appearance"):
        Align3DAD(**{**FAST, "appearance": "off", "relief": "off"}).fit(train)
    with pytest.raises(ValueError, match="background"):
        Align3DAD(**{**FAST, "background": "mask"}).fit(train)


def test_align3d_hog_keeps_the_contract(benchkit_env):
    check_detector(get_registry().detectors["align3d-ad"], params=FAST, kind="organized")


def test_align3d_runs_on_an_open_clip_checkpoint(benchkit_env, tmp_path, monkeypatch):
    from benchkit_clip.plugin import WEIGHTS_FILE
    from benchkit_clip.testing import register_tiny_config, write_checkpoint

    from benchkit_align3d.detector import Align3DAD

    name = register_tiny_config()
    write_checkpoint(tmp_path / "weights" / WEIGHTS_FILE, name)
    train, test = make_samples("organized", rgb=True, n_test=2)
    params = {**FAST, "backbone": "clip-image", "clip_model": name}
    detector = Align3DAD(**params).fit(train)
    assert detector.image_.weights == "pretrained" and detector.alignment_trained_
    assert detector.prompts_["render"].shape == (2, 32)  # initialised from clip-text's 32-d embeddings
    assert np.isfinite(detector.predict([test[1].hidden()])[0].score)


@pytest.mark.parametrize("setting,dataset", [("zero-shot-one-vs-rest", "a3-clouds-a"),
                                             ("zero-shot-cross-dataset:a3-clouds-a", "a3-clouds-b")])
def test_no_target_sample_reaches_fit(traced_env, benchkit_cli, monkeypatch, setting, dataset):
    from a3_fixtures import origin

    from benchkit.results import iter_records
    from benchkit_align3d.detector import Align3DAD

    seen = []
    real_fit = Align3DAD.fit

    def fit(self, samples):
        seen.extend(f"{origin(s)}/{s.category}/{s.id}" for s in samples)
        return real_fit(self, samples)

    monkeypatch.setattr(Align3DAD, "fit", fit)
    args = [a for k, v in FAST.items() if k != "backbone" for a in ("--param", f"{k}={v}")]
    assert benchkit_cli("run", "--detector", "align3d-ad:hog", "--dataset", dataset, "--setting", setting, *args,
                        "--results", str(traced_env), "--no-site", "--quiet", "--executor", "inline") == 0
    assert sorted(seen) == [f"a3-clouds-a/egg/train{i}" for i in range(4)]
    records = [r for _, r in iter_records(traced_env)]
    assert all(r.status == "ok" for r in records)
    tested = {(r.job.dataset, c) for r in records for c in r.counts}
    assert ("a3-clouds-a", "egg") not in tested and tested
