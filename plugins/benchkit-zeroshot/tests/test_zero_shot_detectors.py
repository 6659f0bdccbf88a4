"""The training-free detectors keep the detector contract, find bumps on clouds they have never seen the like of,
and pointad-clip runs end to end on a CLIP checkpoint in open_clip's layout."""

from __future__ import annotations

import numpy as np
import pytest

from benchkit.plugins import get_registry
from benchkit.testing import check_detector, make_samples


@pytest.mark.parametrize("name", ["zs-fpfh-rarity", "zs-surface-deviation"])
@pytest.mark.parametrize("kind", ["points", "organized"])
def test_geometric_detectors_keep_the_contract(benchkit_env, name, kind):
    check_detector(get_registry().detectors[name], kind=kind)


def test_fpfh_rarity_scores_the_bump_points_of_a_cloud_against_the_rest_of_it(benchkit_env):
    from sklearn.metrics import roc_auc_score

    from benchkit_zeroshot.geometric import FPFHRarity

    _, test = make_samples("points", n_test=8)
    detector = FPFHRarity(smooth_k=8).fit([])
    preds = [detector.predict([s])[0] for s in test]
    assert roc_auc_score([s.label for s in test], [p.score for p in preds]) == 1.0
    bumped = [(s, p) for s, p in zip(test, preds) if s.label]
    assert np.mean([roc_auc_score(s.gt, p.map) for s, p in bumped]) > 0.9


def test_surface_deviation_is_high_on_a_crease():
    from benchkit_zeroshot.geometric import SurfaceDeviation

    rng = np.random.default_rng(0)
    xy = rng.uniform(-1, 1, size=(3000, 2))
    z = np.where(np.abs(xy[:, 0]) < 0.1, 0.1 - np.abs(xy[:, 0]), 0.0)  # a ridge along y
    scores = SurfaceDeviation(k=24).point_scores(np.column_stack([xy, z]))
    assert scores[np.abs(xy[:, 0]) < 0.03].mean() > 3 * scores[np.abs(xy[:, 0]) > 0.3].mean()


def test_prompt_ensemble_is_winclips():
    from benchkit_components.prompts import sentences

    normal, anomalous = sentences("object")
    assert len(normal) == 147 and len(anomalous) == 84
    assert "a photo of a flawless object for anomaly detection." in normal and "damaged object" in anomalous[0]


@pytest.fixture
def tiny_clip(benchkit_env, tmp_path, monkeypatch):
    from benchkit_clip.plugin import WEIGHTS_FILE
    from benchkit_clip.testing import register_tiny_config, write_checkpoint

    name = register_tiny_config()
    write_checkpoint(tmp_path / "weights" / WEIGHTS_FILE, name)
    return name


@pytest.mark.parametrize("kind", ["points", "organized"])
def test_pointad_clip_runs_on_an_open_clip_checkpoint(tiny_clip, kind):
    from benchkit_zeroshot.pointad_clip import PointADCLIP

    train, test = make_samples(kind, n_test=2)
    detector = PointADCLIP(clip_model=tiny_clip, max_points=2000).fit(train)
    pred = detector.predict([test[1].hidden()])[0]
    assert np.isfinite(pred.score) and 0 <= pred.score <= 1.5
    if kind == "points":
        assert pred.map.shape == test[1].map_shape
    else:
        assert pred.map.shape == (336, 336)  # PointAD's grid; the harness resizes it
    assert detector.torch_modules() and detector.image_.weights == "pretrained"


def test_pointad_clip_is_skipped_without_weights(benchkit_env, benchkit_cli):
    code = benchkit_cli("run", "--detector", "pointad-clip", "--dataset", "synthetic-pc", "--setting",
                        "zero-shot-one-vs-rest", "--results", str(benchkit_env), "--no-site", "--quiet")
    from benchkit.results import iter_records

    (_, record), = iter_records(benchkit_env)
    assert code == 0 and record.status == "skipped" and "clip-vit-l-14-336-openai.safetensors" in record.error.message
