"""The text-guided unified method end to end on tiny organized RGB + 3D scans of two classes (weight-free
backbones): the contract, determinism, category handling, the gradient guard, each ablation switch and config, the
weight-free text backbone, synthetic anomalies, and the paper configuration on checkpoints in the official layouts."""

import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from benchkit import DataError, MissingWeightsError, Sample, build_backbone
from benchkit.backbones import job_options
from benchkit.plugins import get_registry
from benchkit.testing import check_detector, make_samples
from benchkit_text_guided.detector import TextGuided
from benchkit_text_guided.plugin import WEIGHT_FREE
from benchkit_text_guided.synthetic_anomalies import with_synthetic_anomaly

CONFIGS = Path(__file__).parents[1] / "configs"
TINY = {**WEIGHT_FREE, "feature_size": 16, "epochs": 3, "batch_size": 2}


@pytest.fixture(scope="module")
def samples():
    train, test = [], []
    for category in ("plate", "tray"):
        a, b = make_samples("organized", rgb=True, n_train=2, n_test=4, category=category)
        if category == "tray":  # a second class that looks different
            for s in a + b:
                s.rgb = (255 - s.rgb).astype(np.uint8)
        train += [Sample(**{**vars(s), "id": f"{category}-{s.id}"}) for s in a]
        test += [Sample(**{**vars(s), "id": f"{category}-{s.id}"}) for s in b]
    return train, test


@pytest.fixture(scope="module", autouse=True)
def isolated(tmp_path_factory):
    """One feature cache and an empty weights folder for the module: features are computed once, not per test."""
    from benchkit.plugins import set_registry

    root = tmp_path_factory.mktemp("tg")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENCHKIT_CACHE", str(root / "cache"))
        patch.setenv("BENCHKIT_WEIGHTS", str(root / "weights"))
        set_registry(None)
        yield root
        set_registry(None)


def _fit(samples, **params):
    return TextGuided(**{**TINY, **params}).fit(samples[0])


def _scores(det, samples):
    return np.array([det.predict([s.hidden()])[0].score for s in samples[1]])


def test_weightfree_variant_keeps_the_harness_contract():
    spec = get_registry().get("detectors", "text-guided-weightfree")
    small = {k: v for k, v in TINY.items() if WEIGHT_FREE.get(k) != v}
    assert "fit returns self" in check_detector(spec, params=small)
    assert spec.needs_category and spec.settings == {"unified"}


def test_same_seed_same_model_other_seed_other_model(samples):
    a, b, c = _fit(samples, seed=0), _fit(samples, seed=0), _fit(samples, seed=1)
    np.testing.assert_array_equal(_scores(a, samples), _scores(b, samples))
    assert not np.array_equal(_scores(a, samples), _scores(c, samples))
    assert a.anchors_.shape == (2, 64) and a.categories_ == ["plate", "tray"]


def test_the_class_name_selects_the_prompts_and_must_be_known(samples):
    det = _fit(samples)
    sample = samples[1][0]
    assert sample.category == "plate"
    as_plate = det.predict([sample.hidden()])[0].score
    as_tray = det.predict([Sample(**{**vars(sample.hidden()), "category": "tray"})])[0].score
    assert as_plate != as_tray
    with pytest.raises(DataError, match="not trained on"):
        det.predict([sample.hidden(category=True)])
    with pytest.raises(DataError, match="unified"):
        TextGuided(**TINY).fit([s.without_category() for s in samples[0]])


def test_steps_with_non_finite_gradients_are_skipped(samples):
    det = _fit(samples)
    before = {k: v.clone() for k, v in det.net_.state_dict().items()}
    det.net_.requires_grad_(True)
    rgb, points, valid = det._feature_maps(samples[0][0])
    poisoned = (rgb * float("nan"), points, valid, torch.zeros_like(valid), 0)
    det.epochs, det.batch_size = 1, 1
    det._train(lambda i: poisoned, 2)
    assert det.skipped_steps_ == 2
    for k, v in det.net_.state_dict().items():
        torch.testing.assert_close(v, before[k], equal_nan=True)


@pytest.mark.parametrize("switch", [{"gacm": False}, {"octa": False}, {"layer_pruning": False}, {"prompts": "none"},
                                    {"prompts": "cpe"}, {"prompts": "apg"}, {"distance": "euclidean"},
                                    {"positions_per_image": 50}, {"hidden_dim": 8}, {"smoothing_size": 16}])
def test_each_ablation_switch_changes_the_model(samples, switch):
    assert not np.allclose(_scores(_fit(samples), samples), _scores(_fit(samples, **switch), samples))


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_ablation_config_names_the_method_and_valid_switches(path):
    config = tomllib.loads(path.read_text())
    assert config["detector"] == "text-guided"
    detector = TextGuided(**config["params"])
    detector._validate()
    defaults = TextGuided().get_params()
    changed = {k for k, v in config["params"].items() if defaults[k] != v}
    assert bool(changed) != (path.stem in ("table5-full", "table6-oct")), (path.stem, changed)


def test_hashed_words_are_fixed_unit_vectors_shared_through_words():
    text = build_backbone("hashed-words")
    a, b, c = text.encode(["a photo of a cookie.", "a photo of a flawless cookie.", "a photo of a cable gland."])
    np.testing.assert_allclose([np.linalg.norm(a), np.linalg.norm(b)], 1.0, rtol=1e-5)
    np.testing.assert_array_equal(a, build_backbone("hashed-words").encode(["a photo of a cookie."])[0])
    assert a @ b > a @ c  # more words in common


def test_synthetic_anomalies_change_colour_and_depth_inside_their_mask_only(samples):
    sample = samples[0][0]
    altered, mask = with_synthetic_anomaly(sample, seed=0)
    assert mask.any() and not (mask & ~sample.valid).any()
    changed_z = altered.xyz[..., 2] != sample.xyz[..., 2]
    assert changed_z.any() and not (changed_z & ~mask).any()
    assert not (np.any(altered.rgb != sample.rgb, axis=-1) & ~mask).any()
    again, mask2 = with_synthetic_anomaly(sample, seed=0)
    np.testing.assert_array_equal(mask, mask2)
    np.testing.assert_array_equal(again.rgb, altered.rgb)


def test_paper_configuration_is_skipped_without_weights(samples):
    with pytest.raises(MissingWeightsError, match="dino_vitbase8_pretrain.pth"):
        TextGuided(feature_size=16, epochs=1).fit(samples[0])


def test_the_planner_asks_for_clip_weights_only_when_prompts_are_used():
    assert TextGuided().backbone_names() == ["dino-vitb8", "point-mae-pixels", "clip-text"]
    assert TextGuided(prompts="none").backbone_names() == ["dino-vitb8", "point-mae-pixels"]


@pytest.mark.slow
def test_paper_configuration_runs_on_checkpoints_in_the_official_layouts(samples, official_weights, monkeypatch):
    folder, clip_model = official_weights
    monkeypatch.setenv("BENCHKIT_WEIGHTS", str(folder))  # the other tests keep an empty weights folder
    train, test = samples
    with job_options() as options:  # one sample per class, one epoch, one test sample: loading is what is tested
        det = TextGuided(feature_size=28, epochs=1, text_backbone_params={"model_name": clip_model}).fit(train[::2])
    assert {b["name"]: b["weights"] for b in options.built} == {
        "dino-vitb8": "pretrained", "point-mae-pixels": "pretrained", "point-mae": "pretrained",
        "clip-text": "pretrained"}
    assert det.net_.rgb_to_3d.semantic.in_features == 768 and det.net_.rgb_to_3d.semantic.out_features == 1152
    prediction = det.predict([test[-1].hidden()])[0]
    assert prediction.map.shape == (224, 224) and np.isfinite(prediction.score)  # smoothed on CFM's 224 grid
