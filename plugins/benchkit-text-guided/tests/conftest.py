"""Checkpoints in the official DINO, Point-MAE and open_clip layouts, written once per session (DINO's ViT-B/8 file
alone is 340 MB) for the tests that load the paper configuration."""

import pytest


@pytest.fixture(scope="session")
def official_weights(tmp_path_factory):
    """A weights folder holding generated ``dino_vitbase8_pretrain.pth``, ``pointmae_pretrain.pth`` and the CLIP
    file (open_clip's layout, a tiny text tower config so that it runs on a CPU); returns (folder, CLIP config)."""
    from benchkit_clip.plugin import WEIGHTS_FILE
    from benchkit_clip.testing import TINY_MODEL, write_checkpoint
    from benchkit_image_backbones.checkpoints import write_dino_checkpoint, write_point_mae_checkpoint

    folder = tmp_path_factory.mktemp("official-weights")
    write_dino_checkpoint(folder / "dino_vitbase8_pretrain.pth")
    write_point_mae_checkpoint(folder / "pointmae_pretrain.pth")
    write_checkpoint(folder / WEIGHTS_FILE, TINY_MODEL)
    return folder, TINY_MODEL
