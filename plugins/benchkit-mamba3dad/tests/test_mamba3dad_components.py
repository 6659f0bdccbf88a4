"""Unit tests of the Mamba3DAD building blocks: Sinkhorn sorter, SSM adapter, generator, ablation switches."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchkit_mamba3dad.generator import AnomalousFeatureGenerator
from benchkit_mamba3dad.model import Mamba3DADNet, NetConfig, principal_axes
from benchkit_mamba3dad.sorter import GeometricSemanticSorter, entropy_penalty, locality_penalty, log_sinkhorn
from benchkit_mamba3dad.ssm import MambaAdapter, chunked_scan, reference_scan, time_invariant_scan
from benchkit_mamba3dad.tokens import hierarchical_tokens


def _tokens(b=2, sets=2, m=16, d=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, sets, m, d, generator=g), torch.rand(b, m, 3, generator=g)


@pytest.mark.parametrize("t,s", [(24, 24), (32, 8)])
def test_sinkhorn_rows_and_columns_are_near_stochastic(t, s):
    logits = torch.randn(3, t, s) * 3
    p = log_sinkhorn(logits, iterations=50)
    assert torch.allclose(p.sum(-1), torch.ones(3, t), atol=1e-4)  # every token fully assigned
    assert torch.allclose(p.sum(-2), torch.full((3, s), t / s), atol=1e-3 * t / s)  # every slot equally filled
    assert (p >= 0).all()


def test_sinkhorn_column_error_shrinks_with_iterations():
    logits = torch.randn(2, 40, 40, generator=torch.Generator().manual_seed(0)) / 0.2  # paper's tau
    errors = [float((log_sinkhorn(logits, k).sum(-2) - 1).abs().max()) for k in (1, 8, 30)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.1


def test_sorter_gradients_reach_inputs_and_parameters():
    tokens, centers = _tokens()
    tokens.requires_grad_(True)
    sorter = GeometricSemanticSorter(dim=12, n_slots=10, descriptor_dim=8, k_patch=4)
    out = sorter(tokens, centers)
    assert out.slots.shape == (2, 10, 12) and out.assignment.shape == (2, 32, 10)
    loss = out.slots.pow(2).sum() + entropy_penalty(out.assignment) + locality_penalty(out.assignment, out.token_centers)
    loss.backward()
    assert tokens.grad.abs().sum() > 0
    for name, p in sorter.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_entropy_penalty_is_low_for_a_permutation_and_high_for_uniform():
    perm = torch.eye(6)[torch.randperm(6)][None]
    uniform = torch.full((1, 6, 6), 1 / 6)
    assert entropy_penalty(perm) < 1e-3 < np.log(6) - 1e-3 < entropy_penalty(uniform) + 1e-3


def test_locality_penalty_prefers_geometric_order():
    centres = torch.linspace(0, 1, 8).reshape(1, 8, 1).expand(1, 8, 3).contiguous()
    ordered = torch.eye(8)[None]
    shuffled = torch.eye(8)[torch.tensor([0, 7, 1, 6, 2, 5, 3, 4])][None]
    assert locality_penalty(ordered, centres, sigma=0.3) < locality_penalty(shuffled, centres, sigma=0.3)


def _decay_and_inputs(b, length, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    log_decay = torch.complex(torch.log(torch.rand(b, length, n, generator=g) * 0.9 + 0.05),
                              torch.randn(b, length, n, generator=g))
    inputs = torch.complex(torch.randn(b, length, n, generator=g), torch.randn(b, length, n, generator=g))
    return log_decay, inputs


@pytest.mark.parametrize("length,chunk", [(1, 4), (7, 4), (37, 8), (64, 16)])
def test_chunked_scan_matches_the_naive_recurrence(length, chunk):
    log_decay, inputs = _decay_and_inputs(2, length, 5)
    assert torch.allclose(chunked_scan(log_decay, inputs, chunk), reference_scan(log_decay.exp(), inputs), atol=1e-5)


@pytest.mark.parametrize("selective", [False, True])
def test_adapter_matches_reference_recurrence_on_tiny_input(selective):
    torch.manual_seed(0)
    adapter = MambaAdapter(dim=6, state_dim=8, selective=selective, chunk=4)
    x = torch.randn(1, 11, 6)
    u = torch.complex(x @ adapter.B[0].T, x @ adapter.B[1].T)
    lam = adapter.log_lambda().exp()
    if selective:
        delta = 1 + torch.nn.functional.softplus(adapter.step(x))
        decay, u = lam ** delta, u * delta
    else:
        decay = lam.expand_as(u)
    h = reference_scan(decay, u)
    expected = adapter.D(x) + torch.sigmoid(adapter.gate) * adapter.C(adapter.state_norm(torch.cat([h.real, h.imag], -1)))
    assert torch.allclose(adapter(x), expected, atol=1e-5)
    assert float(adapter.rho) == pytest.approx(0.9) and float(lam.abs().max()) <= 0.95


def _scan_flops(length):
    adapter = MambaAdapter(dim=16, state_dim=32, chunk=16)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        adapter(torch.randn(1, length, 16))
    return counter.get_total_flops()


def test_adapter_cost_is_linear_in_sequence_length():
    small, large = _scan_flops(256), _scan_flops(1024)
    assert small > 0
    assert large / small < 4.5  # linear: 4x; quadratic would be 16x
    # the counter does see quadratic work: plain (unprojected) self-attention over the same lengths

    def attention_flops(length):
        x = torch.randn(1, length, 16)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            torch.softmax(x @ x.transpose(1, 2), dim=-1) @ x
        return counter.get_total_flops()

    assert attention_flops(1024) / attention_flops(256) > 8


def test_chunked_scan_work_grows_linearly():
    """The scan itself (not only the adapter around it): 4x the steps cost 4x the FLOPs. Counted, not timed:
    timings on a shared 2-core machine are too noisy for a unit test (speed belongs in benchmarks)."""

    def scan_flops(length):
        log_decay, inputs = _decay_and_inputs(1, length, 32)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            chunked_scan(log_decay, inputs, 16)
        return counter.get_total_flops()

    small, large = scan_flops(512), scan_flops(2048)
    assert small > 0 and large / small < 4.5  # quadratic would be 16


def test_generator_corrupts_only_masked_slots_and_only_in_training():
    gen = AnomalousFeatureGenerator(dim=8, p=0.3, noise_std=1.0, gamma_init=1.0, mask_unit="slot")
    q = torch.randn(2, 50, 8)
    g = torch.Generator().manual_seed(0)
    mask = gen.slot_mask(torch.eye(50).expand(2, 50, 50), n_patches=50, generator=g)
    corrupted = gen(q, mask, generator=g)
    clean = gen(q)
    changed = (corrupted - clean).abs().sum(-1) > 0
    assert torch.equal(changed, mask.bool()) and 0 < mask.sum() < 100


def test_patch_mask_propagates_to_every_layer_token_of_a_patch():
    gen = AnomalousFeatureGenerator(dim=4, p=0.5, mask_unit="patch")
    assignment = torch.eye(12)[None]  # 3 sets x 4 patches, slot s = token s
    mask = gen.slot_mask(assignment, n_patches=4, generator=torch.Generator().manual_seed(3))[0]
    per_set = mask.reshape(3, 4)
    assert torch.equal(per_set[0], per_set[1]) and torch.equal(per_set[0], per_set[2])


def test_hierarchical_tokens_split_layers_and_add_context_scales():
    features = np.arange(5 * 6, dtype=np.float32).reshape(5, 6)
    centers = np.random.default_rng(0).random((5, 3))
    sets = hierarchical_tokens(features, centers, n_layers=3, context_scales=(5,))
    assert sets.shape == (4, 5, 2)
    assert np.array_equal(sets[1], features[:, 2:4])
    assert np.allclose(sets[3], np.broadcast_to(features[:, :2].mean(0), (5, 2)))  # k = M: the global mean


def _net(**switches):
    torch.manual_seed(0)
    return Mamba3DADNet(NetConfig(in_dim=12, n_sets=2, n_patches=16, width=16, n_slots=8, descriptor_dim=8,
                                  state_dim=8, heads=2, dropout=0.0, **switches)).eval()


def test_ablation_switches_change_the_model():
    tokens, centers = _tokens()
    base = _net()
    logits = base(tokens, centers).logits
    no_sorter, no_adapter = _net(use_sorter=False), _net(use_adapter=False)
    assert no_sorter.sorter is None and no_adapter.adapter is None
    assert no_sorter(tokens, centers).logits.shape == (2, 32)  # one slot per token without the sorter
    assert not torch.allclose(no_adapter(tokens, centers).logits, logits)
    assert sum(p.numel() for p in no_adapter.parameters()) < sum(p.numel() for p in base.parameters())
    # generator settings change the training signal (mask and corruption), not inference
    a = _net(mask_unit="slot", corruption_p=0.5)(tokens, centers, corrupt=True, generator=torch.Generator().manual_seed(0))
    b = _net(mask_unit="patch", corruption_p=0.05)(tokens, centers, corrupt=True, generator=torch.Generator().manual_seed(0))
    assert a.mask.sum() != b.mask.sum()


@pytest.mark.parametrize("length,chunk", [(1, 4), (7, 4), (37, 8), (64, 16)])
def test_time_invariant_scan_matches_the_naive_recurrence(length, chunk):
    log_decay, inputs = _decay_and_inputs(2, length, 5)
    log_lambda = log_decay[0, 0]  # one decay for every step
    expected = reference_scan(log_lambda.exp().expand_as(inputs), inputs)
    assert torch.allclose(time_invariant_scan(log_lambda, inputs, chunk), expected, atol=1e-5)


def test_principal_axes_whiten_or_keep_the_spectrum():
    g = torch.Generator().manual_seed(0)
    features = torch.randn(500, 6, generator=g, dtype=torch.float64) * torch.tensor([5.0, 2, 1, 1, 0.5, 0.1])
    features -= features.mean(0)
    white = features @ principal_axes(features, 4, whiten=True).double()
    assert torch.allclose(torch.cov(white.T), torch.eye(4, dtype=torch.float64), atol=0.05)
    kept = torch.cov((features @ principal_axes(features, 4).double()).T).diagonal()
    assert kept[0] / kept[3] > 10 and float(kept.mean()) == pytest.approx(1.0, rel=0.05)


def test_generator_without_norm_keeps_slot_magnitude():
    q = torch.randn(1, 5, 8) * torch.tensor([1.0, 2, 3, 4, 5])[None, :, None]
    normed, kept = AnomalousFeatureGenerator(8)(q), AnomalousFeatureGenerator(8, normalize=False)(q)
    assert torch.equal(kept, q)
    assert torch.allclose(normed.norm(dim=-1), normed.norm(dim=-1)[0, 0].expand(1, 5), atol=1e-3)
