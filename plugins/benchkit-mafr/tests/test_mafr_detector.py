"""MAFR end to end on tiny organized RGB + 3D scans (weight-free backbones): the harness contract, determinism,
every ablation switch and config, and the paper configuration on checkpoints in the official file layouts."""

import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from benchkit import MissingWeightsError
from benchkit.backbones import job_options
from benchkit.plugins import get_registry
from benchkit.testing import check_detector, make_samples
from benchkit_mafr.detector import MAFR
from benchkit_mafr.plugin import WEIGHT_FREE

CONFIGS = Path(__file__).parents[1] / "configs"
#: The weight-free variant, shrunk further so that a test trains in about a second.
TINY = {**WEIGHT_FREE, "feature_size": 16, "latent_dim": 16, "epochs": 3}


@pytest.fixture(scope="module")
def samples():
    return make_samples("organized", rgb=True, n_train=3, n_test=4)


@pytest.fixture(scope="module", autouse=True)
def isolated(tmp_path_factory):
    """One feature cache and an empty weights folder for the module: features are computed once, not per test."""
    from benchkit.plugins import set_registry

    root = tmp_path_factory.mktemp("mafr")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENCHKIT_CACHE", str(root / "cache"))
        patch.setenv("BENCHKIT_WEIGHTS", str(root / "weights"))
        set_registry(None)
        yield root
        set_registry(None)


def _fit(samples, **params):
    train, _ = samples
    return MAFR(**{**TINY, **params}).fit(train)


def _scores(det, samples):
    _, test = samples
    return np.array([det.predict([s.hidden()])[0].score for s in test])


def test_weightfree_variant_keeps_the_harness_contract():
    spec = get_registry().get("detectors", "mafr-weightfree")
    small = {k: v for k, v in TINY.items() if k not in WEIGHT_FREE or TINY[k] != WEIGHT_FREE[k]}
    assert "fit returns self" in check_detector(spec, params=small)


def test_same_seed_same_model_other_seed_other_model(samples):
    a, b, c = _fit(samples, seed=0), _fit(samples, seed=0), _fit(samples, seed=1)
    for x, y in zip(a.net_.state_dict().values(), b.net_.state_dict().values()):
        torch.testing.assert_close(x, y)
    np.testing.assert_array_equal(_scores(a, samples), _scores(b, samples))
    assert not np.array_equal(_scores(a, samples), _scores(c, samples))
    prediction = a.predict([samples[1][0].hidden()])[0]
    assert prediction.map.shape == (16, 16) and np.isfinite(prediction.map).all()


@pytest.mark.parametrize("switch", [{"use_sim": False}, {"use_smooth": False}, {"use_census": False},
                                    {"smoothness_channels": "all"}, {"cbam": "spatial"}])
def test_each_training_switch_changes_the_trained_model(samples, switch):
    base, other = _fit(samples), _fit(samples, **switch)
    weight = lambda det: det.net_.encoder.linears[0].weight  # noqa: E731
    assert not torch.allclose(weight(base), weight(other))


@pytest.mark.parametrize("rule", ["sum", "max", "rgb", "3d"])
def test_each_map_combination_changes_the_scores(samples, rule):
    det = _fit(samples)
    product = _scores(det, samples)
    det.map_combination = rule
    assert not np.allclose(product, _scores(det, samples))


def test_bad_switch_values_are_named():
    with pytest.raises(ValueError, match="map_combination"):
        MAFR(map_combination="mean")._validate()
    with pytest.raises(ValueError, match="at least one"):
        MAFR(use_sim=False, use_smooth=False, use_census=False)._validate()


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_ablation_config_names_mafr_and_valid_switches(path):
    config = tomllib.loads(path.read_text())
    assert config["detector"] == "mafr"
    params = config["params"]
    detector = MAFR(**params)
    detector._validate()
    defaults = MAFR().get_params()
    changed = {k for k, v in params.items() if defaults[k] != v}
    full_model = path.stem in ("table4-all-losses", "table5-map-product")
    assert bool(changed) != full_model, (path.stem, changed)


def test_paper_configuration_is_skipped_without_weights(samples):
    with pytest.raises(MissingWeightsError, match="dino_vitbase8_pretrain.pth"):
        MAFR(feature_size=16, epochs=1).fit(samples[0])


@pytest.mark.slow
def test_paper_configuration_runs_on_checkpoints_in_the_official_layouts(samples, tmp_path, monkeypatch):
    from benchkit_image_backbones.checkpoints import write_dino_checkpoint, write_point_mae_checkpoint
    from benchkit import weights_dir
    from benchkit.testing import generated_once

    monkeypatch.setenv("BENCHKIT_WEIGHTS", str(tmp_path))  # the other tests keep an empty weights folder
    generated_once(write_dino_checkpoint, weights_dir() / "dino_vitbase8_pretrain.pth", seed=1)
    generated_once(write_point_mae_checkpoint, weights_dir() / "pointmae_pretrain.pth", seed=2)
    train, test = samples
    with job_options() as options:
        det = MAFR(feature_size=28, epochs=1).fit(train[:1])  # the paper's widths; a small grid for the CPU
    assert {b["name"]: b["weights"] for b in options.built} == {"dino-vitb8": "pretrained",
                                                                 "point-mae-pixels": "pretrained",
                                                                 "point-mae": "pretrained"}
    assert det.net_.encoder.linears[0].in_features == 768 + 1152
    prediction = det.predict([test[-1].hidden()])[0]
    assert prediction.map.shape == (28, 28) and np.isfinite(prediction.score)
