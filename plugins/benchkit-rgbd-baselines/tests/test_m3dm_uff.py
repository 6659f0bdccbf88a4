"""M3DM's UFF switch: the fusion block's loss goes down on synthetic features and is deterministic per seed, the
training pairs and schedule are the reference's, and ``uff=True`` adds a trained third bank that changes the scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from benchkit.plugins import get_registry
from benchkit_rgbd_baselines.uff import (FeatureFusionBlock, UFFTraining, learning_rate, pair_rgb_with_points,
                                         train_uff)


def correlated_pairs(n_images: int, seed: int, n_patches: int = 64) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-image (xyz (P, 12), rgb (P, 8)) patches that are two noisy linear views of one latent per patch, with a
    quarter of the point patches empty (all zero), as background is."""
    generator = np.random.default_rng(seed)
    to_xyz, to_rgb = generator.normal(size=(4, 12)), generator.normal(size=(4, 8))
    pairs = []
    for _ in range(n_images):
        latent = generator.normal(size=(n_patches, 4))
        xyz = latent @ to_xyz + 0.05 * generator.normal(size=(n_patches, 12))
        xyz[: n_patches // 4] = 0.0
        rgb = latent @ to_rgb + 0.05 * generator.normal(size=(n_patches, 8))
        pairs.append((xyz.astype(np.float32), rgb.astype(np.float32)))
    return pairs


SMALL = UFFTraining(epochs=10, batch_size=2, accum_iter=1, lr=0.01, warmup_epochs=1)  # 20 steps on 4 images


def test_uff_loss_goes_down_and_is_deterministic_per_seed():
    pairs = correlated_pairs(4, seed=3)
    model, losses = train_uff(pairs, SMALL, seed=0)
    # chance is 2 ln(96) = 9.13 (2 images x 48 patches with points); with T = 1 the logits are cosines, so the loss
    # cannot go below about 2 ln(1 + 95 / e^2) = 5.3
    assert losses[0] == pytest.approx(2 * np.log(96), abs=0.1) and losses[-1] < losses[0] - 1.0
    again, same = train_uff(pairs, SMALL, seed=0)
    assert losses == same
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    one_epoch = UFFTraining(epochs=1, batch_size=2, accum_iter=1)
    assert train_uff(pairs, one_epoch, seed=1)[1] != train_uff(pairs, one_epoch, seed=0)[1]  # another seed: a new draw
    assert not model.training  # returned in eval mode


def test_uff_loss_leaves_out_patches_without_points():
    """Changing the RGB of a patch whose point features are all zero does not change the loss."""
    (xyz, rgb), = correlated_pairs(1, seed=0)
    has_points = np.any(xyz != 0, axis=1)
    changed = rgb.copy()
    changed[~has_points] += np.linspace(0, 100, 8, dtype=np.float32)
    one_epoch = UFFTraining(epochs=1, batch_size=1, accum_iter=1)
    _, losses = train_uff([(xyz, rgb)], one_epoch, seed=0)
    _, with_changed_background = train_uff([(xyz, changed)], one_epoch, seed=0)
    assert losses == with_changed_background
    mispaired = rgb.copy()
    mispaired[has_points] = rgb[has_points][::-1]  # the same RGB patches, paired with other point patches
    _, with_changed_object = train_uff([(xyz, mispaired)], one_epoch, seed=0)
    assert losses != with_changed_object


def test_fusion_block_has_the_reference_state_dict_keys():
    """models/feature_fusion.py's parameter names, so the authors' checkpoint-0.pth keys match."""
    names = {f"{branch}_{part}.{p}" for branch in ("xyz", "rgb") for part in ("norm", "mlp.fc1", "mlp.fc2")
             for p in ("weight", "bias")} | {f"{h}_head.{p}" for h in ("xyz", "rgb") for p in ("weight", "bias")}
    block = FeatureFusionBlock(1152, 768)
    assert set(block.state_dict()) == names
    assert block.xyz_mlp.fc1.out_features == 4 * 1152 and block.rgb_mlp.fc1.out_features == 4 * 768
    assert block.fuse(torch.zeros(5, 1152), torch.zeros(5, 768)).shape == (5, 1920)


def test_training_pairs_aligned_by_default_and_the_reference_quirk_as_a_switch():
    rgb = np.arange(16 * 2, dtype=np.float32).reshape(16, 2)  # a 4 x 4 RGB grid, 2 channels
    aligned = pair_rgb_with_points(rgb, 64).reshape(8, 8, 2)
    for row in range(8):
        for col in range(8):
            np.testing.assert_array_equal(aligned[row, col], rgb[(row // 2) * 4 + col // 2])  # the RGB patch above
    quirky = pair_rgb_with_points(rgb, 64, quirk_pairing=True)
    for j in range(64):  # rgb.repeat(4,1).reshape(16,4,-1).permute(1,0,2).reshape(64,-1)
        np.testing.assert_array_equal(quirky[j], rgb[(4 * (j % 16) + j // 16) % 16])
    with pytest.raises(ValueError, match="uff_quirk_pairing"):
        pair_rgb_with_points(rgb, 36, quirk_pairing=True)


def test_learning_rate_warms_up_for_one_epoch_then_follows_a_half_cosine():
    reference = UFFTraining()
    assert [round(learning_rate(t, reference), 6) for t in (0, 0.5, 1, 2, 3)] == [0, 0.0015, 0.003, 0.0015, 0]


def run(train, test, **params):
    detector = get_registry().detectors["m3dm-weightfree"].build(seed=0, **params).fit(train)
    return detector, detector.predict([s.hidden() for s in test])


def test_uff_switch_adds_a_trained_fusion_bank_and_changes_the_scores(donut):
    train, test = donut
    train, test = train[:3], [test[0], test[-1]]
    plain, plain_predictions = run(train, test)
    fused, fused_predictions = run(train, test, uff=True, uff_epochs=2)
    assert set(plain.banks_) == {"xyz", "rgb"} and set(fused.banks_) == {"xyz", "rgb", "fusion"}
    assert plain.detect_fuser_.n_features_in_ == 2 and fused.detect_fuser_.n_features_in_ == 3
    assert fused.seg_fuser_.n_features_in_ == 3
    assert len(fused.torch_modules()) == len(plain.torch_modules()) + 1 and len(fused.uff_losses_) == 2
    d_xyz, d_rgb = plain.banks_["xyz"].bank.bank.shape[1], plain.banks_["rgb"].bank.bank.shape[1]
    assert fused.banks_["fusion"].bank.bank.shape[1] == d_xyz + d_rgb
    assert [p.score for p in plain_predictions] != [p.score for p in fused_predictions]
    assert all(p.map.shape == (224, 224) and np.isfinite(p.map).all() for p in fused_predictions)
    assert fused.get_params()["uff"] is True and fused.get_params()["uff_patches_per_image"] == 512


def test_uff_needs_both_modalities(donut):
    train, _ = donut
    with pytest.raises(ValueError, match="modality='both'"):
        run(train[:1], [], uff=True, modality="rgb")
