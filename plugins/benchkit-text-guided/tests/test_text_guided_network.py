"""The text-guided method's modules on small tensors: GACM's equation, top-K routing, OCTA, layer pruning, prompts."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from benchkit_text_guided.network import GACM, OCTA, TextGuidedNet, TopKMixture, mapping_mlp
from benchkit_text_guided.prompts import (
    WINCLIP_TEMPLATES,
    anomalous_prompts,
    class_phrase,
    normal_prompts,
)


def test_gacm_follows_equations_1_to_4():
    torch.manual_seed(0)
    gacm = GACM(6, 4)
    x = torch.randn(3, 6)
    sem, geo = gacm.semantic(x), gacm.geometric(x)
    gate = torch.sigmoid(gacm.gate(geo))
    expected = gacm.residual(x) + F.gelu(gacm.norm(geo * gate + sem * (1 - gate)))
    torch.testing.assert_close(gacm(x), expected)


def test_top_k_mixture_uses_only_the_selected_experts():
    torch.manual_seed(0)
    moe = TopKMixture(5, experts=4, top_k=1)
    x = torch.randn(7, 5)
    best = moe.gate(x).argmax(dim=-1)
    expected = torch.stack([moe.experts[int(e)](x[i]) for i, e in enumerate(best)])
    torch.testing.assert_close(moe(x), expected)  # top-1: softmax weight 1 on the chosen expert
    with pytest.raises(ValueError, match="top_k"):
        TopKMixture(5, experts=2, top_k=3)


def test_octa_gives_one_anchor_per_class_conditioned_on_its_text():
    torch.manual_seed(0)
    octa = OCTA(8).eval()
    a, b = torch.randn(14, 8), torch.randn(14, 8)
    assert octa(a).shape == (8,)
    assert not torch.allclose(octa(a), octa(b))
    torch.testing.assert_close(octa(a), octa(a[torch.randperm(14)]))  # attention pools a set: order-free


def test_layer_pruning_drops_cfms_middle_layer():
    cfm = mapping_mlp(1152, 768, 3)
    assert [(m.in_features, m.out_features) for m in cfm if isinstance(m, nn.Linear)] == \
        [(1152, 960), (960, 960), (960, 768)]  # CFM's FeatureProjectionMLP
    full = TextGuidedNet(12, 10, 6, gacm=False, pruned=False)
    pruned = TextGuidedNet(12, 10, 6, gacm=False, pruned=True)
    count = lambda m: sum(isinstance(x, nn.Linear) for x in m.modules())  # noqa: E731
    assert count(full.points_to_rgb) == 3 and count(pruned.points_to_rgb) == 2
    assert count(full.rgb_to_3d) == 3 and isinstance(TextGuidedNet(12, 10, 6).rgb_to_3d, GACM)
    assert TextGuidedNet(12, 10, 6, text=False).octa is None
    without_octa = TextGuidedNet(12, 10, 6, octa=False)
    prompts = [torch.randn(3, 6)]
    torch.testing.assert_close(without_octa.anchors(prompts)[0], F.normalize(prompts[0].mean(0), dim=0))


def test_prompts_as_the_paper_and_winclip_write_them():
    assert class_phrase("cable_gland") == "cable gland" and class_phrase("CandyCane") == "candy cane"
    oct_ = normal_prompts("cable_gland", "oct")
    assert len(oct_) == 14 and "a photo of a flawless cable gland." in oct_
    assert "a photo of the cable gland without damage." in oct_
    assert len(WINCLIP_TEMPLATES) == 21
    assert len(normal_prompts("cookie", "cpe")) == 147 and len(anomalous_prompts("cookie", "cpe")) == 84
    assert anomalous_prompts("cookie", "oct") == []
    assert "a photo of a cookie with a crack." in anomalous_prompts("cookie", "apg")


def test_classes_batched_through_octa_get_their_own_anchors():
    torch.manual_seed(0)
    net = TextGuidedNet(12, 10, 6).eval()
    prompts = [torch.randn(4, 6), torch.randn(4, 6), torch.randn(4, 6)]
    torch.testing.assert_close(net.anchors(prompts), torch.stack([net.octa(p) for p in prompts]))
    uneven = net.anchors(prompts[:2] + [torch.randn(5, 6)])  # unequal prompt counts: one pass per class
    torch.testing.assert_close(uneven[:2], net.anchors(prompts[:2]))
