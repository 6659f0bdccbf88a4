"""M3DM and CFM: the weight-free variants on one synthetic-rgbd category (above chance, deterministic, maps of the
right shape), the reference quirks as switches, and the paper configurations loading checkpoints written in the
official DINO and Point-MAE layouts (records say pretrained, with the files' digests)."""

from __future__ import annotations

import numpy as np
import pytest
from benchkit import feature_cache
from benchkit.plugins import get_registry
from sklearn.metrics import roc_auc_score


def run(name, train, test, **params):
    detector = get_registry().detectors[name].build(seed=0, **params).fit(train)
    return detector, detector.predict([s.hidden() for s in test])


def scores(predictions):
    return [p.score for p in predictions]


@pytest.mark.slow  # one fit on 10 + 12 samples and two on 2 + 2
def test_m3dm_weightfree_scores_above_chance_and_is_deterministic(donut):
    train, test = donut
    small = (train[:2], [test[0], test[-1]])
    _, computed = run("m3dm-weightfree", *small)  # features computed and cached
    detector, predictions = run("m3dm-weightfree", train, test)
    assert all(p.map.shape == (224, 224) and np.isfinite(p.map).all() for p in predictions)
    labels = [s.label for s in test]
    assert roc_auc_score(labels, [p.score for p in predictions]) >= 0.8
    assert set(detector.banks_) == {"xyz", "rgb"} and detector.memory_bank_bytes() > 0
    before = feature_cache.stats()
    _, again = run("m3dm-weightfree", *small)  # features now come from the cache: same numbers
    assert (feature_cache.stats() - before).entries_computed == 0
    assert scores(computed) == scores(again)


@pytest.mark.parametrize("modality", ["rgb", "xyz"])
def test_m3dm_single_modality_uses_one_bank(donut, modality):
    train, test = donut
    detector, predictions = run("m3dm-weightfree", train[:4], test[:2], modality=modality)
    assert set(detector.banks_) == {modality} and predictions[0].map.shape == (224, 224)


def test_m3dm_quirks_are_switches_that_change_the_banks(donut):
    train, _ = donut
    plain, _ = run("m3dm-weightfree", train[:4], [])
    quirky, _ = run("m3dm-weightfree", train[:4], [], quirk_bank_stats=True, quirk_coreset_sizes=True)
    assert plain.banks_["xyz"].std != quirky.banks_["xyz"].std  # std taken from the rgb bank
    assert plain.banks_["rgb"].mean != quirky.banks_["rgb"].mean  # mean taken from the xyz bank
    expected = int(0.1 * len(quirky.banks_["xyz"].bank.bank))
    assert len(quirky.banks_["rgb"].bank.bank) == expected  # 10 % of the xyz coreset


@pytest.mark.slow  # one training on 10 + 12 samples and two short ones on 2 + 2
def test_cfm_weightfree_trains_the_two_maps_and_scores_above_chance(donut):
    train, test = donut
    detector, predictions = run("cfm-weightfree", train, test)
    assert detector.losses_[-1] < detector.losses_[0]
    assert all(p.map.shape == (224, 224) and np.isfinite(p.map).all() for p in predictions)
    assert roc_auc_score([s.label for s in test], scores(predictions)) >= 0.7
    small = (train[:2], [test[0], test[-1]])  # the same seed trains the same maps: shown on a short training
    _, first = run("cfm-weightfree", *small, epochs=3)
    _, again = run("cfm-weightfree", *small, epochs=3)
    np.testing.assert_allclose(scores(first), scores(again), rtol=1e-5)


@pytest.mark.slow
def test_paper_configurations_load_official_checkpoint_layouts_end_to_end(donut, tmp_path):
    """m3dm then cfm (one epoch on 256 positions per image) on 2 + 2 samples with generated DINO and Point-MAE files:
    what the harness records says pretrained with the files' digests, and cfm reuses every feature m3dm computed."""
    from benchkit.backbones import file_digest, job_options
    from benchkit.testing import generated_once
    from benchkit_image_backbones.checkpoints import write_dino_checkpoint, write_point_mae_checkpoint

    dino = generated_once(write_dino_checkpoint, tmp_path / "weights" / "dino_vitbase8_pretrain.pth", seed=1)
    point_mae = generated_once(write_point_mae_checkpoint, tmp_path / "weights" / "pointmae_pretrain.pth", seed=2)
    train, test = donut
    test = [test[0], test[-1]]  # one good, one defective
    counters = {}
    for name, params in (("m3dm", {}), ("cfm", {"epochs": 1, "positions_per_image": 256})):
        before = feature_cache.stats()
        with job_options() as options:
            _, predictions = run(name, train[:2], test, **params)
        counters[name] = feature_cache.stats() - before
        assert all(p.map.shape == (224, 224) and np.isfinite(p.score) for p in predictions)
        used = {b["name"]: b for b in options.built}
        assert used["dino-vitb8"]["weights"] == "pretrained" and used["dino-vitb8"]["sha256"] == file_digest(dino)
        assert used["point-mae"]["weights"] == "pretrained" and used["point-mae"]["sha256"] == file_digest(point_mae)
    assert counters["m3dm"].entries_computed == 8  # 4 images x (DINO tokens + Point-MAE tokens)
    assert counters["cfm"].entries_computed == 0 and counters["cfm"].entries_reused >= 8


def test_m3dm_xyz_variant_names_the_geometry_backbone():
    """``m3dm-xyz:NAME`` swaps the geometry backbone (the only one M3DM-xyz builds), not the unused RGB one."""
    from benchkit.plugins import get_registry

    spec, backbone = get_registry().detector_variant("m3dm-xyz:fpfh-pixels")
    detector = spec.factory(backbone=backbone)
    assert detector.point_backbone == "fpfh-pixels" and detector.modality == "xyz"
    assert detector.backbone_names() == ["fpfh-pixels"]
    assert spec.factory().backbone_names() == ["point-mae-pixels"]
