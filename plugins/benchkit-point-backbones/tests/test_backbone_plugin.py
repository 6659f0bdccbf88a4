from benchkit.plugins import build_registry


def test_backbones_are_registered_as_point_groups():
    backbones = build_registry().backbones
    assert {"point-mae", "fpfh"} <= set(backbones)
    assert backbones["point-mae"].weights_file == "pointmae_pretrain.pth"
    assert "Point-MAE" in backbones["point-mae"].weights_hint
    assert backbones["fpfh"].weights_file is None
    assert {backbones[name].kind for name in ("point-mae", "fpfh")} == {"point-groups"}


def test_the_plugin_does_not_depend_on_a_method_plugin():
    from importlib.metadata import requires

    assert not any(r.startswith("benchkit-baselines") for r in requires("benchkit-point-backbones"))
