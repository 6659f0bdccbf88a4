"""Planning checks the weights file of every backbone a detector will build, not only its first: a job whose second
file is missing is planned as skipped, naming that file, and never starts."""

from __future__ import annotations

import pytest

from benchkit import BackboneSpec, Detector, DetectorSpec, hookimpl
from benchkit.results import iter_records

RGB_FILE, POINT_FILE = "tiny_rgb_net.pth", "tiny_point_net.pth"


def _never_built(**params):
    raise AssertionError("planning must not build a backbone")


class TwoBackbones(Detector):
    """Builds an image and a point backbone, like M3DM or CFM; fit fails, so a job that starts is recorded failed."""

    def __init__(self, backbone: str = "tiny-rgb-net", point_backbone: str = "tiny-point-net", seed: int = 0) -> None:
        self.backbone = backbone
        self.point_backbone = point_backbone
        self.seed = seed

    def fit(self, samples):
        raise AssertionError("a job with a missing weights file must not start")

    def predict(self, samples):
        return []


class TwoWeightsPlugin:
    @hookimpl
    def register_backbones(self, register):
        register(BackboneSpec("tiny-rgb-net", "1", "test backbone with weights", _never_built, kind="image-patches",
                              weights_file=RGB_FILE, weights_hint="copy tiny_rgb_net.pth from the test"))
        register(BackboneSpec("tiny-point-net", "1", "test backbone with weights", _never_built,
                              weights_file=POINT_FILE, weights_hint="copy tiny_point_net.pth from the test"))
        register(BackboneSpec("tiny-free-net", "1", "test backbone without weights", _never_built,
                              kind="image-patches"))

    @hookimpl
    def register_detectors(self, register):
        register(DetectorSpec("two-weights", "1", "test detector needing two weights files", TwoBackbones,
                              frozenset({"points"}), backbones=("tiny-rgb-net",),
                              backbone_kinds=frozenset({"image-patches"})))


@pytest.fixture
def registry(bk_env, monkeypatch):
    from benchkit.plugins import build_registry, set_registry

    weights = bk_env / "weights"
    weights.mkdir()
    (weights / RGB_FILE).write_bytes(b"rgb weights")  # the first file is there, the second is not
    monkeypatch.setenv("BENCHKIT_WEIGHTS", str(weights))
    built = build_registry(extra_plugins=[TwoWeightsPlugin()])
    set_registry(built)
    return built


def test_default_backbone_names_are_the_backbone_parameters():
    assert TwoBackbones().backbone_names() == ["tiny-rgb-net", "tiny-point-net"]
    assert TwoBackbones(point_backbone="tiny-rgb-net").backbone_names() == ["tiny-rgb-net"]


def test_missing_second_weights_file_skips_the_job_before_it_starts(registry, bk_env, cli):
    results = bk_env / "results"
    assert cli("run", "--detector", "two-weights", "--dataset", "tiny-points", "--category", "ball",
               "--results", str(results), "--no-site", "--quiet") == 0
    [(_, rec)] = list(iter_records(results))
    assert rec.status == "skipped" and rec.error.type == "MissingWeightsError"
    assert str(bk_env / "weights" / POINT_FILE) in rec.error.message and "tiny-point-net" in rec.error.message
    assert RGB_FILE not in rec.error.message  # the file that is there is not reported missing
    assert "copy tiny_point_net.pth from the test" in rec.error.message and "--allow-random-init" in rec.error.message


def test_every_missing_file_is_named_and_parameters_choose_the_backbones(registry, bk_env):
    from benchkit.planning import Planner

    spec, backbone = registry.detector_variant("two-weights")
    (bk_env / "weights" / RGB_FILE).unlink()
    both = Planner(registry, bk_env / "results").missing_weights(spec, backbone)
    assert RGB_FILE in both and POINT_FILE in both and both.count("--allow-random-init") == 1
    free = Planner(registry, bk_env / "results", detector_params={"point_backbone": "tiny-free-net"})
    assert free.backbones_needed(spec, backbone) == ["tiny-rgb-net", "tiny-free-net"]
    assert POINT_FILE not in free.missing_weights(spec, backbone)


def test_planned_weights_cover_every_backbone(registry, bk_env):
    from benchkit.planning import Planner

    spec, backbone = registry.detector_variant("two-weights")
    planner = Planner(registry, bk_env / "results", allow_random_init=True)
    assert planner.missing_weights(spec, backbone) is None
    assert planner.planned_weights(spec, backbone) == "random-init"  # one of the two files is missing
    (bk_env / "weights" / POINT_FILE).write_bytes(b"point weights")
    assert Planner(registry, bk_env / "results").planned_weights(spec, backbone) == "pretrained"
    free = Planner(registry, bk_env / "results", detector_params={"point_backbone": "tiny-free-net"})
    assert free.planned_weights(*registry.detector_variant("two-weights:tiny-free-net")) == "none"
