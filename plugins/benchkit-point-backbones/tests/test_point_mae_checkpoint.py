import numpy as np
import pytest
import torch

from benchkit import DataError, MissingWeightsError, build_backbone
from benchkit.backbones import job_options
from benchkit_point_backbones.point_mae import (
    WEIGHTS_FILE,
    PointMAEBackbone,
    PointMAEEncoder,
    official_state_dict,
)

SMALL = dict(depth=2, out_layers=(0, 1))


def _write_official_checkpoint(path, encoder, prefix="module.", extra=None):
    """A file laid out like Point-MAE's pretrain.pth: {'base_model': state dict of the whole pre-training model}."""
    state = {prefix + k: v.clone() for k, v in official_state_dict(encoder).items()}
    # decoder side of the pre-training model, present in the official file and ignored by the encoder
    state[prefix + "mask_token"] = torch.zeros(1, 1, 384)
    state[prefix + "decoder_pos_embed.0.weight"] = torch.zeros(128, 3)
    state[prefix + "MAE_decoder.blocks.0.attn.qkv.weight"] = torch.zeros(1152, 384)
    state[prefix + "increase_dim.0.weight"] = torch.zeros(96, 384, 1)
    state.update(extra or {})
    torch.save({"base_model": state, "epoch": 300}, path)


def _source_encoder(seed=7):
    torch.manual_seed(seed)
    enc = PointMAEEncoder(**SMALL)
    with torch.no_grad():  # non-trivial BatchNorm statistics, so a loader that skips buffers is caught
        for m in enc.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    return enc.eval()


def test_official_key_names_of_the_full_encoder():
    keys = set(official_state_dict(PointMAEEncoder()))
    for key in ["MAE_encoder.encoder.first_conv.0.weight", "MAE_encoder.encoder.first_conv.1.running_var",
                "MAE_encoder.encoder.first_conv.3.bias", "MAE_encoder.encoder.second_conv.3.weight",
                "MAE_encoder.pos_embed.0.weight", "MAE_encoder.pos_embed.2.bias",
                "MAE_encoder.blocks.blocks.0.attn.qkv.weight", "MAE_encoder.blocks.blocks.11.attn.proj.bias",
                "MAE_encoder.blocks.blocks.11.mlp.fc2.weight", "MAE_encoder.blocks.blocks.5.norm2.bias",
                "MAE_encoder.norm.weight"]:
        assert key in keys
    assert "MAE_encoder.blocks.blocks.0.attn.qkv.bias" not in keys  # Point-MAE uses qkv_bias=False
    assert len(keys) == 18 + 4 + 12 * 11 + 2  # patch embedding, positional MLP, 12 blocks, final norm
    assert PointMAEEncoder().output_dim == 1152


def test_checkpoint_in_official_layout_loads_every_key(tmp_path, monkeypatch):
    source = _source_encoder()
    _write_official_checkpoint(tmp_path / WEIGHTS_FILE, source)
    monkeypatch.setenv("BENCHKIT_WEIGHTS", str(tmp_path))
    with job_options(seed=123) as options:  # the harness resolves the file from the spec
        backbone = build_backbone("point-mae", num_group=16, group_size=8, **SMALL)
    assert backbone.weights == "pretrained" and options.built[0]["path"] == str(tmp_path / WEIGHTS_FILE)
    assert backbone.torch_modules() == [backbone.encoder]
    loaded = backbone.encoder.state_dict()
    for key, value in source.state_dict().items():
        torch.testing.assert_close(loaded[key], value, msg=key)
    points = np.random.default_rng(0).normal(size=(200, 3)).astype(np.float32)
    tokens = backbone.encode(points)
    assert tokens.features.shape == (16, 768) and tokens.centers.shape == (16, 3) and tokens.groups.shape == (16, 8)
    # same features as the source module on the same (normalised) groups
    scale = np.linalg.norm(points - points.mean(0), axis=1).max()
    hoods = torch.as_tensor((points[tokens.groups] - tokens.centers[:, None]) / scale)[None]
    centers = torch.as_tensor((tokens.centers - points.mean(0)) / scale)[None]
    with torch.no_grad():
        expected = source(hoods.float(), centers.float())[0].numpy()
    np.testing.assert_allclose(tokens.features, expected, atol=1e-4)


def test_checkpoint_without_module_prefix_loads(tmp_path):
    source = _source_encoder()
    _write_official_checkpoint(tmp_path / "plain.pth", source, prefix="")
    backbone = PointMAEBackbone(num_group=8, group_size=4, weights_path=tmp_path / "plain.pth", **SMALL)
    torch.testing.assert_close(backbone.encoder.norm.weight, source.norm.weight)


def test_unknown_key_is_a_clear_error(tmp_path):
    _write_official_checkpoint(tmp_path / "x.pth", _source_encoder(), extra={"module.cls_head.weight": torch.zeros(1)})
    with pytest.raises(DataError, match=r"x\.pth.*unexpected keys.*cls_head"):
        PointMAEBackbone(weights_path=tmp_path / "x.pth", **SMALL)


def test_missing_key_is_a_clear_error(tmp_path):
    ckpt_path = tmp_path / "x.pth"
    _write_official_checkpoint(ckpt_path, _source_encoder())
    ckpt = torch.load(ckpt_path, weights_only=False)
    del ckpt["base_model"]["module.MAE_encoder.blocks.blocks.1.mlp.fc1.weight"]
    torch.save(ckpt, ckpt_path)
    with pytest.raises(DataError, match=r"missing \['blocks\.blocks\.1\.mlp\.fc1\.weight'\]"):
        PointMAEBackbone(weights_path=ckpt_path, **SMALL)


def test_depth_mismatch_is_a_clear_error(tmp_path):
    _write_official_checkpoint(tmp_path / "x.pth", _source_encoder())  # 2 blocks
    with pytest.raises(DataError, match="missing"):
        PointMAEBackbone(weights_path=tmp_path / "x.pth", depth=3, out_layers=(2,))


def test_not_a_checkpoint_is_a_clear_error(tmp_path):
    torch.save({"model": {}}, tmp_path / "x.pth")
    with pytest.raises(DataError, match="base_model"):
        PointMAEBackbone(weights_path=tmp_path / "x.pth", **SMALL)


def test_missing_file_raises_and_names_the_path(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHKIT_WEIGHTS", str(tmp_path))
    with pytest.raises(MissingWeightsError) as err:
        build_backbone("point-mae", **SMALL)
    assert str(tmp_path / WEIGHTS_FILE) in str(err.value)
    assert "Point-MAE release" in str(err.value)


def test_random_init_only_when_allowed_and_flagged(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHKIT_WEIGHTS", str(tmp_path))
    a = build_backbone("point-mae", allow_random_init=True, seed=1, **SMALL)
    b = build_backbone("point-mae", allow_random_init=True, seed=1, **SMALL)
    c = build_backbone("point-mae", allow_random_init=True, seed=2, **SMALL)
    assert a.weights == "random-init" and a.identity["weights"] == "random-init"
    torch.testing.assert_close(a.encoder.state_dict(), b.encoder.state_dict())
    assert not torch.equal(a.encoder.pos_embed[0].weight, c.encoder.pos_embed[0].weight)
