"""MAFR's network and losses on small tensors: shapes as the authors' code, CBAM modes, loss properties."""

import pytest
import torch
from torch import nn

from benchkit_mafr.losses import census, smoothness, znssd
from benchkit_mafr.network import MAFRNet


def _linears(module):
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def test_paper_widths_and_layers():
    net = MAFRNet(768, 1152)
    enc = [(m.in_features, m.out_features) for m in net.encoder.linears]
    assert enc == [(1920, 960), (960, 960), (960, 960)]
    dec = [(m.in_features, m.out_features) for m in net.decoder_3d.linears]
    assert dec == [(960, 1152), (1152, 1152), (1152, 1152), (1152, 1152)]
    assert (net.decoder_2d.skip.in_features, net.decoder_2d.skip.out_features) == (960, 768)
    assert net.decoder_2d.cbam.channel_mlp[0].out_features == 768 // 16
    rgb, pts = torch.randn(10, 768), torch.randn(10, 1152)
    out_rgb, out_pts = net.eval()(rgb, pts, (2, 5))
    assert out_rgb.shape == (10, 768) and out_pts.shape == (10, 1152)


def test_per_pixel_cbam_sees_one_pixel_and_spatial_cbam_the_map():
    torch.manual_seed(0)
    per_pixel = MAFRNet(6, 5, latent_dim=8, cbam="per-pixel").eval()
    spatial = MAFRNet(6, 5, latent_dim=8, cbam="spatial").eval()
    spatial.load_state_dict(per_pixel.state_dict())  # same parameters, only the attention's view differs
    rgb, pts = torch.randn(16, 6), torch.randn(16, 5)
    changed = rgb.clone()
    changed[15] += 5.0
    with torch.no_grad():
        a, b = per_pixel(rgb, pts, (4, 4))[0], per_pixel(changed, pts, (4, 4))[0]
        torch.testing.assert_close(a[:15], b[:15])
        c, d = spatial(rgb, pts, (4, 4))[0], spatial(changed, pts, (4, 4))[0]
        assert not torch.allclose(c[:15], d[:15])
    with pytest.raises(ValueError, match="cbam"):
        MAFRNet(6, 5, cbam="global")


def test_per_pixel_cbam_shortcut_equals_the_module_on_one_pixel_maps():
    torch.manual_seed(0)
    cbam = MAFRNet(6, 40, latent_dim=8).decoder_3d.cbam
    rows = torch.randn(32, 40)
    torch.testing.assert_close(cbam.per_pixel(rows), cbam(rows[:, :, None, None])[:, :, 0, 0])


def test_census_pools_the_difference_as_the_code_pools_each_map():
    grid = (8, 8)
    x, y = torch.randn(64, 3), torch.randn(64, 3)
    pool = lambda rows: torch.nn.functional.avg_pool2d(rows.T.reshape(1, 3, 8, 8), 7, 1, 3)  # noqa: E731
    torch.testing.assert_close(census(x, y, grid), (pool(x) - pool(y)).abs().mean())


def test_znssd_ignores_per_pixel_brightness_and_contrast():
    x = torch.randn(20, 7)
    assert znssd(x, x) < 1e-10
    assert znssd(x, 3 * x + 2) < 1e-8
    assert znssd(x, torch.randn(20, 7)) > 0.5


def test_smoothness_penalises_error_gradients_and_reference_reads_two_channels():
    grid = (5, 6)
    x = torch.randn(30, 4)
    assert smoothness(x, x + 1.0, grid) < 1e-6  # a constant error is smooth
    rough = x.clone()
    rough[::2, 2:] += 1.0  # roughness only in channels 2-3
    assert smoothness(x, rough, grid, "first-two") < 1e-6  # the authors' code reads channels 0 and 1 only
    assert smoothness(x, rough, grid, "all") > 0
    rough[::2, 0] += 1.0
    assert smoothness(x, rough, grid, "first-two") > 0
    with pytest.raises(ValueError, match="channels"):
        smoothness(x, rough, grid, "some")


def test_census_compares_local_averages():
    grid = (8, 8)
    x = torch.randn(64, 3)
    assert census(x, x, grid) == 0
    checker = torch.tensor([(-1.0) ** (i + j) for i in range(8) for j in range(8)])[:, None].repeat(1, 3)
    # a fine +-1 checkerboard nearly averages out in 7 x 7 windows: census barely sees it, L1 sees it fully
    assert census(x, x + 0.1 * checker, grid) < 0.1 * 0.1
    assert census(x, x + 0.1, grid) > 0.05
