from benchkit.plugins import build_registry


def test_backbones_are_registered():
    backbones = build_registry().backbones
    assert {"point-mae", "fpfh"} <= set(backbones)
    assert backbones["point-mae"].weights_file == "pointmae_pretrain.pth"
