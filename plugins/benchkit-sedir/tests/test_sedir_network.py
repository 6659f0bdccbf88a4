"""SeDiR's network parts: each ablation switch changes the model; the losses behave as their definitions say."""

import pytest
import torch

from benchkit_sedir.model import (
    GLOBAL_TOKENS,
    GUIDANCES,
    CloudBatch,
    SeDiRNet,
    supervised_contrastive,
)

B, G, D = 3, 24, 10


def _batch(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return CloudBatch(
        features=torch.randn(B, G, D, generator=gen), centers=torch.rand(B, G, 3, generator=gen) - 0.5,
        normals=torch.nn.functional.normalize(torch.randn(B, G, 3, generator=gen), dim=-1),
        curvature=torch.rand(B, G, generator=gen),
        pools=[torch.randint(0, G, (B, 4, 8), generator=gen), torch.randint(0, G, (B, 8, 4), generator=gen)])


def _net(seed=0, **kw):
    torch.manual_seed(seed)
    return SeDiRNet(D, num_categories=3, d_model=16, num_heads=2, cfg_levels=2, mask_topk=4, **kw).eval()


def _output(**kw):
    with torch.no_grad():
        recon, g = _net(**kw)(_batch())
    return recon


def test_same_seed_same_output():
    torch.testing.assert_close(_output(), _output())


@pytest.mark.parametrize("switch, values", [("global_token", GLOBAL_TOKENS), ("guidance", GUIDANCES)])
def test_every_switch_value_gives_a_different_output(switch, values):
    outputs = {v: _output(**{switch: v}) for v in values}
    for a in values:
        for b in values:
            if a < b:
                assert not torch.allclose(outputs[a], outputs[b]), (a, b)


def test_global_token_strategies_have_their_own_parameters():
    names = {kind: {n for n, _ in _net(global_token=kind).named_parameters()} for kind in GLOBAL_TOKENS}
    assert any(n.startswith("tokenizer.attn.2") for n in names["cfg"])  # 2 coarse levels + the finest
    assert "tokenizer.cls" in names["act"]
    assert not any(n.startswith("tokenizer.") for n in names["none"])
    assert names["mean"] == names["max"]  # same layers, different pooling (outputs differ, tested above)


def test_guidance_parameters():
    def geo(guidance):
        return {n for n, _ in _net(guidance=guidance).named_parameters() if "geo_weight" in n or "gate" in n}

    assert geo("bias") and geo("gating") - geo("bias") and not geo("masking") and not geo("none")


def test_a_token_is_never_reconstructed_from_itself():
    net, batch = _net(guidance="none"), _batch()
    changed = batch.features.clone()
    changed[:, 5] += 3.0 * torch.randn(D)  # only token 5's own features change
    with torch.no_grad():
        net.tokenizer = None  # the global token would carry token 5's change to everyone
        a, _ = net(batch)
        b, _ = net(batch, features=changed)
    torch.testing.assert_close(a[:, 5], b[:, 5])
    assert not torch.allclose(a[:, 6], b[:, 6])


def test_geometry_bias_responds_to_normals():
    net, batch = _net(guidance="bias"), _batch()
    flipped = _batch()
    flipped.normals = torch.nn.functional.normalize(torch.randn(B, G, 3), dim=-1)
    with torch.no_grad():
        assert not torch.allclose(net(batch)[0], net(flipped)[0])
    plain = _net(guidance="none")
    with torch.no_grad():
        torch.testing.assert_close(plain(batch)[0], plain(flipped)[0])


def test_supervised_contrastive_prefers_category_clusters():
    labels = torch.tensor([0, 0, 1, 1])
    clustered = torch.tensor([[1.0, 0], [1, 0.1], [0, 1], [0.1, 1]])
    mixed = torch.tensor([[1.0, 0], [0, 1], [1, 0.1], [0.1, 1]])
    assert supervised_contrastive(clustered, labels, 0.1) < supervised_contrastive(mixed, labels, 0.1)
    assert supervised_contrastive(clustered, torch.tensor([0, 1, 2, 3]), 0.1) == 0  # no positives: no loss


def test_unknown_switch_values_are_rejected():
    with pytest.raises(ValueError, match="global_token"):
        _net(global_token="avg")
    with pytest.raises(ValueError, match="guidance"):
        _net(guidance="mask")
